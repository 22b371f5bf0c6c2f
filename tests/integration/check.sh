#!/bin/sh
# --check, rule by rule: an image made by qemu-img, edited at the byte
# level, the code, severity, offset and exit status asserted, and QEMU
# 7.2's own verdict on the same image asked of the real qemu-img and
# qemu-io: a problem is an error exactly when QEMU refuses the image.
. "$TOP_SRCDIR/tests/integration/lib.sh"

# Every offset poked below comes from the independent oracle
# (tests/oracle/q2oracle.py offsets), never from qcow2dump's own output.

# problem IMAGE CODE: "severity offset status" of the first such problem
problem() {
	qdump -f csv -c "$1" > p.csv 2>/dev/null
	st=$?
	echo "$(awk -F, -v c="$2" '$3 == c {print $2, $4; exit}' p.csv) $st"
}
# qemu_says IMAGE: QEMU's verdict, "error" when it refuses the image --
# qemu-img info fails, qemu-img check exits 1 (could not check) or 2
# (corruption), or a read-only open fails -- else "warning" (a leak, exit
# 3, is no refusal).  SECRET, when set, unlocks a LUKS image.
SECRET=
qemu_says() {
	qemu-img info -f qcow2 "$1" > /dev/null 2>&1 || { echo error; return; }
	if [ -n "$SECRET" ]; then
		set -- --object "secret,id=s0,data=$SECRET" --image-opts \
		  "driver=qcow2,file.filename=$1,encrypt.key-secret=s0"
	else
		set -- -f qcow2 "$1"
	fi
	qemu-img check "$@" > /dev/null 2>&1
	case $? in 1|2) echo error; return ;; esac
	qemu-io -r -c 'read 0 512' "$@" > /dev/null 2>&1 || { echo error; return; }
	echo warning
}
# expect CODE IMAGE SEVERITY OFFSET STATUS: CODE found with SEVERITY at
# OFFSET, -c exits STATUS, and QEMU's verdict on IMAGE is SEVERITY too
expect() {
	expect_eq "$1" "$(problem "$2" "$1")" "$3 $4 $5"
	expect_eq "$1: QEMU 7.2 agrees ($3)" "$(cached qemu_says "$2" "$SECRET")" "$3"
}
# fresh COPY: a copy of base.qcow2 to edit
fresh() { cp base.qcow2 "$1"; }
u64() { printf '%016x' "$1"; }
u32() { printf '%08x' "$1"; }
QEDIT="$PY $TOP_SRCDIR/tests/integration/qedit.py"

Q create -q -f qcow2 base.qcow2 8M
Q bitmap --add -f qcow2 base.qcow2 aa
Q bitmap --add -g 128k -f qcow2 base.qcow2 abcdefgh
IO -c 'w 0 1M' -f qcow2 base.qcow2
$ORACLE offsets base.qcow2 > base.offsets
at() { sed -n "s/^$1=//p" base.offsets; }
ext=$(at ext_bitmaps) dir=$(at dir) e0=$(at entry_0) e1=$(at entry_1)
t0=$(at table_0) t1=$(at table_1) d0=$(at data_0_0)
expect_eq "oracle: the bitmaps extension, 2 entries, a table and a data cluster" \
  "$([ -n "$ext" ] && [ -n "$dir" ] && [ -n "$t1" ] && [ -n "$d0" ] && echo found)" found
expect_eq "oracle: entry 1 follows entry 0 (\"aa\": 24 + 2 -> 32 bytes)" "$e1" $((dir + 32))
size=$(stat -c %s base.qcow2)

run_q out err -c base.qcow2
expect_eq "clean image: no problems, exit 0" "$status $(head -n1 out)" "0 base.qcow2: no problems found"
expect_eq "clean image: a data cluster to test with" "$([ "$d0" -gt 0 ] && echo yes)" yes

