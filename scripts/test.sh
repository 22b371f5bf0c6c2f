#!/bin/sh
# Sets everything up, then runs every test: the unit and integration
# suites on a normal build, the same suites on a build with
# AddressSanitizer and UndefinedBehaviorSanitizer, the integration suite
# under valgrind memcheck, the libFuzzer target for FUZZ_SECONDS (default
# 120), and make distcheck.  Ends with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
scripts/setup.sh || exit 1

status=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
run_suite() { # DIR CONFIGURE-ARGS...
	dir=$1; shift
	mkdir -p "$dir"
	( cd "$dir" && { [ -f Makefile ] || "$top/configure" "$@"; } &&
	  make -j"$(nproc)" && make -j"$(nproc)" check VERBOSE=1 ) || status=1
}
# keep_logs NAME DIR: the suite's logs, for the count at the end
keep_logs() {
	mkdir -p "$logs/$1"
	for f in "$2"/tests/*/*.log; do
		[ -f "$f" ] && cp "$f" "$logs/$1/$(basename "$(dirname "$f")")-$(basename "$f")"
	done
}

echo "== tests on the normal build"
run_suite build
keep_logs normal build
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-sanitize --enable-sanitizers
keep_logs sanitize build-sanitize
echo "== integration tests under valgrind memcheck"
( cd build && make -j"$(nproc)" check-valgrind VERBOSE=1 ) > "$logs/valgrind.out" 2>&1 || {
	grep -E '^(FAIL|ERROR)' "$logs/valgrind.out"; tail -40 "$logs/valgrind.out"; status=1; }
grep -E '^# (TOTAL|PASS|FAIL)' "$logs/valgrind.out"
keep_logs valgrind build

echo "== fuzzing for ${FUZZ_SECONDS:-120} s (libFuzzer, ASan + UBSan)"
fuzz_ok=0
if sh fuzz/run.sh "${FUZZ_SECONDS:-120}"; then fuzz_ok=1; else status=1; fi

echo "== make distcheck"
( cd build && make -j"$(nproc)" distcheck ) > "$logs/distcheck.out" 2>&1 || {
	tail -40 "$logs/distcheck.out"; status=1; }
grep 'archives ready' "$logs/distcheck.out"

# The integration scripts count their own assertions, cmocka the unit
# tests'; summed over the three runs, plus the fuzzing run.
passed=$fuzz_ok; failed=$((1 - fuzz_ok))
for log in "$logs"/*/*.log; do
	[ -f "$log" ] || continue
	p=$(sed -n 's/^# \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log")
	f=$(sed -n 's/^# \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log")
	if [ -z "$p" ]; then
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\.$/\1/p' "$log")
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:$/\1/p' "$log")
	fi
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed"
exit "$status"
