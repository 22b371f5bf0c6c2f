#!/bin/sh
# What the other scripts left untested, each held to QEMU 7.2 where the
# behaviour is QEMU's: the lock probe under a reader and a writer's lock
# bytes; libvirt's gap rule for a gap deeper than the next layer; the cap
# on listed snapshot problems; a snapshot table that fills QEMU's 64 MiB
# exactly; the scope of each snapshot rule; the verdict for every bitmap
# flag QEMU does not know; refcounts narrower than a byte and lookups
# across refcount blocks; empty snapshot ids and names; every control
# character in every string JSON and CSV carry; usage errors.  (The
# alignment slack of the big arrays is tests/unit/test_bigmem.c's, and
# q2_refcount_at at every width tests/unit/test_refcount.c's.)
. "$TOP_SRCDIR/tests/integration/lib.sh"
GAPS="$PY $TOP_SRCDIR/tests/integration/gaps.py"
QEDIT="$PY $TOP_SRCDIR/tests/integration/qedit.py"
SNAP="$PY $TOP_SRCDIR/tests/integration/snapshots.py"
u32() { printf '%08x' "$1"; }
u64() { printf '%016x' "$1"; }
# codes IMAGE ARGS...: "severity,code" of each problem -c lists, one line
# the refcount rebuild's own codes (qemu-img check finds these too on the
# images below, whose snapshot tables were written by hand): not what
# this file tests
REBUILD_CODES=',(cluster-leaked|refcount-too-low|copied-flag-wrong|reference-beyond-eof|refcount-overflow|refcount-block-shared|refcount-block-beyond-eof|refcount-lookup-failed),'
# check_csv ARGS...: -c's CSV, without the totals' 8 last columns and
# the rebuild's rows
check_csv() {
	qdump -c -f csv "$@" 2>/dev/null | sed -E 's/(,[^,]*){8}$//' | grep -Ev "$REBUILD_CODES"
}
codes() {
	img=$1; shift
	check_csv "$@" "$img" | tail -n +2 | cut -d, -f2,3
}

# ---- 1. the lock probe: a reader's locks are not a writer's ----

# QEMU holds shared OFD locks on byte 100 + i for each permission i it
# has (0 consistent read, 1 write, 2 write unchanged, 3 resize) and on
# 200 + i for each it does not share.  A bitmap in use is live only while
# a writer (byte 101) holds the image; under a reader it is inconsistent.
Q create -q -f qcow2 lock.qcow2 16M
Q bitmap --add -f qcow2 lock.qcow2 b0
$QEDIT dir lock.qcow2 0:flags=3   # in_use and auto, as a writer leaves it
# under LOCKS...: "locked state" of b0 in -b JSON while each LOCKS (a
# list of bytes) is held by a process of its own, as QEMU holds them
under() {
	holders= n=0
	for set in "$@"; do
		n=$((n + 1))
		rm -f "held$n"
		$GAPS lock "held$n" $set lock.qcow2 &
		holders="$holders $!"
		for _ in $(seq 300); do [ -f "held$n" ] && break; sleep 0.01; done
		[ -f "held$n" ] || fail "lock holder for bytes $set: not ready"
	done
	qdump -b -f json lock.qcow2 | jq -r '"\(.locked) \(.bitmaps[0].state)"'
	for h in $holders; do kill "$h"; wait "$h" 2>/dev/null; done
}
expect_eq "no lock: in use is inconsistent" "$(under)" "false inconsistent"
expect_eq "write (101): live" "$(under 101)" "true live"
expect_eq "a writer's usual bytes (100 101 201 203): live" "$(under "100 101 201 203")" "true live"
# a reader's lock comes first in the file's list: the writer's must be
# asked for by itself (F_OFD_GETLK over a range names one conflict only)
expect_eq "a reader (100 201 203) and a writer (101 202), two processes: live" \
  "$(under "100 201 203" "101 202")" "true live"
expect_eq "a reader (100) and a writer (101), two processes: live" \
  "$(under 100 101)" "true live"
for b in 100 102 103 200 201 202 203; do
	expect_eq "byte $b alone: locked, but no writer: inconsistent" "$(under $b)" "true inconsistent"
done
expect_eq "a reader's bytes (100 201 203): inconsistent" "$(under "100 201 203")" "true inconsistent"
expect_eq "two readers: inconsistent" "$(under "100 201 203" "100 203")" "true inconsistent"
for b in 99 204; do
	expect_eq "byte $b (not QEMU's): not locked" "$(under $b)" "false inconsistent"
done
# the real reader: qemu-io -r keeps the image open (its sleep is in ms)
qemu-io -r -f qcow2 lock.qcow2 -c 'sleep 60000' > /dev/null 2>&1 &
rd=$!
ino=$(stat -c %i lock.qcow2)
for _ in $(seq 500); do grep -q "OFDLCK .*:$ino 100 100\$" /proc/locks && break; sleep 0.01; done
qdump -b -f json lock.qcow2 > reader.json
expect_eq "qemu-io -r holds it: locked, and b0 inconsistent, not live" \
  "$(jq -r '"\(.locked) \(.bitmaps[0].state) \(.bitmaps[0].reason)"' reader.json)" \
  "true inconsistent bitmap-in-use"
run_q out err -x -f json lock.qcow2
expect_eq "qemu-io -r holds it: -x says inconsistent, exit 1" \
  "$status $(jq -r '"\(.locked) \(.bitmaps[0].state)"' out)" "1 true inconsistent"
