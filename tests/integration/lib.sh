# Shared by the integration tests: a scratch directory, assertions that
# count, qcow2dump run so that a memory error can never pass unseen, and
# the images every test builds with the real qemu-img/qemu-io.
# Sourced with QCOW2DUMP and TOP_SRCDIR set (make check sets them).
#
# Golden files (tests/golden/*.txt, tests/integration/291-*.expected) are
# regression guards.  They are regenerated only by
#     cd build && REGEN_GOLDEN=1 make check \
#       TESTS='tests/integration/images.sh tests/integration/case291.sh'
# and expect_golden then writes a golden file only when the independent
# oracle (tests/oracle/q2oracle.py) predicts the new output byte for
# byte; otherwise the golden file is left alone and the test fails.
# Review the git diff before committing regenerated files.
set -u
: "${QCOW2DUMP:?set QCOW2DUMP to the qcow2dump binary}"
: "${TOP_SRCDIR:?set TOP_SRCDIR to the source tree}"
# the binary itself, where QCOW2DUMP may be a wrapper (valgrind)
: "${QCOW2DUMP_BIN:=$QCOW2DUMP}"
BINDIR=$(dirname "$QCOW2DUMP_BIN")
# sweeps over every byte take every SWEEP_STEP-th one (valgrind is slow)
SWEEP_STEP=${SWEEP_STEP:-1}
GOLDEN=$TOP_SRCDIR/tests/golden
# A sanitizer's report must end in a status no test accepts: 99, as the
# valgrind wrapper's (ASan and UBSan exit 1 by default, which is also
# "-c found an error").  Options given in the environment come after
# these defaults, so they win.
ASAN_OPTIONS="exitcode=99${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="halt_on_error=1:exitcode=99${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qcow2dump-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
# Assertions are tallied in files, so that those made in a subshell (a
# pipeline, a command substitution) count as well.
: > "$WORK/.passed"
: > "$WORK/.failed"
: > "$WORK/.bad-runs"

# cached NAME IMAGE [KEY]: the output of the shell function NAME on
# IMAGE (QEMU's verdict on it, say), remembered in QEMU_VERDICT_CACHE
# (when set) under the image's SHA-256, NAME and KEY: the same bytes get
# the same verdict from the same QEMU, so the suite's later runs (under
# the sanitizers, under valgrind) ask QEMU only about images they alone
# make.  Without the variable, NAME is always run.
cached() {
	if [ -z "${QEMU_VERDICT_CACHE:-}" ]; then
		"$1" "$2"
		return
	fi
	_key=$(sha256sum < "$2" | cut -c1-64)-$1-$(printf '%s' "${3:-}" | sha256sum | cut -c1-16)
	if [ ! -f "$QEMU_VERDICT_CACHE/$_key" ]; then
		mkdir -p "$QEMU_VERDICT_CACHE"
		"$1" "$2" > "$QEMU_VERDICT_CACHE/$_key.$$" &&
		  mv "$QEMU_VERDICT_CACHE/$_key.$$" "$QEMU_VERDICT_CACHE/$_key"
	fi
	cat "$QEMU_VERDICT_CACHE/$_key"
}

pass() { echo "ok - $1"; echo x >> "$WORK/.passed"; }
fail() { echo "not ok - $1"; echo x >> "$WORK/.failed"; }

# check DESC CMD...: the command succeeds
check() { desc=$1; shift; if "$@"; then pass "$desc"; else fail "$desc"; fi; }

# expect_eq DESC GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1"; printf '  got:  %s\n  want: %s\n' "$2" "$3"; fi
}

# expect_some DESC COUNT: a loop checked at least one thing
expect_some() {
	if [ "$2" -gt 0 ]; then pass "$1 ($2)"; else fail "$1 (none)"; fi
}

# expect_file DESC FILE WANT: byte-identical, with a diff when not.
expect_file() {
	if cmp -s "$2" "$3"; then pass "$1"; else
		fail "$1"; diff -u "$3" "$2" | head -40; fi
}

