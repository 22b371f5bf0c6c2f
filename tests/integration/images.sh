#!/bin/sh
# Images with every header extension and layout qemu-img can make, dumped
# with -t and compared with golden files under tests/golden.  The golden
# files were checked field by field against the spec and against
# qemu-img info (crosscheck.sh does that on every run).
. "$TOP_SRCDIR/tests/integration/lib.sh"

for name in $IMAGES; do
	build_image "$name" || fail "$name: qemu-img could not build it"
	run_q "$name.txt" "$name.err" -t "$name.qcow2"
	expect_eq "$name: exit status 0" "$status" 0
	expect_eq "$name: nothing on stderr" "$(cat "$name.err")" ""
	expect_golden "$name: -t output" "$name.txt" "$GOLDEN/$name.txt" -t "$name.qcow2"
	# the -e view is the same text without the header and its blank line
	run_q "$name.e.txt" "$name.err" -e "$name.qcow2"
	expect_eq "$name: -e is the tail of the default view" \
	  "$(qdump "$name.qcow2" | sed '1,19d' | cmp - "$name.e.txt" && echo same)" same
done

# Several images in one call: each under a head(1)-style label
run_q two.txt two.err -e c512.qcow2 c2m.qcow2
expect_eq "two images: exit 0" "$status" 0
{ echo "==> c512.qcow2 <=="; qdump -e c512.qcow2
  echo; echo "==> c2m.qcow2 <=="; qdump -e c2m.qcow2; } > two.want
expect_file "two images: labelled, in order" two.txt two.want
finish
