#!/bin/sh
# The man page renders without warnings, and every option of --help is in
# the man page, the README and all three shell completions.  The
# completions offer the new options, formats after -f/--format/--output,
# files of any name, and the bitmap names of the images on the line.
. "$TOP_SRCDIR/tests/integration/lib.sh"
top=$TOP_SRCDIR
build=${TOP_BUILDDIR:-$BINDIR}

expect_eq "man page: no warnings" \
  "$(MANWIDTH=80 man --warnings -l "$top/man/qcow2dump.1" 2>&1 >/dev/null)" ""
expect_eq "installed man page: no warnings" \
  "$(MANWIDTH=80 man --warnings -l "$build/qcow2dump.1" 2>&1 >/dev/null)" ""
check "man page: has every section" sh -c "
  for s in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT 'EXIT STATUS' FILES EXAMPLES 'SEE ALSO'; do
    grep -q \"^\\.SH \\\"\\?\$s\" '$top/man/qcow2dump.1' || exit 1; done"

# The options each completion offers, one a line: bash's and fish's when
# completing "-", zsh's from the specs its _qcow2dump gives _arguments.
bash_complete() { # WORDS...: the candidates bash offers for the last one
	# (words as readline splits them: "--name=x" is "--name" "=" "x")
	bash -c '. /usr/share/bash-completion/bash_completion
	         . "$1"; shift; COMP_WORDS=(qcow2dump "$@"); COMP_CWORD=$#
	         COMP_LINE=qcow2dump; prev=
	         for w; do
	             [[ $w == = || $prev == = ]] && COMP_LINE+=$w || COMP_LINE+=" $w"
	             prev=$w
	         done
	         COMP_POINT=${#COMP_LINE}
	         _qcow2dump; printf "%s\n" "${COMPREPLY[@]}" | sort' \
	  _ "$top/completions/bash/qcow2dump" "$@"
}
unquote() { # each line as the shell reads it
	bash -c 'while IFS= read -r w; do eval "printf \"%s\n\" $w"; done'
}
fish_complete() { # LINE: the candidates fish offers at its end
	fish -N -c "source '$top/completions/fish/qcow2dump.fish'; complete -C '$1'" |
	  cut -f1 | sort
}
bash_complete - | sed 's/=$//' > opts.bash
fish_complete 'qcow2dump -' > opts.fish
zsh -fc '_arguments() { print -rl -- "$@"; }; . "$1"' _ "$top/completions/zsh/_qcow2dump" |
  sed -n '/\[/{s/^([^)]*)//; s/^\*//; s/^\(-[^[+=:]*\).*/\1/p;}' | sort > opts.zsh
for sh in bash zsh fish; do
	check "$sh completion parses" "$sh" -n "$top/completions/$sh/$(
	  case $sh in bash) echo qcow2dump ;; zsh) echo _qcow2dump ;; fish) echo qcow2dump.fish ;; esac)"
	check "$sh completion offers no -o (now -O/--output-file)" sh -c "! grep -qx -- -o opts.$sh"
done

MANWIDTH=200 LC_ALL=C man -l "$top/man/qcow2dump.1" 2>/dev/null > man.txt
opts=$("$QCOW2DUMP" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
for o in $opts; do
	check "man page documents $o" grep -q -- "$o" man.txt
	check "README documents $o" grep -q -- "$o" "$top/README.md"
	for sh in bash zsh fish; do
		check "$sh completion offers $o" grep -qx -- "$o" "opts.$sh"
	done
done
# The options of the new command line, whatever the binary here accepts.
NEW_OPTS='-e --extensions -b --bitmaps -x --extents -c --check -s --snapshots
  -t --bitmap-table -n --name --backing-chain -f --format --output --compact
  -O --output-file -U --force-share --list-checks -h --help --usage
  -V --version'
for o in $NEW_OPTS; do
	check "man page OPTIONS has $o" grep -q -- "^ *$o\\b\\|, $o\\b" man.txt
	for sh in bash zsh fish; do
		check "$sh completion offers $o" grep -qx -- "$o" "opts.$sh"
	done
done

# Images and names to complete: file names without .qcow2, and bitmap
# names that need quoting.
mkdir -p comp/sub && cd comp || exit 1
touch a.qcow2 notes.txt noext
qemu-img create -q -f qcow2 names.qcow2 1M
NAMES='my bitmap
dq"x y
sq'"'"'x
com,ma
back\slash
café ☃
dollar $HOME'
printf '%s\n' "$NAMES" | while IFS= read -r n; do
	qemu-img bitmap --add -f qcow2 names.qcow2 "$n"
done
cp names.qcow2 'my disk.img'
PATH=$BINDIR:$PATH; export PATH

expect_eq "bash: completes --extens" "$(bash_complete --extens)" "--extensions"
expect_eq "bash: IMAGE is any file, or a directory to descend into" \
  "$(bash_complete '' | tr '\n' ' ')" "a.qcow2 my disk.img names.qcow2 noext notes.txt sub "
expect_eq "bash: completes formats after -f" "$(bash_complete -f j)" "json"
expect_eq "bash: completes formats after --format=" \
  "$(bash_complete --format = '' | tr '\n' ' ')" "csv human json text "
expect_eq "bash: completes formats after --output=" "$(bash_complete --output = h)" "human"
expect_eq "bash: completes formats after --output" "$(bash_complete --output c)" "csv"
expect_eq "bash: completes files after --output-file=" "$(bash_complete --output-file = noe)" "noext"
expect_eq "bash: completes files after -O" "$(bash_complete -O 'my')" "my disk.img"
# each one, evaluated by the shell, is a name in the image
expect_eq "bash: completes bitmap names after --name=, quoted" \
  "$(bash_complete names.qcow2 --name = '' | unquote | sort)" \
  "$(printf '%s\n' "$NAMES" | sort)"
expect_eq "bash: completes bitmap names of a quoted IMAGE" \
  "$(bash_complete "'my disk.img'" -n co | unquote)" "com,ma"

expect_eq "fish: completes --bit" "$(fish_complete 'qcow2dump --bit' | tr '\n' ' ')" \
  "--bitmap-table --bitmaps "
expect_eq "fish: completes formats after -f" \
  "$(fish_complete 'qcow2dump -f ' | tr '\n' ' ')" "csv human json text "
expect_eq "fish: completes formats after --format=" \
  "$(fish_complete 'qcow2dump --format=' | tr '\n' ' ')" \
  "--format=csv --format=human --format=json --format=text "
expect_eq "fish: completes formats after --output=" \
  "$(fish_complete 'qcow2dump --output=j')" "--output=json"
expect_eq "fish: IMAGE is any file" \
  "$(fish_complete 'qcow2dump n' | tr '\n' ' ')" "names.qcow2 noext notes.txt "
expect_eq "fish: completes bitmap names after --name=" \
  "$(fish_complete 'qcow2dump names.qcow2 --name=' | tr '\n' '|')" \
  "--name=back\\slash|--name=café ☃|--name=com,ma|--name=dollar \$HOME|--name=dq\"x y|--name=my bitmap|--name=sq'x|"

cd .. || exit 1

# the README's example is the program's real output for the sample image
awk '/^\$ qcow2dump -e -t tests\/data\/sample.qcow2$/ {on = 1; next}
     on && /^```$/ {exit} on' "$top/README.md" > readme-example.txt
"$QCOW2DUMP" -e -t "$top/tests/data/sample.qcow2" > sample.txt
expect_file "README example is real output" readme-example.txt sample.txt
finish
