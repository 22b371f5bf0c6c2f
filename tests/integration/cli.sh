#!/bin/sh
# The command line: options, messages, exit statuses, several images, and
# that an image is only ever read: opened O_RDONLY, never locked, never
# changed, even while QEMU holds it.
. "$TOP_SRCDIR/tests/integration/lib.sh"

Q create -q -f qcow2 good.qcow2 1M
Q bitmap --add -f qcow2 good.qcow2 b0

run_q out err --help
expect_eq "--help exits 0" "$status" 0
check "--help lists -e/--extensions" grep -q -- '-e, --extensions' out
check "--help lists -t/--bitmap-table" grep -q -- '-t, --bitmap-table' out
check "--help gives the exit statuses" grep -q 'Exit status' out
run_q out err --usage
expect_eq "--usage exits 0" "$status" 0
run_q out err --version
expect_eq "--version" "$(head -1 out)" "qcow2dump 0.1.0"

run_q out err
expect_eq "no IMAGE: exit 64" "$status" 64
check "no IMAGE: says so" grep -q 'no IMAGE given' err
run_q out err --no-such-option good.qcow2
expect_eq "unknown option: exit 64" "$status" 64
expect_eq "unknown option: nothing on stdout" "$(cat out)" ""

run_q out err -f yaml good.qcow2
expect_eq "unknown format: exit 64" "$status" 64
check "unknown format: lists the formats" grep -q "unknown format 'yaml' (formats: text, json, csv)" err
run_q out err -e -b good.qcow2
expect_eq "-e with -b: exit 64" "$status" 64
run_q out err -b good.qcow2
expect_eq "-b: the entry alone" "$(cat out)" "$(qdump -e good.qcow2 | sed -n '/^Bitmap name/,$p')"

run_q out err missing.qcow2
expect_eq "missing image: exit 2" "$status" 2
expect_eq "missing image: message" "$(cat err)" \
  "qcow2dump: missing.qcow2: cannot open: No such file or directory"
echo "just text, long enough to hold a whole qcow2 header and then some more bytes" > notes.txt
run_q out err notes.txt
expect_eq "not qcow2: exit 2" "$status" 2
expect_eq "not qcow2: message names structure and offset" "$(cat err)" \
  "qcow2dump: notes.txt: not a qcow2 image: bad magic (where: header, offset 0x0)"
Q create -q -f raw raw.img 1M
run_q out err raw.img
expect_eq "raw image: exit 2" "$status" 2
run_q out err .
expect_eq "directory: exit 2" "$status" 2
expect_eq "directory: message" "$(cat err)" "qcow2dump: .: cannot open: Is a directory"

# the other images are still processed, in order
run_q out err -e good.qcow2 missing.qcow2 good.qcow2
expect_eq "mixed: exit 2" "$status" 2
expect_eq "mixed: both good images shown" "$(grep -c '^==> good.qcow2 <==' out)" 2
expect_eq "mixed: no label for an image that cannot be opened (as head(1))" "$(grep -c "^==> missing.qcow2 <==" out)" 0
expect_eq "mixed: bitmap shown twice" "$(grep -c '^Bitmap name  *b0$' out)" 2

run_q out err good.qcow2
expect_eq "ok image: exit 0" "$status" 0
qdump good.qcow2 > /dev/full 2> err
expect_eq "write error: exit 2" "$?" 2
check "write error: reported" grep -q 'write error: No space left on device' err

# read-only and lock-free while QEMU holds the image
qemu-io -f qcow2 good.qcow2 -c 'sleep 10000' >/dev/null 2>&1 &
io=$!
# wait for the writer to open the image without racing it for the lock
# (a qemu-img probe could take its own lock first and make qemu-io fail)
for _ in $(seq 100); do
	ls -l /proc/$io/fd 2>/dev/null | grep -q good.qcow2 && break
	sleep 0.05
done
sleep 0.3
check "qemu-img info is refused while qemu-io holds the lock" \
  sh -c '! qemu-img info good.qcow2 >/dev/null 2>&1'
run_q out err good.qcow2
expect_eq "held image: qcow2dump still reads it" "$status" 0
kill "$io" 2>/dev/null; wait "$io" 2>/dev/null
before=$(sha256sum good.qcow2; stat -c %y good.qcow2)
qdump -t good.qcow2 > /dev/null
expect_eq "image unchanged (content, mtime)" \
  "$(sha256sum good.qcow2; stat -c %y good.qcow2)" "$before"

# LeakSanitizer cannot run under ptrace; the sanitizer build is traced too
ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 \
  strace -f -e trace=openat,flock,fcntl -o trace.txt "$QCOW2DUMP" good.qcow2 >/dev/null
qdump_status $? good.qcow2 under strace
check "opened O_RDONLY" grep -q 'openat(.*"good.qcow2", O_RDONLY' trace.txt
expect_eq "never opened for writing" \
  "$(grep '"good.qcow2"' trace.txt | grep -c -e O_WRONLY -e O_RDWR)" 0
expect_eq "no lock taken" "$(grep -c -e 'flock(' -e 'F_SETLK' -e 'F_OFD_SETLK' trace.txt)" 0
finish
