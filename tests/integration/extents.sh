#!/bin/sh
# -x: the dirty extents qcow2dump reads from the data clusters equal what
# QEMU exports for the same bitmap (qemu-nbd -B, read with qemu-img map),
# for granularities from 512 B to 2 GiB, clusters from 512 B to 2 MiB, a
# 16 TiB sparse disk, the 291 images, and tables the test writes itself.
. "$TOP_SRCDIR/tests/integration/lib.sh"

ours() { # IMAGE BITMAP (a bitmap with no range has one row, start empty)
	qdump -x -f csv -n "$2" "$1" | tail -n +2 | cut -d, -f3,4 | grep -v '^,$' | tr , ' '
}
same_as_qemu() { # DESC IMAGE BITMAP
	nbd_extents "$2" "$3" > qemu.txt
	ours "$2" "$3" > ours.txt
	expect_file "$1" ours.txt qemu.txt
	[ -s qemu.txt ] || [ "${4:-}" = empty ] || fail "$1: QEMU reports no dirty range"
}

# granularities 512 B .. 2 GiB on one disk, writes at odd places
Q create -q -f qcow2 gran.qcow2 8G
for g in 512 4k 64k 1M 64M 2G; do Q bitmap --add -g $g -f qcow2 gran.qcow2 "g$g"; done
IO -c 'w 0 512' -c 'w 4095 2' -c 'w 1M 3M' -c 'w 100M 64k' -c 'w 3G 4k' \
   -c 'w 8589934080 512' -f qcow2 gran.qcow2
for g in 512 4k 64k 1M 64M 2G; do same_as_qemu "granularity $g" gran.qcow2 "g$g"; done

# cluster sizes 512 B and 2 MiB
for c in 512 2M; do
	Q create -q -f qcow2 -o cluster_size=$c "c$c.qcow2" 64M
	Q bitmap --add -g 4k -f qcow2 "c$c.qcow2" b
	IO -c 'w 0 8k' -c 'w 1M 1M' -c 'w 33M 4k' -c "w $((64 * 1048576 - 4096)) 4k" -f qcow2 "c$c.qcow2"
	same_as_qemu "cluster size $c" "c$c.qcow2" b
done

# 16 TiB sparse disk: a 32 MiB bitmap at the default granularity
Q create -q -f qcow2 big.qcow2 16T
Q bitmap --add -f qcow2 big.qcow2 big
IO -c 'w 0 64k' -c 'w 1T 1M' -c 'w 8T 64k' -c "w $(((16 << 40) - 65536)) 64k" -f qcow2 big.qcow2
same_as_qemu "16 TiB sparse disk" big.qcow2 big
expect_eq "16 TiB: dirty_bytes" \
  "$(qdump -x -f json big.qcow2 | jq '.bitmaps[0].dirty_bytes')" $((64 * 1024 * 3 + 1048576))

# the 291 images
build_image 291
same_as_qemu "291: base b0" t.qcow2.base b0
same_as_qemu "291: b1" t.qcow2.orig b1
same_as_qemu "291: b2" t.qcow2.orig b2
same_as_qemu "291: converted b0" t.qcow2 b0
expect_eq "291: b1 and b2 as the test case says" \
  "$(qdump -x -f json t.qcow2.orig | jq -c '[.bitmaps[] | [.name, .extents]]')" \
  '[["b1",[{"start":1048576,"length":1048576}]],["b2",[{"start":2097152,"length":1048576}]]]'

# tables written by the test: an all-ones entry, tail bits past the end
# of the disk, and an all-zeroes entry between serialized ones
Q create -q -f qcow2 -o cluster_size=512 tab.qcow2 5000k
Q bitmap --add -g 512 -f qcow2 tab.qcow2 t
IO -c 'w 0 512' -c 'w 2M 512' -c 'w 4999k 1k' -f qcow2 tab.qcow2
same_as_qemu "tables: as QEMU wrote them" tab.qcow2 t
# where the table and its last data cluster are, from the oracle
table=$(oracle_at tab.qcow2 table_0)
last=$(oracle_at tab.qcow2 data_0_2)
expect_eq "tables: the oracle finds the table and its third data cluster" \
  "$([ -n "$table" ] && [ -n "$last" ] && echo found)" found
