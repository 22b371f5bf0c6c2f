#!/bin/sh
# The man page renders without warnings, and every option of --help is in
# the man page, the README and all three shell completions.  The
# completions offer the new options, formats after -f/--format/--output,
# files of any name, and the bitmap names of the images on the line,
# quoted so that the shell passes them back exactly: checked by typing
# into bash, zsh and fish in a terminal.
. "$TOP_SRCDIR/tests/integration/lib.sh"
top=$TOP_SRCDIR
build=${TOP_BUILDDIR:-$BINDIR}

expect_eq "man page: no warnings" \
  "$(MANWIDTH=80 man --warnings -l "$top/man/qcow2dump.1" 2>&1 >/dev/null)" ""
# (wide: a long prefix, such as distcheck's, may not fit 80 columns)
expect_eq "installed man page: no warnings" \
  "$(MANWIDTH=1000 man --warnings -l "$build/qcow2dump.1" 2>&1 >/dev/null)" ""
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
opts=$(qdump --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
n_opts=0
for o in $opts; do
	n_opts=$((n_opts + 1))
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
# (--help has a dozen long options; a parse that finds none must fail)
expect_some "--help lists long options, each checked" "$n_opts"

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
blk=$(find /dev -maxdepth 1 -type b 2>/dev/null | sort | head -1)
if [ -n "$blk" ]; then
	expect_eq "bash: IMAGE may be a block device ($blk)" \
	  "$(bash_complete "$blk" | grep -Fx -- "$blk")" "$blk"
	expect_eq "fish: IMAGE may be a block device ($blk)" \
	  "$(fish_complete "qcow2dump $blk" | grep -Fx -- "$blk")" "$blk"
fi
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

# Typing into each shell in a terminal: TAB completes, Enter runs the
# line, and qcow2dump, a shell function there, prints the arguments the
# shell passed it as <ARG>, so a completion quoted wrong shows.
# pty_type SETUP SHELL...: types SETUP, then each line of standard input
# (with @ for TAB) and Enter; prints the <ARG>s of each, one line each.
pty_type() {
	tr @ '\t' | HOME=$WORK TERM=xterm "$PY" -c '
import os, pty, re, select, sys, time, fcntl, termios, struct
setup, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
buf = b""
def expect(pat, timeout=30):
    """the output up to the end of PAT, or None after TIMEOUT seconds"""
    global buf
    end = time.time() + timeout
    while not re.search(pat, buf):
        left = end - time.time()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        buf += os.read(fd, 65536)
    m = re.search(pat, buf)
    out, buf = buf[:m.end()], buf[m.end():]
    return out
os.write(fd, setup.encode() + b"\r")
if expect(rb"READY> ") is None:
    sys.exit("no prompt: %r" % buf[-300:])
for line in sys.stdin.buffer.read().splitlines():
    time.sleep(0.2)
    os.write(fd, line)
    time.sleep(0.3)
    os.write(fd, b"\r")
    out = expect(rb"\nEND\r?\n")
    if out is None:         # say so, then Ctrl-C for the next line
        print("timeout: %r" % buf[-200:])
        os.write(fd, b"\x03")
    else:
        # what the terminal shows: no escape sequences, and of each
        # line the text after its last carriage return
        out = re.sub(rb"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][0-9A-Z]|[=>])", b"", out)
        lines = [l.split(b"\r")[-1] for l in out.split(b"\r\n")]
        print(b"".join(l for l in lines if l[:1] == b"<" and l[-1:] == b">").decode())
    sys.stdout.flush()
    expect(rb"READY> ", 10)
os.kill(pid, 9)
' "$@"
}
TYPED='qcow2dump names.qcow2 -n my@
qcow2dump names.qcow2 --name=dq@
qcow2dump names.qcow2 --name sq@
qcow2dump names.qcow2 -n com@
qcow2dump names.qcow2 -n back@
qcow2dump names.qcow2 -n caf@
qcow2dump names.qcow2 -n doll@
qcow2dump names.qcow2 -n '"'"'my@
qcow2dump names.qcow2 -n "sq@
qcow2dump '"'"'my d@ -n co@
qcow2dump --output=j@ noe@
qcow2dump --format=c@ -O noe@
qcow2dump --output-file=noe@
qcow2dump --snap@ --backing@ --force@ names.qcow2'
WANT='<names.qcow2><-n><my bitmap>
<names.qcow2><--name=dq"x y>
<names.qcow2><--name><sq'"'"'x>
<names.qcow2><-n><com,ma>
<names.qcow2><-n><back\slash>
<names.qcow2><-n><café ☃>
<names.qcow2><-n><dollar $HOME>
<names.qcow2><-n><my bitmap>
<names.qcow2><-n><sq'"'"'x>
<my disk.img><-n><com,ma>
<--output=json><noext>
<--format=csv><-O><noext>
<--output-file=noext>
<--snapshots><--backing-chain><--force-share><names.qcow2>'
# Each setup is one line, so that the prompt READY> shows once it is done.
prompt="PS1='RE''ADY> '"
show='qcow2dump() { printf "<%s>\n" "$@"; echo EN""D; }'
printf '%s\n' "$TYPED" | pty_type "$prompt; $show; . /usr/share/bash-completion/bash_completion; \
. '$top/completions/bash/qcow2dump'" bash --norc --noprofile -i > typed.bash 2>&1
printf '%s\n' "$TYPED" | pty_type "$prompt; $show; fpath=('$top/completions/zsh' \$fpath); \
autoload -U compinit; compinit -u -D" zsh -f -i > typed.zsh 2>&1
printf '%s\n' "$TYPED" | pty_type "function fish_prompt; echo -n 'RE''ADY> '; end; \
function qcow2dump; printf '<%s>\\n' \$argv; echo EN''D; end; \
source '$top/completions/fish/qcow2dump.fish'" fish -N -i > typed.fish 2>&1
printf '%s\n' "$WANT" > want
for sh in bash zsh fish; do
	printf '%s\n' "$TYPED" | paste -d '\n' - "typed.$sh" | paste -d '\t' - - > got.$sh
	while IFS= read -r want; do
		IFS='	' read -r typed got <&3
		expect_eq "$sh: '$typed' (@ = TAB) passes $want" "$got" "$want"
	done < want 3< "got.$sh"
done
cd .. || exit 1

# the README's example is the program's real output for the sample image
awk '/^\$ qcow2dump -e -t tests\/data\/sample.qcow2$/ {on = 1; next}
     on && /^```$/ {exit} on' "$top/README.md" > readme-example.txt
qdump -e -t "$top/tests/data/sample.qcow2" > sample.txt
expect_file "README example is real output" readme-example.txt sample.txt
# the README's damaged-image example: its commands, run, print what the
# README shows
mkdir damaged && cd damaged
awk '/<!-- damaged-example -->/ {on = 1; next} /<!-- \/damaged-example -->/ {on = 0}
     on && !/^```/' "$top/README.md" > block.txt
sed -n 's/^\$ //p' block.txt > commands.sh
grep -v '^\$ ' block.txt > want.txt
expect_eq "README damaged example: two commands" "$(wc -l < commands.sh)" 2
PATH=$BINDIR:$PATH sh commands.sh > got.txt 2>&1
expect_file "README damaged example prints what it shows" got.txt want.txt
cd ..
finish