check "qemu-io -r holds it: stderr says its writer did not save it" grep -q \
  "inconsistent: flag in_use is set and no QEMU holds the image" err
kill "$rd"; wait "$rd" 2>/dev/null

# ---- 2. a checkpoint's gap deeper than the next layer ----

# base <- l1 <- l2 <- top (depths 3, 2, 1, 0).  "deep" is in the top and
# the base only: the layers without it go two deep, and the next layer
# holding it is two below the last of the run from the top.  "mid" is in
# the top, l1 and the base; "low" in the top, l2 and the base; "all" in
# every layer.  Each layer writes its own 64 KiB.
Q create -q -f qcow2 base.qcow2 16M
for b in deep mid low all; do Q bitmap --add -f qcow2 base.qcow2 $b; done
IO -c 'w 2M 64k' -f qcow2 base.qcow2
Q create -q -f qcow2 -b base.qcow2 -F qcow2 l1.qcow2
for b in mid all; do Q bitmap --add -f qcow2 l1.qcow2 $b; done
IO -c 'w 1M 64k' -f qcow2 l1.qcow2
Q create -q -f qcow2 -b l1.qcow2 -F qcow2 l2.qcow2
for b in low all; do Q bitmap --add -f qcow2 l2.qcow2 $b; done
IO -c 'w 3M 64k' -f qcow2 l2.qcow2
Q create -q -f qcow2 -b l2.qcow2 -F qcow2 top.qcow2
for b in deep mid low all; do Q bitmap --add -f qcow2 top.qcow2 $b; done
IO -c 'w 0 64k' -f qcow2 top.qcow2
# chk NAME: "layers state reason extents" of -x --backing-chain -n NAME
chk() {
	qdump -x --backing-chain -f json -n "$1" top.qcow2 2>/dev/null |
	  jq -c '.bitmaps[0] | [.layers, .state, .reason, [.extents[] | [.start, .length]]]'
}
expect_eq "every layer has it: usable, the four layers merged" "$(chk all)" \
  '[[0,1,2,3],"usable",null,[[0,65536],[1048576,65536],[2097152,65536],[3145728,65536]]]'
expect_eq "in the top and the base only (two layers without it): gap" "$(chk deep)" \
  '[[0,3],"gap","checkpoint-gap",[[0,65536]]]'
expect_eq "in the top, l1 and the base, not l2: gap" "$(chk mid)" \
  '[[0,2,3],"gap","checkpoint-gap",[[0,65536]]]'
expect_eq "in the top, l2 and the base, not l1: gap" "$(chk low)" \
  '[[0,1,3],"gap","checkpoint-gap",[[0,65536],[3145728,65536]]]'
expect_eq "the gap's ranges are the top's own, as qemu-nbd -B exports them" \
  "$(qdump -x --backing-chain -f csv -n deep top.qcow2 2>/dev/null | tail -n +2 | cut -d, -f4,5 | tr , ' ')" \
  "$(nbd_extents top.qcow2 deep)"
run_q out err -x --backing-chain -n deep top.qcow2
expect_eq "gap: -x exit 1" "$status" 1
check "gap: stderr names the lower layer holding it" grep -q \
  "bitmap 'deep': not usable .*checkpoint 'deep' over the backing chain: gap: .*(layer 3, base.qcow2)" err
run_q out err -x --backing-chain -n all top.qcow2
expect_eq "no gap: -x exit 0" "$status" 0
run_q out err -c --backing-chain -f csv top.qcow2
expect_eq "-c --backing-chain: a checkpoint-gap warning for each, in the first layer below the gap holding it" \
  "$(awk -F, '$4 == "checkpoint-gap" {print $1, $2, $3, $6}' out | sort | tr '\n' ' ')" \
  "base.qcow2 3 warning deep base.qcow2 3 warning low l1.qcow2 2 warning mid "

# ---- 3. the cap on listed snapshot problems ----

Q create -q -f qcow2 snap.qcow2 8M
IO -c 'w 0 64k' -f qcow2 snap.qcow2
Q snapshot -c s1 snap.qcow2
Q bitmap --add -f qcow2 snap.qcow2 b0
l1=$(qdump -s -f json snap.qcow2 | jq '.snapshots[0].l1_table_offset')
so=$(qdump -s -f json snap.qcow2 | jq '.snapshots[0].offset')
# 105 entries, each with an L1 table off its cluster (of no entries, so
# that nothing overlaps), an empty id and the name "same"
cp snap.qcow2 cap.qcow2
$GAPS snaps cap.qcow2 105 l1o=$((l1 + 512)) l1s=0 id= name=same
cap_at=$(qdump -f json cap.qcow2 | jq .header.snapshot_offset)
check_csv cap.qcow2 > cap.csv
expect_eq "105 unaligned L1 tables: 100 listed, then how many more" \
  "$(grep ',snapshot-l1-unaligned,' cap.csv | grep -vc 'not listed$') $(grep ',snapshot-l1-unaligned,.*not listed$' cap.csv | cut -d, -f2,4,6)" \
  "100 error,$cap_at,a snapshot's l1_table_offset is not cluster aligned: 5 more of these not listed"
expect_eq "105 empty ids: their own 100 and summary (the cap is per code)" \
  "$(grep ',snapshot-id-empty,' cap.csv | grep -vc 'not listed$') $(grep ',snapshot-id-empty,.*not listed$' cap.csv | cut -d, -f2,4,6)" \
  "100 warning,$cap_at,a snapshot's id_str is empty: 5 more of these not listed"
