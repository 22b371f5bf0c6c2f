#!/bin/sh
# --backing-chain on chains the real qemu-img builds as libvirt leaves
# them (qemu-img create -b ... -F qcow2, qemu-img bitmap --add/--disable,
# writes with qemu-io in each layer), with relative backing names across
# directories and qcow2dump run from another working directory.  The
# ranges of a merged bitmap are held to QEMU's own merge: the top copied,
# each lower layer's bitmap merged into the copy with qemu-img bitmap
# --merge, exported with qemu-nbd -B and read with qemu-img map.
. "$TOP_SRCDIR/tests/integration/lib.sh"

# QEMU's merge of bitmap NAME over TOP and the LOWER layers given: into a
# copy of TOP, beside it so that its relative backing name still holds
qemu_merge() { # TOP NAME LOWER...
	top=$1 name=$2; shift 2
	cp "$top" "$top.merged"
	for low; do
		Q bitmap --merge "$name" -b "$low" -F qcow2 -f qcow2 "$top.merged" "$name"
	done
	nbd_extents "$top.merged" "$name"
	rm -f "$top.merged"
}
# ours: the rows of -x --backing-chain -f csv
# (image,bitmap,layers,start,length,usable,state,reason)
ours() { # IMAGE NAME
	"$QCOW2DUMP" -x --backing-chain -f csv -n "$2" "$1" | tail -n +2 |
	  cut -d, -f4,5 | tr , ' ' | grep -v '^ $'
}
# ranges rounded out to granularity G within SIZE bytes, joined
round_out() { # G SIZE
	awk -v g="$1" -v size="$2" '
	{ s = int($1 / g) * g; e = int(($1 + $2 + g - 1) / g) * g; if (e > size) e = size
	  if (n && s <= ce) { if (e > ce) ce = e } else { if (n) print cs, ce - cs; cs = s; ce = e; n = 1 } }
	END { if (n) print cs, ce - cs }'
}
json_of() { # JQ IMAGE ARGS...: a jq filter over -x --backing-chain -f json
	filter=$1; shift
	"$QCOW2DUMP" -x --backing-chain -f json "$@" 2>/dev/null | jq -c "$filter"
}

# ---- chain A: base <- s1 <- top, in three directories ----
mkdir -p lib/base lib/snaps lib/vm elsewhere
cd lib
Q create -q -f qcow2 base/base.qcow2 256M
Q bitmap --add -g 1M -f qcow2 base/base.qcow2 ck        # the checkpoint
Q bitmap --add -g 4k -f qcow2 base/base.qcow2 coarse    # a coarser top
for b in notop gap off; do Q bitmap --add -f qcow2 base/base.qcow2 $b; done
IO -c 'w 0 4k' -c 'w 3M 12k' -c 'w 100M 1M' -c 'w 255M 8k' -f qcow2 base/base.qcow2
Q create -q -f qcow2 -b ../base/base.qcow2 -F qcow2 snaps/s1.qcow2
Q bitmap --add -g 64k -f qcow2 snaps/s1.qcow2 ck
Q bitmap --add -g 64k -f qcow2 snaps/s1.qcow2 coarse
for b in notop off; do Q bitmap --add -f qcow2 snaps/s1.qcow2 $b; done
IO -c 'w 5000 7000' -c 'w 2M 64k' -c 'w 50M 4k' -c 'w 100M 4k' -f qcow2 snaps/s1.qcow2
Q bitmap --disable -f qcow2 snaps/s1.qcow2 off
Q create -q -f qcow2 -b ../snaps/s1.qcow2 -F qcow2 vm/top.qcow2
Q bitmap --add -g 16k -f qcow2 vm/top.qcow2 ck
Q bitmap --add -g 1M -f qcow2 vm/top.qcow2 coarse
for b in gap off only; do Q bitmap --add -f qcow2 vm/top.qcow2 $b; done
IO -c 'w 1M 512' -c 'w 3M 4k' -c 'w 200M 100k' -f qcow2 vm/top.qcow2
cd ../elsewhere
TOP=../lib/vm/top.qcow2
S1=$WORK/lib/snaps/s1.qcow2
BASE=$WORK/lib/base/base.qcow2

