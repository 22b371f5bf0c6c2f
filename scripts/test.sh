#!/bin/sh
# Sets everything up, then runs every test: the unit and integration
# suites on a normal build; the same suites, but the documentation and
# install checks, on a build with AddressSanitizer and
# UndefinedBehaviorSanitizer (make check-memory); the integration scripts
# that drive the decoders and views under valgrind memcheck (make
# check-valgrind, VALGRIND_TESTS in Makefile.am); the libFuzzer target
# for FUZZ_SECONDS (default 60); and make distcheck (the tarball built,
# installed and tested out of tree with the tests that read its data
# files).  Ends with one line "N passed, N failed".  CI runs it on 2
# cores in some 15 minutes.
#
# How assertions are counted.  Each run reports its own count on its own
# line: "normal build: N passed, N failed", and so on for the sanitizer
# build, valgrind, fuzzing and distcheck.  The final line counts each
# assertion once, however many runs made it: an assertion is one "ok -"
# or "not ok -" line of an integration script (told apart by script,
# description and occurrence) or one cmocka test function; it is failed
# if any run failed it.  Fuzzing and distcheck are one assertion each.
# Under valgrind only the integration scripts count: the unit tests that
# make check-valgrind runs again are not run under valgrind.  A script
# that failed or errored without a failed assertion (it died, or a test
# binary crashed) counts as one failed assertion of its own.  The script
# exits 1, and the final line shows at least one failure, if any run
# failed, whatever the counts.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
scripts/setup.sh || exit 1

status=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
: > "$logs/assertions"
run_suite() { # DIR CHECK-TARGET CONFIGURE-ARGS...
	dir=$1 target=$2; shift 2
	mkdir -p "$dir"
	( cd "$dir" && { [ -f Makefile ] || "$top/configure" "$@"; } &&
	  make -j"$(nproc)" && make -j"$(nproc)" "$target" VERBOSE=1 ) || status=1
}
# collect RUN DIR [integration]: one line "RUN<TAB>SUITE<TAB>ASSERTION<TAB>
# ok|fail" per assertion in the logs of DIR; with "integration", the unit
# test logs are left out
collect() {
	for log in "$2"/tests/*/*.log; do
		[ -f "$log" ] || continue
		suite=${log#"$2"/}; suite=${suite%.log}
		case ${3:-}:$suite in integration:tests/unit/*) continue ;; esac
		result=$(sed -n 's/^:test-result: //p' "${log%.log}.trs" 2>/dev/null | head -1)
		awk -v run="$1" -v suite="$suite" -v result="${result:-ERROR}" '
		function out(id, r) { print run "\t" suite "\t" id "\t" r }
		/^ok - / { id = substr($0, 6); out(id "#" ++n[id], "ok"); next }
		/^not ok - / { id = substr($0, 10); out(id "#" ++n[id], "fail"); bad = 1; next }
		/^\[       OK \] / { out(substr($0, 14), "ok"); next }
		/^\[  FAILED  \] [0-9]+ test\(s\)/ { next }
		/^\[  (FAILED|ERROR)   ?\] / { out(substr($0, 14), "fail"); bad = 1; next }
		END { if (result != "PASS" && !bad) out("(" suite " ran to its end)", "fail") }' \
		  "$log" >> "$logs/assertions"
	done
}
# one assertion of a run, by hand
assertion() { printf '%s\t%s\t%s\t%s\n' "$1" "$1" "$2" "$3" >> "$logs/assertions"; }
# report RUN LABEL: that run's own count, on its own line
report() {
	awk -F '\t' -v run="$1" -v label="$2" '
	$1 == run { if ($4 == "ok") p++; else f++ }
	END { printf "%s: %d passed, %d failed\n", label, p, f }' "$logs/assertions" >> "$logs/summary"
}

# QEMU's verdict on an image is asked once per image bytes: the later
# runs read it back (lib.sh, cached)
QEMU_VERDICT_CACHE=$logs/qemu-verdicts
export QEMU_VERDICT_CACHE

echo "== tests on the normal build"
run_suite build check
collect normal build
report normal "normal build"
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
# a sanitizer's report exits 99, a status no test accepts (1 is what -c
# gives for an error found)
# (the byte sweeps take every 8th byte here: the normal run takes every
# one, and the fuzzer corrupts bytes under the same sanitizers)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99 \
SWEEP_STEP=8 \
	run_suite build-sanitize check-memory --enable-sanitizers
collect sanitize build-sanitize
report sanitize "sanitizer build"
echo "== integration tests under valgrind memcheck"
# (the scripts of Makefile.am's VALGRIND_TESTS; the normal run's logs,
# counted above, go first so that only these count for this run)
rm -f build/tests/integration/*.log build/tests/integration/*.trs
( cd build && make -j"$(nproc)" check-valgrind VERBOSE=1 ) > "$logs/valgrind.out" 2>&1 || {
	grep -E '^(FAIL|ERROR)' "$logs/valgrind.out"; tail -40 "$logs/valgrind.out"; status=1; }
grep -E '^# (TOTAL|PASS|FAIL)' "$logs/valgrind.out"
collect valgrind build integration
report valgrind "integration under valgrind"

echo "== fuzzing for ${FUZZ_SECONDS:-60} s (libFuzzer, ASan + UBSan)"
if sh fuzz/run.sh "${FUZZ_SECONDS:-60}"; then
	assertion fuzz "fuzzing finds nothing" ok
else
	assertion fuzz "fuzzing finds nothing" fail; status=1
fi
report fuzz "fuzzing"

# The tarball builds, installs and uninstalls out of tree, and the tests
# that need its data files pass from it (the whole suite ran above)
echo "== make distcheck"
dist_tests="tests/unit/test_reader tests/unit/test_qcow2 tests/unit/test_check \
tests/unit/test_snapshot tests/integration/case291.sh tests/integration/images.sh \
tests/integration/manchecks.sh tests/integration/fuzz-replay.sh"
if ( cd build && make -j"$(nproc)" distcheck TESTS="$dist_tests" ) > "$logs/distcheck.out" 2>&1; then
	assertion distcheck "make distcheck" ok
else
	tail -40 "$logs/distcheck.out"; assertion distcheck "make distcheck" fail; status=1
fi
grep 'archives ready' "$logs/distcheck.out"
report distcheck "distcheck"

cat "$logs/summary"
# each assertion once: failed if any run failed it
awk -F '\t' '
{ key = $2 "\t" $3; seen[key] = 1; if ($4 != "ok") bad[key] = 1 }
END { for (k in seen) if (k in bad) f++; else p++
      printf "%d passed, %d failed\n", p, f }' "$logs/assertions" > "$logs/total"
read -r passed _ failed _ < "$logs/total"
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit "$status"
