#!/bin/sh
# The fuzz target over the seed corpus and every input a fuzzing run
# found a problem with (tests/fuzz/regressions): none may crash or trip a
# sanitizer again.
. "$TOP_SRCDIR/tests/integration/lib.sh"
replay=$BINDIR/fuzz/replay
n_seeds=0
for f in "$TOP_SRCDIR"/tests/fuzz/seeds/* "$TOP_SRCDIR"/tests/fuzz/regressions/*; do
	case $f in */.keep) continue ;; esac
	[ -e "$f" ] || continue     # an empty directory leaves the pattern
	check "replay ${f#"$TOP_SRCDIR"/tests/fuzz/}" "$replay" "$f"
	n_seeds=$((n_seeds + 1))
done
expect_some "seed and regression inputs replayed" "$n_seeds"
finish