# QEMU resolves the names the same way: its chain is ours, path for path
expect_eq "A: the layers, resolved as QEMU resolves them" \
  "$(json_of '[.backing_chain[] | [.backing_depth, .format, .image]]' "$TOP")" \
  "$(qemu-img info --backing-chain --output=json "$TOP" | jq -c '[to_entries[] | [.key, .value.format, .value.filename]]')"
expect_eq "A: backing names as written" \
  "$(json_of '[.backing_chain[].backing_file]' "$TOP")" \
  '["../snaps/s1.qcow2","../base/base.qcow2",null]'

# the checkpoint over three granularities, the finest at the top: QEMU's
# merge into the top's copy is exact, and so the same ranges
qemu_merge "$TOP" ck "$S1" "$BASE" > qemu.txt
ours "$TOP" ck > ours.txt
expect_file "A: ck: the merged ranges are QEMU's merge, byte for byte" ours.txt qemu.txt
check "A: ck: QEMU's merge is not empty" [ -s qemu.txt ]
expect_eq "A: ck: layers, verdict, finest granularity" \
  "$(json_of '.bitmaps[] | [.layers, .usable, .state, .reason, .granularity]' -n ck "$TOP")" \
  '[[0,1,2],true,"usable",null,16384]'
expect_eq "A: ck: dirty_bytes is the sum of the ranges" \
  "$(json_of '.bitmaps[0] | .dirty_bytes == ([.extents[].length] | add)' -n ck "$TOP")" true
run_q out err -x --backing-chain -n ck "$TOP"
expect_eq "A: -x -n ck: exit 0" "$status" 0
expect_eq "A: -x -n ck: nothing on stderr" "$(cat err)" ""
expect_eq "A: text: the layers, then the merged bitmap" "$(head -n 9 out)" \
"Backing depth  format   image
0              qcow2    ../lib/vm/top.qcow2
1              qcow2    ../lib/vm/../snaps/s1.qcow2
2              qcow2    ../lib/vm/../snaps/../base/base.qcow2

Bitmap name               ck
layers                    0 1 2
granularity               16384
usable                    yes"
expect_eq "A: text, JSON and CSV give the same ranges" \
  "$(sed -n '/^usable/,/^dirty_bytes/p' out | sed '1d;$d' | tr -s ' ' | md5sum)" \
  "$(json_of '.bitmaps[0].extents[] | "\(.start) \(.length)"' -n ck "$TOP" | tr -d '"' | md5sum)"
expect_eq "A: CSV: the ranges" "$(md5sum < ours.txt)" \
  "$(json_of '.bitmaps[0].extents[] | "\(.start) \(.length)"' -n ck "$TOP" | tr -d '"' | md5sum)"

# README's recipe for a backup script, as it is written there
sed -n '/^<!-- backup-recipe -->/,/^<!-- \/backup-recipe -->/p' "$TOP_SRCDIR/README.md" |
  sed '1,2d;$d' | sed '$d' | sed "s|vm\.qcow2|$TOP|g; s|ck1|ck|g" > recipe.sh
check "README: the recipe is there" grep -q 'qcow2dump -x --backing-chain' recipe.sh
PATH=$BINDIR:$PATH sh -e recipe.sh > recipe.out 2> recipe.err
expect_eq "README: the recipe runs" "$?" 0
ours "$TOP" ck > ours.txt
expect_file "README: the recipe's ranges" ranges.txt ours.txt
expect_eq "README: the recipe's dirty_bytes" "$(cat recipe.out)" \
  "$(awk '{n += $2} END {print n}' ours.txt)"
sed "s|$TOP|../lib/vm/top.qcow2|; s|-n ck |-n notop |" recipe.sh > refused.sh
PATH=$BINDIR:$PATH sh refused.sh > /dev/null 2> refused.err
expect_eq "README: the recipe stops on a checkpoint that cannot be used" \
  "$?:$(tail -n 1 refused.err)" "1:checkpoint ck cannot be used: take a full backup"

