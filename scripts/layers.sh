#!/bin/sh
# The include structure of src/ against the layer list of README.md:
#   scripts/layers.sh [SRCDIR [README]]
# (defaults: the src/ and README.md beside this script's scripts/).
#
# A unit is a name x with SRCDIR/x.c, SRCDIR/x.h or both.  Unit A
# depends on unit B when A.c or A.h has #include "B.h" (quotes only;
# <...> and "config.h" are not looked at).  README's "## Layout" section
# declares the layers, lowest first, in one table between two lines:
#
#   <!-- layers -->
#   | layer | phase | units |
#   |---|---|---|
#   | 0 | base | `be`, `problem`, `sort` |
#   | 1 | ... | ... |
#   <!-- /layers -->
#
# Each of these is a violation, reported on its own line on stderr:
#   - units that include each other in a cycle, of any length: for each
#     tangle (units that all reach each other) a line "tangle: a, b, c",
#     then for each include inside it the shortest cycle through that
#     include, "cycle: a -> b -> c -> a" (each cycle once, from its least
#     unit), so that every include that keeps the tangle is in a line;
#   - a unit that includes a unit of a higher layer (units of one layer
#     may include each other, as long as that makes no cycle);
#   - a unit in SRCDIR that the list leaves out, a listed unit with no
#     file, a unit listed twice, a row or table that is not as above;
#   - an #include "x.h" with no x.h in SRCDIR.
# Exit status: 0 and one line "layers: N units on M layers, 0 cycles" on
# stdout when there is none; 1 when there is any (the count of each kind
# last); 2 when SRCDIR or README is not there.
set -u
LC_ALL=C
export LC_ALL

usage() { echo "usage: sh scripts/layers.sh [SRCDIR [README]]"; }
case ${1:-} in -h|--help) usage; exit 0 ;; esac
[ $# -le 2 ] || { usage >&2; exit 2; }

top=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd) || exit 2
src=${1:-$top/src}
readme=${2:-$top/README.md}
# names for the messages: what was given, or the repository's own
src_name=${1:-src}
src_name=${src_name%/}
readme_name=${2:-README.md}
[ -d "$src" ] || { echo "layers: $src: not a directory" >&2; exit 2; }
[ -f "$readme" ] || { echo "layers: $readme: no such file" >&2; exit 2; }
# (awk takes an operand "name=value" for an assignment, never a file)
case $src in /*) ;; *) src=./$src ;; esac
case $readme in /*) ;; *) readme=./$readme ;; esac

# the files of the units, in name order (LC_ALL=C)
files=
set --
for f in "$src"/*.[ch]; do
	[ -f "$f" ] || continue
	b=${f##*/}
	case $b in
	*[!A-Za-z0-9_.+-]*)
		echo "layers: $src_name/$b: a unit's name is letters, digits and _.+- only" >&2
		exit 1 ;;
	esac
	files="$files $b"
	set -- "$@" "$f"
done

awk -v files="$files" -v srcname="$src_name" -v readmename="$readme_name" '
function error(msg) { print msg | "cat 1>&2"; nerr++ }
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function plural(n, one, many) { return n " " (n == 1 ? one : many) }
# the cells of a table row "| a | b | c |"
function cells(line, cell,   n, i) {
	line = trim(line)
	sub(/^\|/, "", line)
	sub(/\|$/, "", line)
	n = split(line, cell, "|")
	for (i = 1; i <= n; i++)
		cell[i] = trim(cell[i])
	return n
}
function where() { return readmename ":" FNR ": " }

BEGIN {
	nerr = nlayers = nlisted = nedges = ncycles = nup = nlist = ncomp = 0
	nfiles = split(files, file, " ")
	for (i = 1; i <= nfiles; i++) {
		u = file[i]
		sub(/\.[ch]$/, "", u)
		if (file[i] ~ /\.h$/)
			header[u] = 1
		if (u == "config" || (u in isunit))
			continue
		isunit[u] = 1
		unit[++nunits] = u
	}
}

