#!/bin/sh
# CSV: one header row for all images, LF line ends, and fields that
# Python's csv module reads back to the exact bytes of the image, names
# with commas, quotes, line breaks, formulas and bad UTF-8 included.
. "$TOP_SRCDIR/tests/integration/lib.sh"

bitmap_head=image,name,bitmap_table_offset,bitmap_table_size,flags,flag_names,type,granularity_bits,granularity,name_size,extra_data_size,usable,state,reason
for name in $IMAGES; do
	build_image "$name" || fail "$name: qemu-img could not build it"
	run_q "$name.csv" err -f csv "$name.qcow2"
	expect_eq "$name: exit 0" "$status" 0
	expect_eq "$name: header row" "$(head -1 "$name.csv")" "$bitmap_head"
	qdump -f json -b "$name.qcow2" > "$name.json"
	check "$name: reads back as the JSON says" \
	  $FORMATS csv-vs-json "$name.csv" "$name.json"
	run_q "$name.b.csv" err -f csv -b "$name.qcow2"
	expect_file "$name: -b is the default table" "$name.b.csv" "$name.csv"
done

build_tricky
qdump -f csv tricky.qcow2 > tricky.csv
qdump -f json -b tricky.qcow2 > tricky.json
check "tricky names: every byte reads back" $FORMATS csv-vs-json tricky.csv tricky.json
expect_eq "tricky names: no CR anywhere (LF line ends)" "$(tr -dc '\r' < tricky.csv | wc -c)" 0
check "tricky names: a formula is quoted" grep -q '^tricky.qcow2,"=SUM(A1)",' tricky.csv
check "tricky names: a quote is doubled" grep -q '^tricky.qcow2,"quote""name",' tricky.csv

# every character a spreadsheet takes for the start of a formula, or
# trims, is quoted at the start of a field; a plain name is not
Q create -q -f qcow2 lead.qcow2 1M
# lead WHAT: the character named WHAT
lead() {
	case $1 in tab) printf '\t' ;; cr) printf '\r' ;; space) printf ' ' ;; *) printf %s "$1" ;; esac
}
leads="= + - @ tab cr space"
n=0
for what in $leads; do
	Q bitmap --add -f qcow2 -- lead.qcow2 "$(lead "$what")1"
	n=$((n + 1))
done
Q bitmap --add -f qcow2 -- lead.qcow2 plain
run_q lead.csv err -f csv lead.qcow2
for what in $leads; do
	check "a field starting with $what is quoted" \
	  grep -qF "lead.qcow2,\"$(lead "$what")1\"," lead.csv
done
check "a plain field is not quoted" grep -q '^lead.qcow2,plain,' lead.csv
expect_eq "leading characters: every row there" "$(grep -c '^lead.qcow2,' lead.csv)" $((n + 1))

# several images: one table, one header row
qdump -f csv inuse.qcow2 c512.qcow2 tricky.qcow2 > all.csv
qdump -f json -b inuse.qcow2 c512.qcow2 tricky.qcow2 > all.json
expect_eq "three images: one header row" "$(grep -c '^image,' all.csv)" 1
check "three images: rows read back in order" $FORMATS csv-vs-json all.csv all.json

# -e and -t tables
qdump -f csv -e datafile.qcow2 > ext.csv
expect_eq "-e: header row" "$(head -1 ext.csv)" "image,index,name,magic,length,data"
expect_eq "-e: the data file extension as text" "$(sed -n 2p ext.csv)" \
  "datafile.qcow2,0,Data file,1145132097,12,datafile.raw"
expect_eq "-e: other data as hex" "$(sed -n 3p ext.csv | cut -d, -f3,5,6 | cut -c1-40)" \
  "Feature table,384,0000646972747920626974"
qdump -f csv -t c2m.qcow2 > tables.csv
expect_eq "-t: bitmap table rows" "$(cat tables.csv)" "image,bitmap,index,type,offset,reserved
c2m.qcow2,huge,0,serialized,16777216,0"

# -n selects, and a missing NAME is an error listing the names there
run_q sel.csv err -f csv -n frozen -n live inuse.qcow2
expect_eq "-n: two names, directory order" "$(cut -d, -f2 sel.csv | tr '\n' ' ')" "name live frozen "
run_q sel.csv err -f csv -n nothere inuse.qcow2
expect_eq "-n missing: exit 2" "$status" 2
expect_eq "-n missing: message lists the names" "$(cat err)" \
  "qcow2dump: inuse.qcow2: no bitmap named 'nothere' (bitmaps: live, frozen)"
run_q sel.csv err -n x backing.qcow2
expect_eq "-n on an image without bitmaps" "$(cat err)" \
  "qcow2dump: backing.qcow2: no bitmap named 'x' (the image has no bitmaps)"

finish
