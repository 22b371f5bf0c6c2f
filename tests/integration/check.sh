#!/bin/sh
# --check, rule by rule: an image made by qemu-img, edited at the byte
# level, and the code, severity, offset and exit status asserted.
. "$TOP_SRCDIR/tests/integration/lib.sh"

# Every offset poked below comes from the independent oracle
# (tests/oracle/q2oracle.py offsets), never from qcow2dump's own output.

# problem IMAGE CODE: "severity offset status" of the first such problem
problem() {
	qdump -f csv -c "$1" > p.csv 2>/dev/null
	st=$?
	echo "$(awk -F, -v c="$2" '$3 == c {print $2, $4; exit}' p.csv) $st"
}
# expect CODE IMAGE SEVERITY OFFSET STATUS
expect() { expect_eq "$1" "$(problem "$2" "$1")" "$3 $4 $5"; }
# fresh COPY: a copy of base.qcow2 to edit
fresh() { cp base.qcow2 "$1"; }
u64() { printf '%016x' "$1"; }
u32() { printf '%08x' "$1"; }

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
expect_eq "clean image: no problems, exit 0" "$status $(cat out)" "0 base.qcow2: no problems found"
expect_eq "clean image: a data cluster to test with" "$([ "$d0" -gt 0 ] && echo yes)" yes

# header
fresh h.qcow2; poke h.qcow2 96 "$(u32 7)"
expect refcount-order-too-large h.qcow2 error 96 1
fresh h.qcow2; poke h.qcow2 100 "$(u32 108)"
expect header-length-unaligned h.qcow2 error 100 1
fresh h.qcow2; poke h.qcow2 40 "$(u64 $((0x30200)))"
expect l1-table-unaligned h.qcow2 error 40 1
fresh h.qcow2; poke h.qcow2 48 "$(u64 $((0x10200)))"
expect refcount-table-unaligned h.qcow2 error 48 1
fresh h.qcow2; poke h.qcow2 60 "$(u32 1)$(u64 $((0x200)))"
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

Q create -q -f qcow2 back.qcow2 8M
Q create -q -f qcow2 -b back.qcow2 -F qcow2 over.qcow2 8M
cp over.qcow2 h.qcow2; poke h.qcow2 8 "$(u64 65530)"
expect backing-name-outside-cluster h.qcow2 error 8 1
# the Feature table's magic turned into a second Backing format
ft=$(oracle_at over.qcow2 ext_feature_table)
cp over.qcow2 h.qcow2; poke h.qcow2 "$ft" e2792aca
expect duplicate-extension h.qcow2 error "$ft" 1

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
cp back.qcow2 h.qcow2; poke h.qcow2 88 "$(u64 1)"
expect autoclear-bitmaps-without-extension h.qcow2 error 88 1
cp back.qcow2 h.qcow2; poke h.qcow2 32 "$(u32 2)"
expect luks-without-crypto-header h.qcow2 error 32 1
cp back.qcow2 h.qcow2; poke h.qcow2 88 "$(u64 2)"
expect raw-external-data-without-data-file h.qcow2 error 88 1

build_image luks
cx=$(oracle_at luks.qcow2 ext_crypto_header)
cp luks.qcow2 h.qcow2; poke h.qcow2 32 "$(u32 0)"
expect crypto-header-without-luks h.qcow2 error "$cx" 1
cp luks.qcow2 h.qcow2; poke h.qcow2 $((cx + 8)) "$(u64 $((0x40200)))"
expect crypto-header-unaligned h.qcow2 error $((cx + 8)) 1
build_image datafile
cp datafile.qcow2 h.qcow2; poke h.qcow2 72 "$(u64 0)"; poke h.qcow2 88 "$(u64 0)"
expect data-file-name-without-bit h.qcow2 warning 72 0

# directory entries
fresh h.qcow2; poke h.qcow2 "$e0" "$(u64 0)"
expect table-offset-zero h.qcow2 error "$e0" 1
fresh h.qcow2; poke h.qcow2 "$e0" "$(u64 $((t0 + 512)))"
expect table-unaligned h.qcow2 error "$e0" 1
fresh h.qcow2; poke h.qcow2 "$e0" "$(u64 $((0x100000000)))"
expect table-beyond-eof h.qcow2 error "$e0" 2
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 0)"
expect table-size-zero h.qcow2 error $((e0 + 8)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 $((0x8000001)))"
expect table-too-large h.qcow2 error $((e0 + 8)) 2
fresh h.qcow2; poke h.qcow2 24 "$(u64 $((1 << 40)))"
expect table-too-small h.qcow2 error $((e0 + 8)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 8)) "$(u32 2)"
expect table-size-excess h.qcow2 warning $((e0 + 8)) 0
fresh h.qcow2; poke h.qcow2 $((e0 + 12)) "$(u32 10)"
expect reserved-flags h.qcow2 error $((e0 + 12)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 12)) "$(u32 6)"
expect extra-data-compatible-flag h.qcow2 warning $((e0 + 12)) 0
fresh h.qcow2; poke h.qcow2 $((e0 + 16)) 02
expect bitmap-type h.qcow2 error $((e0 + 16)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 17)) 40
expect granularity-out-of-range h.qcow2 error $((e0 + 17)) 1
fresh h.qcow2; poke h.qcow2 $((e0 + 17)) 08
expect granularity-beyond-qemu h.qcow2 error $((e0 + 17)) 1
# "abcdefgh" (24 + 8 bytes) as name "efgh" after 4 bytes of extra data
fresh h.qcow2; poke h.qcow2 $((e1 + 18)) "0004$(u32 4)"
expect extra-data-incompatible h.qcow2 warning $((e1 + 20)) 0
poke h.qcow2 $((e1 + 12)) "$(u32 6)"
expect extra-data h.qcow2 warning $((e1 + 20)) 0
run_q out err -b h.qcow2
check "extra data: the name after it" grep -q '^Bitmap name  *efgh$' out
# name "aa" -> size 0: an entry of 24 bytes, the old name bytes left over
fresh h.qcow2; poke h.qcow2 $((e0 + 18)) 0000
expect name-empty h.qcow2 error $((e0 + 18)) 2
fresh h.qcow2; poke h.qcow2 $((e0 + 26)) 01
expect nonzero-padding h.qcow2 error $((e0 + 26)) 1
# "abcdefgh" -> "aa" + padding the entry already has
fresh h.qcow2; poke h.qcow2 $((e1 + 18)) 0002; poke h.qcow2 $((e1 + 24)) 6161000000000000
expect duplicate-name h.qcow2 error "$e1" 1

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
fresh h.qcow2; poke h.qcow2 "$t0" "$(u64 $((d0 | 1)))"
expect table-entry-invalid h.qcow2 error "$t0" 1

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
# all over the same 8 MiB: past the 256 MiB this tool loads
Q create -q -f qcow2 -o cluster_size=512 budget.qcow2 1M
$PY "$TOP_SRCDIR/tests/integration/mkbitmaps.py" budget.qcow2 40
bdir=$(oracle_at budget.qcow2 dir)
truncate -s $((16 << 20)) budget.qcow2
i=0; while [ $i -lt 40 ]; do
	poke budget.qcow2 $((bdir + 40 * i)) "$(u64 $((8 << 20)))$(u32 $((1 << 20)))"
	i=$((i + 1))
done
expect bitmap-tables-over-budget budget.qcow2 error $((8 << 20)) 2

# -x: what keeps a bitmap's data from being read
xproblem() { # IMAGE: "code offset" of the first -x problem
	qdump -x -f json "$1" 2>/dev/null | jq -r '.problems[0] | "\(.code) \(.offset)"'
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