# header
fresh h.qcow2; poke h.qcow2 96 "$(u32 7)"
expect refcount-order-too-large h.qcow2 error 96 1
# header_length 108 with the extensions moved there: no multiple-of-8
# rule in QEMU
fresh h.qcow2; $QEDIT move-exts h.qcow2 108
expect header-length-unaligned h.qcow2 warning 100 0
fresh h.qcow2; poke h.qcow2 40 "$(u64 $((0x30200)))"
expect l1-table-unaligned h.qcow2 error 40 1
fresh h.qcow2; poke h.qcow2 36 "$(u32 0)"
expect l1-table-too-small h.qcow2 error 36 1
fresh h.qcow2; poke h.qcow2 36 "$(u32 $(((32 << 20) / 8 + 1)))"
expect l1-table-too-large h.qcow2 error 36 1
fresh h.qcow2; poke h.qcow2 40 "$(u64 $((1 << 40)))"
expect l1-table-beyond-eof h.qcow2 error 40 1
fresh h.qcow2; poke h.qcow2 48 "$(u64 $((0x10200)))"
expect refcount-table-unaligned h.qcow2 error 48 1
fresh h.qcow2; poke h.qcow2 56 "$(u32 0)"
expect refcount-table-empty h.qcow2 error 56 1
fresh h.qcow2; poke h.qcow2 56 "$(u32 129)"
expect refcount-table-too-large h.qcow2 error 56 1
fresh h.qcow2; poke h.qcow2 48 "$(u64 $((1 << 40)))"
expect refcount-table-beyond-eof h.qcow2 error 48 1
# the refcount table at offset 0, over the header
fresh h.qcow2; poke h.qcow2 48 "$(u64 0)"
expect overlap h.qcow2 error 0 1
# unaligned even with no snapshot: QEMU checks it all the same
fresh h.qcow2; poke h.qcow2 64 "$(u64 $((0x200)))"
expect snapshot-table-unaligned h.qcow2 error 64 1
fresh h.qcow2; poke h.qcow2 72 "$(u64 $((0x20)))"
expect unknown-incompatible-bits h.qcow2 error 72 1
fresh h.qcow2; poke h.qcow2 72 "$(u64 1)"
expect dirty h.qcow2 warning 72 0
fresh h.qcow2; poke h.qcow2 72 "$(u64 2)"
expect corrupt h.qcow2 warning 72 0
fresh h.qcow2; poke h.qcow2 72 "$(u64 8)"; poke h.qcow2 104 02
expect compression-type-unknown h.qcow2 error 104 1
fresh h.qcow2; poke h.qcow2 104 01
expect compression-type-without-bit h.qcow2 error 104 1
fresh h.qcow2; poke h.qcow2 72 "$(u64 8)"
expect compression-bit-without-type h.qcow2 error 72 1
fresh h.qcow2; poke h.qcow2 32 "$(u32 3)"
expect unknown-crypt-method h.qcow2 error 32 1
# extended L2 entries: 16 KiB clusters are the least QEMU takes
Q create -q -f qcow2 -o extended_l2=on,cluster_size=16k xl2.qcow2 8M
cp xl2.qcow2 h.qcow2
expect_eq "extended L2 at 16 KiB clusters: no problem" "$(problem h.qcow2 extended-l2-small-clusters)" " 0"
expect_eq "extended L2 at 16 KiB clusters: QEMU accepts it" "$(cached qemu_says h.qcow2 "$SECRET")" warning
poke h.qcow2 20 "$(u32 13)"
expect extended-l2-small-clusters h.qcow2 error 20 1

Q create -q -f qcow2 back.qcow2 8M
Q create -q -f qcow2 -b back.qcow2 -F qcow2 over.qcow2 8M
cp over.qcow2 h.qcow2; poke h.qcow2 8 "$(u64 65530)"
expect backing-name-outside-cluster h.qcow2 error 8 1
# a second backing format extension where the feature table was, then
# the end: QEMU takes the last one
ft=$(oracle_at over.qcow2 ext_feature_table)
cp over.qcow2 h.qcow2
poke h.qcow2 "$ft" "e2792aca$(u32 5)71636f77320000000000000000000000"
expect duplicate-extension h.qcow2 warning "$ft" 0
# a backing format QEMU cannot hold: 16 bytes or more
bf=$(oracle_at over.qcow2 ext_backing_format)
cp over.qcow2 h.qcow2; poke h.qcow2 $((bf + 4)) "$(u32 16)"
# (the longer length also throws the extension walk off: exit 2)
expect backing-format-too-long h.qcow2 error $((bf + 4)) 2

