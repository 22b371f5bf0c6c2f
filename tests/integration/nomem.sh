#!/bin/sh
# Out of memory anywhere: a clear error and exit status 2, never a
# half-written value and never a confident answer with problems dropped.
# Each allocation of a run is made, in turn, the first to fail (an
# LD_PRELOAD shim); under AddressSanitizer, which has its own allocator,
# every allocation over a size fails instead.
. "$TOP_SRCDIR/tests/integration/lib.sh"

build_image inuse
build_tricky
Q create -q -f qcow2 -o cluster_size=512 many.qcow2 8M
$PY "$TOP_SRCDIR/tests/integration/mkbitmaps.py" many.qcow2 3000
# a chain of two, a checkpoint in each layer: every run is a chain, an
# image alone one of one layer (which once freed a message twice when
# memory ran out)
Q create -q -f qcow2 base.qcow2 4M
Q bitmap --add base.qcow2 ck
IO -c 'write 0 64k' base.qcow2
Q create -q -f qcow2 -F qcow2 -b base.qcow2 top.qcow2
Q bitmap --add top.qcow2 ck
IO -c 'write 1M 64k' top.qcow2

# judge DESC STATUS: a run's outcome against the run with no limit
judge() {
	case $2 in
	0|1)
		if [ "$2" = "$full_status" ] && cmp -s out full.out; then
			echo same
		else
			echo "different: exit $2"
		fi ;;
	2)
		if grep -q -i 'out of memory\|Cannot allocate memory' err; then
			echo refused
		else
			echo "exit 2 without saying out of memory: $(head -c 200 err)"
		fi ;;
	*) echo "exit $2" ;;
	esac
}

asan=no
nm "$QCOW2DUMP_BIN" 2>/dev/null | grep -q __asan_init && asan=yes
runs=0 oom_named=no
if [ "$asan" = no ]; then
	cc -shared -fPIC -O2 -o failmalloc.so \
	  "$TOP_SRCDIR/tests/integration/failmalloc.c" -ldl ||
	  fail "the failmalloc shim builds"
fi
for args in "-c -f json inuse.qcow2" "-x -f json inuse.qcow2" "-x -f csv inuse.qcow2" \
	    "-b -f csv tricky.qcow2" "-c -f json many.qcow2" "-f json tricky.qcow2" \
	    "--backing-chain -x -f json inuse.qcow2" "--backing-chain -x -f json top.qcow2" \
	    "--backing-chain -c -n ck -f json top.qcow2"; do
	# shellcheck disable=SC2086
	"$QCOW2DUMP_BIN" $args > full.out 2> full.err
	full_status=$?
	if [ "$asan" = no ]; then
		# shellcheck disable=SC2086
		FAIL_COUNT=count.txt LD_PRELOAD=./failmalloc.so "$QCOW2DUMP_BIN" $args > /dev/null 2>&1
		total=$(cat count.txt)
		step=$(( total / 150 + 1 ))
		n=0
		while [ "$n" -le "$total" ]; do
			# shellcheck disable=SC2086
			FAIL_AFTER=$n LD_PRELOAD=./failmalloc.so "$QCOW2DUMP_BIN" $args > out 2> err
			st=$?
			verdict=$(judge "$args" "$st")
			case $verdict in
			same|refused) ;;
			*) fail "$args, allocation $n of $total fails: $verdict" ;;
			esac
			grep -q '"code": "out-of-memory"' out && oom_named=yes
			runs=$((runs + 1))
			n=$((n + step))
		done
	else
		for mb in 1 2 4 8 16; do
			# shellcheck disable=SC2086
			ASAN_OPTIONS=$ASAN_OPTIONS:allocator_may_return_null=1:max_allocation_size_mb=$mb \
			  "$QCOW2DUMP_BIN" $args > out 2> err
			st=$?
			verdict=$(judge "$args" "$st")
			case $verdict in
			same|refused) ;;
			*) fail "$args, allocations over $mb MiB fail: $verdict" ;;
			esac
			runs=$((runs + 1))
		done
	fi
done
expect_some "out of memory at every step: the same output, or exit 2 saying so" "$runs"
if [ "$asan" = no ]; then
	expect_eq "out of memory: -c names the problem out-of-memory in its document" "$oom_named" yes
	# an I/O error (a bad sector) where the directory lies: exit 2, the
	# problem read-error, located
	dir=$(qdump -f json inuse.qcow2 | jq '.header_extensions[] | select(.name == "Bitmaps") | .data.bitmap_directory_offset')
	FAIL_PREAD_AT=$dir LD_PRELOAD=./failmalloc.so "$QCOW2DUMP_BIN" -c -f csv inuse.qcow2 > out 2> err
	expect_eq "read error: exit 2" "$?" 2
	expect_eq "read error: the problem read-error at the directory" \
	  "$(awk -F, '$3 == "read-error" {print $2, $4}' out)" "error $dir"
fi
finish
