#!/bin/sh
# -s and the snapshot rules of -c, on images made by the real qemu-img:
# every field equals what qemu-img info --output=json shows; text, JSON
# and CSV agree and the JSON is valid; each problem code's severity is
# QEMU 7.2's own verdict on the same image (error exactly when qemu-img
# info fails, qemu-img check exits 1 or 2, or a read-only open fails);
# hostile tables are refused in bounded time and memory.
. "$TOP_SRCDIR/tests/integration/lib.sh"
SNAP="$PY $TOP_SRCDIR/tests/integration/snapshots.py"
u64() { printf '%016x' "$1"; }
u32() { printf '%08x' "$1"; }

# same_as_qemu DESC IMAGE: every field of every snapshot as qemu-img shows it
same_as_qemu() {
	qemu-img info -U --output=json "$2" > qemu.json ||
		{ fail "$1: qemu-img info failed"; return; }
	"$QCOW2DUMP" -s -f json "$2" > ours.json
	check "$1: every field as qemu-img info shows it" $SNAP compare qemu.json ours.json
}
# formats_agree DESC IMAGE: JSON valid against the schema, text and CSV
# say what it says
formats_agree() {
	"$QCOW2DUMP" -s -f json "$2" > f.json
	"$QCOW2DUMP" -s "$2" > f.txt
	"$QCOW2DUMP" -s -f csv "$2" > f.csv
	check "$1: JSON valid against the schema" $FORMATS validate "$SCHEMA" f.json
	check "$1: text says what JSON says" $SNAP text-vs-json f.txt f.json
	check "$1: CSV says what JSON says" $SNAP csv-vs-json f.csv f.json
}
# field IMAGE JQ: a value from -s -f json
field() { "$QCOW2DUMP" -s -f json "$1" | jq -r "$2"; }

# ---- images qemu-img made ----

Q create -q -f qcow2 snaps.qcow2 16M
IO -c 'w 0 64k' -f qcow2 snaps.qcow2
Q snapshot -c first snaps.qcow2
IO -c 'w 1M 64k' -f qcow2 snaps.qcow2
Q snapshot -c 'café ☃' snaps.qcow2
Q snapshot -c "$(printf 'comma,quote"new\nline')" snaps.qcow2
long=$(printf '%0255d' 0 | tr 0 n)   # qemu-img keeps 255 bytes of a name
Q snapshot -c "$long" snaps.qcow2
run_q out err -s snaps.qcow2
expect_eq "-s: exit 0, nothing on stderr" "$status:$(cat err)" "0:"
expect_eq "-s: one block per snapshot" "$(grep -c '^Snapshot id ' out)" 4
expect_eq "-s: a blank line after each" "$(grep -c '^$' out)" 4
expect_eq "-s: ids in order" "$(sed -n 's/^Snapshot id  *//p' out | tr '\n' ' ')" "1 2 3 4 "
check "-s: UTF-8 name as it is" grep -q '^name                      café ☃$' out
check "-s: a newline in a name escaped" grep -q '^name  *comma,quote"new\\x0aline$' out
same_as_qemu "qemu-img snapshot -c" snaps.qcow2
formats_agree "qemu-img snapshot -c" snaps.qcow2
expect_eq "the names, lossless" "$(jq -c '[.snapshots[].name]' ours.json)" \
  "$(jq -c '[.snapshots[].name]' qemu.json)"
expect_eq "QEMU 7.2 writes 24 bytes of extra data: disk_size and icount" \
  "$(jq -c '[.snapshots[0] | .extra_data_size, .disk_size, .icount, has("extra_data_hex")]' ours.json)" \
  '[24,16777216,0,false]'
expect_eq "the table is where the header says" \
  "$(jq '.snapshots[0].offset' ours.json)" \
  "$(( $("$QCOW2DUMP" snaps.qcow2 | awk '$1 == "snapshot_offset" {print $2}') ))"
run_q out err -c snaps.qcow2
expect_eq "-c: no problem on what qemu-img made" "$status $(head -n1 out)" "0 snaps.qcow2: no problems found"
run_q out err -s -b snaps.qcow2
expect_eq "-s with -b: usage error" "$status" 64
run_q out err -s -f csv snaps.qcow2 snaps.qcow2
expect_eq "-s, two images: one CSV header row" "$(grep -c '^image,id_str,' out)" 1
run_q out err -s snaps.qcow2 snaps.qcow2
expect_eq "-s, two images: labelled" "$(grep -c '^==> snaps.qcow2 <==$' out)" 2