# extensions
fresh h.qcow2; poke h.qcow2 $((ext + 4)) "$(u32 32)"
expect bitmaps-extension-length h.qcow2 error $((ext + 4)) 1
fresh h.qcow2; poke h.qcow2 $((ext + 12)) "$(u32 1)"
expect bitmaps-reserved h.qcow2 error $((ext + 12)) 1
fresh h.qcow2; poke h.qcow2 $((ext + 8)) "$(u32 0)"
expect bitmaps-none h.qcow2 error $((ext + 8)) 2
# the directory copied to an unaligned place past the end of the file
fresh h.qcow2
dd if=base.qcow2 of=h.qcow2 bs=1 skip="$dir" seek=$((size + 512)) count=80 status=none
poke h.qcow2 $((ext + 24)) "$(u64 $((size + 512)))"
expect directory-unaligned h.qcow2 error $((ext + 24)) 1
fresh h.qcow2; poke h.qcow2 88 "$(u64 0)"
expect autoclear-bitmaps-clear h.qcow2 warning 88 0
# with the bit clear QEMU ignores the directory, damage in it included
poke h.qcow2 $((e0 + 16)) 07
expect autoclear-bitmaps-clear h.qcow2 warning 88 0
cp back.qcow2 h.qcow2; poke h.qcow2 88 "$(u64 1)"
expect autoclear-bitmaps-without-extension h.qcow2 warning 88 0
cp back.qcow2 h.qcow2; poke h.qcow2 32 "$(u32 2)"
expect luks-without-crypto-header h.qcow2 error 32 1
cp back.qcow2 h.qcow2; poke h.qcow2 88 "$(u64 2)"
expect raw-external-data-without-data-file h.qcow2 error 88 1
cp back.qcow2 h.qcow2; poke h.qcow2 72 "$(u64 4)"
expect data-file-bit-without-name h.qcow2 error 72 1

build_image luks
cx=$(oracle_at luks.qcow2 ext_crypto_header)
SECRET=test-passphrase
cp luks.qcow2 h.qcow2
expect_eq "luks: no problem" "$(problem h.qcow2 crypto-header-unaligned)" " 0"
expect_eq "luks: QEMU accepts it" "$(cached qemu_says h.qcow2 "$SECRET")" warning
poke h.qcow2 32 "$(u32 0)"
expect crypto-header-without-luks h.qcow2 error "$cx" 1
cp luks.qcow2 h.qcow2; poke h.qcow2 $((cx + 8)) "$(u64 $((0x40200)))"
expect crypto-header-unaligned h.qcow2 error $((cx + 8)) 1
cp luks.qcow2 h.qcow2; poke h.qcow2 $((cx + 8)) "$(u64 $((1 << 40)))"
expect crypto-header-beyond-eof h.qcow2 error $((cx + 8)) 1
cp luks.qcow2 h.qcow2; poke h.qcow2 $((cx + 16)) "$(u64 0)"
expect crypto-header-beyond-eof h.qcow2 error $((cx + 8)) 1
cp luks.qcow2 h.qcow2; poke h.qcow2 $((cx + 4)) "$(u32 8)"
expect crypto-header-length h.qcow2 error $((cx + 4)) 2
SECRET=
# (not raw: a raw data file's image maps every cluster, which the file
# itself would then be held to)
Q create -q -f qcow2 -o data_file=plain.raw plain.qcow2 8M
cp plain.qcow2 h.qcow2; poke h.qcow2 72 "$(u64 0)"
expect data-file-name-without-bit h.qcow2 warning 72 0