# ---- the list, in README ----
phase == "readme" && /^[ \t]*(```|~~~)/ { fenced = !fenced }
phase == "readme" && !fenced && /^##?[ \t]/ {
	if (inblock)
		error(where() "the layers block ends with a heading, not <!-- /layers -->")
	inblock = 0
	layout = ($0 ~ /^##[ \t]+Layout[ \t]*$/)
	next
}
phase == "readme" && !fenced && /^[ \t]*<!--[ \t]*layers[ \t]*-->[ \t]*$/ {
	if (!layout)
		error(where() "<!-- layers --> is outside the ## Layout section")
	else if (blocks++)
		error(where() "a second <!-- layers --> block (the list is in one place)")
	else
		inblock = 1
	next
}
phase == "readme" && !fenced && /^[ \t]*<!--[ \t]*\/layers[ \t]*-->[ \t]*$/ {
	if (!inblock && layout)
		error(where() "<!-- /layers --> without <!-- layers -->")
	inblock = 0
	next
}
phase == "readme" && inblock && /^[ \t]*\|/ {
	n = cells($0, cell)
	row++
	if (row == 1) {
		if (n != 3 || cell[1] != "layer" || cell[2] != "phase" || cell[3] != "units")
			error(where() "the table header is not | layer | phase | units |")
		next
	}
	if (row == 2) {
		if (n != 3 || cell[1] !~ /^:?-+:?$/ || cell[2] !~ /^:?-+:?$/ || cell[3] !~ /^:?-+:?$/)
			error(where() "the line under the header is not |---|---|---|")
		next
	}
	if (n != 3) {
		error(where() "a layer row has three cells: | layer | phase | units |")
		next
	}
	if (cell[1] !~ /^[0-9]+$/) {
		error(where() "layer \"" cell[1] "\" is not a number")
		next
	}
	if (nlayers && cell[1] + 0 <= lastlayer + 0)
		error(where() "layer " cell[1] " after layer " lastlayer " (lowest first, each once)")
	lastlayer = cell[1]
	nlayers++
	if (cell[2] == "")
		error(where() "layer " cell[1] " has no phase")
	k = split(cell[3], name, ",")
	if (trim(cell[3]) == "")
		k = 0
	if (k == 0)
		error(where() "layer " cell[1] " lists no units")
	for (i = 1; i <= k; i++) {
		u = trim(name[i])
		if (u !~ /^`[^` \t]+`$/) {
			error(where() "layer " cell[1] ": \"" u "\" is not a unit in backticks")
			continue
		}
		u = substr(u, 2, length(u) - 2)
		if (u in layer) {
			error(where() u " is listed twice (layers " layer[u] " and " cell[1] ")")
			continue
		}
		layer[u] = cell[1]
		listed[++nlisted] = u
		listedat[u] = FNR
	}
	next
}
phase == "readme" && inblock && !/^[ \t]*$/ {
	error(where() "only the table goes between <!-- layers --> and <!-- /layers -->")
}

# ---- the includes, in SRCDIR ----
phase == "src" && FNR == 1 {
	f = FILENAME
	sub(/.*\//, "", f)
	a = f
	sub(/\.[ch]$/, "", a)
}
phase == "src" && /^[ \t]*#[ \t]*include[ \t]*"/ {
	h = $0
	sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", h)
	if (!(i = index(h, "\"")))
		next
	h = substr(h, 1, i - 1)
	if (h == "config.h" || h !~ /\.h$/ || a == "config")
		next
	b = substr(h, 1, length(h) - 2)
	loc = srcname "/" f ":" FNR
	if (!(b in header)) {
		error(loc ": " a " includes \"" h "\", which is not a header in " srcname "/")
		next
	}
	if (b == a || ((a, b) in edge))
		next
	edge[a, b] = loc
	adj[a, ++nadj[a]] = b
	from[++nedges] = a
	to[nedges] = b
}

# Tarjan: the strongly connected components, numbered in comp[]
function strong(v,   w, k) {
	low[v] = idx[v] = ++counter
	stack[++sp] = v
	onstack[v] = 1
	for (k = 1; k <= nadj[v]; k++) {
		w = adj[v, k]
		if (!(w in idx)) {
			strong(w)
			if (low[w] < low[v])
				low[v] = low[w]
		} else if (onstack[w] && idx[w] < low[v])
			low[v] = idx[w]
	}
	if (low[v] == idx[v]) {
		ncomp++
		do {
			w = stack[sp--]
			onstack[w] = 0
			comp[w] = ncomp
			size[ncomp]++
		} while (w != v)
	}
}
# the shortest path from s to t inside their component, as "s b c t"
function path(s, t,   queue, head, tail, parent, v, k, w, p) {
	split("", parent)
	queue[tail = 1] = s
	parent[s] = ""
	for (head = 1; head <= tail; head++) {
		v = queue[head]
		if (v == t)
			break
		for (k = 1; k <= nadj[v]; k++) {
			w = adj[v, k]
			if (comp[w] == comp[s] && !(w in parent)) {
				parent[w] = v
				queue[++tail] = w
			}
		}
	}
	for (p = t; parent[p] != ""; p = parent[p])
		t = parent[p] " " t
	return t
}

