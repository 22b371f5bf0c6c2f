#!/bin/sh
# Installs what qcow2dump needs to build and test (Debian 12, as root),
# then builds it into build/.  Safe to run again: packages already there
# are not fetched again, and the build is incremental.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential autoconf automake pkg-config libjansson-dev libcmocka-dev
  qemu-utils jq bash-completion zsh fish man-db groff-base strace
  python3 python3-jsonschema hyperfine time valgrind clang libclang-rt-14-dev
  mount util-linux"

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
	autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure
make -j"$(nproc)"
