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
finish
