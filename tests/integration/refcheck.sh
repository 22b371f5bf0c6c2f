#!/bin/sh
# -c's refcount rebuild held to QEMU 7.2's qemu-img check on images the
# real qemu-img and qemu-io make, sound and edited at the byte level
# (tests/integration/refcases.py): the eight totals equal qemu-img check
# --output=json's, the exit status follows qemu-img check's (0 or 3 -> 0,
# 2 or 1 -> 1), a corrupt image has an error-level problem, a leaking one
# only warnings, and the text ends with qemu-img check's human block.
# Then eight seeds of scripts/check-sweep.py's random QEMU histories,
# each clean by both (the full sweep runs more: see its --help).
. "$TOP_SRCDIR/tests/integration/lib.sh"

# relay OUT: the PASS/FAIL lines of a helper as this script's assertions,
# the rest as they are
relay() {
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass "${line#PASS }" ;;
		"FAIL "*) fail "${line#FAIL }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done < "$1"
}

$PY "$TOP_SRCDIR/tests/integration/refcases.py" run "$QCOW2DUMP" "$WORK/cases" \
  --bad-runs "$WORK/.bad-runs" > cases.out 2>&1
cases_status=$?
relay cases.out
n_cases=$($PY "$TOP_SRCDIR/tests/integration/refcases.py" list | wc -l)
expect_eq "refcases.py ran every case" \
  "$(grep -c '^\(PASS\|FAIL\) ' cases.out)" "$n_cases"
[ "$cases_status" -eq 0 ] || [ "$(grep -c '^FAIL ' cases.out)" -gt 0 ] ||
	fail "refcases.py exited $cases_status without a failed case"

# who owns a cluster referenced twice: both named, by their guest offsets
# (the cluster of guest offset 0 named by the L2 entry of offset 64 KiB
# too), and --at says the same
Q create -q -f qcow2 twice.qcow2 1M
IO -c 'w -P 1 0 128k' -f qcow2 twice.qcow2
l2=$(qdump -f json --layout twice.qcow2 | jq '.layout[] | select(.structure == "l2-table") | .start')
data=$(qdump -f json --layout twice.qcow2 |
	jq '[.layout[] | select(.structure == "data")][0].start')
$PY -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]) + 8); f.write(((1 << 63) | int(sys.argv[3])).to_bytes(8, "big"))' \
  twice.qcow2 "$l2" "$data"
run_q out err -c -f json twice.qcow2
expect_eq "a cluster referenced twice: an error naming both owners" \
  "$status $(jq -r '.problems[] | select(.code == "refcount-too-low") | .message | sub(".*times: "; "")' out)" \
  "1 data of guest offset 0x0, data of guest offset 0x10000"
run_q out err --at "$data" -f json twice.qcow2
expect_eq "--at that cluster: both guest offsets" \
  "$(jq -c '[.owners[] | [.structure, .guest_offset]]' out)" '[["data",0],["data",65536]]'
expect_eq "qemu-img check: the same cluster, refcount 1, referenced twice" \
  "$(qemu-img check -f qcow2 twice.qcow2 2>&1 | grep -c "ERROR cluster $((data / 65536)) refcount=1 reference=2")" 1

# one L2 table named by two L1 entries, an entry of it with a reserved
# bit: walked once, but every defect counted for both, as QEMU walks it
# twice
Q create -q -f qcow2 twotab.qcow2 1G
IO -c 'w -P 1 0 64k' -c 'w -P 2 512M 64k' -f qcow2 twotab.qcow2
$PY - twotab.qcow2 <<'PYEOF'
import struct, sys
f = open(sys.argv[1], "r+b")
f.seek(40); l1 = struct.unpack(">Q", f.read(8))[0]
f.seek(l1); e0 = f.read(8)
f.seek(l1 + 8); f.write(e0)                      # L1[1] = L1[0]
l2 = struct.unpack(">Q", e0)[0] & 0x00fffffffffffe00
f.seek(l2); e = struct.unpack(">Q", f.read(8))[0]
f.seek(l2); f.write(struct.pack(">Q", e | 2))    # a reserved bit
PYEOF
qemu-img check --output=json -f qcow2 twotab.qcow2 > q.json 2>/dev/null
run_q out err -c -f json twotab.qcow2
expect_eq "an L2 table two L1 entries name: qemu-img check's totals" \
  "$(jq -c '.totals | [.corruptions, .leaks, .allocated_clusters, .fragmented_clusters]' out)" \
  "$(jq -c '[.corruptions // 0, .leaks // 0, ."allocated-clusters" // 0, ."fragmented-clusters" // 0]' q.json)"
expect_eq "... the reserved bit counted twice, said once" \
  "$(jq '[.problems[] | select(.code == "l2-entry-reserved")] | length' out) $(jq '.totals.corruptions >= 2' out)" "1 true"

$PY "$TOP_SRCDIR/scripts/check-sweep.py" --qcow2dump "$QCOW2DUMP" --start 1 --seeds 8 \
  --keep "$WORK/sweep" --bad-runs "$WORK/.bad-runs" > sweep.out 2>&1
sweep_status=$?
relay sweep.out
expect_eq "check-sweep.py ran its eight seeds" "$(grep -c '^\(PASS\|FAIL\) seed ' sweep.out)" 8
[ "$sweep_status" -eq 0 ] || [ "$(grep -c '^FAIL ' sweep.out)" -gt 0 ] ||
	fail "check-sweep.py exited $sweep_status without a failed seed"
finish