expect_eq "105 names the same: 100 duplicates listed, then the 4 more" \
  "$(grep ',snapshot-duplicate-name,' cap.csv | grep -vc 'not listed$') $(grep ',snapshot-duplicate-name,.*not listed$' cap.csv | cut -d, -f2,6)" \
  "100 warning,two snapshots have the same name: 4 more not listed"
expect_eq "the first listed is snapshot 0, the last snapshot 99" \
  "$(grep ',snapshot-l1-unaligned,' cap.csv | grep -v 'not listed$' | sed -n '1s/.*: snapshot \([0-9]*\) .*/\1/p;$s/.*: snapshot \([0-9]*\) .*/\1/p' | tr '\n' ' ')" \
  "0 99 "
expect_eq "nothing else listed" "$(cut -d, -f3 cap.csv | sort -u | tr '\n' ' ')" \
  "code snapshot-duplicate-name snapshot-id-empty snapshot-l1-unaligned "
qemu-img check -f qcow2 cap.qcow2 > qcheck.txt 2>&1
expect_eq "qemu-img check finds the 105 = 100 + 5 unaligned L1 tables" \
  "$(grep -c 'L1 table is not cluster aligned' qcheck.txt)" 105
cp snap.qcow2 capid.qcow2
$GAPS snaps capid.qcow2 103 l1o=0 l1s=0 id=7
expect_eq "103 ids the same: 100 duplicates listed, then the 2 more" \
  "$(codes capid.qcow2 | sort | uniq -c | tr -s ' ' | tr '\n' ' ')" \
  " 101 warning,snapshot-duplicate-id "
expect_eq "... the summary last" "$(check_csv capid.qcow2 | tail -n 1 | cut -d, -f6)" \
  "two snapshots have the same id_str: 2 more not listed"

# ---- 4. a snapshot table that fills QEMU's 64 MiB exactly ----

# entries with names of 65535 zero bytes (holes in a sparse file) from
# the first cluster past the image's end, the last one ending exactly
# 64 MiB after the table's start, or one byte more;
# the table's clusters given refcount 1, so that qemu-img check has
# nothing else to say
Q create -q -f qcow2 fill.qcow2 8M
Q bitmap --add -f qcow2 fill.qcow2 b0
end=$(stat -c %s fill.qcow2)
for extra in 0 1; do
	cp fill.qcow2 fill$extra.qcow2
	$GAPS fill fill$extra.qcow2 $(( (end + 65535) / 65536 * 65536 )) $extra > fill$extra.n
done
n0=$(cat fill0.n) n1=$(cat fill1.n)
expect_eq "exactly 64 MiB: qemu-img info opens it" \
  "$(qemu-img info -f qcow2 fill0.qcow2 > /dev/null 2>&1; echo $?)" 0
expect_eq "exactly 64 MiB: qemu-img check finds nothing" \
  "$(qemu-img check -f qcow2 fill0.qcow2 > /dev/null 2>&1; echo $?)" 0
run_q out err -s -f csv fill0.qcow2
expect_eq "exactly 64 MiB: -s shows every entry, exit 0" "$status $(($(wc -l < out) - 1))" "0 $n0"
run_q out err -c fill0.qcow2
expect_eq "exactly 64 MiB: -c finds nothing" "$status $(head -n1 out)" "0 fill0.qcow2: no problems found"
expect_eq "exactly 64 MiB: b0 usable (-b)" \
  "$(qdump -b -f json fill0.qcow2 | jq -r '.bitmaps[0].state')" usable
qemu-img info -f qcow2 fill1.qcow2 > /dev/null 2> qinfo.err
expect_eq "64 MiB + 1: qemu-img info refuses it" "$(cat qinfo.err)" \
  "qemu-img: Could not open 'fill1.qcow2': Snapshot table is too big
You can force-remove all 1 overhanging snapshots with qemu-img check -r all"
expect_eq "64 MiB + 1: qemu-img check fails" \
  "$(qemu-img check -f qcow2 fill1.qcow2 > /dev/null 2>&1; echo $?)" 1
run_q out err -s -f csv fill1.qcow2
expect_eq "64 MiB + 1: -s stops at the last entry, exit 2" "$status $(($(wc -l < out) - 1))" "2 $((n1 - 1))"
check "64 MiB + 1: the error names the last entry" grep -q \
  "the snapshot table exceeds QEMU's limit of 64 MiB (where: snapshot table entry $((n1 - 1)), " err
expect_eq "64 MiB + 1: b0 invalid (-b, where the table is not decoded)" \
  "$(qdump -b -f json fill1.qcow2 2>/dev/null | jq -r '"\(.bitmaps[0].state) \(.bitmaps[0].reason)"')" \
  "invalid snapshot-table-too-large"
rm -f fill0.qcow2 fill1.qcow2

# ---- 5. the scope of each snapshot rule: QEMU opens the image ----

