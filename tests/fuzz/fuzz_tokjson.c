/* fuzz_tokjson - libFuzzer target: loading an HF tokenizer.json
 * (g4_tok_from_json), then using what loaded: encoding and decoding a
 * sample text, token pieces and types, and writing the vocabulary as GGUF
 * metadata and loading it back from that GGUF.  Built and run by
 * `make fuzz`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"
#include "tokenizer.h"

static void tokjson_use(const g4_tokenizer *t)
{
	static const char text[] = "hello ab\n\n<|turn>user x\xe2\x96\x81y \xff\xc3(<bos>";
	int32_t *ids = NULL;
	size_t n = 0, cap = 0;
	g4_tok_encode(t, text, sizeof text - 1, 0, &ids, &n, &cap);
	g4_tok_encode(t, text, sizeof text - 1, G4_ENC_SPECIAL | G4_ENC_BOS, &ids, &n, &cap);
	g4_buf out = { 0 };
	g4_tok_decode(t, ids, n, 0, &out);
	g4_tok_decode(t, ids, n, G4_DEC_SPECIAL, &out);
	g4_detok st = { 0 };
	for (size_t i = 0; i < n; i++)
		g4_detok_put(t, &st, ids[i], 0, &out);
	g4_detok_flush(&st, &out);
	g4_buf_free(&out);
	free(ids);
	size_t nv = g4_tok_n_vocab(t), len;
	for (size_t i = 0; i < nv && i < 512; i++) {
		g4_tok_piece(t, (int32_t)i, &len);
		g4_tok_type(t, (int32_t)i);
	}
	g4_tok_piece(t, (int32_t)nv, &len);
	g4_tok_piece(t, -1, &len);
	int32_t eog[8];
	g4_tok_eog(t, eog, 8);
	int32_t l, r;
	if (g4_tok_n_merges(t))
		g4_tok_merge(t, g4_tok_n_merges(t) - 1, &l, &r);
}

/* tokenizer.json -> GGUF metadata -> tokenizer again. */
static void tokjson_gguf(const g4_tokenizer *t)
{
	g4_ggufw *w = g4_ggufw_new();
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	if (w && m && g4_tok_write_gguf(t, w) == 0 && g4_ggufw_write_header(w, m) == 0 &&
	    g4_ggufw_finish(w, m) == 0) {
		fflush(m);
		g4_gguf *g = g4_gguf_open_mem(buf, n, "round trip");
		g4_tokenizer *u = g ? g4_tok_from_gguf(g) : NULL;
		if (u)
			g4_tok_free(u);
		if (g)
			g4_gguf_close(g);
	}
	if (m)
		fclose(m);
	free(buf);
	g4_ggufw_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g4_tokenizer *t = g4_tok_from_json((const char *)data, size, "fuzz.json");
	if (t) {
		tokjson_use(t);
		tokjson_gguf(t);
		g4_tok_free(t);
	}
	g4_err_clear();
	return 0;
}
