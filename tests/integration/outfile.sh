#!/bin/sh
# --output-file (-O): the output is complete or not there at all, and
# nothing but a regular file asked for is ever replaced: never an IMAGE,
# never a device, never a symbolic link itself; an existing file keeps
# its mode and owner; "-" is standard output; a signal leaves no
# temporary file behind.
. "$TOP_SRCDIR/tests/integration/lib.sh"

build_image inuse
build_image c512

run_q out err -f csv -O out.csv inuse.qcow2 c512.qcow2
expect_eq "-O: exit 0, nothing on stdout" "$status:$(cat out)" "0:"
qdump -f csv inuse.qcow2 c512.qcow2 > stdout.csv
expect_file "-O: the same bytes as stdout" out.csv stdout.csv
expect_eq "-O: a normal file mode (umask 022)" "$(umask 022; qdump -O m.txt c512.qcow2; stat -c %a m.txt)" 644
echo old > keep.csv
run_q out err -f csv -O keep.csv inuse.qcow2 missing.qcow2
expect_eq "-O with a missing image: exit 2" "$status" 2
expect_file "-O with a missing image: the others are written" keep.csv \
  "$(printf '%s\n' "$(qdump -f csv inuse.qcow2)" > want.csv; echo want.csv)"
run_q out err -O no/such/dir/x.csv inuse.qcow2
expect_eq "-O into a missing directory: exit 2" "$status" 2
check "-O into a missing directory: says so" grep -q 'no/such/dir/x.csv: cannot create: No such file or directory' err
mkdir ro && echo old > ro/out.json && chmod 555 ro && chmod 644 ro/out.json
# as a user the directory's mode applies to (root ignores it); the
# program and image are copied where that user can reach them
cp "$QCOW2DUMP_BIN" qd && cp inuse.qcow2 ro-src.qcow2 && chmod 755 qd "$WORK"
chmod 644 ro-src.qcow2
setpriv --reuid=nobody --regid=nogroup --clear-groups \
  ./qd -f json -O ro/out.json ro-src.qcow2 2> err
ro_status=$?
qdump_status "$ro_status" -f json -O ro/out.json ro-src.qcow2 as nobody
expect_eq "-O into a read-only directory: exit 2" "$ro_status" 2
check "-O into a read-only directory: says so" grep -q 'cannot create: Permission denied' err
expect_eq "-O into a read-only directory: file untouched, no temporary left" \
  "$(cat ro/out.json; ls ro)" "old
out.json"
# never one of the IMAGEs, whatever the spelling
before=$(sha256sum inuse.qcow2)
run_q out err -O inuse.qcow2 inuse.qcow2
expect_eq "-O IMAGE IMAGE: exit 2" "$status" 2
check "-O IMAGE IMAGE: says why" grep -q 'inuse.qcow2: it is one of the IMAGEs' err
expect_eq "-O IMAGE IMAGE: the image is untouched" "$(sha256sum inuse.qcow2)" "$before"
ln -s inuse.qcow2 alias.qcow2
run_q out err -O ./alias.qcow2 c512.qcow2 inuse.qcow2
expect_eq "-O through a link to an IMAGE: exit 2" "$status" 2
expect_eq "-O through a link to an IMAGE: untouched" "$(sha256sum inuse.qcow2)" "$before"
expect_eq "-O IMAGE: no temporary file left" "$(ls | grep -c 'qcow2\.')" 0
# nothing but a regular file is replaced: not a device (as root, the
# old way would have replaced /dev/null), not a directory
run_q out err -O /dev/null c512.qcow2
expect_eq "-O /dev/null: exit 2" "$status" 2
check "-O /dev/null: says why" grep -q '/dev/null: not a regular file' err
check "-O /dev/null: still the character device" test -c /dev/null
mkdir adir
run_q out err -O adir c512.qcow2
expect_eq "-O a directory: exit 2" "$status" 2
check "-O a directory: still a directory" test -d adir
# a symbolic link is written through: the link stays, its target is
# replaced
echo old > target.csv
ln -s target.csv link.csv
run_q out err -f csv -O link.csv c512.qcow2
expect_eq "-O a symbolic link: exit 0" "$status" 0
check "-O a symbolic link: still a link" test -L link.csv
expect_file "-O a symbolic link: the target holds the output" target.csv \
  "$(qdump -f csv c512.qcow2 > want.csv; echo want.csv)"
ln -s nowhere.csv dangling.csv
run_q out err -O dangling.csv c512.qcow2
expect_eq "-O a dangling link: exit 2" "$status" 2
# an existing file keeps its mode and owner
echo old > private.csv
chmod 600 private.csv
chown nobody:nogroup private.csv
run_q out err -f csv -O private.csv c512.qcow2
expect_eq "-O an existing file: mode and owner kept" \
  "$(stat -c '%a %U' private.csv)" "600 nobody"
expect_file "-O an existing file: its new content" private.csv want.csv
# "-" is standard output
run_q out err -f csv -O - c512.qcow2
expect_file "-O -: standard output" out want.csv
# a signal mid-way leaves the old file and no temporary one: the run is
# stopped while it writes (many images), then killed
echo old > sig.json
set --; i=0; while [ $i -lt 3000 ]; do set -- "$@" inuse.qcow2; i=$((i + 1)); done
"$QCOW2DUMP" -f json -O sig.json "$@" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
	ls | grep -q '^sig\.json\.' && break
	sleep 0.01
done
kill -STOP "$pid" 2>/dev/null
expect_eq "signal: the temporary file is there while writing" "$(ls | grep -c '^sig\.json\.')" 1
kill -TERM "$pid"; kill -CONT "$pid" 2>/dev/null
wait "$pid"
expect_eq "SIGTERM: the program dies of it" "$?" 143
expect_eq "SIGTERM: no temporary file left" "$(ls | grep -c '^sig\.json\.')" 0
expect_eq "SIGTERM: the old file untouched" "$(cat sig.json)" old
finish