# Each error of a snapshot entry fails qemu-img check, but QEMU opens the
# image and loads its bitmaps: b0 stays usable, and -c -n b0 reports the
# rule alone, never bitmap-not-usable.
# opens IMAGE: "info check io bitmap" as QEMU sees the image
opens() {
	qemu-img info -f qcow2 --output=json "$1" > qi.json 2>/dev/null
	i=$?
	qemu-img check -f qcow2 "$1" > /dev/null 2>&1
	c=$?
	qemu-io -r -f qcow2 -c 'read 0 512' "$1" > /dev/null 2>&1
	echo "$i $c $? $(jq -r '."format-specific".data.bitmaps[0] | "\(.name):\(.flags | join("+"))"' qi.json 2>/dev/null)"
}
size=$(stat -c %s snap.qcow2)
# rule DESC EDIT... : the entry edited, then QEMU's view and ours
rule() {
	desc=$1 code=$2; shift 2
	cp snap.qcow2 r.qcow2
	$SNAP entry r.qcow2 "$so" "$@" > /dev/null
	expect_eq "$desc: QEMU opens it, qemu-img check fails, b0 loaded" \
	  "$(opens r.qcow2)" "0 2 0 b0:auto"
	expect_eq "$desc: -c -n b0: $code alone, an error; b0 usable" \
	  "$(codes r.qcow2 -n b0 | tr '\n' ' ')" "error,$code "
	expect_eq "$desc: -b: b0 usable" \
	  "$(qdump -b -f json r.qcow2 | jq -r '.bitmaps[0].state')" usable
}
rule "L1 table unaligned" snapshot-l1-unaligned l1o=$((l1 + 512))
rule "L1 table unaligned by 8 bytes, no entries" snapshot-l1-unaligned l1o=$((l1 + 8)) l1s=0
rule "L1 table over 32 MiB" snapshot-l1-too-large l1o=$(( (size + 65535) / 65536 * 65536 )) l1s=$((0x400001))
rule "L1 table past the end of the file" snapshot-l1-beyond-eof l1o=$((1 << 40))
rule "no extra data in a version 3 image" snapshot-extra-data-too-short extra=0
rule "15 bytes of extra data" snapshot-extra-data-too-short extra=15
# beside them, the entry's rule QEMU refuses the image for: every bitmap
# invalid, in -b (which reads the table only as far as QEMU's open does)
# and in -c
cp snap.qcow2 r.qcow2
$SNAP entry r.qcow2 "$so" extra=1025 > /dev/null
expect_eq "1025 bytes of extra data: QEMU refuses the image" \
  "$(qemu-img info -f qcow2 r.qcow2 > /dev/null 2>&1; echo $?)" 1
run_q out err -b -f json r.qcow2
expect_eq "1025 bytes of extra data: -b -f json: b0 invalid, exit 2" \
  "$(jq -r '.bitmaps[0] | "\(.state) \(.reason)"' out) $status" \
  "invalid snapshot-extra-data-too-large 2"
expect_eq "1025 bytes of extra data: -c -n b0: b0 not usable" \
  "$(codes r.qcow2 -n b0 | tr '\n' ' ')" "error,snapshot-extra-data-too-large error,bitmap-not-usable "

# ---- 6. every bitmap flag QEMU does not know ----

# QEMU 7.2 knows in_use and auto (bits 0 and 1) and refuses the image for
# any other flag bit, extra_data_compatible (bit 2) included: the bitmap
# with the flag is unsupported, every other bitmap of the image invalid
# for the same reason.
Q create -q -f qcow2 flags.qcow2 8M
Q bitmap --add -f qcow2 flags.qcow2 b0
Q bitmap --add -f qcow2 flags.qcow2 b1
# states IMAGE: "state reason" of b0 and b1 in -b JSON
states() {
	qdump -b -f json "$1" 2>/dev/null |
	  jq -r '[.bitmaps[] | "\(.state) \(.reason)"] | join(", ")'
}
# qemu_refuses IMAGE: QEMU's message when qemu-img info refuses the image
qemu_refuses() {
	qemu-img info -f qcow2 "$1" > /dev/null 2> qi.err && echo opens ||
	  sed 's/^qemu-img: Could not open .[^:]*: //' qi.err
}
expect_eq "control: auto, both usable" "$(states flags.qcow2)" "usable null, usable null"
fl=$(($(oracle_at flags.qcow2 entry_0) + 12))   # b0's flags
bit=2
while [ $bit -le 31 ]; do
	cp flags.qcow2 f.qcow2
	poke f.qcow2 $fl "$(u32 $((2 | 1 << bit)))"
	why=reserved-flags
	[ $bit -eq 2 ] && why=extra-data-compatible-flag
	expect_eq "flag bit $bit: QEMU 7.2 refuses the image" "$(cached qemu_refuses f.qcow2)" \
	  "Bitmap 'b0' doesn't satisfy the constraints"
	expect_eq "flag bit $bit: b0 unsupported, b1 invalid ($why)" "$(states f.qcow2)" \
	  "unsupported $why, invalid $why"
	bit=$((bit + 1))
done
# in_use with an unknown bit: QEMU refuses the image all the same
cp flags.qcow2 f.qcow2; $QEDIT dir f.qcow2 0:flags=$((1 | 2 | 1 << 5))
expect_eq "in_use, auto and bit 5: QEMU refuses" "$(qemu_refuses f.qcow2)" \
  "Bitmap 'b0' doesn't satisfy the constraints"
expect_eq "in_use, auto and bit 5: unsupported, not in use" "$(states f.qcow2)" \
  "unsupported reserved-flags, invalid reserved-flags"
# extra data: with extra_data_compatible QEMU still refuses (it supports
# no extra data at all); without it, the spec forbids using the bitmap
cp flags.qcow2 f.qcow2; $QEDIT dir f.qcow2 0:flags=6 0:extra=11223344
expect_eq "extra data, extra_data_compatible set: QEMU refuses" \
  "$(qemu_refuses f.qcow2)" "Bitmap extra data is not supported"
