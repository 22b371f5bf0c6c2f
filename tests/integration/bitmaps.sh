#!/bin/sh
# 110 bitmaps made by qemu-img with names from 1 to 1023 bytes (QEMU's
# longest), granularities from 512 B to 2 GiB, enabled and disabled: every
# entry decoded, every name whole, the directory size as the spec's
# padding rule computes it.
. "$TOP_SRCDIR/tests/integration/lib.sh"

Q create -q -f qcow2 many.qcow2 64M
# "len granularity_bits disabled name", one per bitmap
awk 'BEGIN {
	abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	while (length(pool) < 1100) pool = pool abc
	for (i = 0; i < 110; i++) {
		len = 1 + int(i * 1022 / 109)
		print len, 9 + i % 23, i % 2, substr(pool, 1 + i % 62, len)
	}
}' > want.list
while read -r len gbits disabled name; do
	flag=; [ "$disabled" = 1 ] && flag=--disable
	Q bitmap --add $flag -g $((1 << gbits)) -f qcow2 many.qcow2 "$name"
done < want.list

run_q many.txt many.err many.qcow2
expect_eq "many: exit 0" "$status" 0
expect_eq "many: nb_bitmaps" "$(awk '$1 == "nb_bitmaps" {print $2}' many.txt)" 110
expect_eq "many: 110 entries shown" "$(grep -c '^Bitmap name ' many.txt)" 110
# each entry as "len gbits disabled name", sorted like the wanted list
awk '/^Bitmap name / { name = substr($0, 27) }
     $1 == "flags" { dis = ($2 == "0x0") }
     $1 == "granularity_bits" { g = $2 }
     $1 == "name_size" { print $2, g, dis, name }' many.txt | sort > got.list
sort want.list > want.sorted
expect_file "many: every name, size, granularity and flag" got.list want.sorted
dir_size=$(awk '{ s += int((24 + $1 + 7) / 8) * 8 } END { printf "0x%x", s }' want.list)
expect_eq "many: bitmap_directory_size is the sum of padded entries" \
  "$(awk '$1 == "bitmap_directory_size" {print $2}' many.txt)" "$dir_size"
expect_eq "many: longest name is 1023 bytes" \
  "$(awk '$1 == "name_size" {print $2}' many.txt | sort -n | tail -1)" 1023
finish