# 5000 KiB at 512 B: 10000 bits, 1250 bytes: 3 clusters, the last with
# 1250 - 1024 = 226 bytes used; entry 1 (bits 4096..8191) made all ones
poke tab.qcow2 $((table + 8)) 0000000000000001
poke tab.qcow2 $((last + 226)) ffffffff      # tail bits: past the disk
same_as_qemu "tables: all-ones entry and tail bits" tab.qcow2 t
expect_eq "tables: the all-ones cluster is one merged range" \
  "$(ours tab.qcow2 t | sed -n 2p)" "2097152 2097152"
poke tab.qcow2 $((table + 8)) 0000000000000000
same_as_qemu "tables: all-zeroes entry" tab.qcow2 t

# an empty bitmap, an in-use bitmap, and the documented shapes
Q create -q -f qcow2 empty.qcow2 1M
Q bitmap --add -f qcow2 empty.qcow2 nothing
same_as_qemu "empty bitmap" empty.qcow2 nothing empty
run_q out err -x empty.qcow2
expect_eq "text shape" "$(cat out)" "Bitmap name               nothing
granularity               65536
usable                    yes
dirty_bytes               0"
build_image inuse
run_q out err -x -f json inuse.qcow2
expect_eq "in use: still decoded, but not usable: exit 1" "$status" 1
check "in use: why, on stderr" grep -q \
  "bitmap 'live': not usable for an incremental backup now: inconsistent: flag in_use is set and no QEMU holds the image" err
expect_eq "in use: the verdict in the JSON" \
  "$(jq -c '[.bitmaps[] | [.name, .usable, .state, .reason]]' out)" \
  '[["live",false,"inconsistent","bitmap-in-use"],["frozen",false,"inconsistent","bitmap-in-use"]]'
expect_eq "in use: and as errors among the problems" \
  "$(jq -c '[.problems[] | [.severity, .code, .bitmap]]' out)" \
  '[["error","bitmap-not-usable","live"],["error","bitmap-not-usable","frozen"]]'
check "JSON valid against the schema" $FORMATS validate "$SCHEMA" out
qdump -x -f json gran.qcow2 c512.qcow2 > two.json
check "JSON of two images valid against the schema" $FORMATS validate "$SCHEMA" two.json
expect_eq "JSON: two documents" "$(jq -s length two.json)" 2
qdump -x -f json --compact gran.qcow2 c512.qcow2 > two.jsonl
expect_eq "--compact: same data, one line each" \
  "$(wc -l < two.jsonl) $(jq -s -c . two.jsonl | md5sum)" "2 $(jq -s -c . two.json | md5sum)"
expect_eq "CSV: a bitmap with no range still has its row" "$(qdump -x -f csv empty.qcow2)" \
  "image,bitmap,start,length,usable,state,reason
empty.qcow2,nothing,,,true,usable,"
expect_eq "text, JSON and CSV agree" \
  "$(qdump -x gran.qcow2 | awk '$1 ~ /^[0-9]+$/ {print $1, $2}' | md5sum)" \
  "$(jq -r '.bitmaps[].extents[] | "\(.start) \(.length)"' two.json | head -n "$(qdump -x -f csv gran.qcow2 | tail -n +2 | wc -l)" | md5sum)"
expect_eq "dirty_bytes is the sum of the lengths" \
  "$(jq -s -c '[.[].bitmaps[] | .dirty_bytes == ([.extents[].length] | add // 0)] | all' two.json)" true

# a data cluster past the end of the file: QEMU reads zeroes there and
# exports the rest; qemu-img check fails on it, so not usable
cp tab.qcow2 cut.qcow2
poke cut.qcow2 $((table + 16)) "$(printf '%016x' $((1 << 40)))"
same_as_qemu "data cluster past the end of the file: zeroes" cut.qcow2 t
run_q out err -x -f csv cut.qcow2
expect_eq "data cluster past the end of the file: exit 1" "$status" 1
check "data cluster past the end of the file: not usable, and why" grep -q \
  "bitmap 't': not usable for an incremental backup now: invalid: .*; see table-entry-beyond-eof" err

