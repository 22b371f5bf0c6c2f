#!/bin/sh
# QEMU's iotest 291, the seed of this project: the images it builds with
# qemu-img and qemu-io, and qcow2dump's text for them, byte for byte.
. "$TOP_SRCDIR/tests/integration/lib.sh"
here=$TOP_SRCDIR/tests/integration

Q create -q -f qcow2 t.qcow2.base 10M
Q bitmap --add -f qcow2 t.qcow2.base b0
IO -c 'w 3M 1M' -f qcow2 t.qcow2.base
Q create -q -f qcow2 -b t.qcow2.base -F qcow2 t.qcow2.orig 10M
IO -c 'w 0 1M' -f qcow2 t.qcow2.orig
Q bitmap --add -g 512k -f qcow2 t.qcow2.orig b1
Q bitmap --add --disable -f qcow2 t.qcow2.orig b2
IO -c 'w 3M 1M' -f qcow2 t.qcow2.orig
Q bitmap --clear -f qcow2 t.qcow2.orig b1
IO -c 'w 1M 1M' -f qcow2 t.qcow2.orig
Q bitmap --disable -f qcow2 t.qcow2.orig b1
Q bitmap --enable -f qcow2 t.qcow2.orig b2
IO -c 'w 2M 1M' -f qcow2 t.qcow2.orig
Q convert --bitmaps -O qcow2 t.qcow2.orig t.qcow2
Q bitmap --add --disable -f qcow2 t.qcow2 b0
Q bitmap --add --merge b0 -b t.qcow2.base -F qcow2 -f qcow2 t.qcow2 tmp
Q bitmap --merge tmp -f qcow2 t.qcow2 b0
Q bitmap --remove --image-opts \
  driver=qcow2,file.driver=file,file.filename=t.qcow2 tmp

run_q orig.txt err.txt -e t.qcow2.orig
expect_eq "291: -e t.qcow2.orig exits 0" "$status" 0
expect_file "291: -e t.qcow2.orig is the seed's text" orig.txt "$here/291-orig.expected"
run_q conv.txt err.txt -e t.qcow2
expect_eq "291: -e t.qcow2 exits 0" "$status" 0
expect_file "291: -e t.qcow2 is the seed's text" conv.txt "$here/291-converted.expected"
expect_eq "291: nothing on stderr" "$(cat err.txt)" ""

# dump-header is the header, a blank line, then dump-header-exts
run_q full.txt err.txt t.qcow2
expect_file "291: dump-header of t.qcow2" full.txt "$GOLDEN/291-converted.txt"
expect_eq "291: dump-header ends with dump-header-exts" \
  "$(tail -n "$(wc -l < conv.txt)" full.txt | cmp - conv.txt && echo same)" same
run_q tables.txt err.txt -e -t t.qcow2
expect_file "291: -e -t t.qcow2" tables.txt "$GOLDEN/291-converted-tables.txt"
# -t only adds lines: without the table rows it is -e again
expect_eq "291: -t adds table rows and nothing else" \
  "$(grep -v -e '^Bitmap table ' -e '^[0-9]' tables.txt | cmp - conv.txt && echo same)" same
finish
