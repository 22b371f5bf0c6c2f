#!/bin/sh
# --map and -x --map held to QEMU 7.2 on images the real qemu-img and
# qemu-io make (tests/integration/mapcases.py): --map -f json equals
# qemu-img map --output=json entry for entry (and "compressed" is true
# exactly over the compressed clusters the L2 tables hold), --map's text
# equals qemu-img map's byte for byte where qemu-img prints text, both
# with --start-offset/--max-length, and -x --map splits the dirty ranges
# qemu-nbd -B exports by qemu-img map's entries.  Then ten seeds of
# scripts/map-sweep.py's random images (the full sweep runs 200).
. "$TOP_SRCDIR/tests/integration/lib.sh"

$PY "$TOP_SRCDIR/tests/integration/mapcases.py" run "$QCOW2DUMP" "$WORK/cases" \
  --bad-runs "$WORK/.bad-runs" > cases.out 2>&1
cases_status=$?
relay cases.out
expect_some "mapcases.py compared images" "$(grep -c '^ok - .*equals qemu-img map' cases.out)"
[ "$cases_status" -eq 0 ] || [ "$(grep -c '^not ok - ' cases.out)" -gt 0 ] ||
	fail "mapcases.py exited $cases_status without a failed assertion"

$PY "$TOP_SRCDIR/scripts/map-sweep.py" --qcow2dump "$QCOW2DUMP" --seed 1 --count 10 \
  --tap --keep "$WORK/sweep" --bad-runs "$WORK/.bad-runs" > sweep.out 2>&1
sweep_status=$?
relay sweep.out
expect_eq "map-sweep.py ran its ten seeds" "$(grep -c '^\(not \)\{0,1\}ok - seed ' sweep.out)" 10
[ "$sweep_status" -eq 0 ] || [ "$(grep -c '^not ok - ' sweep.out)" -gt 0 ] ||
	fail "map-sweep.py exited $sweep_status without a failed seed"
finish
