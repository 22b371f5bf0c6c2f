#!/bin/sh
# The command line: options, messages, exit statuses, several images, and
# that an image is only ever read: opened O_RDONLY, never locked, never
# changed, even while QEMU holds it.
. "$TOP_SRCDIR/tests/integration/lib.sh"

Q create -q -f qcow2 good.qcow2 1M
Q bitmap --add -f qcow2 good.qcow2 b0

run_q out err --help
expect_eq "--help exits 0" "$status" 0
run_q out2 err -h
expect_file "-h is --help" out2 out
qdump --help > /dev/full 2> /dev/null
expect_eq "--help onto a full disk: exit 2" "$?" 2
qdump --usage > /dev/full 2> /dev/null
expect_eq "--usage onto a full disk: exit 2" "$?" 2
qdump --list-checks > /dev/full 2> /dev/null
expect_eq "--list-checks onto a full disk: exit 2" "$?" 2
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
expect_eq "argp's messages name the program as the others do" \
  "$(head -1 err | cut -d: -f1)" qcow2dump
# qemu-img's spellings
run_q out err --output=json good.qcow2
expect_eq "--output=json: exit 0" "$status" 0
expect_eq "--output=json prints JSON, as -f json" "$(jq -c .image out)" '"good.qcow2"'
run_q out2 err -f json good.qcow2
expect_file "--output=json is -f json" out out2
run_q out err --output=human good.qcow2
run_q out2 err good.qcow2
expect_file "--output=human is the text" out out2
run_q out err -U good.qcow2
expect_file "-U (--force-share): accepted, the same output" out out2
run_q out err -f qcow2 good.qcow2
expect_eq "-f qcow2: exit 64" "$status" 64
check "-f qcow2: says -f is the output format" grep -q \
  "unknown output format 'qcow2': -f and --output name the output format here" err
# what would be ignored is a usage error naming the options
run_q out err --compact good.qcow2
expect_eq "--compact without JSON: exit 64" "$status" 64
check "--compact without JSON: says so" grep -q -- '--compact needs -f json' err
run_q out err -t -c good.qcow2
expect_eq "-t with -c: exit 64" "$status" 64
check "-t with -c: says so" grep -q -- '-t (--bitmap-table) shows nothing with -c' err
run_q out err -t -x good.qcow2
expect_eq "-t with -x: exit 64" "$status" 64
run_q out err --list-checks good.qcow2
expect_eq "--list-checks with an IMAGE: exit 64" "$status" 64
# --at and --layout: views of their own, about one file
for args in "--at 0x" "--at zz" "--layout -c" "--at 5 --layout" "--at 5 -b" \
	    "--at 5 -n b0" "--layout -t" "--layout --backing-chain" "--layout --map"; do
	# shellcheck disable=SC2086
	run_q out err $args good.qcow2
	expect_eq "$args: exit 64" "$status" 64
done
size=$(stat -c %s good.qcow2)
run_q out err --at "$size" -f json good.qcow2
expect_eq "--at the file's size: exit 1, at-beyond-eof, no owner" \
  "$status $(jq -c '[.owners, [.problems[].code]]' out)" '1 [[],["at-beyond-eof"]]'
run_q out err --at 0x10 --at 1k -f json good.qcow2
expect_eq "--at twice: one document each, in order, hex and a size" \
  "$status $(jq -sc '[.[] | [.at, .owners[0].structure]]' out)" '0 [[16,"header"],[1024,"header"]]'
# --list-checks in every format, the same codes
qdump --list-checks | cut -f1 > codes.txt
run_q out err --list-checks -f json
expect_eq "--list-checks -f json: one array, the codes in order" \
  "$(jq -r '.[].code' out | md5sum)" "$(md5sum < codes.txt)"
expect_eq "--list-checks -f json: every entry has code, severity, meaning, advice" \
  "$(jq -c '[.[] | keys] | unique' out)" '[["advice","code","meaning","severity"]]'
run_q out err --list-checks -f csv
expect_eq "--list-checks -f csv: header row" "$(head -1 out)" "code,severity,meaning,advice"
expect_eq "--list-checks -f csv: a row per code" "$(tail -n +2 out | cut -d, -f1 | md5sum)" \
  "$(md5sum < codes.txt)"
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
expect_eq "directory: message" "$(cat err)" \
  "qcow2dump: .: not a regular file or a block device: Is a directory"
# a FIFO with no writer is refused at once, not waited on for ever
mkfifo pipe
timeout 10 "$QCOW2DUMP" pipe > out 2> err
st=$?; qdump_status "$st" pipe
expect_eq "FIFO: exit 2 at once" "$st" 2
expect_eq "FIFO: message" "$(cat err)" "qcow2dump: pipe: not a regular file or a block device"
run_q out err -f json pipe
expect_eq "FIFO: its JSON document says why" \
  "$(jq -c '[.image, .locked, .problems[0].code]' out)" '["pipe",null,"not-a-file"]'
run_q out err -c -f csv missing.qcow2
expect_eq "missing image: its row in -c's CSV" "$(sed -n 2p out | cut -d, -f1-3)" \
  "missing.qcow2,error,cannot-open"
run_q out err -f json missing.qcow2 good.qcow2
expect_eq "missing image: a document too, and the next one" \
  "$(jq -s -c 'map([.image, (.problems // [])[0].code])' out)" \
  '[["missing.qcow2","cannot-open"],["good.qcow2",null]]'
# a path with an escape sequence is shown escaped on stderr
run_q out err "$(printf 'bad\033[2Jname')"
expect_eq "escape in a path: escaped on stderr" "$(cat err)" \
  "qcow2dump: bad\\x1b[2Jname: cannot open: No such file or directory"

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
run_q out err -f json good.qcow2
expect_eq "held image: locked, as the probe of QEMU's lock bytes says" \
  "$(jq .locked out)" true
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
check "the lock bytes asked about (F_OFD_GETLK), not taken" grep -q 'F_OFD_GETLK' trace.txt
run_q out err -f json good.qcow2
expect_eq "image nobody holds: not locked" "$(jq .locked out)" false
finish