ORACLE="/usr/bin/python3 $TOP_SRCDIR/tests/oracle/q2oracle.py"
# oracle_at IMAGE NAME: an offset as the oracle decodes it, NAME one of
# those "q2oracle.py offsets" prints (ext_bitmaps, dir, entry_0, ...)
oracle_at() { $ORACLE offsets "$1" | sed -n "s/^$2=//p"; }

# expect_golden DESC FILE GOLDEN QCOW2DUMP-ARGS...: FILE (qcow2dump's text
# for ARGS) equals the golden file.  With REGEN_GOLDEN=1 the golden file
# is first rewritten from FILE, but only if the oracle's text for ARGS is
# FILE byte for byte and no assertion of the script failed so far (an
# image that did not build as it should would agree with the oracle too).
expect_golden() {
	desc=$1 got=$2 golden=$3; shift 3
	if [ "${REGEN_GOLDEN:-}" = 1 ]; then
		if [ ! -s "$WORK/.failed" ] &&
		   $ORACLE show "$@" > "$WORK/.oracle-golden" &&
		   cmp -s "$got" "$WORK/.oracle-golden"; then
			cp "$got" "$golden"
		else
			fail "$desc: REGEN_GOLDEN: the oracle disagrees or a test failed, $golden kept"
			diff -u "$WORK/.oracle-golden" "$got" | head -40
		fi
	fi
	expect_file "$desc" "$got" "$golden"
}

# qdump ARGS...: runs qcow2dump.  Every test runs it through this (or
# checks a status itself with qdump_status), so that a status qcow2dump
# never gives by itself (0, 1, 2, 64) -- 99 from valgrind or a sanitizer,
# 128 + N from a signal, 126/127 from a missing binary -- fails the
# script at finish, whatever the assertion around the call expected.
qdump() {
	"$QCOW2DUMP" "$@"
	qdump_status $? "$@"
}
# qdump_status STATUS ARGS...: records STATUS of a run of qcow2dump ARGS
# made some other way (under strace, time or setpriv); returns STATUS
qdump_status() {
	qd_st=$1; shift
	case $qd_st in
	0|1|2|64) ;;
	*) printf 'status %s: qcow2dump %s\n' "$qd_st" "$*" >> "$WORK/.bad-runs" ;;
	esac
	return "$qd_st"
}

# run_q OUT ERR ARGS...: runs qcow2dump, records its status in $status
run_q() {
	out=$1; err=$2; shift 2
	qdump "$@" >"$out" 2>"$err"
	status=$?
}

# relay FILE: a helper's TAP-like lines ("ok - ...", "not ok - ...") as
# this test's own assertions, anything else printed as it is
relay() {
	while IFS= read -r l; do
		case $l in
		"ok - "*) pass "${l#ok - }" ;;
		"not ok - "*) fail "${l#not ok - }" ;;
		*) printf '%s\n' "$l" ;;
		esac
	done < "$1"
}
finish() {
	bad=$(wc -l < "$WORK/.bad-runs")
	if [ "$bad" -eq 0 ]; then
		pass "no qcow2dump run ended in a memory error, sanitizer report or crash"
	else
		fail "$bad qcow2dump runs ended in a memory error, sanitizer report or crash"
		head -20 "$WORK/.bad-runs"
	fi
	n_pass=$(wc -l < "$WORK/.passed")
	n_fail=$(wc -l < "$WORK/.failed")
	echo "# $n_pass passed, $n_fail failed"
	[ "$n_fail" -eq 0 ]
	exit $?
}

