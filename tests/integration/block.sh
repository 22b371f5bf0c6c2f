#!/bin/sh
# A qcow2 image on a block device (a read-only loop device here, an LVM
# volume in production): its size comes from lseek(SEEK_END), where
# stat() says 0, and every view reads the same as from the file.
. "$TOP_SRCDIR/tests/integration/lib.sh"

build_image 291
# loop devices hold whole 512-byte sectors
size=$(stat -c %s t.qcow2)
truncate -s $(( (size + 511) / 512 * 512 )) t.qcow2
dev=$(losetup -f --show -r t.qcow2) || fail "losetup"
trap 'losetup -d "$dev"; rm -rf "$WORK"' EXIT
check "$dev is a block device" test -b "$dev"
for view in "" -e -b -t -c -x "-x -f json" "-c -f csv"; do
	qdump $view t.qcow2 > file.out 2>&1
	qdump $view "$dev" 2>&1 | sed "s|$dev|t.qcow2|g" > dev.out
	expect_file "block device ${view:-default view}: as from the file" dev.out file.out
done
finish