# Where QEMU reads a bitmap other than the spec says, -x reads it as
# QEMU does (and as qemu-nbd -B exports it):
# the last of two bitmaps extensions is the directory used
Q create -q -f qcow2 two.qcow2 8M
Q bitmap --add -g 128k -f qcow2 two.qcow2 first
IO -c 'w 1M 256k' -f qcow2 two.qcow2
QEDIT="$PY $TOP_SRCDIR/tests/integration/qedit.py"
$QEDIT add-bitmaps-ext two.qcow2 1 32 "$(oracle_at two.qcow2 dir)"
$QEDIT dir two.qcow2 0:name=7365636f6e64 0:gbits=16
same_as_qemu "two bitmaps extensions: the last one's bitmap" two.qcow2 second
run_q out err -x -n first two.qcow2
expect_eq "two bitmaps extensions: the first one's bitmap is not there" "$status" 2
# a disk of 10 MiB + 1000 bytes is 10 MiB + 512 in whole sectors
Q create -q -f qcow2 odd.qcow2 10M
poke odd.qcow2 24 "$(printf '%016x' $((10485760 + 1000)))"
Q bitmap --add -g 512 -f qcow2 odd.qcow2 fine
IO -c "w $((10485760 + 504)) 8" -f qcow2 odd.qcow2
poke odd.qcow2 24 "$(printf '%016x' $((10485760 + 1000)))"
same_as_qemu "virtual size in whole sectors" odd.qcow2 fine
expect_eq "virtual size in whole sectors: the tail range" "$(ours odd.qcow2 fine)" \
  "$((10485760)) 512"
# a last data cluster cut short by the end of the file reads as zeroes
# past it: the cluster moved to the file's end, 1 byte of it kept
Q create -q -f qcow2 short.qcow2 8M
Q bitmap --add -f qcow2 short.qcow2 b
IO -c 'w 0 1M' -f qcow2 short.qcow2
st0=$(oracle_at short.qcow2 table_0) sd0=$(oracle_at short.qcow2 data_0_0)
ssize=$(stat -c %s short.qcow2); snew=$(( (ssize + 65535) / 65536 * 65536 ))
dd if=short.qcow2 of=short.qcow2 bs=1 skip="$sd0" seek="$snew" count=1 conv=notrunc status=none
poke short.qcow2 "$st0" "$(printf '%016x' "$snew")"
truncate -s $((snew + 1)) short.qcow2
$QEDIT refcount short.qcow2 "$sd0" 0; $QEDIT refcount short.qcow2 "$snew" 1
same_as_qemu "data cluster cut short: zeroes past the end" short.qcow2 b
expect_eq "data cluster cut short: 8 granules of the first byte" "$(ours short.qcow2 b)" "0 524288"
# a name with a NUL is known by its bytes before it
Q create -q -f qcow2 nul.qcow2 8M
Q bitmap --add -f qcow2 nul.qcow2 abc
IO -c 'w 64k 64k' -f qcow2 nul.qcow2
$QEDIT dir nul.qcow2 0:name=610062
same_as_qemu "a name with a NUL: known by its part before it" nul.qcow2 a

# peak memory for a 32 MiB bitmap stays under a few MiB: 1 TiB at 4 KiB,
# with a dirty granule in every one of its 512 data clusters
Q create -q -f qcow2 tib.qcow2 1T
Q bitmap --add -g 4k -f qcow2 tib.qcow2 fine
i=0; while [ $i -lt 512 ]; do echo "w $((i * 2147483648 + 4096 * (i % 7))) 4k"; i=$((i + 1)); done |
  qemu-io -f qcow2 tib.qcow2 > /dev/null
expect_eq "1 TiB: 512 serialized data clusters" \
  "$(qdump -b -f json -t tib.qcow2 | jq '[.bitmaps[0].bitmap_table[] | select(.type == "serialized")] | length')" 512
# peak RSS in KiB of one run (ASan's quarantine off: it keeps freed
# memory by design), less that of a run on an image with no bitmap, so
# that a runtime's own baseline (ASan maps some 18 MiB) is not counted
peak() { # OUT ARGS...
	o=$1; shift
	ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0:malloc_context_size=0 \
	  /usr/bin/time -f %M -o rss.txt "$QCOW2DUMP_BIN" "$@" > "$o"
	qdump_status $? "$@" under time
	cat rss.txt
}
Q create -q -f qcow2 nobitmap.qcow2 1M
base=$(peak base.json -x -f json nobitmap.qcow2)
rss=$(peak tib.json -x -f json tib.qcow2)
check "1 TiB, 32 MiB bitmap: peak memory under 8 MiB above the baseline (was $rss - $base KiB)" \
  [ $((rss - base)) -lt 8192 ]
expect_eq "1 TiB: 512 extents of 4 KiB" \
  "$(jq -c '.bitmaps[0] | [(.extents | length), .dirty_bytes]' tib.json)" "[512,$((512 * 4096))]"
finish