END {
	if (!blocks)
		error(readmename ": no <!-- layers --> block in its ## Layout section")
	else if (inblock)
		error(readmename ": <!-- layers --> is never closed by <!-- /layers -->")
	else if (!nlayers)
		error(readmename ": the layers block has no layer rows")
	if (blocks) {
		for (i = 1; i <= nunits; i++) {
			u = unit[i]
			if (!(u in layer)) {
				error(srcname "/" u (u in header ? ".h" : ".c") \
				      ": unit " u " is not in " readmename "'"'"'s layer list")
				nlist++
			}
		}
		for (i = 1; i <= nlisted; i++) {
			u = listed[i]
			if (!(u in isunit)) {
				error(readmename ":" listedat[u] ": layer " layer[u] " lists " u \
				      ", which has no " srcname "/" u ".c or " u ".h")
				nlist++
			}
		}
	}
	for (i = 1; i <= nedges; i++) {
		a = from[i]
		b = to[i]
		if ((a in layer) && (b in layer) && layer[b] + 0 > layer[a] + 0) {
			error(edge[a, b] ": " a " (layer " layer[a] ") includes " b \
			      " (layer " layer[b] ")")
			nup++
		}
	}

	for (i = 1; i <= nunits; i++)
		if (!(unit[i] in idx))
			strong(unit[i])
	# one cycle per include inside a tangle: the include, then the
	# shortest way back; each cycle once, from its least unit on
	for (i = 1; i <= nedges; i++) {
		a = from[i]
		b = to[i]
		if (comp[a] != comp[b])
			continue
		k = split(a " " path(b, a), node, " ") - 1
		m = 1
		for (j = 2; j <= k; j++)
			if (node[j] < node[m])
				m = j
		s = node[m]
		for (j = 1; j <= k; j++)
			s = s " -> " node[(m + j - 1) % k + 1]
		if (s in seen)
			continue
		seen[s] = 1
		cycle[++ncycles] = s
		cyclecomp[ncycles] = comp[a]
	}
	for (i = 2; i <= ncycles; i++)
		for (j = i; j > 1 && cycle[j] < cycle[j - 1]; j--) {
			s = cycle[j]
			cycle[j] = cycle[j - 1]
			cycle[j - 1] = s
			s = cyclecomp[j]
			cyclecomp[j] = cyclecomp[j - 1]
			cyclecomp[j - 1] = s
		}
	# each tangle (its units, in name order), then its cycles
	ntangles = 0
	for (i = 1; i <= nunits; i++) {
		c = comp[unit[i]]
		if (size[c] < 2)
			continue
		if (!(c in tangle)) {
			tangle[c] = unit[i]
			order[++ntangles] = c
		} else
			tangle[c] = tangle[c] ", " unit[i]
	}
	for (t = 1; t <= ntangles; t++) {
		c = order[t]
		print "tangle: " tangle[c] " (" size[c] " units include each other)" | "cat 1>&2"
		for (i = 1; i <= ncycles; i++)
			if (cyclecomp[i] == c)
				error("cycle: " cycle[i])
	}

	summary = "layers: " plural(nunits, "unit", "units") " on " \
	    plural(nlayers, "layer", "layers") ", " plural(ncycles, "cycle", "cycles")
	if (!nerr) {
		print summary
		exit 0
	}
	other = nerr - ncycles - nup - nlist
	error(summary (ncycles ? " (" plural(ntangles, "tangle", "tangles") ")" : "") \
	      ", " plural(nup, "upward include", "upward includes") ", " \
	      plural(nlist, "list mismatch", "list mismatches") ", " \
	      plural(other, "other error", "other errors"))
	close("cat 1>&2")
	exit 1
}
' phase=readme "$readme" phase=src "$@"
