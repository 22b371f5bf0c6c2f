#!/bin/sh
# scripts/layers.sh: the real src/ keeps README.md's layer list, and on
# small trees made here each kind of violation is caught (a cycle of two
# units, of three, an include of a higher layer, a unit the list leaves
# out, a listed unit with no file) and a clean tree passes.
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$TOP_SRCDIR/tests/integration/lib.sh"
LAYERS=$TOP_SRCDIR/scripts/layers.sh

# layers DIR [ARGS...]: scripts/layers.sh on DIR/src and DIR/README.md
# (or on ARGS), its output in DIR.out and DIR.err, its status in $status
layers() {
	dir=$1; shift
	[ $# -gt 0 ] || set -- "$dir/src" "$dir/README.md"
	sh "$LAYERS" "$@" > "$dir.out" 2> "$dir.err"
	status=$?
}
# exits DIR DESC WANT: the run on DIR exited WANT; if not, what it said
exits() {
	if [ "$status" = "$3" ]; then pass "$2"; else
		fail "$2 (exit $status, not $3)"; sed 's/^/  /' "$1.out" "$1.err"; fi
}
# says DIR DESC CMD...: CMD succeeds; if not, what the run on DIR said
says() {
	dir=$1 desc=$2; shift 2
	if "$@"; then pass "$desc"; else
		fail "$desc"; sed 's/^/  /' "$dir.out" "$dir.err"; fi
}

# the real tree
layers real "$TOP_SRCDIR/src" "$TOP_SRCDIR/README.md"
exits real "src/ keeps README.md's layers (sh scripts/layers.sh)" 0

# readme DIR ROW...: DIR/README.md whose ## Layout section has a layers
# block of these rows, "0 base a b" for | 0 | base | `a`, `b` |
fence='```'
readme() {
	dir=$1; shift
	mkdir -p "$dir/src"
	{
		printf '# fixture\n\n## Usage\n\ntext\n\n## Layout\n\n'
		printf '%s\n# not a heading\n%s\n\nThe layers, lowest first:\n\n' \
		  "$fence" "$fence"
		printf '<!-- layers -->\n'
		printf '| layer | phase | units |\n|---|---|---|\n'
		printf '%s\n' "$@" | awk '{
			u = "`" $3 "`"
			for (i = 4; i <= NF; i++)
				u = u ", `" $i "`"
			print "| " $1 " | " $2 " | " u " |" }'
		printf '<!-- /layers -->\n\n| path | what |\n|---|---|\n\n## Tests\n'
	} > "$dir/README.md"
}
# unit FILE [UNIT...]: a C file that includes config.h, <UNIT.h> and
# "UNIT.h" for each UNIT (only the last make dependencies)
unit() {
	f=$1; shift
	{
		echo '#include "config.h"'
		for u; do printf '#include <%s.h>\n' "$u"; done
		for u; do printf '#include "%s.h"\n' "$u"; done
	} > "$f"
}

# clean: a header-only unit below two of one layer, one including the other
readme clean '0 base a' '1 top b c'
unit clean/src/a.h
unit clean/src/b.h a
unit clean/src/b.c b
unit clean/src/c.h
unit clean/src/c.c c b a
layers clean
exits clean "clean tree: exit 0" 0
expect_eq "clean tree: the one-line summary" "$(cat clean.out)" \
  "layers: 3 units on 2 layers, 0 cycles"
expect_eq "clean tree: nothing on stderr" "$(cat clean.err)" ""
# (a, layer 0, includes <c.h> of layer 1: not a dependency, not upward)
printf '#include <c.h>\n' > clean/src/a.h
layers clean
exits clean "clean tree: <...> is not an include of a unit" 0

# the same tree, with the defaults (src/ and README.md beside scripts/)
mkdir -p defaults/scripts
cp "$LAYERS" defaults/scripts/
cp -R clean/src clean/README.md defaults/
( cd / && sh "$WORK/defaults/scripts/layers.sh" ) > defaults.out 2> defaults.err
status=$?
exits defaults "no arguments: exit 0" 0
expect_eq "no arguments: the src/ and README.md beside scripts/" \
  "$(cat defaults.out)" "layers: 3 units on 2 layers, 0 cycles"

# two units that include each other, in one layer
readme cycle2 '0 base a b'
unit cycle2/src/a.h b
unit cycle2/src/a.c a
unit cycle2/src/b.h
unit cycle2/src/b.c a
layers cycle2
exits cycle2 "a 2-cycle: exit 1" 1
says cycle2 "a 2-cycle: printed" grep -qxF "cycle: a -> b -> a" cycle2.err
says cycle2 "a 2-cycle: nothing else" grep -qxF \
  "layers: 2 units on 1 layer, 1 cycle (1 tangle), 0 upward includes, 0 list mismatches, 0 other errors" \
  cycle2.err