# many snapshots, as qemu-img makes them (512-byte clusters keep it quick)
Q create -q -f qcow2 -o cluster_size=512 many.qcow2 1M
i=1; while [ $i -le 40 ]; do
	[ $((i % 10)) -eq 0 ] && IO -c "w $((i * 4096)) 4k" -f qcow2 many.qcow2
	Q snapshot -c "snapshot number $i" many.qcow2; i=$((i + 1))
done
same_as_qemu "40 snapshots" many.qcow2
formats_agree "40 snapshots" many.qcow2
expect_eq "40 snapshots: all decoded" "$(jq '.snapshots | length' ours.json)" 40
run_q out err -c many.qcow2
expect_eq "40 snapshots: -c finds nothing" "$status" 0

# version 2: QEMU 7.2 writes extra data there too; the last entry is
# rewritten without it, as older QEMU wrote them (accepted: F06c)
Q create -q -f qcow2 -o compat=0.10 v2.qcow2 8M
IO -c 'w 0 64k' -f qcow2 v2.qcow2
Q snapshot -c one v2.qcow2
Q snapshot -c two v2.qcow2
last=$(field v2.qcow2 '.snapshots[1].offset')
$SNAP entry v2.qcow2 "$last" extra=0 vmstate=0x12345 > /dev/null
same_as_qemu "version 2, no extra data" v2.qcow2
formats_agree "version 2, no extra data" v2.qcow2
expect_eq "version 2: no extra fields without extra data" \
  "$(jq -c '.snapshots[1] | [.extra_data_size, has("vm_state_size_large"), has("disk_size"), has("icount"), .vm_state_size]' ours.json)" \
  '[0,false,false,false,74565]'
run_q out err -c v2.qcow2
expect_eq "version 2 without extra data: -c finds nothing (QEMU agrees)" "$status $(head -n1 out)" \
  "0 v2.qcow2: no problems found"

# byte edits of the VM clock, VM state size, icount and date, each read
# back by qemu-img
cp snaps.qcow2 edit.qcow2
e0=$(field edit.qcow2 '.snapshots[0].offset')
e1=$(field edit.qcow2 '.snapshots[1].offset')
$SNAP entry edit.qcow2 "$e0" vmclock=123456789012345678 vmstate=7 large=0x123456789 \
  icount=-1 date_sec=4294967295 date_nsec=999999999 > /dev/null
$SNAP entry edit.qcow2 "$e1" vmclock=999999999 vmstate=0xffffffff large=0 icount=42 > /dev/null
same_as_qemu "edited clock, state size, icount, date" edit.qcow2
formats_agree "edited clock, state size, icount, date" edit.qcow2
# (read by Python: jq 1.6 rounds integers beyond 2^53)
expect_eq "edits: every value as written" \
  "$($PY -c 'import json; d = json.load(open("ours.json"))["snapshots"]
print([[s.get(k) for k in ("vm_clock_nsec", "vm_state_size", "vm_state_size_large", "icount", "date_sec")] for s in d[:2]])')" \
  '[[123456789012345678, 7, 4886718345, 18446744073709551615, 4294967295], [999999999, 4294967295, 0, 42, '"$(jq '.snapshots[1].date_sec' ours.json)"']]'
expect_eq "edits: qemu-img shows no icount for -1" "$(jq -c '[.snapshots[] | has("icount")]' qemu.json)" \
  '[false,true,true,true]'
# vm_state_size_large only: 8 bytes of extra data; then unknown bytes
$SNAP entry edit.qcow2 "$(field edit.qcow2 '.snapshots[3].offset')" extra=8 > /dev/null
same_as_qemu "8 bytes of extra data" edit.qcow2
$SNAP entry edit.qcow2 "$(field edit.qcow2 '.snapshots[3].offset')" extra=36 icount=5 > /dev/null
poke edit.qcow2 $(( $(field edit.qcow2 '.snapshots[3].offset') + 40 + 24 )) c0ffee
same_as_qemu "36 bytes of extra data" edit.qcow2
expect_eq "unknown extra bytes in hex" "$(jq -c '.snapshots[3] | [.icount, .extra_data_hex]' ours.json)" \
  '[5,"c0ffee000000000000000000"]'
