#!/bin/sh
# Benchmarks --map and -x --map side by side with what QEMU 7.2's users
# run instead (qemu-img map; for -x --map, qemu-nbd -B and qemu-img map),
# on 1 TiB images this script builds with qemu-img and qemu-io (cached in
# bench/.cache/map, nothing committed).  Checks that --map -f json prints
# what qemu-img map --output=json prints and that -x finds the 100,000
# dirty runs written; prints a Markdown table of mean wall time and peak
# memory, with the ratios, and writes it to bench/map-results.md.
#   bench/map.sh            (as root the first time: it installs packages)
#   bench/map.sh images     (only build the images: about 25 minutes, at
#                            most 7 GiB of disk at a time, 6.5 GiB kept)
# BIN=path/to/qcow2dump measures another binary, BASE=path/to/qcow2dump
# adds its --map side by side (BIN_NAME and BASE_NAME: what the table
# calls them), MAP_CACHE=DIR keeps the images in DIR.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
sh scripts/setup.sh > /dev/null
if ! command -v qemu-nbd > /dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-utils > /dev/null
fi
bin=${BIN:-$top/build/qcow2dump}
cache=${MAP_CACHE:-$top/bench/.cache/map}
mkdir -p "$cache"
cd "$cache"
results=$top/bench/map-results.md

. "$top/bench/lib.sh"

# how each image was made and how long it took, for the notes
made() { # IMAGE START-SECONDS WHAT
	echo "- \`$1\`: $3; made in $(($(date +%s) - $2)) s." >> made.txt
}

# 1. preallocation=metadata: every cluster allocated, the file sparse
for size in 256G 1T; do
	f=prealloc-$size.qcow2
	if [ ! -f "$f" ]; then
		t0=$(date +%s)
		qemu-img create -q -f qcow2 -o preallocation=metadata,cluster_size=64k "$f.tmp" $size
		qemu-img check -q "$f.tmp"
		mv "$f.tmp" "$f"
		made "$f" "$t0" "qemu-img create -o preallocation=metadata,cluster_size=64k, $size"
	fi
done

# Write I of N (FROM <= I < TO) goes to guest cluster STRIDE J + J mod 7
# (J = 7919 I + 12345 mod N, a permutation, 7919 being prime to N): in
# no order along the disk, so that the clusters are scattered in the
# file too, and never two side by side, so that no extents merge.
scatter() { # FROM TO N STRIDE  -> qemu-io commands
	awk -v a="$1" -v b="$2" -v n="$3" -v s="$4" 'BEGIN {
		for (i = a; i < b; i++) { j = (i * 7919 + 12345) % n
			printf "write -q %.0f 65536\n", j * s + (j % 7) * 65536 } }'
}

# qemu-io writing to IMAGE the commands on its standard input, with room
# for all of a 1 TiB image's 128 MiB of L2 tables (QEMU's default cache
# covers 256 GiB, and evicting a table flushes the file: 4 times slower)
qio() { # IMAGE
	qemu-io -t writeback --image-opts \
		"driver=qcow2,file.filename=$1,l2-cache-size=256M" > /dev/null
}

# Drops IMAGE's data clusters from the file: qemu-img map lists them
# (data.txt), and fallocate --punch-hole punches each run of them that
# lies end to end in the file.  The metadata is untouched.
punch() { # IMAGE
	qemu-img map --output=json -f qcow2 "$1" |
		jq -r '.[] | select(.data) | "\(.offset) \(.length)"' | sort -n > data.txt
	awk '$1 == e { e += $2; next }
		{ if (NR > 1) printf "%.0f %.0f\n", o, e - o; o = $1; e = $1 + $2 }
		END { if (NR) printf "%.0f %.0f\n", o, e - o }' data.txt |
		while read -r o l; do fallocate --punch-hole -o "$o" -l "$l" "$1"; done
}

