#!/bin/sh
# Bounded work: small hostile files that claim a lot cost every view and
# format a time and memory bounded by the file, not by the claims.  The
# bounds asserted are generous (a loaded machine, the sanitizer build);
# bench/run.sh measures the real figures.
. "$TOP_SRCDIR/tests/integration/lib.sh"
HOSTILE="$PY $TOP_SRCDIR/tests/integration/hostile.py"

# Seconds and KiB allowed: the sanitizer build runs some 5 times slower
# and maps some 20 MiB more; valgrind, 50 times slower.
limit_s=20 limit_kib=$((256 * 1024))
if nm -D "$QCOW2DUMP_BIN" 2>/dev/null | grep -q __asan_init ||
   nm "$QCOW2DUMP_BIN" 2>/dev/null | grep -q __asan_init; then
	limit_s=100 limit_kib=$((1024 * 1024))
fi
[ "$QCOW2DUMP" = "$QCOW2DUMP_BIN" ] || limit_s=1000

# bounded DESC ARGS...: one run within the limits, its status 0, 1 or 2
bounded() {
	desc=$1; shift
	ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0:malloc_context_size=0 \
	  timeout "$limit_s" /usr/bin/time -f '%e %M' -o usage.txt \
	  "$QCOW2DUMP" "$@" > out 2> err
	st=$?
	qdump_status "$st" "$@"
	case $st in
	0|1|2) pass "$desc: exit $st" ;;
	124) fail "$desc: over $limit_s s" ;;
	*) fail "$desc: exit $st" ;;
	esac
	# /usr/bin/time prints a note before its line when the command failed
	set -- $(tail -n 1 usage.txt)
	check "$desc: within $limit_s s and $limit_kib KiB (took $1 s, $2 KiB)" \
	  [ "${2:-999999999}" -lt "$limit_kib" ]
}
# every_view IMAGE: each view in each format
every_view() {
	n=0
	for view in "" -e -b "-b -t" -x -c --map "-x --map" --layout "--at 0"; do
		for fmt in text json csv; do
			# shellcheck disable=SC2086
			bounded "$1 ${view:-default} $fmt" $view -f "$fmt" "$1"
			n=$((n + 1))
		done
	done
	expect_some "$1: every view and format bounded" "$n"
}

# 65535 bitmaps sharing one table of 2^20 entries, every entry naming
# the same data cluster (a 64 GiB disk needs 32768 of them): some 26 MiB
# of file, 65535 x 512 MiB of claims
Q create -q -f qcow2 -o cluster_size=512 shared.qcow2 64G
$HOSTILE shared-table shared.qcow2 65535
every_view shared.qcow2
bounded "shared table: -x" -x -f json shared.qcow2
expect_eq "shared table: its data cluster read once, then said shared" \
  "$(jq -r '[.problems[].code] | index("data-cluster-shared") != null' out)" true
# as many 8 MiB tables are loaded as the file has room for, no more
fits=$(( $(stat -c %s shared.qcow2) / (8 << 20) ))
expect_eq "shared table: tables beyond the file's size are not loaded" \
  "$(jq -r '[.problems[] | select(.code == "bitmap-tables-over-budget")] | length' out)" \
  "$((65535 - fits))"
# 4 and 32 bitmaps sharing a table of 2^20 bad entries: 100 problems a
# code and bitmap, and one saying how many more
for n in 4 32; do
	Q create -q -f qcow2 -o cluster_size=512 "bad$n.qcow2" 1M
	$HOSTILE bad-table "bad$n.qcow2" "$n"
	bounded "bad table x $n: -c json" -c -f json "bad$n.qcow2"
	# (the first table loaded takes what the file holds; the others
	# are beyond it, not loaded)
	expect_eq "bad table x $n: the entries' problems capped: 100 and a count" \
	  "$(jq '[.problems[] | select(.code == "table-entry-reserved")] | length' out)" 101
	bounded "bad table x $n: -c text" -c "bad$n.qcow2"
	bounded "bad table x $n: -c csv" -c -f csv "bad$n.qcow2"
done
# some 262,000 header extensions in a 2 MiB cluster: the duplicate check
# is one pass, and no problem looks for the bitmaps extension again
Q create -q -f qcow2 -o cluster_size=2M exts.qcow2 8M
Q bitmap --add -f qcow2 exts.qcow2 b
added=$($HOSTILE many-exts exts.qcow2)
check "262,000 extensions: made ($added)" [ "$added" -gt 262000 ]
bounded "262,000 extensions: default" exts.qcow2
expect_eq "262,000 extensions: all decoded (and the feature table and bitmaps)" \
  "$(grep -c '^Header extension:' out)" "$((added + 2))"
