# g4 — Gemma 4 inference as a Unix toolkit.
#
#   make          build lib/libg4.a and the commands in bin/
#   make check    install missing Debian packages (as root), build, run every test
#   make demo     build and run the whole pipeline on a tiny model
#   make bench    benchmarks (never part of the test suite)
#   make check-asan  the whole suite again, built with ASan + UBSan (build-asan/, bin-asan/)
#   make fuzz     libFuzzer targets tests/fuzz/fuzz_*.c, FUZZ_SECONDS each (clang)
#   make install  PREFIX=/usr/local DESTDIR=: commands, man pages, libg4.a/.so,
#                 headers in include/g4/, g4.pc;  make uninstall removes them
#
# Every lib/*.c goes into libg4, every cmd/NAME.c becomes bin/NAME, every
# tests/unit/test_NAME.c becomes build/tests/test_NAME, every tools/bench_NAME.c
# becomes build/bench/bench_NAME (run by tools/bench.sh).  Nothing to register.

CC      ?= gcc
CFLAGS  ?= -O2 -g
# -ffp-contract=off: quantisers must round exactly like ggml's reference code.
G4FLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -ffp-contract=off -fPIC -Ilib
LDLIBS   = -lzstd -lpng -ljpeg -lsndfile -lsoxr -lfftw3f -lcjson -lm
BUILD   ?= build
BIN     ?= bin