# 2. 1,000,000 scattered 64 KiB data writes on 1 TiB.  They hold 61 GiB
# of data, more than this machine's disk can spare; so they are written
# in ten batches of 100,000 (6.1 GiB), and after each batch its data
# clusters are punched out of the file (punch above).  The image stays
# valid (qemu-img check passes) and qemu-img map never reads guest data,
# but QEMU notices the holes: once the file holds fewer clusters than
# 9/10 of those its refcounts count, QEMU 7.2 takes the image for one
# made with preallocation=metadata (qcow2_detect_metadata_preallocation)
# and asks the file (SEEK_DATA) about each data extent, which it then
# shows "zero": true.  Image 3 keeps its data: the map without that.
if [ ! -f million.qcow2 ]; then
	t0=$(date +%s) tw=0 tp=0
	rm -f million.qcow2.tmp
	qemu-img create -q -f qcow2 -o cluster_size=64k million.qcow2.tmp 1T
	for b in 0 1 2 3 4 5 6 7 8 9; do
		t1=$(date +%s)
		scatter $((b * 100000)) $((b * 100000 + 100000)) 1000000 1048576 |
			qio million.qcow2.tmp
		t2=$(date +%s)
		punch million.qcow2.tmp
		t3=$(date +%s)
		tw=$((tw + t2 - t1)) tp=$((tp + t3 - t2))
		echo "bench: million.qcow2: batch $b written in $((t2 - t1)) s, punched in $((t3 - t2)) s, $(du -k million.qcow2.tmp | cut -f1) KiB on disk" >&2
	done
	[ "$(wc -l < data.txt)" -eq 1000000 ]
	qemu-img check -q million.qcow2.tmp
	mv million.qcow2.tmp million.qcow2
	made million.qcow2 "$t0" "qemu-img create -o cluster_size=64k, 1T; 1,000,000 scattered 64 KiB writes by qemu-io -t writeback (commands on stdin, l2-cache-size=256M), in 10 batches of 100,000, each batch's data clusters then punched out of the file with fallocate --punch-hole (the writes took $tw s, listing and punching $tp s); $(du -k million.qcow2 | awk '{printf "%.0f", $1 / 1024}') MiB on disk"
fi

# 3. 100,000 dirty runs on 1 TiB, recorded by bitmap b0 (added before
# the writes, default granularity 64 KiB): run J is a 64 KiB data write
# at 10 MiB J + 64 KiB (J mod 7) and a 64 KiB zero write just after it,
# so that the map splits each run in two, a data and a zero extent.  The
# 6.1 GiB of data are kept.
if [ ! -f dirty.qcow2 ]; then
	t0=$(date +%s)
	qemu-img create -q -f qcow2 -o cluster_size=64k dirty.qcow2.tmp 1T
	qemu-img bitmap --add -f qcow2 dirty.qcow2.tmp b0
	scatter 0 100000 100000 10485760 |
		awk '{ print; printf "write -q -z %.0f 65536\n", $3 + 65536 }' |
		qio dirty.qcow2.tmp
	qemu-img check -q dirty.qcow2.tmp
	mv dirty.qcow2.tmp dirty.qcow2
	made dirty.qcow2 "$t0" "qemu-img create -o cluster_size=64k, 1T; qemu-img bitmap --add b0; 100,000 scattered 64 KiB data writes each followed by a 64 KiB zero write (qemu-io -t writeback, commands on stdin, l2-cache-size=256M); data kept, $(du -k dirty.qcow2 | awk '{printf "%.0f", $1 / 1024}') MiB on disk"
fi
[ "${1:-}" = images ] && exit 0

# the binary must have --map (exit status 64: a usage error)
rc=0
"$bin" --map -f json prealloc-256G.qcow2 > /dev/null 2>&1 || rc=$?
if [ $rc -eq 64 ]; then
	echo "bench: $bin has no --map" >&2
	exit 1
fi
runs=$("$bin" -x -f json -n b0 dirty.qcow2 | jq '.bitmaps[0].extents | length')
if [ "$runs" -ne 100000 ]; then
	echo "bench: qcow2dump -x finds $runs dirty runs in dirty.qcow2, not 100000" >&2
	exit 1
fi

# --map -f json against qemu-img map --output=json: the same entries
# (jq -c), or not; QEMU 7.2 has no "compressed" field (8.0 added it)
same() { # IMAGE
	qemu-img map --output=json "$1" > qemu.json
	"$bin" --map -f json "$1" > ours.json || true
	jq -c '.[]' qemu.json > qemu.jsonl
	jq -c '.map[]' ours.json > ours.jsonl || true
	if cmp -s qemu.jsonl ours.jsonl; then
		echo "the same entries"
	elif jq -c '.map[] | del(.compressed)' ours.json > ours.jsonl &&
		cmp -s qemu.jsonl ours.jsonl; then
		echo "the same entries, each with \"compressed\" added"
	else
		echo "NOT the same entries"
		echo "bench: $1: --map -f json differs from qemu-img map --output=json" >&2
	fi
}

crow() { # a row without its case
	printf '| '
	row "$@"
}

case_() { # CASE QEMU-RUNS OUR-RUNS IMAGE: the four --map rows
	verdict=$(same "$4")
	n=$(jq length qemu.json)
	qemu=$(STAT=mean measure "$2" qemu-img map --output=json "$4")
	ours=$(STAT=mean measure "$3" "$bin" --map -f json "$4")
	compact=$(STAT=mean measure "$3" "$bin" --map -f json --compact "$4")
	qtext=$(STAT=mean measure "$2" qemu-img map "$4")
	otext=$(STAT=mean measure "$3" "$bin" --map "$4")
	{
	echo "| **$1** ($n entries; --map -f json: $verdict) | | | | |"
	crow "qemu-img map --output=json" "$qemu"
	crow "qcow2dump --map -f json" "$ours" "$qemu"
	crow "qcow2dump --map -f json --compact" "$compact" "$qemu"
	crow "qemu-img map (human)" "$qtext"
	crow "qcow2dump --map (text)" "$otext" "$qtext"
	} >> rows.md
}

