#!/bin/sh
# --map's edges that map.sh's comparisons with qemu-img do not reach:
# the options it refuses, its sizes, the exit status of each way a map
# can fail, -x --map where the map cannot speak for a dirty range, and
# README's recipe run as written.
. "$TOP_SRCDIR/tests/integration/lib.sh"
SCHEMA="$TOP_SRCDIR/doc/qcow2dump.schema.json"
FORMATS="$PY $TOP_SRCDIR/tests/integration/formats.py"

Q create -q -f qcow2 base.qcow2 4M
IO -c 'write -P 1 0 1M' base.qcow2
Q create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 4M
Q bitmap --add top.qcow2 b0
IO -c 'write -P 2 0 64k' -c 'write -z 1M 64k' -c 'discard 2M 64k' top.qcow2

# ---- usage ----
for args in "--map -b" "--map -c" "--map -s" "--map -e" "--map -t" \
            "--map -n b0" "--start-offset 0" "-x --map --max-length 1" \
            "--map --start-offset -1" "--map --start-offset 1Q" \
            "--map --max-length 99999999999E" "--list-checks --map"; do
	# shellcheck disable=SC2086
	run_q out err $args top.qcow2
	expect_eq "usage error: $args" "$status" 64
done
# sizes as qemu-img's cvtnum reads them
for spec in "1k 1024" "1K 1024" "2M 2097152" "0 0" "3b 3"; do
	set -- $spec
	run_q out err --map -f json --start-offset "$1" --max-length 1 top.qcow2
	expect_eq "--start-offset $1 is $2" "$(jq -c '.map[0].start' out)" "$2"
done

# ---- the map follows the chain without --backing-chain ----
run_q out err --map -f json top.qcow2
expect_eq "--map: exit 0" "$status" 0
expect_eq "--map: the backing file answers below the top" \
  "$(jq -c '[.map[] | .depth] | unique' out)" "[0,1]"
check "--map: JSON valid against the schema" $FORMATS validate "$SCHEMA" out
run_q out err -x --map -f json top.qcow2
expect_eq "-x --map: one document, IMAGE's" "$(jq -s 'length' out)" 1
check "-x --map: JSON valid against the schema" $FORMATS validate "$SCHEMA" out
expect_eq "-x --map: data and zero bytes add up to the dirty bytes" \
  "$(jq '.bitmaps[0] | .data_bytes + .zero_bytes == .dirty_bytes' out)" true
expect_eq "-x --map: the zeroed and the discarded ranges read as zeroes" \
  "$(jq '.bitmaps[0].zero_bytes' out)" 131072

# ---- a map that cannot be made: exit 2, no dirty byte lost ----
mkdir orphan && cp top.qcow2 orphan/
run_q out err --map -f json orphan/top.qcow2
expect_eq "broken chain: --map exits 2" "$status" 2
expect_eq "broken chain: no range, and why" \
  "$(jq -c '[.map, [.backing_chain[0].problems[].code]]' out)" \
  '[[],["backing-file-missing","map-image-refused"]]'
run_q out err -x --map -f json orphan/top.qcow2
expect_eq "broken chain: -x --map exits 2" "$status" 2
expect_eq "broken chain: -x --map keeps every dirty range, of unknown contents" \
  "$(jq -c '.bitmaps[0] | [([.extents[].length] | add) == .dirty_bytes,
                           ([.extents[].zero] | unique), .data_bytes]' out)" \
  '[true,[null],null]'
check "broken chain: -x --map JSON valid against the schema" $FORMATS validate "$SCHEMA" out
run_q out err -x --map orphan/top.qcow2
expect_eq "broken chain: text says unknown" "$(grep -c ' unknown ' out)" 3
run_q out err --map missing.qcow2
expect_eq "missing IMAGE: --map exits 2, prints no table" "$status:$(wc -c < out)" "2:0"

# a layer QEMU refuses (an unknown incompatible feature bit)
cp base.qcow2 refused.qcow2
printf '\200' | dd of=refused.qcow2 bs=1 seek=72 conv=notrunc 2>/dev/null
run_q out err --map -f json refused.qcow2
expect_eq "refused layer: --map exits 2" "$status" 2
expect_eq "refused layer: the refusal is shown, then no map" \
  "$(jq -c '[(.map | length), ([.backing_chain[0].problems[].code] | index("map-image-refused") != null)]' out)" \
  '[0,true]'

