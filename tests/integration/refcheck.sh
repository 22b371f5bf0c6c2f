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

$PY "$TOP_SRCDIR/scripts/check-sweep.py" --qcow2dump "$QCOW2DUMP" --start 1 --seeds 8 \
  --keep "$WORK/sweep" --bad-runs "$WORK/.bad-runs" > sweep.out 2>&1
sweep_status=$?
relay sweep.out
expect_eq "check-sweep.py ran its eight seeds" "$(grep -c '^\(PASS\|FAIL\) seed ' sweep.out)" 8
[ "$sweep_status" -eq 0 ] || [ "$(grep -c '^FAIL ' sweep.out)" -gt 0 ] ||
	fail "check-sweep.py exited $sweep_status without a failed seed"
finish