# a -> b -> c -> a: each in the other's file kind (.c, .h)
readme cycle3 '0 base a b c'
unit cycle3/src/a.c b
unit cycle3/src/b.h c
unit cycle3/src/c.h
unit cycle3/src/c.c a
unit cycle3/src/a.h
layers cycle3
exits cycle3 "a 3-cycle: exit 1" 1
says cycle3 "a 3-cycle: printed from its least unit" \
  grep -qxF "cycle: a -> b -> c -> a" cycle3.err
says cycle3 "a 3-cycle: one cycle, nothing else" grep -qxF \
  "layers: 3 units on 1 layer, 1 cycle (1 tangle), 0 upward includes, 0 list mismatches, 0 other errors" \
  cycle3.err

# a unit of layer 0 includes one of layer 1 (spelled "#  include")
readme upward '0 base a' '1 top b'
printf '#include "a.h"\n\n#  include "b.h"\n' > upward/src/a.c
unit upward/src/a.h
unit upward/src/b.h
layers upward
exits upward "upward include: exit 1" 1
says upward "upward include: unit, layers and place" \
  grep -qxF "upward/src/a.c:3: a (layer 0) includes b (layer 1)" upward.err
says upward "upward include: nothing else" grep -qxF \
  "layers: 2 units on 2 layers, 0 cycles, 1 upward include, 0 list mismatches, 0 other errors" \
  upward.err

# a unit in src/ that the list leaves out
readme unlisted '0 base a'
unit unlisted/src/a.c
unit unlisted/src/a.h
unit unlisted/src/stray.c a
layers unlisted
exits unlisted "unlisted unit: exit 1" 1
says unlisted "unlisted unit: named" grep -qxF \
  "unlisted/src/stray.c: unit stray is not in unlisted/README.md's layer list" \
  unlisted.err
says unlisted "unlisted unit: nothing else" grep -qxF \
  "layers: 2 units on 1 layer, 0 cycles, 0 upward includes, 1 list mismatch, 0 other errors" \
  unlisted.err

# a listed unit with no file
readme missing '0 base a gone'
unit missing/src/a.c
layers missing
exits missing "listed unit with no file: exit 1" 1
says missing "listed unit with no file: named" grep -qxF \
  "missing/README.md:$(grep -n gone missing/README.md | cut -d: -f1): layer 0 lists gone, which has no missing/src/gone.c or gone.h" \
  missing.err
says missing "listed unit with no file: nothing else" grep -qxF \
  "layers: 1 unit on 1 layer, 0 cycles, 0 upward includes, 1 list mismatch, 0 other errors" \
  missing.err

# all at once: each reported, and counted
readme several '0 base a b' '1 top c gone'
unit several/src/a.h b
unit several/src/b.h a c
unit several/src/c.h
unit several/src/stray.c
layers several
exits several "several violations: exit 1" 1
expect_eq "several violations: each reported" "$(grep -cE \
  '^cycle: a -> b -> a$|b \(layer 0\) includes c \(layer 1\)$|unit stray is not in|lists gone, which has no' \
  several.err)" 4
says several "several violations: counted" grep -qxF \
  "layers: 4 units on 2 layers, 1 cycle (1 tangle), 1 upward include, 2 list mismatches, 0 other errors" \
  several.err

# the list is in one place: no block, or one outside ## Layout, fails
readme noblock '0 base a'
unit noblock/src/a.c
grep -v 'layers -->' noblock/README.md > noblock.md && mv noblock.md noblock/README.md
layers noblock
exits noblock "no layers block: exit 1" 1
says noblock "no layers block: said" grep -qF "no <!-- layers --> block" noblock.err
readme outside '0 base a'
unit outside/src/a.c
sed 's/^## Layout$/## Files/' outside/README.md > outside.md &&
  mv outside.md outside/README.md
layers outside
exits outside "a block outside ## Layout: exit 1" 1
says outside "a block outside ## Layout: said" \
  grep -qF "<!-- layers --> is outside the ## Layout section" outside.err
# and an #include "x.h" with no x.h in src/
readme nohdr '0 base a'
unit nohdr/src/a.c nothere
layers nohdr
exits nohdr "an include of no header in src/: exit 1" 1
says nohdr "an include of no header in src/: said" \
  grep -qF 'a includes "nothere.h", which is not a header in' nohdr.err

layers none "$WORK/none" "$WORK/none.md"
exits none "no SRCDIR: exit 2" 2
finish
