#!/bin/sh
# Installs the Debian 12 packages g4 needs to build and test, when run as
# root; otherwise prints the one apt-get line to run and fails.
# `sh tools/deps.sh fuzz` adds what make fuzz needs (clang, libFuzzer, libomp).
PKGS="gcc make libc6-dev pkg-config libzstd-dev zstd libpng-dev libjpeg62-turbo-dev libsndfile1-dev libsoxr-dev libfftw3-dev libcjson-dev mandoc"
[ "$1" = fuzz ] && PKGS="$PKGS clang libclang-rt-14-dev libomp-14-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "g4: installing Debian packages:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 && exit 0
	echo "g4: apt-get failed; run: apt-get install -y$missing" >&2
	exit 1
fi
echo "g4: missing Debian packages; run: sudo apt-get install -y$missing" >&2
exit 1
