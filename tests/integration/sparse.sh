#!/bin/sh
# The cost of -x follows what the file holds, not its apparent size:
# images made by qemu-img, with bitmaps and dirty data, read the same
# after their files are made 2^62 bytes long (a hole after the image,
# on /dev/shm: tmpfs takes such a size, ext4 does not), and -x on the
# long file stays under 64 MiB and 2 s.  (The data clusters it read
# were once tracked in an array sized by the file: 20 s for 64 KiB
# clusters, out of memory for 512-byte ones.)  Without /dev/shm the
# longest file the scratch directory's filesystem takes is used, and
# the output says so.
. "$TOP_SRCDIR/tests/integration/lib.sh"

# -x of the long files, as the bare binary runs it (not under a
# wrapper); the sanitizer build's quarantine keeps freed memory by
# design, so it is left out, as many.sh does
limit_kib=$((64 * 1024)) limit_cs=200   # centiseconds
# measured DESC STATUS ARGS...: one run of qcow2dump ARGS, its output
# in out, its exit status STATUS, its peak RSS and time asserted
measured() {
	m_desc=$1 m_want=$2; shift 2
	ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0:malloc_context_size=0 \
	  timeout 100 /usr/bin/time -f '%e %M' -o usage.txt \
	  "$QCOW2DUMP_BIN" "$@" > out 2> err
	st=$?
	qdump_status "$st" "$@" under time
	expect_eq "$m_desc: exit status" "$st" "$m_want"
	# /usr/bin/time prints a note before its line when the command failed
	set -- $(tail -n 1 usage.txt)
	cs=$(printf '%s\n' "${1:-999}" | awk '{ printf "%d", $1 * 100 }')
	check "$m_desc: under 64 MiB (took ${2:-?} KiB)" [ "${2:-999999999}" -lt "$limit_kib" ]
	check "$m_desc: under 2 s (took ${1:-?} s)" [ "$cs" -lt "$limit_cs" ]
}

[ -x /usr/bin/time ] ||
	fail "no /usr/bin/time (package time: scripts/setup.sh installs it)"

# the images, in $WORK/compact
mkdir compact && cd compact || exit 1
# 64 KiB clusters: two bitmaps of different granularity, one disabled
# halfway, dirty ranges across the disk
Q create -q -f qcow2 d64k.qcow2 1G
Q bitmap --add -f qcow2 d64k.qcow2 b0
Q bitmap --add -g 512k -f qcow2 d64k.qcow2 b1
IO -c 'w 1M 64k' -c 'w 9M 3M' -c 'w 700M 512' -f qcow2 d64k.qcow2
Q bitmap --disable -f qcow2 d64k.qcow2 b1
IO -c 'w 1020M 4M' -f qcow2 d64k.qcow2
# 512-byte clusters: many data clusters of bitmap
Q create -q -f qcow2 -o cluster_size=512 d512.qcow2 64M
Q bitmap --add -g 4k -f qcow2 d512.qcow2 small
IO -c 'w 8k 4k' -c 'w 1M 1k' -c 'w 40M 2M' -f qcow2 d512.qcow2
# a chain: the merge over both layers (--backing-chain) reads both
Q create -q -f qcow2 base.qcow2 64M
Q bitmap --add -f qcow2 base.qcow2 b0
IO -c 'w 3M 1M' -f qcow2 base.qcow2
Q create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 64M
Q bitmap --add -f qcow2 top.qcow2 b0
IO -c 'w 0 1M' -c 'w 60M 64k' -f qcow2 top.qcow2
cd "$WORK" || exit 1
IMAGES="d64k d512 base top"

# the long copies, in $LONG: 2^62 bytes on /dev/shm, else the longest
# file the scratch directory takes
LONG= bits=62
if [ -d /dev/shm ] && LONG=$(mktemp -d /dev/shm/qcow2dump-sparse.XXXXXX) &&
   cp compact/d64k.qcow2 "$LONG/probe" &&
   truncate -s $((1 << 62)) "$LONG/probe" 2>/dev/null; then
	rm -f "$LONG/probe"
	trap 'rm -rf "$WORK" "$LONG"' EXIT
	echo "# long files: 2^62 bytes on /dev/shm"
