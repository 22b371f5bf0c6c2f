#!/bin/sh
# The man page's CHECKS list is the program's own problem table, word for
# word (scripts/man-checks.sh writes it), and --list-checks gives one
# line per code: code, severity, message, advice.
. "$TOP_SRCDIR/tests/integration/lib.sh"

"$QCOW2DUMP" --list-checks > list.tsv
expect_eq "--list-checks: exit 0" "$?" 0
n=$(wc -l < list.tsv)
check "--list-checks: more than 60 codes (was $n)" [ "$n" -gt 60 ]
expect_eq "--list-checks: four tab-separated fields on every line" \
  "$(awk -F '\t' 'NF != 4' list.tsv)" ""
expect_eq "--list-checks: severities are error or warning" \
  "$(cut -f2 list.tsv | sort -u | tr '\n' ' ')" "error warning "
expect_eq "--list-checks: codes are unique" "$(cut -f1 list.tsv | sort | uniq -d)" ""

sh "$TOP_SRCDIR/scripts/man-checks.sh" "$QCOW2DUMP" > want.roff
awk '/^\.\\" checks: begin/ {on = 1; next} /^\.\\" checks: end/ {on = 0} on' \
  "$TOP_SRCDIR/man/qcow2dump.1" > got.roff
expect_file "man page CHECKS is the table (run scripts/man-checks.sh build/qcow2dump man/qcow2dump.1)" \
  got.roff want.roff
expect_eq "man page CHECKS lists every code" "$(grep -c '^\.B ' got.roff)" "$n"
finish
