#!/bin/sh
# The fuzz target over the seed corpus and every input a fuzzing run
# found a problem with (tests/fuzz/regressions): none may crash or trip a
# sanitizer again.
. "$TOP_SRCDIR/tests/integration/lib.sh"
replay=$BINDIR/fuzz/replay
for f in "$TOP_SRCDIR"/tests/fuzz/seeds/* "$TOP_SRCDIR"/tests/fuzz/regressions/*; do
	case $f in */.keep) continue ;; esac
	check "replay ${f#"$TOP_SRCDIR"/tests/fuzz/}" "$replay" "$f"
done
finish