# a top coarser than the layers below: QEMU rounds what it merges out to
# the top's granularity; the union is exact, and rounded out it is QEMU's
qemu_merge "$TOP" coarse "$S1" "$BASE" > qemu.txt
ours "$TOP" coarse > ours.txt
round_out 1048576 268435456 < ours.txt > rounded.txt
expect_file "A: coarse: the union rounded out to the top's 1 MiB is QEMU's merge" rounded.txt qemu.txt
check "A: coarse: the union is finer than QEMU's" [ "$(md5sum < ours.txt)" != "$(md5sum < qemu.txt)" ]
expect_eq "A: coarse: the finest granularity, 4 KiB" \
  "$(json_of '.bitmaps[0].granularity' -n coarse "$TOP")" 4096

# libvirt's three rules
expect_eq "A: every name, top first, with its verdict" \
  "$(json_of '[.bitmaps[] | [.name, .layers, .state, .reason]]' "$TOP")" \
  '[["ck",[0,1,2],"usable",null],["coarse",[0,1,2],"usable",null],["gap",[0,2],"gap","checkpoint-gap"],["off",[0,1,2],"disabled","checkpoint-copy-not-usable"],["only",[0],"usable",null],["notop",[1,2],"missing-in-top","checkpoint-missing-in-top"]]'
for b in notop gap off; do
	run_q out err -x --backing-chain -n $b "$TOP"
	expect_eq "A: -x -n $b: exit 1" "$status" 1
	check "A: -x -n $b: stderr says why" grep -q "bitmap-not-usable\|not usable for an incremental backup now: checkpoint '$b' over the backing chain" err
done
expect_eq "A: gap: the ranges merged stop at the layer without it" \
  "$(ours "$TOP" gap)" "$(nbd_extents "$TOP" gap)"
expect_eq "A: missing in top: the ranges from the topmost layer holding it" \
  "$(ours "$TOP" notop)" "$(qemu_merge "$S1" notop "$BASE")"
expect_eq "A: text: usable no (gap)" \
  "$("$QCOW2DUMP" -x --backing-chain -n gap "$TOP" 2>/dev/null | grep '^usable')" \
  "usable                    no (gap)"
expect_eq "A: CSV: the verdict on each row" \
  "$("$QCOW2DUMP" -x --backing-chain -f csv -n off "$TOP" 2>/dev/null | sed -n 1,2p | cut -d, -f1-3,6-)" \
  "image,bitmap,layers,usable,state,reason
../lib/vm/top.qcow2,off,0 1 2,false,disabled,checkpoint-copy-not-usable"
run_q out err -x --backing-chain -f json -n notop -n ck "$TOP"
expect_eq "A: -x, one not usable among those shown: exit 1" "$status" 1
expect_eq "A: JSON: the chain's problem names the checkpoint" \
  "$(jq -c '[.problems[] | [.severity, .code]]' out)" '[["error","bitmap-not-usable"]]'
check "A: JSON of -x --backing-chain valid against the schema" $FORMATS validate "$SCHEMA" out

# -c: the rules as findings of the layers holding the bitmap
run_q out err -c --backing-chain "$TOP"
expect_eq "A: -c: exit 0 (libvirt's rules are warnings)" "$status" 0
expect_eq "A: -c: one finding per rule broken" "$(grep -o 'warning: checkpoint-[a-z-]*' out | sort | tr '\n' ' ')" \
  "warning: checkpoint-copy-not-usable warning: checkpoint-gap warning: checkpoint-missing-in-top "