# directory entries
fresh h.qcow2; poke h.qcow2 "$e0" "$(u64 0)"
expect table-offset-zero h.qcow2 error "$e0" 1
fresh h.qcow2; poke h.qcow2 "$e0" "$(u64 $((t0 + 512)))"
expect table-unaligned h.qcow2 error "$e0" 1
# a table beyond the end of the file reads as zeroes, for QEMU too
fresh h.qcow2; poke h.qcow2 "$e0" "$(u64 $((0x100000000)))"
expect table-beyond-eof h.qcow2 error "$e0" 1
# the table moved to a new last cluster, the file cut inside it (the
# refcounts follow the move, as QEMU would have them)
new=$(( (size + 65535) / 65536 * 65536 ))
fresh h.qcow2
dd if=base.qcow2 of=h.qcow2 bs=1 skip="$t0" seek="$new" count=8 conv=notrunc status=none
poke h.qcow2 "$e0" "$(u64 "$new")"
truncate -s $((new + 4)) h.qcow2
$QEDIT refcount h.qcow2 "$t0" 0; $QEDIT refcount h.qcow2 "$new" 1
expect table-cut-short h.qcow2 warning "$e0" 0
# a table of two clusters that starts where the file ends: beyond the end
# by its whole size, not by its first entry
Q create -q -f qcow2 -o cluster_size=512 wide.qcow2 256M
Q bitmap --add -g 512 -f qcow2 wide.qcow2 w
we0=$(oracle_at wide.qcow2 entry_0)
wend=$(( ($(stat -c %s wide.qcow2) + 511) / 512 * 512 ))
expect_eq "wide: a table of two clusters" "$(qdump -b -f csv wide.qcow2 | cut -d, -f4 | tail -1)" 128
cp wide.qcow2 h.qcow2; poke h.qcow2 "$we0" "$(u64 "$wend")"
expect table-beyond-eof h.qcow2 error "$we0" 1
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 0)"
expect table-size-zero h.qcow2 error $((e0 + 8)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 $((0x8000001)))"
expect table-too-large h.qcow2 error $((e0 + 8)) 2
# QEMU's real bound: table_size x cluster_size within 512 MiB
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 8193)"
expect table-too-large h.qcow2 error $((e0 + 8)) 2
# a bitmap at 512-byte granularity needs a table entry per 256 MiB
Q create -q -f qcow2 small.qcow2 300M
Q bitmap --add -g 512 -f qcow2 small.qcow2 fine
se0=$(oracle_at small.qcow2 entry_0)
cp small.qcow2 h.qcow2; poke h.qcow2 $((se0 + 8)) "$(u32 1)"
expect table-too-small h.qcow2 error $((se0 + 8)) 1
# QEMU skips the size of a bitmap in use: it never loads one
poke h.qcow2 $((se0 + 12)) "$(u32 3)"
expect_eq "table-too-small: not for a bitmap in use" "$(problem h.qcow2 table-too-small)" " 0"
expect_eq "table-too-small: not for a bitmap in use: QEMU agrees" "$(cached qemu_says h.qcow2 "$SECRET")" warning
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 2)"
expect table-size-excess h.qcow2 error $((e0 + 8)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 12)) "$(u32 10)"
expect reserved-flags h.qcow2 error $((e0 + 12)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 12)) "$(u32 6)"
expect extra-data-compatible-flag h.qcow2 error $((e0 + 12)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 16)) 02
expect bitmap-type h.qcow2 error $((e0 + 16)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 17)) 40
expect granularity-out-of-range h.qcow2 error $((e0 + 17)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 17)) 08
expect granularity-beyond-qemu h.qcow2 error $((e0 + 17)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 17)) 20
expect granularity-beyond-qemu h.qcow2 error $((e0 + 17)) 1
# QEMU's bounds are 9 and 31, both taken
for g in 09 1f; do
	fresh h.qcow2; poke h.qcow2 $((e0 + 17)) "$g"
	expect_eq "granularity_bits 0x$g: no problem" "$(problem h.qcow2 granularity-beyond-qemu)" " 0"
	expect_eq "granularity_bits 0x$g: QEMU accepts it" "$(cached qemu_says h.qcow2 "$SECRET")" warning
