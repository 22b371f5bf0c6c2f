#!/bin/sh
# The man page's list of problem codes is the program's own table:
#   scripts/man-checks.sh QCOW2DUMP            prints the roff list
#   scripts/man-checks.sh QCOW2DUMP MANPAGE    rewrites it in MANPAGE,
#                                              between its two markers
# A test (tests/integration/manchecks.sh) holds the page to the table.
set -eu
bin=$1
roff() { # escape for roff: minus signs and apostrophes
	sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/'/\\\\(aq/g"
}
list() {
	"$bin" --list-checks | while IFS='	' read -r code severity message advice; do
		printf '.TP\n.B %s\n(%s) %s.\nWhat to do: %s.\n' \
		  "$(printf %s "$code" | roff)" "$severity" \
		  "$(printf %s "$message" | roff)" "$(printf %s "$advice" | roff)"
	done
}
if [ $# -lt 2 ]; then
	list
	exit
fi
page=$2
tmp=$page.tmp.$$
list > "$tmp.list"
awk -v list="$tmp.list" '
	/^\.\\" checks: begin/ { print; while ((getline l < list) > 0) print l; skip = 1; next }
	/^\.\\" checks: end/ { skip = 0 }
	!skip' "$page" > "$tmp"
rm -f "$tmp.list"
mv "$tmp" "$page"