check "A: -c: the gap found in the base" grep -q "^../lib/vm/../snaps/../base/base.qcow2: warning: checkpoint-gap: .*(bitmap gap, offset" out
check "A: -c: the disabled copy in s1" grep -q "^../lib/vm/../snaps/s1.qcow2: warning: checkpoint-copy-not-usable: .*disabled" out
check "A: -c: the top: no problems found" grep -qx "../lib/vm/top.qcow2: no problems found" out
run_q out err -c --backing-chain -n ck "$TOP"
expect_eq "A: -c -n ck: exit 0, no problems" "$status $(grep -c 'no problems found' out)" "0 3"
run_q out err -c --backing-chain -n off "$TOP"
expect_eq "A: -c -n off: exit 1" "$status" 1
expect_eq "A: -c -n off: the rule and the error" "$(grep -o 'warning: checkpoint-[a-z-]*\|error: bitmap-not-usable' out | tr '\n' ' ')" \
  "error: bitmap-not-usable warning: checkpoint-copy-not-usable "
run_q out err -c --backing-chain -n notop -f json "$TOP"
expect_eq "A: -c -n notop: exit 1" "$status" 1
expect_eq "A: -c -n notop JSON: the error on the top, the rule on s1" \
  "$(jq -c '[.backing_depth, [.problems[] | .code]]' out | tr '\n' ' ')" \
  '[0,["bitmap-not-usable"]] [1,["checkpoint-missing-in-top"]] [2,[]] '
check "A: JSON of -c --backing-chain valid against the schema" $FORMATS validate "$SCHEMA" out
run_q out err -c --backing-chain -n nothere "$TOP"
expect_eq "A: -c -n a NAME no layer has: exit 2" "$status" 2
check "A: -c -n nothere: named on stderr" grep -q "no-such-bitmap\|no layer of the backing chain has a bitmap named 'nothere' (bitmaps: ck, coarse, gap, off, only, notop)" err
run_q out err -b --backing-chain -n notop "$TOP"
expect_eq "A: -b -n NAME held by a lower layer only: exit 0" "$status" 0
expect_eq "A: -b -n notop: shown where it is" "$(grep -c '^Bitmap name' out)" 2

# every view on every layer
for v in "" -e -b -c; do
	run_q out err $v --backing-chain -f json "$TOP"
	expect_eq "A: ${v:-default} JSON: one document per layer" \
	  "$(jq -c '[.backing_depth, .top_image, .format]' out | tr '\n' ' ')" \
	  '[0,"../lib/vm/top.qcow2","qcow2"] [1,"../lib/vm/top.qcow2","qcow2"] [2,"../lib/vm/top.qcow2","qcow2"] '
	check "A: ${v:-default} JSON valid against the schema" $FORMATS validate "$SCHEMA" out
	run_q out err $v --backing-chain -f csv "$TOP"
	expect_eq "A: ${v:-default} CSV: a backing_depth column" "$(head -n 1 out | cut -d, -f1-2)" "image,backing_depth"
	run_q out err $v --backing-chain "$TOP"
	expect_eq "A: ${v:-default} text: exit 0" "$status" 0
done
"$QCOW2DUMP" -b --backing-chain -f csv "$TOP" > layers.csv
expect_eq "A: -b CSV: each layer's bitmaps with its depth" \
  "$(cut -d, -f2,3 layers.csv | tail -n +2 | tr '\n' ' ')" \
  "0,ck 0,coarse 0,gap 0,off 0,only 1,ck 1,coarse 1,notop 1,off 2,ck 2,coarse 2,notop 2,gap 2,off "
"$QCOW2DUMP" -e --backing-chain "$TOP" > layers.txt
expect_eq "A: text: each layer headed as several images are" "$(grep '^==>' layers.txt)" \
"==> ../lib/vm/top.qcow2 <==
==> ../lib/vm/../snaps/s1.qcow2 <==
==> ../lib/vm/../snaps/../base/base.qcow2 <=="
# each layer's own text is the single image's, byte for byte
"$QCOW2DUMP" -e "$S1" > s1.txt
expect_eq "A: text: a layer's part is qcow2dump's output for it alone" \
  "$(awk '/^==>/ {n++; next} n == 2' layers.txt | sed '$d' | md5sum)" "$(md5sum < s1.txt)"
