#!/bin/sh
# How the fuzzer's seed corpus in tests/fuzz/seeds was made: small real
# images (512-byte clusters keep them a few KiB) with every extension the
# decoder knows.
set -eu
cd "$(dirname "$0")/seeds"
Q() { qemu-img "$@"; }
Q create -q -f qcow2 -o cluster_size=512 bitmaps.qcow2 1M
Q bitmap --add -g 4k -f qcow2 bitmaps.qcow2 b0
Q bitmap --add --disable -f qcow2 bitmaps.qcow2 'name,with"quote'
qemu-io -c 'w 4k 8k' -f qcow2 bitmaps.qcow2 >/dev/null
Q create -q -f qcow2 -o cluster_size=512 base.qcow2 1M
Q create -q -f qcow2 -o cluster_size=512 -b base.qcow2 -F qcow2 backing.qcow2 1M
Q create -q -f qcow2 -o cluster_size=512,compat=0.10 v2.qcow2 1M
Q create -q -f qcow2 -o cluster_size=512,compression_type=zstd,lazy_refcounts=on zstd.qcow2 1M
Q bitmap --add -f qcow2 zstd.qcow2 z
Q create -q -f qcow2 -o cluster_size=512,data_file=d.raw,data_file_raw=on datafile.qcow2 1M
Q create -q -f qcow2 -o cluster_size=4096 feat.qcow2 1M
Q bitmap --add -f qcow2 feat.qcow2 f
Q snapshot -c s1 feat.qcow2
Q create -q -f qcow2 -o cluster_size=512 snapshots.qcow2 1M
qemu-io -c 'w 0 4k' -f qcow2 snapshots.qcow2 >/dev/null
Q snapshot -c s1 snapshots.qcow2
qemu-io -c 'w 4k 4k' -f qcow2 snapshots.qcow2 >/dev/null
Q snapshot -c 'second, ☃' snapshots.qcow2
rm -f base.qcow2 d.raw
# hostile ones, small enough for the fuzzer (64 KiB): 8 bitmaps sharing
# one table whose entries all name one data cluster, and 2 sharing a
# table of entries with reserved bits (tests/integration/hostile.py)
H="python3 ../../integration/hostile.py"
Q create -q -f qcow2 -o cluster_size=512 shared.qcow2 1M
$H shared-table shared.qcow2 8 2048
Q create -q -f qcow2 -o cluster_size=512 badtable.qcow2 1M
$H bad-table badtable.qcow2 2 2048
