#!/bin/sh
# Sets everything up, then runs every test: the unit and integration
# suites on a normal build, the same suites on a build with
# AddressSanitizer and UndefinedBehaviorSanitizer, and make distcheck.
# Ends with one summary line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
scripts/setup.sh || exit 1

status=0
run_suite() { # DIR CONFIGURE-ARGS...
	dir=$1; shift
	mkdir -p "$dir"
	( cd "$dir" && { [ -f Makefile ] || "$top/configure" "$@"; } &&
	  make -j"$(nproc)" && make -j"$(nproc)" check VERBOSE=1 ) || status=1
}

echo "== tests on the normal build"
run_suite build
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-sanitize --enable-sanitizers
echo "== make distcheck"
( cd build && make -j"$(nproc)" distcheck ) > build/distcheck.log 2>&1 || {
	tail -40 build/distcheck.log; status=1; }
grep 'archives ready' build/distcheck.log

# The integration scripts count their own assertions; unit tests count
# theirs through cmocka.  Sum them over both builds.
passed=0; failed=0
for log in build/tests/*/*.log build-sanitize/tests/*/*.log; do
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