expect_eq "A: without --backing-chain: one image, no label, no depth" \
  "$("$QCOW2DUMP" -b -f csv "$TOP" | head -n 1 | cut -d, -f1-2) $("$QCOW2DUMP" -e "$TOP" | grep -c '^==>')" \
  "image,name 0"

# -O refuses a backing file as it refuses an IMAGE
sum=$(md5sum < "$BASE")
run_q out err -b --backing-chain -O "$BASE" "$TOP"
expect_eq "A: -O a backing file: exit 2, the file untouched" "$status $(md5sum < "$BASE")" "2 $sum"
check "A: -O a backing file: said on stderr" grep -q "base.qcow2: is a layer of the backing chain of ../lib/vm/top.qcow2: not written" err
check "A: -O a backing file: no temporary file left" [ "$(ls "$WORK/lib/base")" = base.qcow2 ]

# ---- chain B: a bitmap left in use in the middle layer ----
cd "$WORK" && mkdir -p b && cd b
Q create -q -f qcow2 base.qcow2 64M
Q bitmap --add -f qcow2 base.qcow2 ck
IO -c 'w 0 64k' -f qcow2 base.qcow2
Q create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
Q bitmap --add -f qcow2 mid.qcow2 ck
# a writer that dies with the bitmap loaded leaves it in_use
qemu-io -f qcow2 mid.qcow2 -c 'w 1M 64k' -c 'sleep 10000' >/dev/null 2>&1 &
io_pid=$!
for _ in $(seq 200); do
	"$QCOW2DUMP" -e mid.qcow2 2>/dev/null | grep -q "'in-use'" && break
	sleep 0.05
done
sleep 0.2
kill -9 "$io_pid"; wait "$io_pid" 2>/dev/null
Q create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
Q bitmap --add -f qcow2 top.qcow2 ck
IO -c 'w 2M 64k' -f qcow2 top.qcow2
expect_eq "B: in use in the middle layer: inconsistent" \
  "$(json_of '.bitmaps[] | [.name, .layers, .state, .reason]' top.qcow2)" \
  '["ck",[0,1,2],"inconsistent","checkpoint-copy-not-usable"]'
run_q out err -x --backing-chain top.qcow2
expect_eq "B: -x: exit 1" "$status" 1
check "B: -x: stderr names the layer" grep -q "inconsistent: .*(layer 1, mid.qcow2); see checkpoint-copy-not-usable" err
run_q out err -c --backing-chain top.qcow2
expect_eq "B: -c: the layer's copy breaks libvirt's third rule" \
  "$(grep -o '^[a-z0-9.]*: warning: [a-z-]*' out | tr '\n' ' ')" \
  "mid.qcow2: warning: bitmap-in-use mid.qcow2: warning: checkpoint-copy-not-usable "

# ---- chain C: a raw base, and a raw format over a qcow2 file ----
cd "$WORK" && mkdir -p c && cd c
Q create -q -f raw base.raw 64M
Q create -q -f qcow2 -b base.raw -F raw top.qcow2
Q bitmap --add -f qcow2 top.qcow2 ck
IO -c 'w 0 64k' -f qcow2 top.qcow2
expect_eq "C: raw base: shown as raw, the end of the chain" \
  "$(json_of '[.backing_chain[] | [.backing_depth, .format, .image]], [.bitmaps[] | [.name, .layers, .state]]' top.qcow2 | tr '\n' ' ')" \
  '[[0,"qcow2","top.qcow2"],[1,"raw","base.raw"]] [["ck",[0],"usable"]] '
run_q out err --backing-chain top.qcow2
expect_eq "C: text: the raw layer says it is raw" "$(sed -n '/^==> base.raw <==/,$p' out)" \
"==> base.raw <==
format                    raw"
run_q out err -c --backing-chain -f json top.qcow2
expect_eq "C: -c: a raw layer has no problem" "$status $(jq -c '[.image, .format, .problems]' out | tr '\n' ' ')" \
  '0 ["top.qcow2","qcow2",[]] ["base.raw","raw",[]] '