formats_agree "36 bytes of extra data" edit.qcow2

# ids and names beyond what qemu-img makes: 65535 bytes, and bytes that
# are not UTF-8 (qemu-img shows only 127 bytes of an id, 255 of a name)
cp snaps.qcow2 names.qcow2
big=$(printf '%065535d' 0 | tr 0 N)
$SNAP entry names.qcow2 "$(field names.qcow2 '.snapshots[3].offset')" \
  "id=$(printf '%0200d' 7)" "name=$big" > /dev/null
same_as_qemu "a 65535-byte name, a 200-byte id" names.qcow2
expect_eq "a 65535-byte name: every byte" "$(jq -r '.snapshots[3].name' ours.json | tr -d '\n' | wc -c)" 65535
formats_agree "a 65535-byte name" names.qcow2
$SNAP entry names.qcow2 "$(field names.qcow2 '.snapshots[3].offset')" idhex=31ff namehex=1b5b326aff > /dev/null
run_q out err -s -f json names.qcow2
expect_eq "not UTF-8: id_str_hex and name_hex" \
  "$(jq -c '.snapshots[3] | [.id_str_hex, .name_hex]' out)" '["31ff","1b5b326aff"]'
check "not UTF-8: valid against the schema" $FORMATS validate "$SCHEMA" out
run_q out err -s names.qcow2
check "not UTF-8: escaped in text" grep -q '^name                      \\x1b\[2j\\xff$' out
expect_eq "not UTF-8: no raw ESC in text" "$(tr -dc '\033' < out | wc -c)" 0
formats_agree "ids and names not UTF-8" names.qcow2

# thousands of entries read as qemu-img reads them (its info takes 20 s
# on QEMU's largest count, 65536, so that one is only decoded here)
cp many.qcow2 max.qcow2
$SNAP clone max.qcow2 5000
same_as_qemu "5000 snapshots" max.qcow2
cp many.qcow2 max.qcow2
$SNAP clone max.qcow2 65536
run_q out err -s -f csv max.qcow2
expect_eq "65536 snapshots: exit 0, every one in CSV" "$status $(wc -l < out)" "0 65537"
expect_eq "65536 snapshots: the last" "$(tail -n 1 out | cut -d, -f2,3)" "65536,s65536"

# ---- each problem code against QEMU 7.2's verdict ----

# verdict IMAGE: QEMU's, by the project's rule
verdict() {
	qemu-img info "$1" > /dev/null 2>&1 || { echo error; return; }
	qemu-img check "$1" > /dev/null 2>&1
	case $? in 1|2) echo error; return ;; esac
	qemu-io -r -f qcow2 -c 'read 0 512' "$1" > /dev/null 2>&1 || { echo error; return; }
	echo warning
}
# problem IMAGE CODE: "severity offset status" of the first such problem
problem() {
	"$QCOW2DUMP" -f csv -c "$1" > p.csv 2>/dev/null
	st=$?
	echo "$(awk -F, -v c="$2" '$3 == c {print $2, $4; exit}' p.csv) $st"
}
# agrees DESC IMAGE CODE OFFSET STATUS: we report CODE at OFFSET, with the
# severity QEMU's verdict on IMAGE calls for, and exit with STATUS
agrees() {
	v=$(verdict "$2")
	expect_eq "$1: $3, $v as QEMU 7.2 says" "$(problem "$2" "$3")" "$v $4 $5"
}
# accepted DESC IMAGE: QEMU accepts it, and -c finds no error in it
accepted() {
	v=$(verdict "$2")
	"$QCOW2DUMP" -c -f csv "$2" > p.csv 2>/dev/null
	rc=$?
	expect_eq "$1: QEMU 7.2 accepts it, -c finds no error" \
	  "$v $rc $(grep -c ',error,' p.csv)" "warning 0 0"
}

Q create -q -f qcow2 base.qcow2 8M
IO -c 'w 0 64k' -f qcow2 base.qcow2
Q snapshot -c s1 base.qcow2
cp base.qcow2 two.qcow2
Q snapshot -c s2 two.qcow2
so=$(field base.qcow2 '.snapshots[0].offset')
l1=$(field base.qcow2 '.snapshots[0].l1_table_offset')
so2=$(field two.qcow2 '.snapshots[1].offset')
rt=$("$QCOW2DUMP" -f json base.qcow2 | jq .header.refcount_table_offset)
active=$("$QCOW2DUMP" -f json base.qcow2 | jq .header.l1_table_offset)
fresh() { cp base.qcow2 "$1"; }
accepted "control: one snapshot" base.qcow2
accepted "control: two snapshots" two.qcow2

