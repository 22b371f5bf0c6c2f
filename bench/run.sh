#!/bin/sh
# Benchmarks qcow2dump side by side with the tools users run instead, on
# images this script builds (cached in bench/.cache; nothing committed).
# Prints a Markdown table of wall time and peak memory, with the ratios,
# and writes it to bench/results.md.
#   bench/run.sh            (as root the first time: it installs packages)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
sh scripts/setup.sh > /dev/null
if ! command -v qemu-storage-daemon > /dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-common > /dev/null
fi
bin=$top/build/qcow2dump
cache=$top/bench/.cache
mkdir -p "$cache"
cd "$cache"
results=$top/bench/results.md

. "$top/bench/lib.sh"

{
echo "# qcow2dump benchmarks"
echo
echo "$(date -u +%F), $(nproc) cores, $(qemu-img --version | head -1)."
echo "Median wall time (hyperfine), peak RSS (/usr/bin/time)."
echo
echo "| command | time | peak memory | qcow2dump vs this |"
echo "|---|---|---|---|"
} > "$results"

# 1. the image of QEMU's test case 291
if [ ! -f t291.qcow2 ]; then
	qemu-img create -q -f qcow2 t291.base 10M
	qemu-img bitmap --add -f qcow2 t291.base b0
	qemu-io -c 'w 3M 1M' -f qcow2 t291.base > /dev/null
	qemu-img create -q -f qcow2 -b t291.base -F qcow2 t291.qcow2 10M
	qemu-io -c 'w 0 1M' -f qcow2 t291.qcow2 > /dev/null
	qemu-img bitmap --add -g 512k -f qcow2 t291.qcow2 b1
	qemu-img bitmap --add --disable -f qcow2 t291.qcow2 b2
	qemu-io -c 'w 1M 1M' -f qcow2 t291.qcow2 > /dev/null
fi
ours=$(measure 30 "$bin" -f json t291.qcow2)
qemu=$(measure 30 qemu-img info --output=json t291.qcow2)
{
echo "| **test case 291 image** (3 bitmaps) | | | |"
row "qemu-img info --output=json" "$qemu"
row "qcow2dump -f json" "$ours" "$qemu"
} >> "$results"

# 2. QEMU's limit: 65535 bitmaps, made by QEMU itself (slow, so cached)
if [ ! -f many.qcow2 ]; then
	echo "bench: making 65535 bitmaps with qemu-storage-daemon (a few minutes)" >&2
	/usr/bin/python3 "$top/bench/make-many-bitmaps.py" many.qcow2 65535
	# a benchmark on an image QEMU itself finds damaged measures the
	# damage (an earlier cache held one, its refcounts lost)
	if ! qemu-img check -q many.qcow2; then
		mv many.qcow2 many.damaged.qcow2
		echo "bench: qemu-img check finds the new many.qcow2 damaged" >&2
		exit 1
	fi
fi
ours=$(measure 20 "$bin" -f json many.qcow2)
check=$(measure 5 "$bin" -c many.qcow2)
qemu=$(measure 1 qemu-img info --output=json many.qcow2)
qcheck=$(measure 1 qemu-img check many.qcow2)
"$bin" -f json many.qcow2 > many.json
jqc=$(measure 10 jq -c . many.json)
btext=$(measure 20 "$bin" -b many.qcow2)
bjson=$(measure 20 "$bin" -b -f json many.qcow2)
bcsv=$(measure 20 "$bin" -b -f csv many.qcow2)
{
echo "| **65535 bitmaps** (512-byte clusters) | | | |"
row "qemu-img info --output=json" "$qemu"
row "qcow2dump -f json" "$ours" "$qemu"
row "jq -c . on that JSON (its consumer)" "$jqc"
row "qcow2dump -f json" "$ours" "$jqc"
row "qemu-img check" "$qcheck"
row "qcow2dump -c" "$check" "$qcheck"
row "qcow2dump -b -f json" "$bjson"
row "qcow2dump -b (text)" "$btext" "$bjson"
row "qcow2dump -b -f csv" "$bcsv" "$bjson"
} >> "$results"