check "C: JSON with a raw layer valid against the schema" $FORMATS validate "$SCHEMA" out
Q create -q -f qcow2 q.qcow2 64M
Q create -q -f qcow2 -b q.qcow2 -F raw over.qcow2
run_q out err -c --backing-chain over.qcow2
expect_eq "C: raw over a qcow2 file: a warning" \
  "$status $(grep -o 'warning: [a-z0-9-]*' out | tr '\n' ' ')" \
  "0 warning: backing-format-raw-over-qcow2 "
expect_eq "C: raw over a qcow2 file: shown as raw" "$(json_of '[.backing_chain[].format]' over.qcow2)" '["qcow2","raw"]'
Q create -q -f qcow2 -b q.qcow2 -F qcow2 small.qcow2 32M
run_q out err -c --backing-chain small.qcow2
expect_eq "C: a backing file larger than its overlay: a warning" \
  "$status $(grep -o 'warning: [a-z0-9-]*' out | tr '\n' ' ')" \
  "0 warning: backing-file-larger "
check "C: the larger backing file's sizes" grep -q "q.qcow2 has 67108864 bytes, this image 33554432" out

# the backing format extension absent: the format is probed
cp top.qcow2 probe.qcow2
ext=$("$QCOW2DUMP" -f json -e probe.qcow2 | jq '.header_extensions[] | select(.name == "Backing format") | .offset')
poke probe.qcow2 "$ext" 12345678
expect_eq "C: no backing format extension: raw probed" \
  "$(json_of '[.backing_chain[].format]' probe.qcow2)" '["qcow2","raw"]'
cp "$WORK/b/top.qcow2" "$WORK/b/probe.qcow2"
ext=$("$QCOW2DUMP" -f json -e "$WORK/b/probe.qcow2" | jq '.header_extensions[] | select(.name == "Backing format") | .offset')
poke "$WORK/b/probe.qcow2" "$ext" 12345678
expect_eq "C: no backing format extension: qcow2 probed, and followed" \
  "$(json_of '[.backing_chain[].format]' "$WORK/b/probe.qcow2")" '["qcow2","qcow2","qcow2"]'

# ---- what stops a chain: exit 2, after the layers above it ----
cd "$WORK" && mkdir -p d && cd d
# a loop
Q create -q -f qcow2 a.qcow2 16M
Q create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2
Q bitmap --add -f qcow2 b.qcow2 ck
Q rebase -u -b b.qcow2 -F qcow2 a.qcow2
run_q out err -x --backing-chain -f json b.qcow2
expect_eq "loop: exit 2" "$status" 2
check "loop: stderr" grep -q "^qcow2dump: a.qcow2: the backing file is a layer already in the chain: the chain loops: b.qcow2 is layer 0, b.qcow2" err
expect_eq "loop: both layers, the problem on the one naming the file again" \
  "$(jq -c '[.backing_chain[] | [.image, [.problems[]?.code]]], [.bitmaps[] | [.state, .reason]]' out | tr '\n' ' ')" \
  '[["b.qcow2",[]],["a.qcow2",["backing-chain-loop"]]] [["incomplete","backing-chain-loop"]] '
check "loop: JSON valid against the schema" $FORMATS validate "$SCHEMA" out
# a missing backing file
Q create -q -f qcow2 gone.qcow2 16M
Q create -q -f qcow2 -b gone.qcow2 -F qcow2 orphan.qcow2
Q bitmap --add -f qcow2 orphan.qcow2 ck
rm gone.qcow2
for v in "" -b -c -x; do
	run_q out err $v --backing-chain orphan.qcow2
	expect_eq "missing backing file: ${v:-default}: exit 2" "$status" 2
done
check "missing backing file: stderr" grep -q "^qcow2dump: orphan.qcow2: the backing file cannot be opened: gone.qcow2: No such file or directory" err
run_q out err -c --backing-chain -f csv orphan.qcow2
expect_eq "missing backing file: -c CSV" "$(cut -d, -f1-4 out)" \
  "image,backing_depth,severity,code
