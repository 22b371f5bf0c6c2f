#!/bin/sh
# Benchmarks -c (the refcount rebuild) side by side with qemu-img check,
# the tool users run instead, on bench/map.sh's images (built there,
# cached in bench/.cache/map: 256 GiB and 1 TiB preallocation=metadata,
# 1 TiB with a million scattered 64 KiB writes).  Checks that every total
# of -c -f json equals qemu-img check --output=json's and that peak
# memory stays within 2 bytes per host cluster plus 16 MiB; prints a
# Markdown table of wall time and peak memory, with the ratios, and
# writes it to bench/check-results.md.
#   bench/check.sh          (builds the images first when missing: see
#                            bench/map.sh, about 25 minutes)
# BIN=path/to/qcow2dump measures another binary; MAP_CACHE=DIR takes the
# images from DIR.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
bin=${BIN:-$top/build/qcow2dump}
cache=${MAP_CACHE:-$top/bench/.cache/map}
if [ ! -f "$cache/prealloc-1T.qcow2" ] || [ ! -f "$cache/million.qcow2" ]; then
	MAP_CACHE=$cache sh bench/map.sh images
fi
results=$top/bench/check-results.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

. "$top/bench/lib.sh"

keys='corruptions leaks check_errors image_end_offset total_clusters allocated_clusters fragmented_clusters compressed_clusters'
# the totals of both tools, one line each, keys in one order
same_totals() { # IMAGE
	qemu-img check --output=json -f qcow2 "$1" > q.json || true
	"$bin" -c -f json "$1" > o.json || true
	for k in $keys; do
		printf '%s ' "$(jq ".\"$(echo $k | tr _ -)\" // 0" q.json)"
	done > q.txt
	for k in $keys; do printf '%s ' "$(jq ".totals.$k" o.json)"; done > o.txt
	if ! cmp -s q.txt o.txt; then
		echo "bench/check.sh: $1: totals differ: qemu-img check $(cat q.txt), -c $(cat o.txt)" >&2
		exit 1
	fi
}

{
echo "# qcow2dump -c benchmark"
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(qemu-img --version | head -n 1),"
echo "$bin ($("$bin" --version)). Median wall time (hyperfine: 5 runs after a warm-up"
echo "run: the page cache warm, as for a second check), peak RSS"
echo "(/usr/bin/time, one run). Every total of \`-c -f json\` equals"
echo "\`qemu-img check --output=json\`'s on each image (checked first); the"
echo "memory target is 2 bytes per host cluster of the file plus 16 MiB."
echo
echo "| case | command | median time | peak memory | qcow2dump vs this |"
echo "|---|---|---|---|---|"
} > table.md
for img in prealloc-256G prealloc-1T million; do
	f=$cache/$img.qcow2
	same_totals "$f"
	clusters=$(( $(stat -c %s "$f") / 65536 ))
	budget=$(( (2 * clusters + 16 * 1048576) / 1048576 ))
	case $img in
	prealloc-256G) what="256 GiB, preallocation=metadata" ;;
	prealloc-1T) what="1 TiB, preallocation=metadata" ;;
	million) what="1 TiB, 1,000,000 scattered 64 KiB data clusters" ;;
	esac
	echo "| **$what** ($clusters host clusters: memory target $budget MiB) | | | | |" >> table.md
	q=$(measure 5 qemu-img check --output=json -f qcow2 "$f")
	o=$(measure 5 "$bin" -c -f json "$f")
	row "| qemu-img check --output=json" "$q" >> table.md
	row "| qcow2dump -c -f json" "$o" "$q" >> table.md
	rss=$(echo "$o" | awk '{print $2}')
	if awk -v r="$rss" -v b="$budget" 'BEGIN { exit !(r > b) }'; then
		echo "bench/check.sh: $img: -c peaked at $rss MiB, over $budget MiB" >&2
		exit 1
	fi
done
cat table.md
cp table.md "$results"