: > rows.md
case_ "256 GiB, preallocation=metadata" 10 10 prealloc-256G.qcow2
case_ "1 TiB, preallocation=metadata" 10 10 prealloc-1T.qcow2
case_ "1 TiB, 1,000,000 scattered 64 KiB data clusters (punched out of the file)" 3 10 million.qcow2
case_ "1 TiB, 100,000 x (64 KiB data + 64 KiB zeroes) (data kept)" 5 10 dirty.qcow2

# -x --map: the bitmap's dirty ranges split by the map
xmap=$(STAT=mean measure 10 "$bin" -x --map -f json -n b0 dirty.qcow2)
x=$(STAT=mean measure 10 "$bin" -x -f json -n b0 dirty.qcow2)
qxmap=$(STAT=mean measure 3 sh "$top/bench/qemu-map-extents.sh" dirty.qcow2 b0)
qx=$(STAT=mean measure 3 sh "$top/bench/qemu-extents.sh" dirty.qcow2 b0)
{
echo "| **-x --map**: 1 TiB, bitmap b0 with $runs dirty runs of 128 KiB, each half data, half zeroes | | | | |"
crow "qemu-nbd -B + qemu-img map, then qemu-img map (not intersected)" "$qxmap"
crow "qcow2dump -x --map -f json" "$xmap" "$qxmap"
crow "qemu-nbd -B + qemu-img map --output=json" "$qx"
crow "qcow2dump -x -f json" "$x" "$qx"
crow "qcow2dump -x --map -f json, against -x -f json (the split's cost)" "$xmap" "$x"
} >> rows.md

# BASE=path/to/older/qcow2dump: --map -f json of both, side by side
if [ -n "${BASE:-}" ]; then
	echo "| **against ${BASE_NAME:-$BASE}** | | | | |" >> rows.md
	for f in prealloc-256G prealloc-1T million dirty; do
		old=$(STAT=mean measure 5 "$BASE" --map -f json $f.qcow2)
		new=$(STAT=mean measure 5 "$bin" --map -f json $f.qcow2)
		crow "old --map -f json, $f.qcow2" "$old" >> rows.md
		crow "new --map -f json, $f.qcow2" "$new" "$old" >> rows.md
	done
fi

# whether qcow2dump bypasses the page cache (O_DIRECT) or drops the
# image's pages from it (posix_fadvise DONTNEED): then each of its runs
# reads the metadata from the disk, where qemu-img's read the page cache
cold=
strace -f -e trace=openat,fcntl,fadvise64 -o cache.txt \
	"$bin" --map -f json prealloc-256G.qcow2 > /dev/null
if grep -q -e O_DIRECT -e DONTNEED cache.txt; then
	cold="
qcow2dump reads the image $(grep -q O_DIRECT cache.txt && echo "with O_DIRECT" ||
	echo "after dropping its pages from the page cache (posix_fadvise DONTNEED)"),
so each of its runs reads the metadata from the disk, as a first run does."
fi

{
echo "# qcow2dump --map benchmark"
echo
echo "$(date -u +%F), $(nproc) cores, $(qemu-img --version | head -1),"
echo "${BIN_NAME:-$bin} ($("$bin" --version | head -1), $(date -u -r "$bin" '+built %F %H:%M UTC'))."
echo "Mean wall time (hyperfine: 3 to 10 runs after a warm-up run), peak RSS"
echo "(/usr/bin/time, one run); the page cache warm after the warm-up run.$cold"
echo
echo "| case | command | mean time | peak memory | qcow2dump vs this |"
echo "|---|---|---|---|---|"
cat rows.md
echo
echo "The images (\`bench/map.sh\` builds them with qemu-img and qemu-io):"
echo
cat made.txt
echo
echo "A million 64 KiB data clusters hold 61 GiB, more than this machine's"
echo "disk can spare, so million.qcow2's are punched out of the file after"
echo "each batch of writes.  Its metadata is what qemu-io wrote (qemu-img"
echo "check passes) and neither tool reads guest data, but the holes make"
echo "QEMU 7.2 take the image for one made with preallocation=metadata (the"
echo "file holds fewer than 9/10 of the clusters its refcounts count), so"
echo "both tools ask the file (SEEK_DATA) about each of the million data"
echo "extents and show it \"zero\": true: more work than on the same image"
echo "with its data, for both.  dirty.qcow2 keeps its data: the map without"
echo "that heuristic.  The qemu-nbd rows' memory is that of the last"
echo "qemu-img map (qemu-nbd is not waited for by the script)."
} > "$results"
cat "$results"
