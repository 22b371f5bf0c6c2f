# Shared by the integration tests: a scratch directory, assertions that
# count, and the images every test builds with the real qemu-img/qemu-io.
# Sourced with QCOW2DUMP and TOP_SRCDIR set (make check sets them).
set -u
: "${QCOW2DUMP:?set QCOW2DUMP to the qcow2dump binary}"
: "${TOP_SRCDIR:?set TOP_SRCDIR to the source tree}"
# the binary itself, where QCOW2DUMP may be a wrapper (valgrind)
: "${QCOW2DUMP_BIN:=$QCOW2DUMP}"
BINDIR=$(dirname "$QCOW2DUMP_BIN")
# sweeps over every byte take every SWEEP_STEP-th one (valgrind is slow)
SWEEP_STEP=${SWEEP_STEP:-1}
GOLDEN=$TOP_SRCDIR/tests/golden
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qcow2dump-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
n_pass=0
n_fail=0

pass() { n_pass=$((n_pass + 1)); echo "ok - $1"; }
fail() { n_fail=$((n_fail + 1)); echo "not ok - $1"; }

# check DESC CMD...: the command succeeds
check() { desc=$1; shift; if "$@"; then pass "$desc"; else fail "$desc"; fi; }

# expect_eq DESC GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1"; printf '  got:  %s\n  want: %s\n' "$2" "$3"; fi
}