expect_eq "extra data, extra_data_compatible set: unsupported" "$(states f.qcow2)" \
  "unsupported extra-data-compatible-flag, invalid extra-data-compatible-flag"
expect_eq "extra data, extra_data_compatible set: -c names both" \
  "$(codes f.qcow2 | sort | tr '\n' ' ')" "error,extra-data error,extra-data-compatible-flag "
cp flags.qcow2 f.qcow2; $QEDIT dir f.qcow2 0:flags=2 0:extra=11223344
expect_eq "extra data, extra_data_compatible clear: QEMU refuses" \
  "$(qemu_refuses f.qcow2)" "Bitmap extra data is not supported"
expect_eq "extra data, extra_data_compatible clear: unsupported" "$(states f.qcow2)" \
  "unsupported extra-data-incompatible, invalid extra-data-incompatible"
run_q out err -x -n b1 f.qcow2
expect_eq "the other bitmap of such an image: -x exit 1" "$status" 1

# ---- 7. refcounts narrower than a byte, and across refcount blocks ----

# For each refcount width, an image of 512-byte clusters whose bitmaps'
# clusters (directory, tables, data) straddle the boundary of two
# refcount blocks: guest data first fills the file to just below the
# boundary, then the bitmaps are stored at the end.  The refcounts of the
# lowest and the highest of those clusters (one in each block) are set
# to 0, and of one between them to a value above 1; -c reports exactly
# the clusters qemu-img check reports, with the same refcount.  The
# widths are qemu-img amend's, from one image of twelve bitmaps.
# ourrefs IMAGE: "zero OFFSET" and "excess OFFSET REFCOUNT" from -c
ourrefs() {
	qdump -c -f csv "$1" 2>/dev/null | awk -F, '
	  $3 == "refcount-zero" { print "zero", $4 }
	  $3 == "refcount-excess" { n = $6; sub(/.*: refcount /, "", n); print "excess", $4, n }' |
	  sort
}
qemurefs() {
	qemu-img check -f qcow2 "$1" 2>&1 | CLUSTER_SIZE=512 $GAPS qemu-refs | sort
}
Q create -q -f qcow2 -o cluster_size=512 rc.qcow2 16M
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do Q bitmap --add -g 512 -f qcow2 rc.qcow2 b$i; done
for w in 1 2 4 8 16 32 64; do
	img=rc$w.qcow2
	block=$((512 * 8 / w * 512))    # bytes of file one refcount block covers
	fill=$((block * 63 / 64 - 46080))
	cp rc.qcow2 $img
	Q amend -f qcow2 -o refcount_bits=$w $img
	expect_eq "refcount_bits=$w: amended" \
	  "$(qemu-img info -f qcow2 --output=json $img | jq '."format-specific".data."refcount-bits"')" $w
	# a dirty bit in each 512-byte data cluster of every bitmap
	set -- -c 'w 0 512' -c 'w 2M 512' -c 'w 4M 512' -c 'w 6M 512' \
	  -c 'w 8M 512' -c 'w 10M 512' -c 'w 12M 512' -c 'w 14M 512'
	[ "$fill" -gt 0 ] && set -- "$@" -c "w 9M $fill"
	IO -f qcow2 "$@" $img
	$GAPS bitmap-clusters $img > $img.offs
	lo=$(head -n 1 $img.offs) hi=$(tail -n 1 $img.offs) mid=$(sed -n 50p $img.offs)
	expect_eq "refcount_bits=$w: the bitmaps' clusters span two refcount blocks" \
	  "$(test "$($GAPS refblocks $img "$lo")" -lt "$($GAPS refblocks $img "$hi")" && echo yes)" yes
	expect_eq "refcount_bits=$w: as made, neither finds a refcount fault" \
	  "$(ourrefs $img)|$(qemurefs $img)" "|"
	$GAPS refcount $img "$lo" 0
	$GAPS refcount $img "$hi" 0
	case $w in
	1) ;;
	2) $GAPS refcount $img "$mid" 3 ;;
	4) $GAPS refcount $img "$mid" 13 ;;
	8) $GAPS refcount $img "$mid" 165 ;;
	16) $GAPS refcount $img "$mid" $((0x1234)) ;;
	32) $GAPS refcount $img "$mid" $((0x12345678)) ;;
	64) $GAPS refcount $img "$mid" $((0x123456789abc)) ;;
	esac
	qemurefs $img > qemu.refs
	ourrefs $img > ours.refs
	expect_eq "refcount_bits=$w: QEMU finds the faults made" "$(wc -l < qemu.refs)" \
	  "$([ $w = 1 ] && echo 2 || echo 3)"
	expect_file "refcount_bits=$w: -c reports what qemu-img check reports" ours.refs qemu.refs
done
# ---- 8. empty snapshot ids and names ----