orphan.qcow2,0,error,backing-file-missing"
run_q out err -x --backing-chain -n ck orphan.qcow2
check "missing backing file: -x: the checkpoint is incomplete" grep -q "^usable                    no (incomplete)" out
# a relative name is relative to the image, not to the working directory
mkdir -p sub && Q create -q -f qcow2 sub/base.qcow2 16M
Q create -q -f qcow2 -b base.qcow2 -F qcow2 sub/top.qcow2
: > base.qcow2
run_q out err -x --backing-chain -f json sub/top.qcow2
expect_eq "relative name: beside the image, not in the working directory" \
  "$status $(jq -c '[.backing_chain[].image]' out)" '0 ["sub/top.qcow2","sub/base.qcow2"]'
# names qcow2dump does not follow
Q create -q -f qcow2 nbd.qcow2 16M
Q rebase -u -b 'nbd://localhost/export' -F raw nbd.qcow2
run_q out err -b --backing-chain nbd.qcow2
expect_eq "nbd:// backing: exit 2" "$status" 2
check "nbd:// backing: unsupported" grep -q "backing file name is a protocol or json: name, which qcow2dump does not follow: nbd://localhost/export" err
Q create -q -f qcow2 js.qcow2 16M
Q rebase -u -b 'json:{"driver": "file", "filename": "a.qcow2"}' -F qcow2 js.qcow2
run_q out err -c --backing-chain -f json js.qcow2
expect_eq "json: backing: backing-name-unsupported, exit 2" \
  "$status $(jq -c '[.problems[].code]' out)" '2 ["backing-name-unsupported"]'
Q create -q -f raw plain.raw 16M
Q create -q -f qcow2 -u -b plain.raw -F qcow2 mismatch.qcow2 16M
run_q out err -c --backing-chain mismatch.qcow2
expect_eq "qcow2 over a raw file: backing-format-mismatch, exit 2" \
  "$status $(grep -o 'error: [a-z-]*' out)" "2 error: backing-format-mismatch"
Q create -q -f qcow2 -u -b a.qcow2 -F vmdk vmdk.qcow2 16M
run_q out err -c --backing-chain vmdk.qcow2
expect_eq "a vmdk backing format: backing-format-unsupported, exit 2" \
  "$status $(grep -o 'error: [a-z-]*' out)" "2 error: backing-format-unsupported"
# deeper than 256 layers: the first 256, then the error.  qemu-img makes
# l000 and l001 (backing l000.qcow2); the others are l001 with the name
# of the layer below written in place (names of one length)
Q create -q -f qcow2 l000.qcow2 1M
Q create -q -f qcow2 -b l000.qcow2 -F qcow2 l001.qcow2
"$PY" - <<'PYEOF'
data = open("l001.qcow2", "rb").read()
at = data.index(b"l000.qcow2")
for i in range(2, 257):
    name = b"l%03d.qcow2" % (i - 1)
    open("l%03d.qcow2" % i, "wb").write(data[:at] + name + data[at + len(name):])
PYEOF
expect_eq "deep chain: QEMU follows the layers made" \
  "$(qemu-img info --backing-chain --output=json l256.qcow2 | jq length)" 257
run_q out err -f json -b --backing-chain --compact l256.qcow2
expect_eq "257 layers: 256 shown, exit 2" "$status $(wc -l < out)" "2 256"
check "257 layers: backing-chain-too-deep" grep -q "^qcow2dump: l001.qcow2: the backing chain is deeper than qcow2dump follows (256 layers): l000.qcow2 is not followed" err
run_q out err -f json -b --backing-chain --compact l255.qcow2
expect_eq "256 layers: all shown, exit 0" "$status $(wc -l < out)" "0 256"

# usage
run_q out err --list-checks --backing-chain
expect_eq "--list-checks --backing-chain: a usage error" "$status" 64
finish