else
	[ -n "$LONG" ] && rm -rf "$LONG"
	LONG=$WORK/long
	mkdir "$LONG" && cp compact/d64k.qcow2 "$LONG/probe" || exit 1
	while [ "$bits" -gt 30 ] && ! truncate -s $((1 << bits)) "$LONG/probe" 2>/dev/null; do
		bits=$((bits - 1))
	done
	rm -f "$LONG/probe"
	echo "# /dev/shm unavailable or too small for 2^62 bytes: long files of 2^$bits bytes in $LONG"
fi
for i in $IMAGES; do
	cp "compact/$i.qcow2" "$LONG/" && truncate -s $((1 << bits)) "$LONG/$i.qcow2" ||
		fail "$i.qcow2: a long copy of 2^$bits bytes"
done
expect_eq "d64k.qcow2: the long copy is 2^$bits bytes" \
  "$(stat -c %s "$LONG/d64k.qcow2")" $((1 << bits))

# same DESC IMAGE ARGS...: qcow2dump ARGS IMAGE in each directory (the
# same name, so the same text) prints the same and exits the same
same() {
	s_desc=$1 img=$2; shift 2
	(cd compact && qdump "$@" "$img" > "$WORK/compact.out" 2>&1
	 echo "exit $?" >> "$WORK/compact.out")
	(cd "$LONG" && qdump "$@" "$img" > "$WORK/long.out" 2>&1
	 echo "exit $?" >> "$WORK/long.out")
	expect_file "$s_desc: the output of the long file is the compact one's" \
	  long.out compact.out
}
for i in $IMAGES; do
	same "-x $i" "$i.qcow2" -x
	same "-x -f json $i" "$i.qcow2" -x -f json
done
same "-x --backing-chain top" top.qcow2 -x --backing-chain
same "-x --backing-chain -f csv top" top.qcow2 -x --backing-chain -f csv
# the map: the tables, not the file's length (nor its holes: a compact
# qcow2 has no more than the long one, so QEMU's preallocation heuristic
# answers alike)
for i in $IMAGES; do
	same "--map -f json $i" "$i.qcow2" --map -f json
	same "-x --map $i" "$i.qcow2" -x --map
done
same "--map top" top.qcow2 --map
# the views that read no data cluster, once each
for opt in "" -b "-b -t" -s -e; do
	same "${opt:-default view} d64k" d64k.qcow2 $opt
done
# -c rebuilds the refcounts as qemu-img check does, which gives up on a
# file of more than 2^31 - 1 clusters ("Check failed: File too large"):
# so does -c, in memory and time bounded all the same
if [ "$bits" -ge 47 ]; then
	(cd "$LONG" && qdump -c -f json d64k.qcow2) > long.json 2> long.err
	expect_eq "-c d64k, 2^$bits bytes: qemu-img check's File too large, exit 1" \
	  "$? $(jq -c '[.totals, [.problems[].code]]' long.json)" '1 [null,["check-failed"]]'
else
	same "-c d64k" d64k.qcow2 -c
fi
# the outputs compared hold what they should
(cd compact && qdump -x -f json d64k.qcow2) > d64k.json 2> d64k.err
expect_eq "d64k: the dirty bytes of b0 and b1" \
  "$(jq -c '[.bitmaps[] | .dirty_bytes]' d64k.json)" \
  "[$((64 * 1024 + 3 * 1048576 + 64 * 1024 + 4 * 1048576)),$((512 * 1024 + 3 * 1048576 + 512 * 1024))]"
(cd compact && qdump -x -f json d512.qcow2) > d512.json 2> d512.err
expect_eq "d512: the dirty bytes of small" \
  "$(jq -c '[.bitmaps[] | .dirty_bytes]' d512.json)" "[$((4096 + 4096 + 2 * 1048576))]"

# memory and time of the long files (b1 of d64k is disabled: -x exits 1)
for i in $IMAGES; do
	[ "$i" = d64k ] && want=1 || want=0
	measured "-x on $i.qcow2 of 2^$bits bytes" "$want" -x "$LONG/$i.qcow2"
done
measured "-x --backing-chain on top.qcow2 of 2^$bits bytes" 0 \
  -x --backing-chain "$LONG/top.qcow2"
measured "--map on top.qcow2 of 2^$bits bytes" 0 --map -f json "$LONG/top.qcow2"
finish
