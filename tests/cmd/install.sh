#!/bin/sh
# make install / uninstall: into a temporary prefix (and with DESTDIR), then a
# small program built against the installed libg4 through pkg-config (shared
# and static) reads a GGUF; uninstall leaves nothing behind.
. tests/cmd/lib.sh
MAKE=${MAKE:-make}
CC=${CC:-cc}
P=$G4_TMP/prefix
D=$G4_TMP/dest
rm -rf "$P" "$D"
log=$G4_TMP/install.log

if $MAKE --no-print-directory -s install PREFIX="$P" >"$log" 2>&1; then
	ok install_runs
else
	no install_runs "make install failed: $(tail -3 "$log")"
fi
missing=""
for f in bin/g4quant lib/libg4.a lib/libg4.so lib/libg4.so.0 include/g4/gguf.h \
	 include/g4/err.h lib/pkgconfig/g4.pc; do
	[ -e "$P/$f" ] || missing="$missing $f"
done
for m in man/*.1; do [ -f "$m" ] && { [ -f "$P/share/man/man1/${m#man/}" ] || missing="$missing $m"; }; done
for m in man/*.5; do [ -f "$m" ] && { [ -f "$P/share/man/man5/${m#man/}" ] || missing="$missing $m"; }; done
if [ -z "$missing" ]; then ok install_files; else no install_files "not installed:$missing"; fi
if cmp -s "$P/bin/g4quant" "$G4_BIN/g4quant" && "$P/bin/g4quant" --version | grep -q '^g4quant (g4) '; then ok installed_command_runs; else no installed_command_runs "$P/bin/g4quant is not $G4_BIN/g4quant or does not run"; fi

cat >"$G4_TMP/count.c" <<'PROG'
#include <stdio.h>
#include "gguf.h"
#include "err.h"
int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	g4_gguf *g = g4_gguf_open(argv[1]);
	if (!g) {
		fprintf(stderr, "count: %s\n", g4_errmsg());
		return 1;
	}
	printf("%llu\n", (unsigned long long)g->n_tensors);
	g4_gguf_close(g);
	return 0;
}
PROG
PKG_CONFIG_PATH=$P/lib/pkgconfig; export PKG_CONFIG_PATH
want=$(g4quant --info "$G4_DATA/micro-e2b-f32.gguf" | sed -n 's/^\([0-9]*\) tensors:$/\1/p')
# shellcheck disable=SC2046,SC2086
if $CC $G4_SAN_CFLAGS "$G4_TMP/count.c" $(pkg-config --cflags --libs g4) -o "$G4_TMP/count" 2>"$log" &&
   got=$(LD_LIBRARY_PATH=$P/lib "$G4_TMP/count" "$G4_DATA/micro-e2b-f32.gguf") &&
   [ -n "$want" ] && [ "$got" = "$want" ]; then
	ok pkgconfig_shared
else
	no pkgconfig_shared "built or ran wrong (got '$got', want '$want'): $(head -3 "$log")"
fi
if readelf -d "$G4_TMP/count" 2>/dev/null | grep -q 'NEEDED.*libg4\.so\.0'; then
	ok linked_shared
else
	no linked_shared "count does not use libg4.so.0"
fi
# Static libg4 (system libraries shared): libg4.a plus the packages of
# Requires.private and the flags of Libs.private must be enough.  (Not
# `pkg-config --static`: Debian's sndfile.pc then wants static codecs.)
req=$(sed -n 's/^Requires.private: *//p' "$P/lib/pkgconfig/g4.pc")
priv=$(sed -n 's/^Libs.private: *//p' "$P/lib/pkgconfig/g4.pc")
# shellcheck disable=SC2046,SC2086
if [ -n "$req" ] && $CC $G4_SAN_CFLAGS "$G4_TMP/count.c" $(pkg-config --cflags g4) "$P/lib/libg4.a" \
	$(pkg-config --libs $req) $priv -o "$G4_TMP/count-static" 2>"$log" &&
   got=$(env -u LD_LIBRARY_PATH "$G4_TMP/count-static" "$G4_DATA/micro-e2b-f32.gguf") &&
   [ "$got" = "$want" ]; then
	ok pkgconfig_static
else
	no pkgconfig_static "built or ran wrong (got '$got'): $(head -3 "$log")"
fi
if grep -q "^prefix=$P\$" "$P/lib/pkgconfig/g4.pc" && pkg-config --modversion g4 | grep -q '^[0-9]'; then
	ok pkgconfig_file
else
	no pkgconfig_file "g4.pc: $(cat "$P/lib/pkgconfig/g4.pc")"
fi

if $MAKE --no-print-directory -s uninstall PREFIX="$P" >"$log" 2>&1; then
	left=$(find "$P" ! -type d | head -5)
	if [ -z "$left" ] && [ ! -d "$P/include/g4" ]; then ok uninstall_clean; else no uninstall_clean "left behind: $left"; fi
else
	no uninstall_clean "make uninstall failed: $(tail -3 "$log")"
fi

# DESTDIR: files under DESTDIR, the .pc file names the final prefix.
if $MAKE --no-print-directory -s install PREFIX=/opt/g4 DESTDIR="$D" >"$log" 2>&1 &&
   [ -x "$D/opt/g4/bin/g4quant" ] && grep -q '^prefix=/opt/g4$' "$D/opt/g4/lib/pkgconfig/g4.pc" &&
   $MAKE --no-print-directory -s uninstall PREFIX=/opt/g4 DESTDIR="$D" >"$log" 2>&1 &&
   [ -z "$(find "$D" ! -type d)" ]; then
	ok destdir
else
	no destdir "install/uninstall with DESTDIR: $(tail -3 "$log")"
fi
rm -rf "$P" "$D"