fresh h.qcow2; poke h.qcow2 60 "$(u32 0)$(u64 $((so + 512)))"
agrees "offset unaligned, no snapshot (F01)" h.qcow2 snapshot-table-unaligned 64 1
fresh h.qcow2
dd if=base.qcow2 of=h.qcow2 bs=1 skip="$so" seek=$((so + 512)) count=72 conv=notrunc status=none
poke h.qcow2 64 "$(u64 $((so + 512)))"
agrees "offset unaligned, the table there (F01b)" h.qcow2 snapshot-table-unaligned 64 1
fresh h.qcow2; poke h.qcow2 60 "$(u32 65537)"
agrees "65537 snapshots (F02)" h.qcow2 too-many-snapshots 60 2
# (F03 claims 65536; two show the same, and qemu-img is quicker on them)
fresh h.qcow2; poke h.qcow2 60 "$(u32 2)"
agrees "two snapshots, the file ends after one (F03)" h.qcow2 truncated $((so + 72)) 2
# 1100 entries of 65600 bytes from 1 MiB (a sparse file of 72 MB): entry
# 1023 is the first to end past 64 MiB
fresh big.qcow2; $SNAP table big.qcow2 $((1 << 20)) 1100 65535
set -- $($PY -c 'pos = 0
for i in range(1100):
    pos = (pos + 7) & ~7
    end = pos + 40 + 24 + len(str(i + 1)) + 65535
    if end > 64 << 20:
        print(i, (1 << 20) + pos); break
    pos = end')
crossing=$1 cross=$2
agrees "a table over 64 MiB (F03b)" big.qcow2 snapshot-table-too-large "$cross" 2
fresh h.qcow2; poke h.qcow2 60 "$(u32 65536)$(u64 $((0x7fffffffffff0000)))"
agrees "a table past INT64_MAX (F03c)" h.qcow2 snapshot-table-offset-invalid 64 2
fresh h.qcow2; poke h.qcow2 64 "$(u64 $((1 << 40)))"
agrees "the table past the end of the file (F04)" h.qcow2 truncated $((1 << 40)) 2

# Whether QEMU opens the image decides every bitmap's verdict, in the
# views that do not show the table too.  QEMU reads zeroes past the end of
# the file: a table there is only qemu-img check's error, and the bitmap
# stays usable; a table QEMU cannot read at all refuses the image.
# usable_of IMAGE: "usable state reason exit" of bitmap b0, from -b JSON
usable_of() {
	"$QCOW2DUMP" -b -f json "$1" > u.json 2> /dev/null
	st=$?
	echo "$(jq -r '.bitmaps[0] | "\(.usable) \(.state) \(.reason)"' u.json) $st"
}
# opens IMAGE: "yes" when qemu-img info opens it
opens() { qemu-img info "$1" > /dev/null 2>&1 && echo yes || echo no; }
cp base.qcow2 bm.qcow2; Q bitmap --add -f qcow2 bm.qcow2 b0
expect_eq "control: b0 usable" "$(usable_of bm.qcow2)" "true usable null 0"
cp bm.qcow2 h.qcow2; poke h.qcow2 64 "$(u64 $((1 << 40)))"
expect_eq "table past the end of the file: QEMU 7.2 opens the image" "$(opens h.qcow2)" yes
expect_eq "table past the end of the file: b0 usable, exit 0 (-b)" \
  "$(usable_of h.qcow2)" "true usable null 0"
run_q out err -x -n b0 h.qcow2
expect_eq "table past the end of the file: -x exit 0" "$status" 0
expect_eq "table past the end of the file: -x --backing-chain, b0 usable" \
  "$("$QCOW2DUMP" -x --backing-chain -n b0 -f json h.qcow2 | jq -c '.bitmaps[0].usable')" true
cp bm.qcow2 h.qcow2; poke h.qcow2 60 "$(u32 3)"
expect_eq "three snapshots, the file ends after one: QEMU 7.2 opens the image" "$(opens h.qcow2)" yes
expect_eq "three snapshots, the file ends after one: b0 usable, exit 0 (-b)" \
  "$(usable_of h.qcow2)" "true usable null 0"
cp bm.qcow2 h.qcow2; poke h.qcow2 60 "$(u32 65536)$(u64 $((0x7fffffffffff0000)))"
expect_eq "a table past INT64_MAX: QEMU 7.2 refuses the image" "$(opens h.qcow2)" no
expect_eq "a table past INT64_MAX: b0 invalid, exit 2 (-b)" \
  "$(usable_of h.qcow2)" "false invalid snapshot-table-offset-invalid 2"
# zero entries of 40 bytes from 64 KiB before 2^63 - 1 GiB: 1639 end 24
# bytes past where QEMU reads, 1638 end 16 bytes short of it
edge=$(( (0x7fffffffffffffff >> 30 << 30) - 65536 ))
cp bm.qcow2 h.qcow2; poke h.qcow2 60 "$(u32 1639)$(u64 $edge)"
expect_eq "a table ending past QEMU's last readable byte: QEMU 7.2 refuses" "$(opens h.qcow2)" no
expect_eq "a table ending past QEMU's last readable byte: b0 invalid, exit 2" \
  "$(usable_of h.qcow2)" "false invalid snapshot-table-offset-invalid 2"
cp bm.qcow2 h.qcow2; poke h.qcow2 60 "$(u32 1638)$(u64 $edge)"
expect_eq "a table ending just before QEMU's last readable byte: QEMU 7.2 opens" "$(opens h.qcow2)" yes
expect_eq "a table ending just before QEMU's last readable byte: b0 usable" \
  "$(usable_of h.qcow2)" "true usable null 0"
cp bm.qcow2 h.qcow2; poke h.qcow2 60 "$(u32 65537)"
expect_eq "65537 snapshots: b0 invalid, exit 2 (-b)" \
  "$(usable_of h.qcow2)" "false invalid too-many-snapshots 2"
fresh h.qcow2; $SNAP entry h.qcow2 "$so" extra=0 > /dev/null
agrees "version 3, no extra data (F05)" h.qcow2 snapshot-extra-data-too-short $((so + 36)) 1
fresh h.qcow2; $SNAP entry h.qcow2 "$so" extra=8 > /dev/null
agrees "version 3, 8 bytes of extra data (F06)" h.qcow2 snapshot-extra-data-too-short $((so + 36)) 1
fresh h.qcow2; $SNAP entry h.qcow2 "$so" extra=16 > /dev/null
accepted "version 3, 16 bytes of extra data (F06b)" h.qcow2
fresh h.qcow2; $SNAP entry h.qcow2 "$so" extra=1025 > /dev/null
agrees "1025 bytes of extra data (F07)" h.qcow2 snapshot-extra-data-too-large $((so + 36)) 2
fresh h.qcow2; $SNAP entry h.qcow2 "$so" extra=1024 > /dev/null
accepted "1024 bytes of extra data (F07b)" h.qcow2
fresh h.qcow2; $SNAP entry h.qcow2 "$so" id= > /dev/null
agrees "an empty id (F08)" h.qcow2 snapshot-id-empty $((so + 12)) 0
cp two.qcow2 h.qcow2; $SNAP entry h.qcow2 "$so2" id=1 > /dev/null
agrees "two ids 1 (F09)" h.qcow2 snapshot-duplicate-id "$so2" 0
cp two.qcow2 h.qcow2; $SNAP entry h.qcow2 "$so2" name=s1 > /dev/null
agrees "two names s1 (F09b)" h.qcow2 snapshot-duplicate-name "$so2" 0
fresh h.qcow2; $SNAP entry h.qcow2 "$so" l1o=$((l1 + 512)) > /dev/null
agrees "the snapshot's L1 table unaligned (F10)" h.qcow2 snapshot-l1-unaligned "$so" 1
fresh h.qcow2; $SNAP entry h.qcow2 "$so" l1s=$((0x400001)) > /dev/null
agrees "the snapshot's L1 table over 32 MiB (F11)" h.qcow2 snapshot-l1-too-large $((so + 8)) 1
fresh h.qcow2; $SNAP entry h.qcow2 "$so" l1s=$((0x400000)) l1o=$((1 << 20)) > /dev/null
agrees "the snapshot's L1 table of 32 MiB, past the file" h.qcow2 snapshot-l1-beyond-eof "$so" 1
fresh h.qcow2; $SNAP entry h.qcow2 "$so" l1s=0 > /dev/null
accepted "the snapshot's L1 table empty (F11b)" h.qcow2
fresh h.qcow2; $SNAP entry h.qcow2 "$so" l1o=$((1 << 40)) > /dev/null
agrees "the snapshot's L1 table past the file (F12)" h.qcow2 snapshot-l1-beyond-eof "$so" 1
fresh h.qcow2; poke h.qcow2 64 "$(u64 "$active")"
agrees "the table over the active L1 table (F14)" h.qcow2 overlap "$active" 1
fresh h.qcow2; poke h.qcow2 64 "$(u64 0)"
agrees "the table over the header (F15)" h.qcow2 overlap 0 1
fresh h.qcow2; $SNAP entry h.qcow2 "$so" l1o="$rt" > /dev/null
agrees "the snapshot's L1 table over the refcount table" h.qcow2 overlap "$rt" 1
fresh h.qcow2; $SNAP entry h.qcow2 "$so" disk=$((1 << 30)) > /dev/null
accepted "disk_size other than the image's (F16)" h.qcow2
run_q out err -c big.qcow2
check "over 64 MiB: the message says where" grep -q \
  "snapshot table exceeds QEMU's limit of 64 MiB (where: snapshot table entry $crossing, offset 0x$(printf %x "$cross"))" err

# ---- hostile tables: refused in bounded time and memory ----

# peak RSS in KiB of one run (ASan's quarantine off, as in many.sh)
peak() {
	ASAN_OPTIONS=quarantine_size_mb=0:thread_local_quarantine_size_kb=0:malloc_context_size=0 \
	  /usr/bin/time -f %M -o rss.all "$QCOW2DUMP_BIN" "$@" > out 2> err
	echo $?
	tail -n 1 rss.all > rss.txt  # after "Command exited with ..."
}
# the start: the same view of the image before the claim (under ASan, a
# run that does any work costs some 600 KiB more than --version)
peak -s base.qcow2 > /dev/null; base=$(cat rss.txt)
# hostile claims on a small file: 65536 entries, sizes of 65535
for claim in "60 $(u32 65536)" "$((so + 12)) ffffffff" "$((so + 36)) 00000400ffffffff" \
	     "60 $(u32 1)$(u64 $((1 << 62)))" "60 $(u32 65536)$(u64 $((so + 72)))" \
	     "60 $(u32 4294967295)"; do
	fresh h.qcow2; poke h.qcow2 $claim
	expect_eq "claim '$claim': refused, exit 2" "$(peak -s h.qcow2)" 2
	check "claim '$claim': the error is located" grep -q '(where: ' err
	check "claim '$claim': under 1 MiB above the image unclaimed (was $(cat rss.txt) - $base KiB)" \
	  [ $(($(cat rss.txt) - base)) -lt 1024 ]
done
# 65536 entries claimed over the zeros to the end of the file: each zero
# entry is sound; the file's size bounds the work
fresh h.qcow2; truncate -s 2M h.qcow2; poke h.qcow2 60 "$(u32 65536)"
expect_eq "65536 entries claimed, the file ends: exit 2" "$(peak -s -f csv h.qcow2)" 2
expect_eq "65536 entries claimed: those the file holds" "$(($(wc -l < out) - 1))" \
  $(( (2097152 - so - 72) / 40 + 1 ))
check "65536 entries claimed: under 16 MiB above the start (was $(cat rss.txt) - $base KiB)" \
  [ $(($(cat rss.txt) - base)) -lt 16384 ]
expect_eq "over 64 MiB: refused, exit 2" "$(peak -s big.qcow2)" 2
# the names it holds take 64 MiB; the bound leaves room for ASan's
# shadow memory and redzones in the sanitizer build
check "over 64 MiB: memory under 1.5 times the file's size above the start (was $(cat rss.txt) - $base KiB)" \
  [ $(($(cat rss.txt) - base)) -lt $(($(stat -c %s big.qcow2) / 1024 * 3 / 2)) ]

# every cut of the table and header fields, and bytes flipped
check "sweep: -s in each format and -c, bounded and located" \
  $SNAP sweep "$QCOW2DUMP" two.qcow2 "$so" $((so + 160)) "$SWEEP_STEP"
check "sweep: the header's snapshot fields" \
  $SNAP sweep "$QCOW2DUMP" two.qcow2 60 72 "$SWEEP_STEP"
finish
