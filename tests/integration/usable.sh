#!/bin/sh
# The usable verdict, every state made the way the field makes it (the
# real qemu-img, qemu-nbd and qemu-io), in text, JSON and CSV, with the
# exit status that goes with it; and -c -n NAME, the gate before a
# backup.
. "$TOP_SRCDIR/tests/integration/lib.sh"
QEDIT="$PY $TOP_SRCDIR/tests/integration/qedit.py"

# verdict IMAGE NAME: "usable state reason" of NAME in -b's JSON
verdict() {
	qdump -b -f json -n "$2" "$1" | jq -r '.bitmaps[0] | "\(.usable) \(.state) \(.reason)"'
}
# x_status IMAGE NAME: -x's exit status for NAME alone
x_status() {
	qdump -x -n "$2" "$1" > /dev/null 2>&1
	echo $?
}
# all_formats DESC IMAGE NAME USABLE STATE REASON STATUS: the same
# verdict in -x's text, JSON and CSV, in -b's JSON and CSV, and -x's exit
# status
all_formats() {
	desc=$1 img=$2 name=$3 want="$4 $5 $6" st=$7
	text_want=yes
	[ "$4" = true ] || text_want="no ($5)"
	expect_eq "$desc: -b JSON" "$(verdict "$img" "$name")" "$want"
	expect_eq "$desc: -x JSON" \
	  "$(qdump -x -f json -n "$name" "$img" 2>/dev/null |
	     jq -r '.bitmaps[0] | "\(.usable) \(.state) \(.reason)"')" "$want"
	reason=$6; [ "$reason" = null ] && reason=
	expect_eq "$desc: -x CSV" \
	  "$(qdump -x -f csv -n "$name" "$img" 2>/dev/null | sed -n 2p | cut -d, -f5-7)" \
	  "$4,$5,$reason"
	expect_eq "$desc: -b CSV" \
	  "$(qdump -b -f csv -n "$name" "$img" 2>/dev/null | sed -n 2p | awk -F, '{print $(NF-2) "," $(NF-1) "," $NF}')" \
	  "$4,$5,$reason"
	expect_eq "$desc: -x text" \
	  "$(qdump -x -n "$name" "$img" 2>/dev/null | awk '$1 == "usable" {sub(/^usable +/, ""); print}')" \
	  "$text_want"
	expect_eq "$desc: -x exit status" "$(x_status "$img" "$name")" "$st"
}

Q create -q -f qcow2 img.qcow2 64M
Q bitmap --add -f qcow2 img.qcow2 good
Q bitmap --add -f qcow2 img.qcow2 off
IO -c 'w 1M 64k' -f qcow2 img.qcow2
Q bitmap --disable -f qcow2 img.qcow2 off
all_formats "recording and clean" img.qcow2 good true usable null 0
all_formats "disabled" img.qcow2 off false disabled null 1
run_q out err -x img.qcow2
check "disabled: -x says why on stderr" grep -q \
  "bitmap 'off': not usable for an incremental backup now: disabled: flag auto is clear" err

# the autoclear bit cleared, as a program without bitmap support leaves it
cp img.qcow2 stale.qcow2; poke stale.qcow2 88 0000000000000000
all_formats "autoclear bit clear" stale.qcow2 good false stale autoclear-bitmaps-clear 1

# QEMU refuses the image (a table one entry too large): every bitmap
cp img.qcow2 bad.qcow2
poke bad.qcow2 $(($(oracle_at img.qcow2 entry_0) + 8)) 00000002
all_formats "a table QEMU refuses" bad.qcow2 good false invalid table-size-excess 1
all_formats "another bitmap of that image" bad.qcow2 off false invalid table-size-excess 1
# extra data: QEMU does not know it
cp img.qcow2 extra.qcow2; $QEDIT dir extra.qcow2 0:extra=11223344
all_formats "extra data" extra.qcow2 good false unsupported extra-data-incompatible 1

# live: a read-write qemu-nbd serves the image, and has marked its
# bitmaps in use on disk; then killed with SIGKILL: inconsistent
cp img.qcow2 live.qcow2
qemu-nbd -t -f qcow2 -k "$WORK/nbd.sock" live.qcow2 2> nbd.err &
nbd=$!
marked=no
for _ in $(seq 200); do
	if $ORACLE offsets live.qcow2 > /dev/null 2>&1 &&
	   [ "$(qemu-img info -U -f qcow2 --output=json live.qcow2 |
	        jq -r '."format-specific".data.bitmaps[0].flags | index("in-use") != null')" = true ]; then
		marked=yes; break
	fi
	sleep 0.05
done
expect_eq "live: qemu-nbd marked the bitmaps in use" "$marked" yes
qdump -f json -b live.qcow2 > held.json 2> /dev/null
expect_eq "live: locked" "$(jq .locked held.json)" true
all_formats "in use, a writer holds it" live.qcow2 good false live bitmap-in-use 1
run_q out err -x -n good live.qcow2
check "live: says the true bitmap is in QEMU's memory" grep -q \
  "not usable for an incremental backup now: live: a running QEMU holds the image" err
kill -9 "$nbd"; wait "$nbd" 2> /dev/null
qdump -f json -b live.qcow2 > dead.json 2> /dev/null
expect_eq "inconsistent: not locked any more" "$(jq .locked dead.json)" false
all_formats "in use, its writer killed" live.qcow2 good false inconsistent bitmap-in-use 1
# QEMU agrees: it refuses to export the bitmap
qemu-nbd -r -k "$WORK/x.sock" -f qcow2 -B good live.qcow2 > /dev/null 2> nbd2.err &
sleep 1; kill "$!" 2> /dev/null; wait "$!" 2> /dev/null
check "inconsistent: qemu-nbd refuses to export it too" grep -q "is inconsistent" nbd2.err

# a reader (qemu-nbd -r) holding the image: locked, but no writer
qemu-nbd -r -t -f qcow2 -k "$WORK/r.sock" img.qcow2 2> /dev/null &
rd=$!
for _ in $(seq 100); do [ -S r.sock ] && break; sleep 0.05; done
qdump -f json -b img.qcow2 > reader.json 2> /dev/null
expect_eq "a reader holds it: locked" "$(jq .locked reader.json)" true
expect_eq "a reader holds it: the bitmap is still usable" \
  "$(jq -r '.bitmaps[0].state' reader.json)" usable
kill "$rd"; wait "$rd" 2> /dev/null

# -c -n NAME: the gate before a backup
run_q out err -c -n good img.qcow2
expect_eq "-c -n a usable bitmap: exit 0" "$status" 0
run_q out err -c -n off -f csv img.qcow2
expect_eq "-c -n a disabled bitmap: exit 1" "$status" 1
expect_eq "-c -n a disabled bitmap: the error" "$(sed -n 2p out | cut -d, -f2,3,5)" \
  "error,bitmap-not-usable,off"
run_q out err -c -n good -f json live.qcow2
expect_eq "-c -n an inconsistent bitmap: exit 1" "$status" 1
expect_eq "-c -n: only NAME's problems and the image's" \
  "$(jq -c '[.problems[] | [.code, .bitmap]]' out)" \
  '[["bitmap-in-use","good"],["bitmap-not-usable","good"]]'
run_q out err -c live.qcow2
expect_eq "-c without -n: in use is a warning (exit 0)" "$status" 0
run_q out err -c -n nothere img.qcow2
expect_eq "-c -n a missing NAME: exit 2" "$status" 2
check "-c -n a missing NAME: names the ones there" grep -q "no bitmap named 'nothere' (bitmaps: good, off)" err
finish