# expect_file DESC FILE GOLDEN: byte-identical, with a diff when not.
# REGEN_GOLDEN=1 rewrites golden files under tests/golden first (review
# the git diff before committing them).
expect_file() {
	case ${REGEN_GOLDEN:-}:$3 in
	1:"$GOLDEN"/*) cp "$2" "$3" ;;
	esac
	if cmp -s "$2" "$3"; then pass "$1"; else
		fail "$1"; diff -u "$3" "$2" | head -40; fi
}

# run_q OUT ERR ARGS...: runs qcow2dump, records its status in $status
run_q() {
	out=$1; err=$2; shift 2
	"$QCOW2DUMP" "$@" >"$out" 2>"$err"
	status=$?
}

finish() {
	echo "# $n_pass passed, $n_fail failed"
	[ "$n_fail" -eq 0 ]
	exit $?
}

# poke FILE OFFSET HEXBYTES: overwrite bytes in place
poke() {
	bytes=$3 esc=
	while [ -n "$bytes" ]; do
		rest=${bytes#??}; esc="$esc\\$(printf '%03o' "0x${bytes%"$rest"}")"
		bytes=$rest
	done
	printf "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

PY=/usr/bin/python3   # Debian's, with python3-jsonschema
FORMATS="$PY $TOP_SRCDIR/tests/integration/formats.py"
SCHEMA=$TOP_SRCDIR/doc/qcow2dump.schema.json

Q() { qemu-img "$@"; }
IO() { qemu-io "$@" >/dev/null; }

# The images of the integration tests, by name.  Each is built the same
# way every time, so its metadata layout is fixed for a given QEMU.
build_image() {
	case $1 in
	backing)
		Q create -q -f qcow2 backing-base.qcow2 16M
		Q create -q -f qcow2 -b backing-base.qcow2 -F qcow2 backing.qcow2 16M
		IO -c 'w 1M 64k' -f qcow2 backing.qcow2 ;;
	compat010)
		Q create -q -f qcow2 -o compat=0.10 compat010.qcow2 64M
		IO -c 'w 0 128k' -f qcow2 compat010.qcow2 ;;
	luks)
		Q create -q -f qcow2 --object secret,id=sec0,data=test-passphrase \
		  -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 \
		  luks.qcow2 16M ;;
	datafile)
		Q create -q -f qcow2 -o data_file=datafile.raw,data_file_raw=on \
		  datafile.qcow2 8M ;;
	zstd)
		Q create -q -f qcow2 \
		  -o compression_type=zstd,extended_l2=on,lazy_refcounts=on \
		  zstd.qcow2 32M
		Q bitmap --add -f qcow2 zstd.qcow2 tracked ;;
	c512)
		Q create -q -f qcow2 -o cluster_size=512 c512.qcow2 4M
		Q bitmap --add -g 4k -f qcow2 c512.qcow2 small
		IO -c 'w 8k 4k' -c 'w 1M 1k' -f qcow2 c512.qcow2 ;;
	c2m)
		Q create -q -f qcow2 -o cluster_size=2M c2m.qcow2 64M
		Q bitmap --add -g 1M -f qcow2 c2m.qcow2 huge
		IO -c 'w 3M 1M' -f qcow2 c2m.qcow2 ;;
	snapshots)
		Q create -q -f qcow2 snapshots.qcow2 16M
		IO -c 'w 0 64k' -f qcow2 snapshots.qcow2
		Q snapshot -c first snapshots.qcow2
		IO -c 'w 64k 64k' -f qcow2 snapshots.qcow2
		Q snapshot -c second snapshots.qcow2 ;;
	inuse)
		# in_use is set while a writer has the bitmap loaded; a
		# writer that never closes leaves it so.  qemu-io killed
		# mid-session is such a writer.
		Q create -q -f qcow2 inuse.qcow2 16M
		Q bitmap --add -f qcow2 inuse.qcow2 live
		Q bitmap --add --disable -f qcow2 inuse.qcow2 frozen
		qemu-io -f qcow2 inuse.qcow2 -c 'w 0 64k' -c 'sleep 10000' \
		  >/dev/null 2>&1 &
		io_pid=$!
		# wait until the writer has marked the bitmap in use on disk
		for _ in $(seq 200); do
			if "$QCOW2DUMP" -e inuse.qcow2 2>/dev/null |
			   grep -q "'in-use'"; then break; fi
			sleep 0.05
		done
		sleep 0.2
		kill -9 "$io_pid"; wait "$io_pid" 2>/dev/null || true ;;
	291)	# QEMU's iotest 291: t.qcow2.base, t.qcow2.orig and t.qcow2
		Q create -q -f qcow2 t.qcow2.base 10M
		Q bitmap --add -f qcow2 t.qcow2.base b0
		IO -c 'w 3M 1M' -f qcow2 t.qcow2.base
		Q create -q -f qcow2 -b t.qcow2.base -F qcow2 t.qcow2.orig 10M
		IO -c 'w 0 1M' -f qcow2 t.qcow2.orig
		Q bitmap --add -g 512k -f qcow2 t.qcow2.orig b1
		Q bitmap --add --disable -f qcow2 t.qcow2.orig b2
		IO -c 'w 3M 1M' -f qcow2 t.qcow2.orig
		Q bitmap --clear -f qcow2 t.qcow2.orig b1
		IO -c 'w 1M 1M' -f qcow2 t.qcow2.orig
		Q bitmap --disable -f qcow2 t.qcow2.orig b1
		Q bitmap --enable -f qcow2 t.qcow2.orig b2
		IO -c 'w 2M 1M' -f qcow2 t.qcow2.orig
		Q convert --bitmaps -O qcow2 t.qcow2.orig t.qcow2
		Q bitmap --add --disable -f qcow2 t.qcow2 b0
		Q bitmap --add --merge b0 -b t.qcow2.base -F qcow2 -f qcow2 t.qcow2 tmp
		Q bitmap --merge tmp -f qcow2 t.qcow2 b0
		Q bitmap --remove --image-opts \
		  driver=qcow2,file.driver=file,file.filename=t.qcow2 tmp ;;
	*) echo "unknown image $1" >&2; return 1 ;;
	esac
}

IMAGES="backing compat010 luks datafile zstd c512 c2m snapshots inuse"

# Bitmap names that exercise every quoting and escaping rule, made by
# qemu-img; then one name made invalid UTF-8 by editing its bytes.
TRICKY_NAMES='comma,name
quote"name
=SUM(A1)
café ☃
 lead space
@at
back\slash
tab	name
plain'
build_tricky() {
	Q create -q -f qcow2 tricky.qcow2 1M
	printf '%s\n' "$TRICKY_NAMES" | while IFS= read -r n; do
		Q bitmap --add -f qcow2 tricky.qcow2 "$n"
	done
	Q bitmap --add -f qcow2 tricky.qcow2 "$(printf 'new\nline')"
	Q bitmap --add -f qcow2 tricky.qcow2 "bad-utf8"
	# "bad-utf8" -> "bad\xff\xfetf8": not UTF-8 any more
	off=$(LC_ALL=C grep -obUa 'bad-utf8' tricky.qcow2 | tail -1 | cut -d: -f1)
	poke tricky.qcow2 $((off + 3)) fffe
}