LIB_SRC  = $(sort $(wildcard lib/*.c))
LIB_OBJ  = $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
CMD_SRC  = $(sort $(wildcard cmd/*.c))
CMDS     = $(CMD_SRC:cmd/%.c=$(BIN)/%)
TEST_SRC = $(sort $(wildcard tests/unit/test_*.c))
TESTS    = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC = $(sort $(wildcard tools/bench_*.c))
BENCHES  = $(BENCH_SRC:tools/%.c=$(BUILD)/bench/%)
LIBA     = $(BUILD)/libg4.a
LIBSO    = $(BUILD)/libg4.so
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS  = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps check check-only check-asan fuzz fuzzers demo bench clean install uninstall
all: $(LIBA) $(LIBSO) $(CMDS) $(TESTS) $(BENCHES)

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/%: cmd/%.c $(LIBA)
	@mkdir -p $(BIN)
	$(CC) $(G4FLAGS) $(CFLAGS) -MMD -MP -MF $(BUILD)/cmd-$*.d $< $(LIBA) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -Itests/unit -MMD -MP $< $(LIBA) $(LDLIBS) -o $@

$(BUILD)/bench/%: tools/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -MMD -MP $< $(LIBA) $(LDLIBS) -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -fsanitize=fuzzer -MMD -MP $< $(LIBA) $(LDLIBS) -o $@

fuzzers: $(FUZZERS)

deps:
	@sh tools/deps.sh

check: deps
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh

check-only: all
	@sh tests/run.sh

# The whole suite built with AddressSanitizer + UndefinedBehaviorSanitizer.
# Any sanitizer report (they go to files in build-asan/san/, which
# tests/run.sh checks after each test) is a failure, even in a command that
# was expected to fail.  Tests that measure memory skip when G4_SANITIZED is set.
ASAN_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=bin-asan CFLAGS="$(ASAN_CFLAGS)" all
	@rm -rf build-asan/san && mkdir -p build-asan/san && \
	 BUILD=build-asan G4_BIN=$(CURDIR)/bin-asan G4_SAN_LOG=$(CURDIR)/build-asan/san G4_SANITIZED=1 \
	 G4_SAN_CFLAGS="$(ASAN_CFLAGS)" \
	 ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:exitcode=99:detect_leaks=1:log_path=$(CURDIR)/build-asan/san/asan \
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=99:log_path=$(CURDIR)/build-asan/san/ubsan \
	 $(MAKE) --no-print-directory BUILD=build-asan BIN=bin-asan CFLAGS="$(ASAN_CFLAGS)" run-tests

# libFuzzer: every tests/fuzz/fuzz_NAME.c, run FUZZ_SECONDS each from its seed
# corpus tests/fuzz/corpus/NAME/ (new inputs go to build-fuzz/corpus/NAME/,
# crashes to build-fuzz/crash/).  FUZZ=NAME runs one target.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz:
	@sh tools/deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz BIN=build-fuzz/bin CC=clang CFLAGS="$(FUZZ_CFLAGS)" fuzzers
	@sh tools/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ)

run-tests:
	@sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@sh tools/bench.sh

# ---- install ------------------------------------------------------------
PREFIX  ?= /usr/local
DESTDIR ?=
bindir   = $(PREFIX)/bin
libdir   = $(PREFIX)/lib
incdir   = $(PREFIX)/include
mandir   = $(PREFIX)/share/man
pcdir    = $(libdir)/pkgconfig
SOVER    = 0
HEADERS  = $(sort $(wildcard lib/*.h))
MAN1     = $(sort $(wildcard man/*.1))
MAN5     = $(sort $(wildcard man/*.5))
G4_VERSION = $(shell sed -n 's/^\#define G4_VERSION "\(.*\)"/\1/p' lib/version.h)
PC_REQUIRES = libzstd libpng libjpeg sndfile soxr fftw3f libcjson

$(LIBSO): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -shared -Wl,-soname,libg4.so.$(SOVER) $^ $(LDLIBS) -o $@

install: $(LIBA) $(LIBSO) $(CMDS)
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir) $(DESTDIR)$(pcdir) \
	 $(DESTDIR)$(incdir)/g4 $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5
	install -m 755 $(CMDS) $(DESTDIR)$(bindir)/
	install -m 644 $(LIBA) $(DESTDIR)$(libdir)/libg4.a
	install -m 755 $(LIBSO) $(DESTDIR)$(libdir)/libg4.so.$(G4_VERSION)
	ln -sf libg4.so.$(G4_VERSION) $(DESTDIR)$(libdir)/libg4.so.$(SOVER)
	ln -sf libg4.so.$(SOVER) $(DESTDIR)$(libdir)/libg4.so
	install -m 644 $(HEADERS) $(DESTDIR)$(incdir)/g4/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(libdir)' 'includedir=$(incdir)' '' \
	 'Name: g4' 'Description: Gemma 4 inference library (libg4)' 'Version: $(G4_VERSION)' \
	 'Cflags: -I$${includedir}/g4' 'Libs: -L$${libdir} -lg4' \
	 'Requires.private: $(PC_REQUIRES)' 'Libs.private: -fopenmp -lm' \
	 >$(DESTDIR)$(pcdir)/g4.pc && chmod 644 $(DESTDIR)$(pcdir)/g4.pc
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(mandir)/man1/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(mandir)/man5/)

uninstall:
	rm -f $(CMDS:$(BIN)/%=$(DESTDIR)$(bindir)/%) \
	 $(DESTDIR)$(libdir)/libg4.a $(DESTDIR)$(libdir)/libg4.so.$(G4_VERSION) \
	 $(DESTDIR)$(libdir)/libg4.so.$(SOVER) $(DESTDIR)$(libdir)/libg4.so \
	 $(HEADERS:lib/%=$(DESTDIR)$(incdir)/g4/%) $(DESTDIR)$(pcdir)/g4.pc \
	 $(MAN1:man/%=$(DESTDIR)$(mandir)/man1/%) $(MAN5:man/%=$(DESTDIR)$(mandir)/man5/%)
	-rmdir $(DESTDIR)$(incdir)/g4 2>/dev/null || true

clean:
	rm -rf $(BUILD) bin tests/tmp build-asan bin-asan build-fuzz

-include $(wildcard $(BUILD)/lib/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d $(BUILD)/fuzz/*.d $(BUILD)/cmd-*.d)