bounded "262,000 extensions: -c json" -c -f json exts.qcow2
bounded "262,000 extensions: -e json" -e -f json exts.qcow2
bounded "262,000 extensions: --map json" --map -f json exts.qcow2

# The guest-data tables: an L1 of QEMU's 32 MiB (512-byte clusters, a
# 128 GiB disk: 4 Mi entries) whose every entry names an L2 table past
# the end of the file (read as zeroes: one unallocated range, and one
# problem, not 4 Mi L2 reads); whose every entry names one L2 table (the
# map would be 4 Mi times the table: it stops at the second, corrupt);
# an L2 table off a cluster boundary (QEMU's read fails); a table of
# compressed descriptors past the end (mapped as QEMU maps them, said)
for kind in beyond shared unaligned compressed; do
	# (512-byte clusters leave no L2 offset unaligned: 4 KiB there)
	cs=512; [ "$kind" = unaligned ] && cs=4096
	Q create -q -f qcow2 -o cluster_size=$cs "l1-$kind.qcow2" 128G
	$HOSTILE l1 "l1-$kind.qcow2" "$kind"
	bounded "L1 $kind: --map json" --map -f json "l1-$kind.qcow2"
	cp out "l1-$kind.json"
	bounded "L1 $kind: --map text" --map "l1-$kind.qcow2"
	bounded "L1 $kind: --map csv" --map -f csv "l1-$kind.qcow2"
	# the refcount rebuild and the owners walk every table once
	bounded "L1 $kind: -c json" -c -f json "l1-$kind.qcow2"
	bounded "L1 $kind: --layout json" --layout -f json "l1-$kind.qcow2"
	bounded "L1 $kind: --at json" --at 0x20000 -f json "l1-$kind.qcow2"
done
# every L1 entry naming offset 0 (the header, read as an L2 table by
# QEMU's check, 4 Mi times), and every L2 entry naming its own table: a
# count per reference, no table walked twice
for kind in zero tables; do
	Q create -q -f qcow2 -o cluster_size=512 "l2-$kind.qcow2" 128G
	$HOSTILE l2 "l2-$kind.qcow2" "$kind"
	bounded "L2 $kind: -c json" -c -f json "l2-$kind.qcow2"
	cp out "l2-$kind.json"
	bounded "L2 $kind: --layout json" --layout -f json "l2-$kind.qcow2"
	bounded "L2 $kind: --at json" --at 0 -f json "l2-$kind.qcow2"
done
expect_eq "L2 zero: a result, corrupt" \
  "$(jq -c '.totals | [.corruptions > 0, .check_errors]' l2-zero.json)" "[true,0]"
expect_eq "L2 tables: a result, corrupt" \
  "$(jq -c '.totals | [.corruptions > 0, .check_errors]' l2-tables.json)" "[true,0]"
# a refcount table claiming 2^32 - 1 clusters: QEMU refuses it, and
# nothing is read for the claim
Q create -q -f qcow2 reftable.qcow2 1G
$PY -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(56); f.write((0xffffffff).to_bytes(4, "big"))' reftable.qcow2
every_view reftable.qcow2
codes() { jq -r '[.backing_chain[].problems[]?.code] | join(" ")' "$1"; }
expect_eq "L1 beyond: one range, unallocated" \
  "$(jq -c '[.map[] | [.start, .length, .zero, .data]]' l1-beyond.json)" \
  "[[0,137438953472,true,false]]"
expect_eq "L1 beyond: said once" "$(codes l1-beyond.json)" "l2-table-beyond-eof"
expect_eq "L1 shared: the first table mapped (64 clusters of data), then the stop" \
  "$(jq -c '[(.map | length), (.map | map(.data and .offset != null) | all)]' l1-shared.json) $(codes l1-shared.json)" \
  "[64,true] l2-table-shared"
expect_eq "L1 unaligned: no range, the stop" \
  "$(jq -c '.map' l1-unaligned.json) $(codes l1-unaligned.json)" \
  "[] l2-table-unaligned"
expect_eq "L1 compressed: compressed data, no offset, said" \
  "$(jq -c '.map[0] | [.start, .length, .data, .compressed, has("offset")]' l1-compressed.json) $(codes l1-compressed.json)" \
  "[0,32768,true,true,false] guest-cluster-beyond-eof"
finish