# 3. dirty extents: a 4 KiB-granularity bitmap on a 1 TiB disk with
# 100,000 dirty runs (zero writes: metadata only, so the image stays small)
if [ ! -f tib.qcow2 ]; then
	qemu-img create -q -f qcow2 tib.qcow2 1T
	qemu-img bitmap --add -g 4k -f qcow2 tib.qcow2 daily
	awk 'BEGIN { for (i = 0; i < 100000; i++)
		printf "write -z %.0f 65536\n", i * 10485760 + (i % 7) * 65536 }' |
		qemu-io -f qcow2 tib.qcow2 > /dev/null
fi
ours=$(measure 30 "$bin" -x -f json -n daily tib.qcow2)
xtext=$(measure 30 "$bin" -x -n daily tib.qcow2)
xcsv=$(measure 30 "$bin" -x -f csv -n daily tib.qcow2)
qemu=$(measure 3 sh "$top/bench/qemu-extents.sh" tib.qcow2 daily)
runs=$("$bin" -x -f csv tib.qcow2 | tail -n +2 | wc -l)
{
echo "| **extents**: 1 TiB, 4 KiB granularity, $runs dirty runs | | | |"
row "qemu-nbd -B + qemu-img map --output=json" "$qemu"
row "qcow2dump -x -f json" "$ours" "$qemu"
row "qcow2dump -x (text)" "$xtext" "$ours"
row "qcow2dump -x -f csv" "$xcsv" "$ours"
} >> "$results"

# 4. QEMU's largest snapshot table: 65536 entries (cloned from one that
# qemu-img made)
if [ ! -f snaps.qcow2 ]; then
	qemu-img create -q -f qcow2 snaps.qcow2 64M
	qemu-img snapshot -c s1 snaps.qcow2
	/usr/bin/python3 "$top/tests/integration/snapshots.py" clone snaps.qcow2 65536
fi
ours=$(measure 5 "$bin" -s -f json snaps.qcow2)
qemu=$(measure 1 qemu-img snapshot -l -U snaps.qcow2)
{
echo "| **65536 internal snapshots** | | | |"
row "qemu-img snapshot -l -U" "$qemu"
row "qcow2dump -s -f json" "$ours" "$qemu"
} >> "$results"

# 5. hostile: 65535 bitmaps sharing one table of 2^20 entries that all
# point to one data cluster, in a file of a few MiB: every view stays
# bounded by the file (the worst view is reported)
if [ ! -f shared.qcow2 ]; then
	qemu-img create -q -f qcow2 -o cluster_size=512 shared.qcow2 64G
	/usr/bin/python3 "$top/tests/integration/hostile.py" shared-table shared.qcow2 65535 > /dev/null
fi
worst="0 0" worst_view=
for view in "" -b -c -x "-b -t" -e; do
	m=$(measure 3 "$bin" $view -f json shared.qcow2)
	if awk -v a="$m" -v b="$worst" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !(x[1] > y[1]) }'; then
		worst=$m worst_view=${view:-default}
	fi
done
qemu=$(measure 1 timeout 600 qemu-img info --output=json shared.qcow2)
{
echo "| **hostile**: 65535 bitmaps sharing a 2^20-entry table, $(($(stat -c %s shared.qcow2) / 1024)) KiB file | | | |"
row "qemu-img info --output=json" "$qemu"
row "qcow2dump $worst_view -f json (slowest view)" "$worst" "$qemu"
} >> "$results"

# 6. base: the previous release's binary, if given (BASE=path/to/qcow2dump)
if [ -n "${BASE:-}" ]; then
	old=$(measure 5 "$BASE" -f json many.qcow2)
	new=$(measure 5 "$bin" -f json many.qcow2)
	oldx=$(measure 10 "$BASE" -x -f json -n daily tib.qcow2)
	newx=$(measure 10 "$bin" -x -f json -n daily tib.qcow2)
	{
	echo "| **against $BASE** | | | |"
	row "old -f json, 65535 bitmaps" "$old"
	row "new -f json, 65535 bitmaps" "$new" "$old"
	row "old -x -f json, 1 TiB" "$oldx"
	row "new -x -f json, 1 TiB" "$newx" "$oldx"
	} >> "$results"
fi

cat "$results"