done
# "abcdefgh" (24 + 8 bytes) as name "efgh" after 4 bytes of extra data
fresh h.qcow2; poke h.qcow2 $((e1 + 18)) "0004$(u32 4)"
expect extra-data-incompatible h.qcow2 error $((e1 + 20)) 1
poke h.qcow2 $((e1 + 12)) "$(u32 6)"
expect extra-data h.qcow2 error $((e1 + 20)) 1
run_q out err -b h.qcow2
check "extra data: the name after it" grep -q '^Bitmap name  *efgh$' out
# "aa" made nameless: QEMU loads it, but no NBD client can ask for it
fresh h.qcow2; $QEDIT dir h.qcow2 0:name=
expect name-empty h.qcow2 warning $((e0 + 18)) 0
fresh h.qcow2; poke h.qcow2 $((e0 + 26)) 01
expect nonzero-padding h.qcow2 warning $((e0 + 26)) 0
# "abcdefgh" -> "aa"; and names equal up to a NUL, as QEMU compares them
fresh h.qcow2; $QEDIT dir h.qcow2 1:name=6161
expect duplicate-name h.qcow2 error "$e1" 1
fresh h.qcow2; $QEDIT dir h.qcow2 1:name=6161007a
expect duplicate-name h.qcow2 error "$e1" 1
# ... with a name between them in byte length: "aa", "aab", "aa\0z"
Q create -q -f qcow2 nul.qcow2 1M
for n in aa aab aaxz; do Q bitmap --add -f qcow2 nul.qcow2 "$n"; done
cp nul.qcow2 h.qcow2; $QEDIT dir h.qcow2 2:name=6161007a
expect duplicate-name h.qcow2 error "$(oracle_at nul.qcow2 entry_2)" 1
# the later of the two in use: QEMU skips it
fresh h.qcow2; $QEDIT dir h.qcow2 1:name=6161 1:flags=3
expect duplicate-name-in-use h.qcow2 warning "$e1" 0

Q create -q -f qcow2 long.qcow2 1M
long=$(printf '%01023d' 0 | tr 0 n)
Q bitmap --add -f qcow2 long.qcow2 "$long"
ldir=$(oracle_at long.qcow2 dir)
poke long.qcow2 $((ldir + 18)) 0400   # 1024: the padded entry is as long
expect name-too-long long.qcow2 error $((ldir + 18)) 1

build_image inuse
expect bitmap-in-use inuse.qcow2 warning $(($(oracle_at inuse.qcow2 entry_0) + 12)) 0

# table entries
fresh h.qcow2; poke h.qcow2 "$t0" "$(u64 $((d0 | 2)))"
expect table-entry-reserved h.qcow2 error "$t0" 1
fresh h.qcow2; poke h.qcow2 "$t0" "$(u64 $((d0 + 512)))"
expect table-entry-unaligned h.qcow2 error "$t0" 1
fresh h.qcow2; poke h.qcow2 "$t0" "$(u64 $((0x100000000)))"
expect table-entry-beyond-eof h.qcow2 error "$t0" 1
# the first cluster past the end of the file is beyond it
fresh h.qcow2; poke h.qcow2 "$t0" "$(u64 "$new")"
expect table-entry-beyond-eof h.qcow2 error "$t0" 1
fresh h.qcow2; poke h.qcow2 "$t0" "$(u64 $((d0 | 1)))"
expect table-entry-invalid h.qcow2 error "$t0" 1
# the same on a bitmap in use: QEMU opens the image, qemu-img check fails
poke h.qcow2 $((e0 + 12)) "$(u32 3)"
expect table-entry-invalid h.qcow2 error "$t0" 1
# a data cluster moved to a new last cluster cut short by the end of the
# file: QEMU reads zeroes for the rest
fresh h.qcow2
dd if=base.qcow2 of=h.qcow2 bs=1 skip="$d0" seek="$new" count=4 conv=notrunc status=none
poke h.qcow2 "$t0" "$(u64 "$new")"
truncate -s $((new + 4)) h.qcow2
$QEDIT refcount h.qcow2 "$d0" 0; $QEDIT refcount h.qcow2 "$new" 1
expect data-cluster-cut-short h.qcow2 warning "$t0" 0
# 1000 entries past the first, over the same data cluster: 100 listed,
# one more problem for the rest
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 1000)"
i=0; entries=; while [ $i -lt 1000 ]; do entries="$entries$(u64 $((d0 | 2)))"; i=$((i + 1)); done
poke h.qcow2 "$t0" "$entries"
qdump -f csv -c h.qcow2 > p.csv 2>/dev/null
expect_eq "1000 bad entries: 100 listed, and one saying how many more" \
  "$(grep -c ',table-entry-reserved,' p.csv) $(grep -c '900 more of these not listed' p.csv)" "101 1"

