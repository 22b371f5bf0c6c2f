#!/bin/sh
# make install, as a user who can write nowhere but the prefix, puts every
# file under the prefix (under DESTDIR/prefix when staged) and no file
# anywhere else; make uninstall removes them all; the man page names the
# real paths; bash, zsh and fish find their completion under the prefix.
. "$TOP_SRCDIR/tests/integration/lib.sh"

# as_user CMD...: CMD as nobody when we are root, else as ourselves
mkdir -p home build prefix stage
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$WORK"
	chown nobody:nogroup home build prefix stage
	user=nobody
	as_user() {
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		  env HOME="$WORK/home" "$@"
	}
else
	user=$(id -u)
	as_user() { env HOME="$WORK/home" "$@"; }
fi
# the source, or a copy of it where that user cannot read it
src=$TOP_SRCDIR
if ! as_user test -r "$src/configure" -a -r "$src/Makefile.in"; then
	mkdir src
	(cd "$src" && tar -cf - --exclude=./.git .) | (cd src && tar -xf -)
	chown -R nobody:nogroup src
	src=$WORK/src
fi

# mk ARGS...: make ARGS in build/ as that user (output in build/make.out)
mk() {
	as_user sh -c 'cd "$0/build" && make "$@" >>make.out 2>&1' "$WORK" "$@" ||
	  { tail -20 build/make.out; return 1; }
}
P=$WORK/prefix
check "configure --prefix=$P" as_user sh -c \
  'cd build && "$1/configure" --prefix="$2" >configure.out 2>&1' _ "$src" "$P"
check "make" mk -j"$(nproc)"
sleep 1 && touch marker

# The files make install puts under PREFIX, and nothing else.
expected() {
	printf '%s\n' "$1/bin/qcow2dump" \
	  "$1/share/bash-completion/completions/qcow2dump" \
	  "$1/share/fish/vendor_completions.d/qcow2dump.fish" \
	  "$1/share/man/man1/qcow2dump.1" \
	  "$1/share/qcow2dump/qcow2dump.schema.json" \
	  "$1/share/zsh/site-functions/_qcow2dump" | sort
}
files() { find "$WORK/$1" ! -type d | sort; }

check "make install DESTDIR=$WORK/stage" \
  mk install DESTDIR="$WORK/stage"
expect_eq "DESTDIR: every file, and nothing else, under DESTDIR/prefix" \
  "$(files stage)" "$(expected "$WORK/stage$P")"
check "make uninstall DESTDIR=$WORK/stage" \
  mk uninstall DESTDIR="$WORK/stage"
expect_eq "DESTDIR: make uninstall leaves no file" "$(files stage)" ""

check "make install" mk install
expect_eq "every file, and nothing else, under the prefix" \
  "$(files prefix)" "$(expected "$P")"
# what make install could have reached outside $WORK: the system's
# directories (pkg-config's completion directories among them), the
# world-writable ones and the user's home
expect_eq "no file written outside the prefix" \
  "$(find /usr /etc /opt /var/tmp "${TMPDIR:-/tmp}" "${HOME:-/nonexistent}" -xdev \
       \( -path "$WORK" -o -path "${TMPDIR:-/tmp}/qcow2dump-test.*" \) -prune \
       -o -newer marker -user "$user" -print 2>/dev/null)" ""

expect_eq "installed qcow2dump runs" "$("$P/bin/qcow2dump" --version)" \
  "$("$QCOW2DUMP_BIN" --version)"
check "installed schema is the source's" \
  cmp "$P/share/qcow2dump/qcow2dump.schema.json" "$TOP_SRCDIR/doc/qcow2dump.schema.json"
check "installed bash completion is the source's" cmp \
  "$P/share/bash-completion/completions/qcow2dump" "$TOP_SRCDIR/completions/bash/qcow2dump"
check "installed zsh completion is the source's" cmp \
  "$P/share/zsh/site-functions/_qcow2dump" "$TOP_SRCDIR/completions/zsh/_qcow2dump"
check "installed fish completion is the source's" cmp \
  "$P/share/fish/vendor_completions.d/qcow2dump.fish" "$TOP_SRCDIR/completions/fish/qcow2dump.fish"
expect_eq "installed man page: no warnings" \
  "$(MANWIDTH=1000 man --warnings -l "$P/share/man/man1/qcow2dump.1" 2>&1 >/dev/null)" ""
MANWIDTH=1000 LC_ALL=C man -l "$P/share/man/man1/qcow2dump.1" 2>/dev/null > man.txt
for f in share/qcow2dump/qcow2dump.schema.json \
         share/bash-completion/completions/qcow2dump \
         share/zsh/site-functions/_qcow2dump \
         share/fish/vendor_completions.d/qcow2dump.fish; do
	check "installed man page names $P/$f" grep -qF "$P/$f" man.txt
done
check "installed man page names no /usr/share path" sh -c '! grep -q /usr/share man.txt'

# each shell finds the completion where it looks under the prefix
expect_eq "zsh: compinit finds _qcow2dump in PREFIX/share/zsh/site-functions" \
  "$(HOME=$WORK/home zsh -fc 'fpath=("$1"/share/zsh/site-functions $fpath)
     autoload -U compinit; compinit -u -D; print -r -- ${_comps[qcow2dump]}' _ "$P")" \
  "_qcow2dump"
expect_eq "bash: bash-completion loads it from PREFIX/share" \
  "$(XDG_DATA_DIRS=$P/share bash -c '. /usr/share/bash-completion/bash_completion
     __load_completion qcow2dump && complete -p qcow2dump')" \
  "complete -F _qcow2dump qcow2dump"
expect_eq "fish: finds it in PREFIX/share" \
  "$(HOME=$WORK/home XDG_DATA_DIRS=$P/share PATH=$P/bin:$PATH \
     fish -c "complete -C 'qcow2dump --snap'" | cut -f1)" \
  "--snapshots"

check "make uninstall" mk uninstall
expect_eq "make uninstall leaves no file" "$(files prefix)" ""

# pkg-config's completionsdir is taken when under the prefix, written
# relative to it; --with-*-completion-dir overrides, and =no drops the
# completion from the man page too.
mkdir pc build2
printf 'prefix=%s\ncompletionsdir=${prefix}/lib/bc\nName: bash-completion\nDescription: -\nVersion: 2.11\n' \
  "$WORK/p2" > pc/bash-completion.pc
printf 'completionsdir=/elsewhere/fish\nName: fish\nDescription: -\nVersion: 3.6.0\n' > pc/fish.pc
(cd build2 && PKG_CONFIG_PATH=$WORK/pc "$src/configure" --prefix="$WORK/p2" \
   --with-zsh-completion-dir=no >configure.out 2>&1 && make -s qcow2dump.1 >/dev/null)
makevar() { sed -n "s/^$1 = //p" build2/Makefile; }
expect_eq "configure: pkg-config's bash dir under the prefix, relative to it" \
  "$(makevar BASH_COMPLETION_DIR)" '${prefix}/lib/bc'
expect_eq "configure: pkg-config's fish dir outside the prefix is not taken" \
  "$(makevar FISH_COMPLETION_DIR)" '${datadir}/fish/vendor_completions.d'
expect_eq "configure: --with-zsh-completion-dir=no" "$(makevar ZSH_COMPLETION_DIR)" ""
LC_ALL=C man -l build2/qcow2dump.1 2>/dev/null > man2.txt
check "man page: names the bash completion where it goes" grep -qF "$WORK/p2/lib/bc/qcow2dump" man2.txt
check "man page: no zsh completion when there is none" sh -c '! grep -q _qcow2dump man2.txt'
finish
