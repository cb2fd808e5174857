# g4 — Gemma 4 inference as a Unix toolkit.
#
#   make          build lib/libg4.a and the commands in bin/
#   make check    install missing Debian packages (as root), build, run every test
#   make demo     build and run the whole pipeline on a tiny model
#   make bench    benchmarks (never part of the test suite)
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

LIB_SRC  = $(sort $(wildcard lib/*.c))
LIB_OBJ  = $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
CMD_SRC  = $(sort $(wildcard cmd/*.c))
CMDS     = $(CMD_SRC:cmd/%.c=bin/%)
TEST_SRC = $(sort $(wildcard tests/unit/test_*.c))
TESTS    = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC = $(sort $(wildcard tools/bench_*.c))
BENCHES  = $(BENCH_SRC:tools/%.c=$(BUILD)/bench/%)
LIBA     = $(BUILD)/libg4.a

.PHONY: all deps check check-only demo bench clean
all: $(LIBA) $(CMDS) $(TESTS) $(BENCHES)

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

bin/%: cmd/%.c $(LIBA)
	@mkdir -p bin
	$(CC) $(G4FLAGS) $(CFLAGS) -MMD -MP -MF $(BUILD)/cmd-$*.d $< $(LIBA) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -Itests/unit -MMD -MP $< $(LIBA) $(LDLIBS) -o $@

$(BUILD)/bench/%: tools/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(G4FLAGS) $(CFLAGS) -MMD -MP $< $(LIBA) $(LDLIBS) -o $@

deps:
	@sh tools/deps.sh

check: deps
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh

check-only: all
	@sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@sh tools/bench.sh

clean:
	rm -rf $(BUILD) bin tests/tmp

-include $(wildcard $(BUILD)/lib/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d $(BUILD)/cmd-*.d)