# refcounts of the bitmaps' own clusters, as qemu-img check counts them
for what in t0 d0 dir; do
	eval "off=\$$what"
	fresh h.qcow2; $QEDIT refcount h.qcow2 "$off" 0
	expect refcount-zero h.qcow2 error "$off" 1
	fresh h.qcow2; $QEDIT refcount h.qcow2 "$off" 2
	expect refcount-excess h.qcow2 warning "$off" 0
done
# the refcount table pointing at an unaligned refcount block
fresh h.qcow2
rt=$(od -An -tx1 -j48 -N8 base.qcow2 | tr -d ' \n')
poke h.qcow2 $((0x$rt)) "$(u64 $(($(od -An -tu8 --endian=big -j$((0x$rt)) -N8 base.qcow2) + 512)))"
# (reported first for the lowest cluster of the bitmaps' metadata)
low=$(printf '%s\n' "$t0" "$t1" "$d0" "$(at data_1_0)" "$dir" | sort -n | head -1)
expect refcount-unreadable h.qcow2 error "$low" 1

# overlaps: the second bitmap's table where the first's is
# (their data clusters then overlap too, and come first in the file)
fresh h.qcow2; poke h.qcow2 "$e1" "$(u64 "$t0")"
expect overlap h.qcow2 error "$d0" 1
run_q out err -c h.qcow2
check "overlap: says which structures" grep -q \
  "bitmap table of bitmap 0 (aa) at 0x$(printf %x "$t0") and bitmap table of bitmap 1 (abcdefgh)" out
# the directory over the header cluster
fresh h.qcow2; dd if=base.qcow2 of=h.qcow2 bs=1 skip="$dir" seek=4096 count=80 conv=notrunc status=none
poke h.qcow2 $((ext + 24)) "$(u64 4096)"
expect overlap h.qcow2 error 4096 1

# what stops decoding is a problem too, with its code, in -c's output
head -c 50 base.qcow2 > h.qcow2
expect truncated h.qcow2 error 0 2
printf 'plain text, not an image at all; long enough for a header....................' > h.qcow2
expect bad-magic h.qcow2 error 0 2
fresh h.qcow2; poke h.qcow2 4 "$(u32 4)"
expect unsupported-version h.qcow2 error 4 2
fresh h.qcow2; poke h.qcow2 20 "$(u32 22)"
expect bad-cluster-bits h.qcow2 error 20 2
fresh h.qcow2; poke h.qcow2 100 "$(u32 96)"
expect bad-header-length h.qcow2 error 100 2
cp over.qcow2 h.qcow2; poke h.qcow2 16 "$(u32 1024)"
expect backing-name-too-long h.qcow2 error 16 2
fresh h.qcow2; poke h.qcow2 $((ext + 4)) "$(u32 65536)"
expect extension-overrun h.qcow2 error "$ext" 2
# an end marker whose length runs past the area stops QEMU too
endm=$((ext + 8 + 24))
fresh h.qcow2; poke h.qcow2 $((endm + 4)) "$(u32 65536)"
expect extension-overrun h.qcow2 error "$endm" 2
fresh h.qcow2; poke h.qcow2 $((ext + 4)) "$(u32 16)"
expect bitmaps-extension-too-short h.qcow2 error $((ext + 4)) 2
fresh h.qcow2; poke h.qcow2 $((ext + 8)) "$(u32 65536)"
expect too-many-bitmaps h.qcow2 error $((ext + 8)) 2
fresh h.qcow2; poke h.qcow2 $((ext + 16)) "$(u64 $((67107840 + 8)))"
expect directory-too-large h.qcow2 error $((ext + 16)) 2
fresh h.qcow2; poke h.qcow2 $((e1 + 18)) 0100
expect directory-entry-overrun h.qcow2 error "$e1" 2
fresh h.qcow2; poke h.qcow2 $((ext + 8)) "$(u32 3)"
expect directory-too-few-entries h.qcow2 error $((dir + 64)) 2
fresh h.qcow2; poke h.qcow2 $((ext + 8)) "$(u32 1)"
expect directory-trailing-bytes h.qcow2 error $((dir + 32)) 2
fresh h.qcow2; poke h.qcow2 $((e1 + 8)) "$(u32 $((0x8000001)))"
expect bitmap-table-too-large h.qcow2 error $((e1 + 8)) 2
# 40 tables of 1 Mi entries (QEMU's 512 MiB limit at 512-byte clusters),
# all over the same 8 MiB of a 16 MiB file: more than the file holds
Q create -q -f qcow2 -o cluster_size=512 budget.qcow2 1M
$PY "$TOP_SRCDIR/tests/integration/mkbitmaps.py" budget.qcow2 40
bdir=$(oracle_at budget.qcow2 dir)
truncate -s $((16 << 20)) budget.qcow2
i=0; while [ $i -lt 40 ]; do
	poke budget.qcow2 $((bdir + 40 * i)) "$(u64 $((8 << 20)))$(u32 $((1 << 20)))"
	i=$((i + 1))
