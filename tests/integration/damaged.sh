#!/bin/sh
# Damaged and hostile images made from a real one: what is sound is shown,
# the rest reported as "qcow2dump: IMAGE: what (where: structure, offset)"
# with exit status 2, and no byte outside the file is ever read (under the
# sanitizer build a stray read would abort with another status).
. "$TOP_SRCDIR/tests/integration/lib.sh"

Q create -q -f qcow2 base.qcow2 8M
Q bitmap --add -f qcow2 base.qcow2 first
Q bitmap --add -g 1M -f qcow2 base.qcow2 second
IO -c 'w 0 1M' -f qcow2 base.qcow2
qdump -t base.qcow2 > base.txt || fail "base image decodes"

# byte offset of the bitmaps extension's magic, and its directory, as
# the independent oracle decodes them
ext=$(oracle_at base.qcow2 ext_bitmaps)
dir=$(oracle_at base.qcow2 dir)
dsize=$(oracle_at base.qcow2 dir_size)
expect_eq "the oracle finds the bitmaps extension and directory" \
  "$([ -n "$ext" ] && [ -n "$dir" ] && [ -n "$dsize" ] && echo found)" found
hex() { printf '0x%x' "$1"; }
head -c 50 base.qcow2 > short.qcow2
run_q out err short.qcow2
expect_eq "header cut at 50: exit 2" "$status" 2
expect_eq "header cut at 50: nothing shown" "$(cat out)" ""
expect_eq "header cut at 50: message" "$(cat err)" \
  "qcow2dump: short.qcow2: truncated: the file ends inside this structure (where: header, offset 0x0)"

head -c 65536 base.qcow2 > nodir.qcow2
run_q out err nodir.qcow2
expect_eq "directory cut off: exit 2" "$status" 2
check "directory cut off: header and extension fields still shown" \
  grep -q '^bitmap_directory_offset' out
expect_eq "directory cut off: no entry shown" "$(grep -c '^Bitmap name' out)" 0
expect_eq "directory cut off: message" "$(cat err)" \
  "qcow2dump: nodir.qcow2: truncated: the file ends inside this structure (where: bitmap directory, offset $(hex "$dir"))"

cp base.qcow2 many.qcow2; poke many.qcow2 $((ext + 8)) 00011170   # 70000
run_q out err many.qcow2
expect_eq "nb_bitmaps 70000: exit 2" "$status" 2
expect_eq "nb_bitmaps 70000: message" "$(cat err)" \
  "qcow2dump: many.qcow2: nb_bitmaps exceeds QEMU's limit of 65535 (where: bitmaps extension, offset $(hex $((ext + 8))))"
check "nb_bitmaps 70000: extension still shown" grep -q '^nb_bitmaps  *70000$' out

cp base.qcow2 three.qcow2; poke three.qcow2 $((ext + 8)) 00000003
run_q out err three.qcow2
expect_eq "nb_bitmaps 3 of 2: exit 2" "$status" 2
expect_eq "nb_bitmaps 3 of 2: both real entries shown" "$(grep -c '^Bitmap name' out)" 2
expect_eq "nb_bitmaps 3 of 2: message" "$(cat err)" \
  "qcow2dump: three.qcow2: bitmap directory holds fewer entries than nb_bitmaps (where: bitmap directory, offset $(hex $((dir + dsize))))"

cp base.qcow2 huge.qcow2; poke huge.qcow2 $((ext + 16)) 7fffffffffffffff
run_q out err huge.qcow2
expect_eq "directory size 2^63-1: refused before any allocation" "$(cat err)" \
  "qcow2dump: huge.qcow2: bitmap_directory_size exceeds QEMU's limit of 67107840 bytes (where: bitmaps extension, offset $(hex $((ext + 16))))"

cp base.qcow2 table.qcow2; poke table.qcow2 $((dir + 8)) 7fffffff
run_q out err -t table.qcow2
expect_eq "table size 2^31: exit 2" "$status" 2
check "table size 2^31: the other bitmap's table is still shown" \
  grep -q '^Bitmap table' out
check "table size 2^31: message" grep -q \
  "bitmap_table_size exceeds QEMU's limit (where: bitmap directory entry 0, offset $(hex $((dir + 8))))" err

# a name with an escape sequence and a byte that is not UTF-8: shown
# escaped, never raw on a terminal
cp base.qcow2 esc.qcow2; poke esc.qcow2 $((dir + 24)) 1bff   # "fi" of "first"
run_q out err esc.qcow2
expect_eq "hostile name: exit 0" "$status" 0
check "hostile name: escaped" grep -q '^Bitmap name  *\\x1b\\xffrst$' out
expect_eq "hostile name: no raw ESC" "$(tr -dc '\033' < out | wc -c)" 0
Q bitmap --add -f qcow2 base.qcow2 "café ☃"
run_q out err base.qcow2
check "UTF-8 name shown as it is" grep -q '^Bitmap name  *café ☃$' out

# Every cut of the header cluster's used part and of the directory, and
# 0xff over every byte of the header, extensions and directory: exit 0, 1
# or 2 only, a located message whenever decoding stopped, and the same
# problems from -c in text, JSON and CSV.
used=$((ext + 8 + 24 + 8))
check "sweeps: only exit 0, 1 or 2, errors located, -c alike in all formats" \
  $PY "$TOP_SRCDIR/tests/integration/sweep.py" "$QCOW2DUMP" base.qcow2 "$SWEEP_STEP" \
  "cut:0-$used" "cut:$dir-$((dir + dsize + 8))" \
  "flip:0-$used" "flip:$dir-$((dir + dsize - 1))"
finish
