#!/bin/sh
# QEMU's iotest 291, the seed of this project: the images it builds with
# qemu-img and qemu-io, and qcow2dump's text for them, byte for byte.
. "$TOP_SRCDIR/tests/integration/lib.sh"
here=$TOP_SRCDIR/tests/integration

build_image 291

run_q orig.txt err.txt -e t.qcow2.orig
expect_eq "291: -e t.qcow2.orig exits 0" "$status" 0
expect_golden "291: -e t.qcow2.orig is the seed's text" orig.txt "$here/291-orig.expected" -e t.qcow2.orig
run_q conv.txt err.txt -e t.qcow2
expect_eq "291: -e t.qcow2 exits 0" "$status" 0
expect_golden "291: -e t.qcow2 is the seed's text" conv.txt "$here/291-converted.expected" -e t.qcow2
expect_eq "291: nothing on stderr" "$(cat err.txt)" ""

# dump-header is the header, a blank line, then dump-header-exts
run_q full.txt err.txt t.qcow2
expect_golden "291: dump-header of t.qcow2" full.txt "$GOLDEN/291-converted.txt" t.qcow2
expect_eq "291: dump-header ends with dump-header-exts" \
  "$(tail -n "$(wc -l < conv.txt)" full.txt | cmp - conv.txt && echo same)" same
run_q tables.txt err.txt -e -t t.qcow2
expect_golden "291: -e -t t.qcow2" tables.txt "$GOLDEN/291-converted-tables.txt" -e -t t.qcow2
# -t only adds lines: without the table rows it is -e again
expect_eq "291: -t adds table rows and nothing else" \
  "$(grep -v -e '^Bitmap table ' -e '^[0-9]' tables.txt | cmp - conv.txt && echo same)" same
finish
