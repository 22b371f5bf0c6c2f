#!/bin/sh
# JSON: every test image validates against the published schema and says
# what the text says; names of every kind come out as valid, lossless
# JSON; several images and --compact make streams jq reads; the README's
# jq recipes give the right answers.
. "$TOP_SRCDIR/tests/integration/lib.sh"

for name in $IMAGES; do
	build_image "$name" || fail "$name: qemu-img could not build it"
	for view in "" -e -b; do
		run_q "$name$view.json" err -f json -t $view "$name.qcow2"
		expect_eq "$name $view: exit 0" "$status" 0
		check "$name $view: valid against the schema" \
		  $FORMATS validate "$SCHEMA" "$name$view.json"
	done
	qdump -t "$name.qcow2" > "$name.txt"
	check "$name: every field equals the text output" \
	  $FORMATS text-vs-json "$name.txt" "$name.json"
	expect_eq "$name: -e has no header" "$(jq 'has("header")' "$name-e.json")" false
	expect_eq "$name: -b lists the directory" \
	  "$(jq -c '[.bitmaps[].name]' "$name-b.json")" \
	  "$(jq -c '[.header_extensions[] | select(.name == "Bitmaps") | .data.bitmap_directory[].name]' "$name.json")"
done

# decoded names and values
expect_eq "zstd: feature names" \
  "$(jq -c '.header | [.incompatible_feature_names, .compatible_feature_names, .autoclear_feature_names, .compression_type]' zstd.json)" \
  '[["compression_type","extended_l2"],["lazy_refcounts"],["bitmaps"],1]'
expect_eq "datafile: data file name and raw bit" \
  "$(jq -c '[(.header_extensions[] | select(.name == "Data file") | .string), .header.autoclear_feature_names]' datafile.json)" \
  '["datafile.raw",["raw_external_data"]]'
expect_eq "backing: backing file and format" \
  "$(jq -c '[.backing_file, (.header_extensions[0] | .name, .string, .data_str)]' backing.json)" \
  '["backing-base.qcow2","Backing format","qcow2","'"'qcow2'"'"]'
expect_eq "luks: crypto header fields" \
  "$(jq -c '.header_extensions[] | select(.name == "Crypto header") | .crypto | keys' luks.json)" \
  '["length","offset"]'
expect_eq "feature table entries decoded" \
  "$(jq -c '[.header_extensions[] | select(.name == "Feature table") | .features[] | select(.type_name == "autoclear") | .name]' zstd.json)" \
  '["bitmaps","raw external data"]'
expect_eq "inuse: flag names" \
  "$(jq -c '[.bitmaps[] | [.name, .flag_names]]' inuse-b.json)" \
  '[["live",["in_use","auto"]],["frozen",["in_use"]]]'
expect_eq "c2m: granularity in bytes, table entry" \
  "$(jq -c '.bitmaps[0] | [.granularity, .bitmap_table[0].type, .bitmap_table[0].offset]' c2m-b.json)" \
  '[1048576,"serialized",16777216]'

# names of every kind: valid JSON, and the bytes come back
build_tricky
run_q tricky.json err -f json -b tricky.qcow2
check "tricky names: valid against the schema" $FORMATS validate "$SCHEMA" tricky.json
expect_eq "tricky names: UTF-8 names as they are" \
  "$(jq -r '.bitmaps[].name' tricky.json | grep -c -e '^café ☃$' -e '^comma,name$' -e '^quote"name$')" 3
expect_eq "tricky names: the newline kept" \
  "$(jq '[.bitmaps[].name] | index("new\nline") != null' tricky.json)" true
expect_eq "tricky names: invalid UTF-8 has name_hex" \
  "$(jq -r '.bitmaps[] | select(.name_hex) | [.name, .name_hex] | @tsv' tricky.json)" \
  "$(printf 'bad\357\277\275\357\277\275tf8\t626164fffe746638')"
expect_eq "tricky names: only that one has name_hex" \
  "$(jq '[.bitmaps[] | select(has("name_hex"))] | length' tricky.json)" 1