# poke FILE OFFSET HEXBYTES: overwrite bytes in place
poke() {
	case $3 in
	*[!0-9a-fA-F]*|"") fail "poke $1 $2: '$3' is not hex bytes"; return 1 ;;
	esac
	[ $((${#3} % 2)) -eq 0 ] || { fail "poke $1 $2: odd number of hex digits"; return 1; }
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

# qemu-img and qemu-io: a failure is a failed assertion, never ignored
Q() {
	qemu-img "$@"; q_st=$?
	[ "$q_st" -eq 0 ] || fail "qemu-img $*: exit status $q_st"
	return "$q_st"
}
IO() {
	qemu-io "$@" >/dev/null; q_st=$?
	[ "$q_st" -eq 0 ] || fail "qemu-io $*: exit status $q_st"
	return "$q_st"
}

# The images of the integration tests, by name.  Each is built the same
# way every time, so its metadata layout is fixed for a given QEMU.
# A step that fails is a failed assertion (Q and IO), and build_image
# then returns 1 too.
build_image() {
	failed_before=$(wc -l < "$WORK/.failed")
	build_image_steps "$1"
	[ "$(wc -l < "$WORK/.failed")" -eq "$failed_before" ] || {
		echo "# build_image $1: a step failed"; return 1; }
}
build_image_steps() {
	case $1 in
	backing)
		Q create -q -f qcow2 backing-base.qcow2 16M
		Q create -q -f qcow2 -b backing-base.qcow2 -F qcow2 backing.qcow2 16M
		IO -c 'w 1M 64k' -f qcow2 backing.qcow2 ;;
	compat010)
		Q create -q -f qcow2 -o compat=0.10 compat010.qcow2 64M
		IO -c 'w 0 128k' -f qcow2 compat010.qcow2 ;;
	luks)
		# QEMU times its PBKDF2 to pick an iteration count, and on a
		# loaded machine may fail with "Unable to get accurate CPU
		# usage": three tries before that is a failure
		for try in 1 2 3; do
			qemu-img create -q -f qcow2 \
			  --object secret,id=sec0,data=test-passphrase \
			  -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 \
			  luks.qcow2 16M 2> luks.err && break
			[ "$try" = 3 ] && fail "qemu-img create luks.qcow2: $(cat luks.err)"
		done ;;
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
		# (qemu-io's sleep is in milliseconds: 60 s, killed long before)
		qemu-io -f qcow2 inuse.qcow2 -c 'w 0 64k' -c 'sleep 60000' \
		  >/dev/null 2>&1 &
		io_pid=$!
		# wait until the writer has marked the bitmap in use on disk, as
		# the oracle reads it (not qcow2dump: a bug there must not change
		# the image)
		marked=no
		for _ in $(seq 100); do
			if $ORACLE show -b inuse.qcow2 2>/dev/null |
			   grep -q "'in-use'"; then marked=yes; break; fi
			sleep 0.05
		done
		[ "$marked" = yes ] ||
			fail "inuse: qemu-io did not mark the bitmap in use in time"
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
	*) fail "build_image: unknown image $1"; return 1 ;;
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
	# "bad-utf8", entry 10 (where the oracle says), -> "bad\xff\xfetf8":
	# not UTF-8 any more
	entry_10=$(oracle_at tricky.qcow2 entry_10)
	if [ -n "$entry_10" ] && [ "$(dd if=tricky.qcow2 bs=1 skip=$((entry_10 + 24)) \
	     count=8 status=none)" = bad-utf8 ]; then
		poke tricky.qcow2 $((entry_10 + 27)) fffe
	else
		fail "build_tricky: bitmap entry 10 is not bad-utf8"
	fi
}

# nbd_extents IMAGE BITMAP: QEMU's view of a bitmap, the ranges qemu-img map
# reports as "data": false (dirty) through qemu-nbd -B, neighbours merged
nbd_extents() { # IMAGE BITMAP
	rm -f nbd.sock
	qemu-nbd -r -k "$WORK/nbd.sock" -f qcow2 -B "$2" "$1" 2> nbd.err &
	nbd=$!
	for _ in $(seq 200); do [ -S nbd.sock ] && break; sleep 0.02; done
	qemu-img map --output=json --image-opts \
	  "driver=nbd,server.type=unix,server.path=$WORK/nbd.sock,x-dirty-bitmap=qemu:dirty-bitmap:$2" |
	  jq -r 'reduce (.[] | select(.data == false) | [.start, .length]) as [$s, $l] ([];
	           if length > 0 and (.[-1][0] + .[-1][1]) == $s
	           then .[-1][1] += $l else . + [[$s, $l]] end) | .[] | "\(.[0]) \(.[1])"'
	kill "$nbd" 2>/dev/null; wait "$nbd" 2>/dev/null
}
