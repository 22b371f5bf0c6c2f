#!/bin/sh
# What users do today to read a bitmap's dirty ranges: export the image
# with qemu-nbd -B and walk the export with qemu-img map.
#   bench/qemu-extents.sh IMAGE BITMAP > map.json
set -eu
dir=$(mktemp -d)
trap 'kill "$nbd" 2>/dev/null; rm -rf "$dir"' EXIT
qemu-nbd -r -k "$dir/s" -f qcow2 -B "$2" "$1" &
nbd=$!
while [ ! -S "$dir/s" ]; do sleep 0.01; done
qemu-img map --output=json --image-opts \
	"driver=nbd,server.type=unix,server.path=$dir/s,x-dirty-bitmap=qemu:dirty-bitmap:$2"
