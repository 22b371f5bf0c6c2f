#!/bin/sh
# QEMU's limit of 65535 bitmaps: every one decoded and checked in bounded
# memory; duplicates among them found.  (Time is measured in bench/, not
# asserted here.)
. "$TOP_SRCDIR/tests/integration/lib.sh"

Q create -q -f qcow2 -o cluster_size=512 many.qcow2 64M
$PY "$TOP_SRCDIR/tests/integration/mkbitmaps.py" many.qcow2 65535 || fail "mkbitmaps.py"

# peak RSS in KiB of one run.  Under AddressSanitizer the quarantine
# keeps freed memory by design; without it the bound holds there too.
peak() {
	ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0:malloc_context_size=0 \
	  /usr/bin/time -f %M -o rss.txt "$QCOW2DUMP_BIN" "$@" > out 2> err
	qdump_status $? "$@" under time
	echo $?
}

expect_eq "65535 bitmaps: -c exits 0" "$(peak -c many.qcow2)" 0
# mkbitmaps.py leaves two clusters leaked, as qemu-img check says too
expect_eq "65535 bitmaps: no error, the 2 leaks qemu-img check finds" \
  "$(grep -c ': error: ' out) $(grep -c ': warning: cluster-leaked: ' out)" "0 2"
rss=$(cat rss.txt)
check "65535 bitmaps: -c peaks under 64 MiB (was $rss KiB)" [ "$rss" -lt 65536 ]
expect_eq "65535 bitmaps: -f json -t exits 0" "$(peak -f json -t many.qcow2)" 0
rss=$(cat rss.txt)
check "65535 bitmaps: -f json -t peaks under 64 MiB (was $rss KiB)" [ "$rss" -lt 65536 ]
expect_eq "65535 bitmaps: all in the JSON" \
  "$(jq '[.header_extensions[] | select(.name == "Bitmaps") | .data.bitmap_directory[]] | length' out)" 65535
expect_eq "65535 bitmaps: the last one" \
  "$(jq -r '.header_extensions[] | select(.name == "Bitmaps") | .data.bitmap_directory[-1].name' out)" bitmap-65534
expect_eq "65535 bitmaps: CSV rows" "$(qdump -f csv many.qcow2 | wc -l)" 65536

# two names made equal, far apart: one duplicate-name, at the later entry
$ORACLE offsets many.qcow2 > offsets.txt
dir=$(sed -n 's/^dir=//p' offsets.txt)
entry_60000=$(sed -n 's/^entry_60000=//p' offsets.txt)
expect_eq "the oracle puts entry 60000 where 40-byte entries do" "$entry_60000" $((dir + 60000 * 40))
poke many.qcow2 $((dir + 60000 * 40 + 24)) "$(printf 'bitmap-00007' | od -An -v -tx1 | tr -d ' \n')"
run_q out err -c -f csv many.qcow2
expect_eq "duplicate among 65535: exit 1" "$status" 1
expect_eq "duplicate among 65535: found once, at entry 60000" \
  "$(grep -c duplicate-name out) $(awk -F, '/duplicate-name/ {print $4}' out)" \
  "1 $((dir + 60000 * 40))"
finish