# u64 values beyond 2^63 stay exact (jansson's integers are signed)
cp zstd.qcow2 big.qcow2
poke big.qcow2 72 8000000000000018
qdump -f json big.qcow2 > big.json
expect_eq "u64 beyond 2^63 printed exactly" \
  "$($PY -c 'import json; print(json.load(open("big.json"))["header"]["incompatible_features"])')" \
  9223372036854775832
check "u64 beyond 2^63: valid against the schema" $FORMATS validate "$SCHEMA" big.json
expect_eq "u64 beyond 2^63: unknown bit named" \
  "$(jq -c '.header.incompatible_feature_names' big.json)" \
  '["compression_type","extended_l2","bit-63"]'

# streams
qdump -f json c512.qcow2 inuse.qcow2 > two.json
expect_eq "two images: two documents in order" \
  "$(jq -s -c 'map(.image)' two.json)" '["c512.qcow2","inuse.qcow2"]'
qdump -f json --compact c512.qcow2 inuse.qcow2 > two.jsonl
expect_eq "--compact: one line per document" "$(wc -l < two.jsonl)" 2
expect_eq "--compact: each line is a whole document" \
  "$(while IFS= read -r l; do printf '%s' "$l" | jq -c .image; done < two.jsonl | tr '\n' ' ')" \
  '"c512.qcow2" "inuse.qcow2" '
expect_eq "--compact: same data" "$(jq -s -c . two.jsonl)" "$(jq -s -c . two.json)"

# damaged: the problems are there, located, and the document still valid
head -c 70000 inuse.qcow2 > cut.qcow2
run_q cut.json err -f json cut.qcow2
expect_eq "damaged: exit 2" "$status" 2
check "damaged: valid against the schema" $FORMATS validate "$SCHEMA" cut.json
expect_eq "damaged: problem located" \
  "$(jq -c '.problems[] | [.severity, .code, .offset]' cut.json)" \
  '["error","truncated",524288]'
echo "not an image at all, but long enough for a header of seventy-two bytes" > text.qcow2
run_q text.json err -f json text.qcow2
expect_eq "not qcow2: a document with its problem" \
  "$(jq -c '[.image, .problems[0].code, has("header")]' text.json)" '["text.qcow2","bad-magic",false]'

# -n in JSON
run_q sel.json err -f json -n frozen inuse.qcow2
expect_eq "-n: only that bitmap in the directory" \
  "$(jq -c '[.header_extensions[] | .data.bitmap_directory? // empty | .[].name]' sel.json)" '["frozen"]'

# the README's jq recipes, as written there, on real images
mkdir recipes && cd recipes
for n in $IMAGES; do cp "../$n.qcow2" .; done
awk '/<!-- jq-recipes -->/ {on = 1; next} /<!-- \/jq-recipes -->/ {on = 0}
     on && /^qcow2dump / {print}' "$TOP_SRCDIR/README.md" > recipes.sh
expect_eq "README has four jq recipes" "$(wc -l < recipes.sh)" 4
# an image whose bitmaps a program without bitmap support made void
cp zstd.qcow2 void.qcow2; poke void.qcow2 88 0000000000000000
recipe() { # N IMAGE: runs recipe N with disk.qcow2 standing for IMAGE
	sed -n "${1}p" recipes.sh | sed "s/disk\\.qcow2/$2/" > one.sh
	PATH=$BINDIR:$PATH sh one.sh
}
expect_eq "recipe 1: in-use bitmaps" "$(recipe 1 inuse.qcow2 | tr '\n' ' ')" "live frozen "
expect_eq "recipe 1: none in use" "$(recipe 1 c2m.qcow2)" ""
expect_eq "recipe 2: granularity below 64 KiB" "$(recipe 2 c512.qcow2)" "small 4096"
expect_eq "recipe 2: none below" "$(recipe 2 inuse.qcow2)" ""
expect_eq "recipe 3: only the image whose bitmaps are stale, not those without bitmaps" \
  "$(recipe 3 x 2>/dev/null | sort | tr '\n' ' ')" "void.qcow2 "
expect_eq "recipe 4: the bitmaps not usable, and why" "$(recipe 4 inuse.qcow2 2>/dev/null)" \
  "live inconsistent bitmap-in-use
frozen inconsistent bitmap-in-use"
expect_eq "recipe 4: none" "$(recipe 4 c2m.qcow2)" ""
finish
