# Sourced by bench/run.sh, bench/chain.sh and bench/map.sh: how a command
# is measured and how a row of the results table is written.

# median wall seconds over RUNS runs (the mean with STAT=mean), and the
# peak RSS of one run (MiB); h.json keeps hyperfine's figures
measure() { # RUNS CMD...
	runs=$1; shift
	# (-i: a verdict is an exit status, 1 for a bitmap not usable)
	hyperfine -N -i --style none --runs "$runs" --warmup $((runs > 1 ? 1 : 0)) \
		--export-json h.json "$*" > /dev/null 2>&1 ||
		hyperfine -i --style none --runs "$runs" --export-json h.json "$*" > /dev/null
	t=$(jq ".results[0].${STAT:-median}" h.json)
	/usr/bin/time -f %M -o rss.txt "$@" > /dev/null 2>&1 || true
	# (the last line: time says first when the command exited non-zero)
	echo "$t $(tail -n 1 rss.txt | awk '{printf "%.1f", $1 / 1024}')"
}
row() { # LABEL "T RSS" [BASELINE "T RSS"]
	set -- "$1" $2 ${3:-}
	printf '| %s | %.4f s | %s MiB |' "$1" "$2" "$3"
	if [ $# -ge 5 ]; then
		awk -v a="$2" -v b="$4" -v m="$3" -v n="$5" '
		function ratio(r, more, less) {
			if (r >= 10) return sprintf("%.0fx %s", r, more)
			if (r >= 1) return sprintf("%.2fx %s", r, more)
			return sprintf("%.2fx %s", 1 / r, less)
		}
		BEGIN { printf " %s, %s |\n", ratio(b / a, "faster", "slower"),
			ratio(n / m, "less memory", "more memory") }'
	else
		echo " baseline |"
	fi
}