# (QEMU accepts both: each rule is a warning; qemu-img check finds
# nothing.)  Two snapshots made by qemu-img, their ids emptied: each is
# an empty id, reported once as such, and not also a duplicate id.
Q create -q -f qcow2 eid.qcow2 8M
IO -c 'w 0 64k' -f qcow2 eid.qcow2
Q snapshot -c s1 eid.qcow2
Q snapshot -c s2 eid.qcow2
cp eid.qcow2 eid1.qcow2
$GAPS retable eid.qcow2 0:id= 1:id=
e0=$(qdump -s -f json eid.qcow2 | jq '.snapshots[0].offset')
e1=$(qdump -s -f json eid.qcow2 | jq '.snapshots[1].offset')
expect_eq "two empty ids: QEMU accepts them (qemu-img check exit 0)" \
  "$(qemu-img check -f qcow2 eid.qcow2 > /dev/null 2>&1; echo $?) $(qemu-img info -f qcow2 --output=json eid.qcow2 | jq -c '[.snapshots[] | [.id, .name]]')" \
  '0 [["","s1"],["","s2"]]'
run_q out err -c -f csv eid.qcow2
expect_eq "two empty ids: one snapshot-id-empty warning each, no duplicate id, exit 0" \
  "$status $(tail -n +2 out | cut -d, -f2,3,4 | tr '\n' ' ')" \
  "0 warning,snapshot-id-empty,$((e0 + 12)) warning,snapshot-id-empty,$((e1 + 12)) "
# Two snapshots named "" by qemu-img itself: QEMU accepts them, and a
# command given that name acts on one of them only (qemu-img snapshot -d
# '' deletes the first), which is what snapshot-duplicate-name warns of.
Q create -q -f qcow2 ename.qcow2 8M
IO -c 'w 0 64k' -f qcow2 ename.qcow2
Q snapshot -c '' ename.qcow2
Q snapshot -c '' ename.qcow2
expect_eq "two empty names: QEMU accepts them (qemu-img check exit 0)" \
  "$(qemu-img check -f qcow2 ename.qcow2 > /dev/null 2>&1; echo $?) $(qemu-img info -f qcow2 --output=json ename.qcow2 | jq -c '[.snapshots[] | [.id, .name]]')" \
  '0 [["1",""],["2",""]]'
cp ename.qcow2 ename-d.qcow2
Q snapshot -d '' ename-d.qcow2
expect_eq "two empty names: qemu-img snapshot -d '' deletes one of them only" \
  "$(qemu-img info -f qcow2 --output=json ename-d.qcow2 | jq -c '[.snapshots[] | [.id, .name]]')" \
  '[["2",""]]'
n1=$(qdump -s -f json ename.qcow2 | jq '.snapshots[1].offset')
run_q out err -c -f csv ename.qcow2
expect_eq "two empty names: a snapshot-duplicate-name warning, at the second, exit 0" \
  "$status $(tail -n +2 out | cut -d, -f2,3,4 | tr '\n' ' ')" \
  "0 warning,snapshot-duplicate-name,$n1 "
# an empty id beside a non-empty one
$GAPS retable eid1.qcow2 0:id=
expect_eq "an empty id and id 1: the empty one alone" "$(codes eid1.qcow2 | tr '\n' ' ')" \
  "warning,snapshot-id-empty "
# ---- 10. every control character in every string, JSON and CSV ----

