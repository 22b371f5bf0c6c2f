#!/bin/sh
# How sample.qcow2 (the image README's first command shows) was made.
set -eu
rm -f sample.qcow2
qemu-img create -q -f qcow2 -o cluster_size=4k sample.qcow2 64M
qemu-img bitmap --add -f qcow2 sample.qcow2 daily
qemu-io -f qcow2 -c 'w 0 8k' -c 'w 10M 16k' sample.qcow2 >/dev/null
qemu-img bitmap --add -g 1M -f qcow2 sample.qcow2 weekly
qemu-io -f qcow2 -c 'w 32M 4k' sample.qcow2 >/dev/null
qemu-img bitmap --disable -f qcow2 sample.qcow2 weekly
