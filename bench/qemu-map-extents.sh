#!/bin/sh
# What users do today for a bitmap's dirty ranges split by the map: the
# dirty ranges (bench/qemu-extents.sh: qemu-nbd -B and qemu-img map of the
# export's dirty-bitmap context), then the image's own map (qemu-img map),
# one after the other.  Intersecting the two lists is left to the user and
# not done here (so not timed).
#   bench/qemu-map-extents.sh IMAGE BITMAP > dirty-then-map.json
set -eu
sh "$(dirname "$0")/qemu-extents.sh" "$1" "$2"
qemu-img map --output=json -f qcow2 "$1"
