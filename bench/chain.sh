#!/bin/sh
# Benchmarks -x --backing-chain side by side with QEMU's route to the same
# ranges (bench/qemu-chain-merge.sh: copy the top, qemu-img bitmap --merge
# each lower layer into it, qemu-nbd -B, qemu-img map), on a 1 TiB chain
# of four layers (base <- s1 <- s2 <- top), each with the checkpoint's
# bitmap at 4 KiB granularity and 100,000 dirty runs of its own.  The
# images are cached in bench/.cache (nothing committed); prints a
# Markdown table and writes it to bench/chain-results.md.
#   bench/chain.sh            (as root the first time: it installs packages)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
sh scripts/setup.sh > /dev/null
bin=$top/build/qcow2dump
cache=$top/bench/.cache/chain
mkdir -p "$cache"
cd "$cache"
results=$top/bench/chain-results.md

. "$top/bench/lib.sh"

# Layer k's runs: 64 KiB zero writes (metadata only, the files stay
# small) every 10 MiB, shifted by k * 2.5 MiB plus a little, so that the
# layers' runs interleave and some overlap.
layer() { # FILE K
	qemu-img bitmap --add -g 4k -f qcow2 "$1" ck
	awk -v k="$2" 'BEGIN { for (i = 0; i < 100000; i++)
		printf "write -z %.0f 65536\n", i * 10485760 + k * 2621440 + ((i + k) % 7) * 65536 - (k == 3 && i % 5 == 0) * 2621440 }' |
		qemu-io -f qcow2 "$1" > /dev/null
}
if [ ! -f top.qcow2 ]; then
	rm -f base.qcow2 s1.qcow2 s2.qcow2
	qemu-img create -q -f qcow2 base.qcow2 1T
	layer base.qcow2 0
	qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 s1.qcow2
	layer s1.qcow2 1
	qemu-img create -q -f qcow2 -b s1.qcow2 -F qcow2 s2.qcow2
	layer s2.qcow2 2
	qemu-img create -q -f qcow2 -b s2.qcow2 -F qcow2 top.qcow2.tmp
	layer top.qcow2.tmp 3
	mv top.qcow2.tmp top.qcow2
fi

# the same ranges, or no benchmark
"$bin" -x --backing-chain -f csv -n ck top.qcow2 | tail -n +2 | cut -d, -f4,5 | tr , ' ' > ours.txt
sh "$top/bench/qemu-chain-merge.sh" ck top.qcow2 s2.qcow2 s1.qcow2 base.qcow2 |
	jq -r 'reduce (.[] | select(.data == false) | [.start, .length]) as [$s, $l] ([];
	         if length > 0 and (.[-1][0] + .[-1][1]) == $s
	         then .[-1][1] += $l else . + [[$s, $l]] end) | .[] | "\(.[0]) \(.[1])"' > qemu.txt
cmp ours.txt qemu.txt
per_layer=$(for f in top s2 s1 base; do "$bin" -x -f csv -n ck $f.qcow2 | tail -n +2 | wc -l; done | tr '\n' ' ')
merged=$(wc -l < ours.txt)

ours=$(measure 10 "$bin" -x --backing-chain -f json -n ck top.qcow2)
qemu=$(measure 3 sh "$top/bench/qemu-chain-merge.sh" ck top.qcow2 s2.qcow2 s1.qcow2 base.qcow2)
{
echo "# qcow2dump -x --backing-chain benchmark"
echo
echo "$(date -u +%F), $(nproc) cores, $(qemu-img --version | head -1)."
echo "Median wall time (hyperfine), peak RSS (/usr/bin/time)."
echo
echo "| command | time | peak memory | qcow2dump vs this |"
echo "|---|---|---|---|"
echo "| **merged checkpoint**: 1 TiB, 4 layers, 4 KiB granularity, dirty runs per layer (top first) $per_layer-> $merged merged ranges, the same in both | | | |"
row "cp top + qemu-img bitmap --merge x3 + qemu-nbd -B + qemu-img map --output=json" "$qemu"
row "qcow2dump -x --backing-chain -f json" "$ours" "$qemu"
} > "$results"
cat "$results"