done
expect bitmap-tables-over-budget budget.qcow2 error $((8 << 20)) 2
# two bitmaps extensions: QEMU uses the last one
Q create -q -f qcow2 two.qcow2 8M
Q bitmap --add -f qcow2 two.qcow2 first
cp two.qcow2 h.qcow2
f1dir=$(oracle_at two.qcow2 dir)
$QEDIT add-bitmaps-ext h.qcow2 1 32 "$f1dir"
$QEDIT dir h.qcow2 0:name=7365636f6e64
expect duplicate-extension h.qcow2 warning "$(($(oracle_at two.qcow2 ext_bitmaps) + 32))" 0
run_q out err -f json -b h.qcow2
expect_eq "two bitmaps extensions: the last one's directory" "$(jq -c '[.bitmaps[].name]' out)" '["second"]'
expect_eq "two bitmaps extensions: QEMU lists the same bitmap" \
  "$(qemu-img info -f qcow2 --output=json h.qcow2 | jq -c '[."format-specific".data.bitmaps[].name]')" '["second"]'
# with the first one damaged, QEMU refuses the image all the same
poke h.qcow2 $(($(oracle_at two.qcow2 ext_bitmaps) + 12)) "$(u32 1)"
expect bitmaps-reserved h.qcow2 error $(($(oracle_at two.qcow2 ext_bitmaps) + 12)) 1

# -x: what keeps a bitmap's data from being read
xproblem() { # IMAGE: "code offset" of the first -x problem that stopped a scan
	qdump -x -f json "$1" 2>/dev/null |
	  jq -r '[.problems[] | select(.code != "bitmap-not-usable")][0] | "\(.code) \(.offset)"'
}
fresh h.qcow2; poke h.qcow2 $((e0 + 17)) 40
expect_eq "-x: granularity beyond 63" "$(xproblem h.qcow2)" "bitmap-granularity-unreadable $((e0 + 17))"
run_q out err -x h.qcow2
expect_eq "-x: granularity beyond 63: exit 2" "$status" 2
fresh h.qcow2; poke h.qcow2 24 "$(u64 $((1 << 40)))"
expect_eq "-x: table too short for the disk" "$(xproblem h.qcow2)" "bitmap-table-short $((e0 + 8))"
fresh h.qcow2; poke h.qcow2 "$t0" "$(u64 $((d0 | 1)))"
expect_eq "-x: table entry with offset and all-ones bit" "$(xproblem h.qcow2)" "bitmap-table-entry-unreadable $t0"

# every code --check can report is documented in the man page
MANWIDTH=200 man -l "$TOP_SRCDIR/man/qcow2dump.1" 2>/dev/null > man.txt
codes=0
for code in $(qdump --list-checks | cut -f1); do
	check "man page explains $code" grep -Eq -- "^ *$code( |$)" man.txt
	codes=$((codes + 1))
done
expect_some "--list-checks lists codes, each checked" "$codes"
finish