# CTL: the 33 control characters, 0x00 to 0x1f and 0x7f, as hex; CTL1
# the same without NUL (for what cannot hold one: a path, a feature
# name, a message)
CTL=$($PY -c 'print(bytes(list(range(32)) + [127]).hex())')
CTL1=${CTL#00}
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
# (a trailing line break would be lost to $(...): none ends so)
unhex() { $PY -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1"; }
# the image's path: "p", the 32 control characters but NUL, ".qcow2"
path=$(unhex "70${CTL1}2e71636f7732")
expect_eq "a path of every control character but NUL" "$(hex "$path")" "70${CTL1}2e71636f7732"
Q create -q -f qcow2 str.qcow2 1M
IO -c 'w 0 64k' -f qcow2 str.qcow2
Q snapshot -c one str.qcow2
Q snapshot -c two str.qcow2
Q bitmap --add -f qcow2 str.qcow2 b0
Q bitmap --add -f qcow2 str.qcow2 b1
# bitmap names: every control character between two letters; the same
# without NUL; the second in use, so that -c names it
$QEDIT dir str.qcow2 "0:name=61${CTL}7a" "1:name=${CTL1}" 1:flags=3
# the backing file name, the backing format and data file extensions
$GAPS exts str.qcow2 "0xe2792aca=${CTL}" "0x44415441=78${CTL}79" "backing=62${CTL}63"
# a compatible feature bit QEMU does not know, named in the feature table
$GAPS feature str.qcow2 1 7 "${CTL1}"
poke str.qcow2 80 "$(u64 128)"
# snapshot ids and names; the second snapshot's id empty, so that -c's
# message names it
$GAPS retable str.qcow2 "0:id=${CTL}" "0:name=6e${CTL}" 1:id= "1:name=${CTL1}"
cp str.qcow2 "$path"
n=0
for args in "" "-b" "-x" "-c" "-s" "-e" "-t" "-b --backing-chain"; do
	n=$((n + 1))
	qdump -f json $args "$path" > "s$n.json" 2>/dev/null
	check "control characters, -f json $args: valid JSON for Python and jq, the same strings" \
	  $PY -c 'import json, subprocess, sys
from_jq = subprocess.run(["jq", "-c", "[.. | strings | explode]", sys.argv[1]],
                         capture_output=True, check=True).stdout.decode().split("\n")
out = []
def walk(v):
    if isinstance(v, str): out.append([ord(c) for c in v])
    elif isinstance(v, dict): [walk(x) for x in v.values()]
    elif isinstance(v, list): [walk(x) for x in v]
walk(json.load(open(sys.argv[1])))
sys.exit(json.loads(from_jq[0]) != out)' "s$n.json"
done
cat s1.json s2.json s3.json s4.json s5.json s6.json s7.json s8.json > all.json
check "control characters: every document valid against the schema" \
  $FORMATS validate "$SCHEMA" all.json
# jhex FILE PATH: the string at PATH of FILE's first document, as hex
jhex() { $GAPS jhex "$1" 0 "$2"; }
expect_eq "JSON: the image's path" "$(jhex s2.json image)" "70${CTL1}2e71636f7732"
expect_eq "JSON: a bitmap name (-b)" "$(jhex s2.json bitmaps/0/name)" "61${CTL}7a"
expect_eq "JSON: a bitmap name (-b), no name_hex" "$(jhex s2.json bitmaps/0/name_hex)" missing
# ext NAME: the index of extension NAME in the default document
ext() { jq "[.header_extensions[].name] | index(\"$1\")" s1.json; }
expect_eq "JSON: a bitmap name (the directory)" \
  "$(jhex s1.json "header_extensions/$(ext Bitmaps)/data/bitmap_directory/1/name")" "${CTL1}"
expect_eq "JSON: a bitmap name (-x)" "$(jhex s3.json bitmaps/1/name)" "${CTL1}"
expect_eq "JSON: the bitmap of a problem (-c)" \
  "$(jhex s4.json "problems/$(jq '[.problems[].code] | index("bitmap-in-use")' s4.json)/bitmap")" "${CTL1}"
expect_eq "JSON: a message naming a snapshot (-c)" \
  "$(jq -r '.problems[] | select(.code == "snapshot-id-empty") | .message' s4.json | od -An -v -tx1 | tr -d ' \n')" \
  "$(hex "a snapshot's id_str is empty: snapshot 1 (")${CTL1}290a"
expect_eq "JSON: the backing file name" "$(jhex s1.json backing_file)" "62${CTL}63"
expect_eq "JSON: the backing format extension's string" \
  "$(jhex s1.json "header_extensions/$(ext 'Backing format')/string")" "${CTL}"
expect_eq "JSON: the data file extension's string" \
  "$(jhex s1.json "header_extensions/$(ext 'Data file')/string")" "78${CTL}79"
expect_eq "JSON: an unknown feature bit's name from the table" \
  "$(jhex s1.json header/compatible_feature_names/0)" "${CTL1}"
ft=$(ext 'Feature table')
expect_eq "JSON: that feature table entry's name" \
  "$(jhex s1.json "header_extensions/$ft/features/$(jq ".header_extensions[$ft].features | map(.type == 1 and .bit == 7) | index(true)" s1.json)/name")" \
  "${CTL1}"
expect_eq "JSON: a snapshot id" "$(jhex s5.json snapshots/0/id_str)" "${CTL}"
expect_eq "JSON: a snapshot name" "$(jhex s5.json snapshots/0/name)" "6e${CTL}"
expect_eq "JSON: a snapshot name without NUL" "$(jhex s5.json snapshots/1/name)" "${CTL1}"
expect_eq "JSON: top_image (--backing-chain)" "$(jhex s8.json top_image)" "70${CTL1}2e71636f7732"
# each control character alone in a string of its own (a string holding
# one of them is escaped whole, whatever the others): 33 bitmap names,
# 33 snapshot ids and names "x" CHARACTER "y"
Q create -q -f qcow2 each.qcow2 1M
IO -c 'w 0 64k' -f qcow2 each.qcow2
Q snapshot -c s each.qcow2
Q bitmap --add -f qcow2 each.qcow2 b
$GAPS snaps each.qcow2 33 l1s=0
edits= sedits= want= k=0
for c in $(printf '%s' "$CTL" | sed 's/../& /g'); do
	[ $k -gt 0 ] && edits="$edits dup:0"
	edits="$edits $k:name=78${c}79"
	sedits="$sedits $k:id=78${c}79 $k:name=78${c}79"
	want="$want 78${c}79"
	k=$((k + 1))
done
$QEDIT dir each.qcow2 $edits
$GAPS retable each.qcow2 $sedits
qdump -f json -b each.qcow2 > each-b.json 2>/dev/null
qdump -f json -s each.qcow2 > each-s.json 2>/dev/null
expect_eq "JSON: 33 bitmap names, a control character each" \
  "$($PY -c 'import json, sys
print(" ".join(b["name"].encode().hex() for b in json.load(open(sys.argv[1]))["bitmaps"]))' each-b.json)" \
  "${want# }"
expect_eq "JSON: 33 snapshot ids and names, a control character each" \
  "$($PY -c 'import json, sys
s = json.load(open(sys.argv[1]))["snapshots"]
print(" ".join(x["id_str"].encode().hex() for x in s), " ".join(x["name"].encode().hex() for x in s))' each-s.json)" \
  "${want# } ${want# }"
expect_eq "JSON: jq reads the same 33 names" \
  "$(jq -c '[.bitmaps[].name | explode[1]]' each-b.json)" \
  "[$(printf '%s' "$CTL" | sed 's/../& /g' | tr ' ' '\n' | sed '/^$/d' | while read -r c; do printf '%d,' "0x$c"; done | sed 's/,$//')]"
qdump -f json --compact -b "$path" > compact.json
expect_eq "JSON, --compact: one line, what the pretty document holds" \
  "$(wc -l < compact.json) $(jq -c . compact.json | md5sum)" "1 $(jq -c . s2.json | md5sum)"

# CSV: a line break (CR, LF, CR LF) first, in the middle and last of a
# field, in bitmap names (-b, -x, -c), snapshot names (-s), the backing
# format's text (-e) and the image's path; read back by Python's csv
# module byte for byte
Q create -q -f qcow2 crlf.qcow2 1M
IO -c 'w 0 64k' -f qcow2 crlf.qcow2
BREAKS="0d78 780d79 790d 0a78 780a79 790a 0d0a78 780d0a79 790d0a"
i=0
for b in $BREAKS; do Q bitmap --add -f qcow2 crlf.qcow2 "x$i"; Q snapshot -c "s$i" crlf.qcow2; i=$((i + 1)); done
edits= sedits= i=0
for b in $BREAKS; do edits="$edits $i:name=$b $i:flags=3"; sedits="$sedits $i:name=$b"; i=$((i + 1)); done
$QEDIT dir crlf.qcow2 $edits
$GAPS retable crlf.qcow2 $sedits
for b in 0d78 780d79 790d 0a78 780a79 790a; do
	cp crlf.qcow2 "$(unhex "${b}2e71636f7732")"
done
# cells VIEW COL IMAGE: column COL of every row of qcow2dump -f csv VIEW
# IMAGE, as hex, on one line
cells() {
	qdump -f csv $1 "$3" > cell.csv 2>/dev/null
	$GAPS chex cell.csv all "$2" | tr '\n' ' '
}
# cell VIEW ROW COL IMAGE: one cell
cell() { qdump -f csv $1 "$4" > cell.csv 2>/dev/null; $GAPS chex cell.csv "$2" "$3"; }
expect_eq "CSV: bitmap names (-b)" "$(cells -b 1 crlf.qcow2)" "$BREAKS "
expect_eq "CSV: bitmap names (-x)" "$(cells -x 1 crlf.qcow2)" "$BREAKS "
expect_eq "CSV: bitmap names (-c, each in use)" "$(cells -c 4 crlf.qcow2 | tr -s " ")" "$BREAKS "
expect_eq "CSV: snapshot names (-s)" "$(cells -s 2 crlf.qcow2)" "$BREAKS "
# the six paths in one table, each with a row per bitmap
set -- want=
want=
for b in 0d78 780d79 790d 0a78 780a79 790a; do
	set -- "$@" "$(unhex "${b}2e71636f7732")"
	for _ in $BREAKS; do want="$want${b}2e71636f7732 "; done
done
shift
expect_eq "CSV: the image's paths" "$(qdump -f csv -b "$@" > cell.csv 2>/dev/null
  $GAPS chex cell.csv all 0 | tr '\n' ' ')" "$want"
for b in 0d78 780d79 790d 0a78 780a79 790a; do
	cp crlf.qcow2 ext.qcow2
	$GAPS exts ext.qcow2 "0xe2792aca=$b"
	expect_eq "CSV: the backing format's text $b (-e)" "$(cell -e "name=Backing format" 5 ext.qcow2)" "$b"
done
# ---- 11. option combinations refused: exit 64, nothing on stdout ----

img=flags.qcow2
# refused DESC ARGS...: a usage error, said on stderr (the binary itself,
# never under valgrind: a usage error reads no image)
refused() {
	desc=$1; shift
	"$QCOW2DUMP_BIN" "$@" > out 2> err
	qdump_status $? "$@"
	status=$?
	expect_eq "$desc: exit 64, nothing on stdout, a message" \
	  "$status $(wc -c < out) $(grep -c '^qcow2dump: ' err)" "64 0 1"
}
# accepted DESC ARGS...: exit 0
accepted() {
	desc=$1; shift
	run_q out err "$@"
	expect_eq "$desc: exit 0" "$status" 0
}
refused "--compact -f csv" --compact -f csv $img
refused "-f csv --compact" -f csv --compact $img
refused "--compact -f text" --compact -f text $img
refused "--compact --output=human" --compact --output=human $img
refused "--compact -c -f csv" --compact -c -f csv $img
refused "-f json --compact -f csv (the last -f is the format)" -f json --compact -f csv $img
accepted "-f csv --compact -f json (the last -f is the format)" -f csv --compact -f json $img
accepted "--compact -f json" --compact -f json $img
for v in -c -x; do
	refused "-t $v" -t $v $img
	refused "$v -t" $v -t $img
	refused "$v --bitmap-table" $v --bitmap-table $img
done
refused "-t -x --backing-chain" -t -x --backing-chain $img
refused "-x --backing-chain -t -f json" -x --backing-chain -t -f json $img
for a in -e -b -c -x -s; do
	for b in -e -b -c -x -s; do
		[ "$a" = "$b" ] && continue
		refused "two views: $a $b" $a $b $img
	done
	accepted "the same view twice: $a $a" $a $a -n b1 $img
done
refused "two views, long options: --extensions --snapshots" --extensions --snapshots $img
refused "--list-checks with an IMAGE" --list-checks $img
refused "--list-checks -f json with an IMAGE" --list-checks -f json $img
for a in -e -b -c -x -s -t "-n b0" --backing-chain; do
	refused "--list-checks $a" --list-checks $a
done
accepted "--list-checks -f csv" --list-checks -f csv
for f in JSON Json j js "" " json" "json " text2 csvx human2 yaml raw qcow2 "json,csv"; do
	refused "-f '$f'" -f "$f" $img
	refused "--output='$f'" --output="$f" $img
done
finish
