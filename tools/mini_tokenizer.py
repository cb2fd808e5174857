#!/usr/bin/env python3
"""Builds tests/data/tokenizer/mini-tokenizer.json.zst: the subset of a Gemma
tokenizer.json that the test texts need (the tokens and merges BPE uses on
them, all byte tokens, the added tokens except <unusedN>), ids unchanged.
Keeping only the merges that fire on a text gives the same result on that
text: at each step the lowest-rank available merge is one that was kept.

usage: tools/mini_tokenizer.py FULL.json.zst OUT.json.zst TEXTFILE...
   (*.inp files are split on the llama.cpp separator; *.json chat examples
   contribute their "text" fields, encoded with special tokens)"""
import json, subprocess, sys

full = json.loads(subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=True).stdout)
vocab = full["model"]["vocab"]
merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in full["model"]["merges"]]
rank = {m: i for i, m in enumerate(merges)}
added = full["added_tokens"]
G4 = {46: "<|tool>", 47: "<tool|>", 48: "<|tool_call>", 49: "<tool_call|>", 50: "<|tool_response>",
      51: "<tool_response|>", 52: '<|"|>', 98: "<|think|>", 100: "<|channel>", 101: "<channel|>",
      105: "<|turn>", 106: "<turn|>", 255999: "<|image>", 256000: "<|audio>", 258880: "<|image|>",
      258881: "<|audio|>", 258882: "<image|>", 258883: "<audio|>", 258884: "<|video|>"}
match = {a["content"] for a in added}
specials = set(G4.values())
used_tok, used_m = set(), set()

def bpe(seg):
    syms = list(seg.replace(" ", "\u2581"))
    while True:
        best = None
        for i in range(len(syms) - 1):
            r = rank.get((syms[i], syms[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        r, i = best
        used_m.add(r)
        syms[i:i + 2] = [syms[i] + syms[i + 1]]
    used_tok.update(s for s in syms if s in vocab)

def encode(text, special):
    cands = match | (specials if special else set())
    maxl = max(len(c) for c in cands)
    i = seg = 0
    while i < len(text):
        m = None
        for l in range(min(maxl, len(text) - i), 0, -1):
            if text[i:i + l] in cands:
                m = l
                break
        if m:
            bpe(text[seg:i])
            i += m
            seg = i
        else:
            i += 1
    bpe(text[seg:])

for path in sys.argv[3:]:
    raw = open(path, "rb").read().decode("utf-8")
    if path.endswith(".inp"):
        for t in raw.split("\n__ggml_vocab_test__\n"):
            encode(t, False)
    elif path.endswith(".json"):
        d = json.loads(raw)
        def walk(x):
            if isinstance(x, dict):
                for k, v in x.items():
                    if k in ("text", "model_output_text", "content") and isinstance(v, str):
                        encode(v, True)
                    else:
                        walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        walk(d)
    else:
        encode(raw, False)

# runs of ▁ / newline / tab are normal tokens in a GGUF (llama.cpp): keep
# the merges that build them, so a vocab-only GGUF written from the mini
# file encodes like the tokenizer.json
for a in added:
    if a["content"] and set(a["content"]) <= {"\u2581", "\n", "\t"}:
        bpe(a["content"])

keep_ids = set(range(238, 494)) | set(G4) | {0, 1, 2, 3, 4}
keep_ids |= {a["id"] for a in added if not a["content"].startswith("<unused")}
for r in used_m:
    for s in merges[r]:
        used_tok.add(s)
    used_tok.add(merges[r][0] + merges[r][1])
newvocab = {k: v for k, v in vocab.items() if v in keep_ids or k in used_tok}
out = {
    "version": "1.0",
    "added_tokens": [a for a in added if a["id"] in keep_ids],
    "normalizer": full.get("normalizer"),
    "pre_tokenizer": full.get("pre_tokenizer"),
    "decoder": full.get("decoder"),
    "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>",
              "vocab": newvocab, "merges": [list(merges[r]) for r in sorted(used_m)]},
}
data = json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()
subprocess.run(["zstd", "-19", "-q", "-f", "-o", sys.argv[2]], input=data, check=True)
print(f"{len(newvocab)} tokens, {len(used_m)} merges, {len(data)} bytes json", file=sys.stderr)
