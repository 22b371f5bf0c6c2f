#!/bin/sh
# What qcow2dump decodes must agree with what QEMU itself reports for the
# same image (qemu-img info --output=json, read with jq): sizes, features,
# extensions and every bitmap's name, granularity and flags.
. "$TOP_SRCDIR/tests/integration/lib.sh"

# qemu-img info's facts, one per line
qemu_facts() {
	qemu-img info -U --output=json "$1" | jq -r '
	  "virtual-size=\(."virtual-size")",
	  "cluster-size=\(."cluster-size")",
	  (."format-specific".data as $d |
	    "compat=\($d.compat)",
	    "refcount-bits=\($d."refcount-bits")",
	    (if $d.compat != "0.10" then
	       "lazy-refcounts=\($d."lazy-refcounts")",
	       "extended-l2=\($d."extended-l2")",
	       "corrupt=\($d.corrupt)" else empty end),
	    "compression-type=\($d."compression-type")",
	    (if $d."data-file" then "data-file=\($d."data-file")",
	       "data-file-raw=\($d."data-file-raw")" else empty end),
	    (if $d.encrypt then "encrypt=\($d.encrypt.format)" else empty end),
	    (($d.bitmaps // [])[] |
	       "bitmap=\(.name) \(.granularity) \(.flags | join(","))")),
	  (if ."backing-filename" then
	     "backing-format=\(."backing-filename-format")",
	     "backing-name-bytes=\(."backing-filename" | utf8bytelength)"
	   else empty end),
	  "snapshots=\((.snapshots // []) | length)",
	  "dirty=\(."dirty-flag" // false)"' | sort
}

# the same facts from qcow2dump's text
our_facts() {
	qdump "$1" | awk '
	function hex(s,   i, n) {
		n = 0
		for (i = 3; i <= length(s); i++)
			n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return n
	}
	function has(list, bit) { return list ~ ("[[ ]" bit "[],]") }
	function tf(b) { return b ? "true" : "false" }
	BEGIN { inhdr = 1 }
	inhdr && NF == 0 { inhdr = 0; emit_header(); next }
	inhdr { h[$1] = substr($0, 27); next }
	$1 == "magic" { ext = $0; sub(/^[^(]*\(/, "", ext); sub(/\)$/, "", ext) }
	$1 == "data" {
		v = substr($0, 27); sub(/^'"'"'/, "", v); sub(/'"'"'$/, "", v)
		if (ext == "Backing format") print "backing-format=" v
		if (ext == "Data file") { print "data-file=" v; datafile = 1 }
		if (ext == "Crypto header") crypto = 1
	}
	/^Bitmap name / { bname = substr($0, 27) }
	$1 == "granularity_bits" { gran = 2 ^ $2 }
	$1 == "flags" {
		f = $0; sub(/^[^[]*\[/, "", f); sub(/\].*$/, "", f)
		gsub(/'"'"'/, "", f); gsub(/, /, ",", f)
		bflags = f
	}
	$1 == "extra_data_size" && bname != "" {
		printf "bitmap=%s %.0f %s\n", bname, gran, bflags; bname = ""
	}
	function emit_header() {
		v3 = h["version"] == 3
		print "virtual-size=" h["size"]
		printf "cluster-size=%.0f\n", 2 ^ h["cluster_bits"]
		print "compat=" (v3 ? "1.1" : "0.10")
		printf "refcount-bits=%.0f\n", 2 ^ h["refcount_order"]
		if (v3) {
			print "lazy-refcounts=" tf(has(h["compatible_features"], 0))
			print "extended-l2=" tf(has(h["incompatible_features"], 4))
			print "corrupt=" tf(has(h["incompatible_features"], 1))
		}
		print "compression-type=" \
		  (has(h["incompatible_features"], 3) ? "zstd" : "zlib")
		if (h["crypt_method"] == 2) print "encrypt=luks"
		if (h["backing_file_offset"] != "0x0")
			printf "backing-name-bytes=%d\n", \
			  hex(h["backing_file_size"])
		print "snapshots=" h["nb_snapshots"]
		print "dirty=" tf(has(h["incompatible_features"], 0))
		datafile_raw = tf(has(h["autoclear_features"], 1))
	}
	END { if (datafile) print "data-file-raw=" datafile_raw }' | sort
}

for name in $IMAGES; do
	build_image "$name" || fail "$name: qemu-img could not build it"
	qemu_facts "$name.qcow2" > "$name.qemu"
	our_facts "$name.qcow2" > "$name.ours"
	expect_file "$name: agrees with qemu-img info" "$name.ours" "$name.qemu"
	# a LUKS image has its crypto header extension, and only it
	expect_eq "$name: crypto header extension iff LUKS" \
	  "$(qdump -e "$name.qcow2" | grep -c '(Crypto header)')" \
	  "$([ "$name" = luks ] && echo 1 || echo 0)"
done
finish
