/* fuzz_chat - libFuzzer target: chat requests (JSON parser, the Gemma 4
 * chat templates, chat encoding) and the tokenizer on arbitrary text.
 *
 * The first byte picks the options: bits 0-1 the template (mod 3), bit 2
 * thinking, bit 3 the generation prompt, bit 4 special tokens when the whole
 * input is also encoded as plain text.  The rest is the request.  The
 * tokenizer is tests/data/tokenizer/mini-tokenizer.json.zst (under $G4_ROOT,
 * default: the current directory).  Built and run by `make fuzz`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "err.h"
#include "json.h"
#include "tokenizer.h"

static g4_tokenizer *chat_tok;

static void chat_load_tok(void)
{
	char path[4096];
	const char *root = getenv("G4_ROOT");
	snprintf(path, sizeof path, "%s/tests/data/tokenizer/mini-tokenizer.json.zst", root ? root : ".");
	if (!(chat_tok = g4_tok_load(path))) {
		fprintf(stderr, "fuzz_chat: %s\n", g4_errmsg());
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!chat_tok)
		chat_load_tok();
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	g4_json *req = g4_json_parse(s, n, "fuzz");
	if (req) {
		g4_chat_opts o = { .tmpl = (int)(mode & 3) % G4_TMPL_COUNT, .thinking = (mode >> 2) & 1,
				   .add_generation_prompt = (mode >> 3) & 1 };
		g4_buf txt = { 0 };
		g4_chat_media *media = NULL;
		size_t n_media = 0;
		if (g4_chat_render(req, &o, &txt, &media, &n_media) == 0)
			for (size_t i = 0; i < n_media; i++)
				if (media[i].pos > txt.n)
					abort();	/* a placeholder outside the text */
		free(media);
		g4_buf_free(&txt);
		int32_t *ids = NULL;
		size_t ni = 0, cap = 0;
		media = NULL;
		n_media = 0;
		if (g4_chat_encode(chat_tok, req, &o, &ids, &ni, &cap, &media, &n_media) == 0)
			for (size_t i = 0; i < n_media; i++)
				if (media[i].pos >= ni)
					abort();	/* a placeholder id outside the ids */
		free(media);
		free(ids);
		g4_json_free(req);
	}

	/* The bytes as text: encode, decode, and decode token by token. */
	int32_t *ids = NULL;
	size_t ni = 0, cap = 0;
	if (g4_tok_encode(chat_tok, s, n, (mode & 16) ? G4_ENC_SPECIAL : 0, &ids, &ni, &cap) == 0) {
		g4_buf out = { 0 };
		g4_tok_decode(chat_tok, ids, ni, G4_DEC_SPECIAL, &out);
		g4_detok st = { 0 };
		for (size_t i = 0; i < ni; i++)
			g4_detok_put(chat_tok, &st, ids[i], 0, &out);
		g4_detok_flush(&st, &out);
		g4_buf_free(&out);
	}
	free(ids);
	g4_err_clear();
	return 0;
}
