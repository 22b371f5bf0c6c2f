#!/bin/sh
# QEMU's route to a checkpoint's bitmap merged over a backing chain, as
# libvirt merges it for a backup: copy the top layer, merge the bitmap of
# each lower layer into the copy (qemu-img bitmap --merge), export the
# copy with qemu-nbd -B and walk the export with qemu-img map.
#   bench/qemu-chain-merge.sh BITMAP TOP LOWER... > map.json
# TOP's copy lies beside it, so that its relative backing name holds.
set -eu
name=$1 top=$2
shift 2
dir=$(mktemp -d)
copy=$top.merge.$$
trap 'kill "$nbd" 2>/dev/null; rm -rf "$dir" "$copy"' EXIT
nbd=
cp --sparse=always "$top" "$copy"
for low; do
	qemu-img bitmap --merge "$name" -b "$low" -F qcow2 -f qcow2 "$copy" "$name"
done
qemu-nbd -r -k "$dir/s" -f qcow2 -B "$name" "$copy" &
nbd=$!
while [ ! -S "$dir/s" ]; do sleep 0.01; done
qemu-img map --output=json --image-opts \
	"driver=nbd,server.type=unix,server.path=$dir/s,x-dirty-bitmap=qemu:dirty-bitmap:$name"
