#!/bin/sh
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it for a
# bounded time on the seed corpus.  A finding fails the run; its input is
# left in tests/fuzz/regressions/ to be committed, where 'make check'
# replays it from then on.
#   fuzz/run.sh [SECONDS]        (default 120)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
seconds=${1:-120}
out=build-fuzz
mkdir -p "$out/corpus"
[ -f build/config.h ] || { echo "fuzz/run.sh: run scripts/setup.sh first" >&2; exit 1; }
srcs=$(ls src/*.c | grep -v src/main.c)
# shellcheck disable=SC2086
clang -g -O1 -std=gnu11 -I build -I src \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	$(pkg-config --cflags jansson) fuzz/fuzz_qcow2.c $srcs \
	$(pkg-config --libs jansson) -o "$out/fuzz_qcow2"
cp tests/fuzz/seeds/* tests/fuzz/regressions/* "$out/corpus/" 2>/dev/null || true
cd "$out"
status=0
# -rss_limit_mb: the decoder must stay within bounds whatever the input
./fuzz_qcow2 -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 \
	-dict="$top/fuzz/qcow2.dict" \
	-timeout=10 -print_final_stats=1 -artifact_prefix="$top/tests/fuzz/regressions/" \
	corpus > fuzz.log 2>&1 || status=$?
tail -n 12 fuzz.log
if [ "$status" -ne 0 ]; then
	echo "fuzz/run.sh: finding; the input is in tests/fuzz/regressions/" >&2
	grep -A30 -m1 'ERROR\|runtime error' fuzz.log >&2 || true
fi
exit "$status"
