#!/bin/sh
# The man page renders without warnings, and every option of --help is in
# the man page, the README and all three shell completions, which really
# complete options and .qcow2 files.
. "$TOP_SRCDIR/tests/integration/lib.sh"
top=$TOP_SRCDIR

expect_eq "man page: no warnings" \
  "$(MANWIDTH=80 man --warnings -l "$top/man/qcow2dump.1" 2>&1 >/dev/null)" ""
for s in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT 'EXIT STATUS' EXAMPLES 'SEE ALSO'; do
	check "man page: has section $s" grep -q "^\.SH \"\?$s" "$top/man/qcow2dump.1"
done

MANWIDTH=200 LC_ALL=C man -l "$top/man/qcow2dump.1" 2>/dev/null > man.txt
opts=$(qdump --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
n_opts=0
for o in $opts; do
	n_opts=$((n_opts + 1))
	name=${o#--}
	check "man page documents $o" grep -q -- "$o" man.txt
	check "README documents $o" grep -q -- "$o" "$top/README.md"
	check "bash completion has $o" grep -q -- "$o" "$top/completions/bash/qcow2dump"
	check "zsh completion has $o" grep -q -- "$o" "$top/completions/zsh/_qcow2dump"
	check "fish completion has $o" grep -q -- "-l $name" "$top/completions/fish/qcow2dump.fish"
done
# (--help has a dozen long options; a parse that finds none must fail)
expect_some "--help lists long options, each checked" "$n_opts"

mkdir -p comp/sub && touch comp/a.qcow2 comp/b.qcow2 comp/notes.txt && cd comp
bash_complete() { # WORDS...: the candidates bash offers for the last one
	bash -c '. /usr/share/bash-completion/bash_completion
	         . "$1"; shift; COMP_WORDS=(qcow2dump "$@"); COMP_CWORD=$#
	         COMP_LINE="qcow2dump $*"; COMP_POINT=${#COMP_LINE}
	         _qcow2dump; printf "%s\n" "${COMPREPLY[@]}" | sort' \
	  _ "$top/completions/bash/qcow2dump" "$@"
}
expect_eq "bash: completes --extens" "$(bash_complete --extens)" "--extensions"
expect_eq "bash: completes images and directories" \
  "$(bash_complete '' | tr '\n' ' ')" "a.qcow2 b.qcow2 sub "
expect_eq "bash: completes formats" "$(bash_complete -f j)" "json"
qemu-img create -q -f qcow2 named.qcow2 1M
qemu-img bitmap --add -f qcow2 named.qcow2 nightly
expect_eq "bash: completes bitmap names of the images on the line" \
  "$(PATH=$BINDIR:$PATH bash_complete named.qcow2 -n ni)" "nightly"
check "zsh completion parses" zsh -n "$top/completions/zsh/_qcow2dump"
check "fish completion parses" fish -n "$top/completions/fish/qcow2dump.fish"
fish_complete() {
	fish -N -c "source '$top/completions/fish/qcow2dump.fish'; complete -C '$1'" |
	  cut -f1 | sort | tr '\n' ' '
}
expect_eq "fish: completes --bit" "$(fish_complete 'qcow2dump --bit')" "--bitmap-table --bitmaps "
expect_eq "fish: completes formats" "$(fish_complete 'qcow2dump -f ')" "csv json text "
check "fish: completes .qcow2 files" sh -c \
  "echo '$(fish_complete 'qcow2dump ')' | grep -q 'a.qcow2 b.qcow2'"
n_zsh=0
for o in $opts; do
	grep -q -- "$o" "$top/completions/zsh/_qcow2dump" && n_zsh=$((n_zsh + 1))
done
expect_eq "zsh: completion defines every long option ($n_zsh of $n_opts)" \
  "$([ "$n_opts" -gt 0 ] && echo "$n_zsh")" "$n_opts"

# the README's example is the program's real output for the sample image
awk '/^\$ qcow2dump -e -t tests\/data\/sample.qcow2$/ {on = 1; next}
     on && /^```$/ {exit} on' "$top/README.md" > readme-example.txt
qdump -e -t "$top/tests/data/sample.qcow2" > sample.txt
expect_file "README example is real output" readme-example.txt sample.txt
finish
