# dataset.mk - generate a dataset with make: prompts -> snapshots -> N
# samples each -> one JSON-lines file.
#
#   make -f examples/dataset.mk -j8 PROMPTS=prompts OUT=out N=4
#
# Every PROMPTS/NAME.txt (NAME without spaces: make cannot quote them) is a
# user message.  It is rendered with the chat template and prefilled once
# into OUT/NAME.kv.zst; g4decode then draws N samples from that snapshot,
# OUT/NAME.SEED.txt for SEED = 1..N, each with its own seed.
# OUT/dataset.jsonl collects them, one line per sample:
#   {"prompt":"NAME","seed":SEED,"text":"..."}
# make -j runs the prefills and the samples in parallel; a second run does
# only what changed: an edited or new prompt is prefilled and sampled, a
# larger N adds samples, new DECODE options rerun the samples (not the
# prefills), another MODEL reruns everything.  On a cluster, the same rules
# run under a Slurm job or with the snapshots copied to the machines that
# sample them (see the README).
#
# Variables: MODEL (default: the tiny test model, random weights: gibberish
# samples), PROMPTS, OUT, N, DECODE (g4decode options), T (threads per job;
# with make -jJ, about cores/J), G4_BIN (the commands; default this tree's
# bin/ if built, else the PATH).

HERE    := $(dir $(lastword $(MAKEFILE_LIST)))
ROOT    := $(HERE)..
G4_BIN  ?= $(ROOT)/bin
G4      := $(if $(wildcard $(G4_BIN)/g4tok),$(G4_BIN)/,)
MODEL   ?= $(ROOT)/tests/data/micro-e2b-f32.gguf
PROMPTS ?= prompts
OUT     ?= out
N       ?= 4
DECODE  ?= -n 128 --temp 1.0 --top-k 64 --top-p 0.95
T       ?= 1

NAMES   := $(sort $(basename $(notdir $(wildcard $(PROMPTS)/*.txt))))
SEEDS   := $(shell seq 1 $(N))
SAMPLES := $(foreach p,$(NAMES),$(foreach s,$(SEEDS),$(OUT)/$(p).$(s).txt))

# stdin -> a JSON string (bytes that are not UTF-8 dropped; backslash,
# quote, tab, CR escaped; lines joined by \n)
JSON_STR = iconv -c -f UTF-8 -t UTF-8 | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' -e 's/\r/\\r/g' -e 's/[[:cntrl:]]/ /g' | \
	awk 'BEGIN { printf "\"" } NR > 1 { printf "\\n" } { printf "%s", $$0 } END { printf "\"" }'

.PHONY: all clean
.DELETE_ON_ERROR:
.SECONDARY:

all: $(OUT)/dataset.jsonl

# The model's name and the decode options as files that change only when
# they do (written when the makefile is read), so that the snapshots and
# samples depend on them.
$(shell mkdir -p $(OUT) && { echo '$(MODEL)' | cmp -s - $(OUT)/model.name || echo '$(MODEL)' >$(OUT)/model.name; })
$(shell mkdir -p $(OUT) && { echo '$(DECODE)' | cmp -s - $(OUT)/decode.opts || echo '$(DECODE)' >$(OUT)/decode.opts; })

# prompt -> snapshot (g4prefill -o writes the file whole or not at all)
$(OUT)/%.kv.zst: $(PROMPTS)/%.txt $(MODEL) $(OUT)/model.name
	@mkdir -p $(OUT)
	printf '[{"role":"user","content":%s}]' "$$(<$< $(JSON_STR))" | \
	$(G4)g4tok -m $(MODEL) --chat | $(G4)g4prefill -m $(MODEL) -t $(T) -o $@

# snapshot -> sample SEED (one rule per seed)
define sample_rule
$(OUT)/%.$(1).txt: $(OUT)/%.kv.zst $(OUT)/decode.opts
	$(G4)g4decode -m $(MODEL) -t $(T) -s $$< --seed $(1) $(DECODE) >$$@.tmp && mv $$@.tmp $$@
endef
$(foreach s,$(SEEDS),$(eval $(call sample_rule,$(s))))

# samples -> JSON lines
$(OUT)/dataset.jsonl: $(SAMPLES)
	@for p in $(NAMES); do for s in $(SEEDS); do \
		printf '{"prompt":%s,"seed":%s,"text":%s}\n' \
			"$$(printf '%s' "$$p" | $(JSON_STR))" "$$s" "$$(<$(OUT)/$$p.$$s.txt $(JSON_STR))"; \
	done; done >$@.tmp && mv $@.tmp $@
	@echo "$@: $(words $(SAMPLES)) samples of $(words $(NAMES)) prompts"

clean:
	rm -f $(OUT)/*.kv.zst $(SAMPLES) $(OUT)/dataset.jsonl $(OUT)/decode.opts $(OUT)/model.name