# ---- README's recipe, as written ----
sed -n '/^<!-- map-recipe -->/,/^<!-- \/map-recipe -->/p' "$TOP_SRCDIR/README.md" |
  sed '1,2d;$d' | sed '$d' > recipe.sh
Q bitmap --add top.qcow2 ck1
IO -c 'write -P 3 256k 64k' -c 'write -z 512k 128k' top.qcow2
cp top.qcow2 vm.qcow2
PATH=$(dirname "$QCOW2DUMP"):$PATH sh -e recipe.sh > recipe.out 2> recipe.err
expect_eq "README's map recipe runs" "$?" 0
expect_eq "README's map recipe: the bytes to read" "$(cat recipe.out)" 65536
expect_eq "README's map recipe: ranges to read, then to zero" \
  "$(cat read.txt) / $(cat zero.txt)" "262144 65536 / 524288 131072"
# ---- each L2 entry QEMU's read fails on: qemu-img map fails, --map
# stops with the problem that says why (exit 2) ----
# l2set IMAGE WORD VALUE: sets 64-bit word WORD (0: the entry, 1: an
# extended entry's bitmap) of guest cluster 0's L2 entry to VALUE, or
# (VALUE +N) adds N to it
l2set() {
	$PY - "$@" <<'PYEOF'
import struct, sys
path, word, value = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "r+b") as f:
    h = f.read(112)
    cb = struct.unpack_from(">I", h, 20)[0]
    l1 = struct.unpack_from(">Q", h, 40)[0]
    ext = struct.unpack_from(">Q", h, 72)[0] & 16
    f.seek(l1)
    l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    at = l2 + word * 8
    f.seek(at)
    old = struct.unpack(">Q", f.read(8))[0]
    new = old + int(value[1:], 0) if value.startswith("+") else int(value, 0)
    f.seek(at)
    f.write(struct.pack(">Q", new))
PYEOF
}
# eio NAME CODE IMAGE: qemu-img map fails on IMAGE, --map exits 2 with CODE
eio() {
	qemu-img map --output=json "$3" > /dev/null 2>&1
	expect_eq "$1: qemu-img map fails" "$?" 1
	run_q out err --map -f json "$3"
	expect_eq "$1: --map exits 2 with $2" \
	  "$status $(jq -r '[.backing_chain[].problems[]?.code] | index("'"$2"'") != null' out)" "2 true"
}
Q create -q -f qcow2 -o cluster_size=4096 unal.qcow2 1M
IO -c 'write -P 1 0 4k' unal.qcow2
l2set unal.qcow2 0 +0x200
eio "a data cluster off a cluster boundary" data-cluster-unaligned unal.qcow2
Q create -q -f qcow2 -o compat=0.10 v2.qcow2 1M
IO -c 'write -P 1 0 64k' v2.qcow2
l2set v2.qcow2 0 +1
eio "a zero cluster in a version 2 image" zero-cluster-in-v2 v2.qcow2
Q create -q -f qcow2 -o extended_l2=on xl2.qcow2 1M
IO -c 'write -P 1 0 64k' xl2.qcow2
l2set xl2.qcow2 1 0x00000001ffffffff
eio "a subcluster allocated and zero at once" subcluster-bitmap-invalid xl2.qcow2
Q create -q -f qcow2 -o data_file="$WORK/df.raw" df.qcow2 1M
IO -c 'write -P 1 0 64k' -c 'write -P 2 128k 64k' df.qcow2
cp df.qcow2 dfc.qcow2
l2set dfc.qcow2 0 +0x4000000000000000
eio "a compressed cluster with a data file" compressed-with-data-file dfc.qcow2
l2set df.qcow2 0 +0x20000
eio "a data file cluster off its guest offset" data-file-offset-mismatch df.qcow2
Q create -q -f qcow2 -o data_file="$WORK/gone.raw" gone.qcow2 1M
rm -f "$WORK/gone.raw"
qemu-img map gone.qcow2 > /dev/null 2>&1
expect_eq "a missing data file: qemu-img map fails" "$?" 1
run_q out err --map -f json gone.qcow2
expect_eq "a missing data file: --map exits 2 with data-file-unreadable" \
  "$status $(jq -c '[.map, ([.backing_chain[0].problems[].code] | index("data-file-unreadable") != null)]' out)" \
  '2 [[],true]'
finish
