/* bench_tok - tokenizer throughput.
 *
 *   build/bench/bench_tok [TOKENIZER] [TEXTFILE...]
 *
 * TOKENIZER: tokenizer.json(.zst); default ../shared/data/tokenizer/gemma-
 * tokenizer.json.zst (the full 262144-token vocabulary; skipped if absent).
 * Text: the given files, else the test vectors of tests/data/tokenizer
 * (about 60 languages, code, JSON, emoji, whitespace runs) repeated to 4 MB.
 * Reports load time, encode MB/s on one core (the whole text as one
 * document, where the per-call word cache helps; and as short documents of
 * a few hundred bytes each, where it does not), and decode MB/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "fileio.h"
#include "tokenizer.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *tp = argc > 1 ? argv[1] : "../shared/data/tokenizer/gemma-tokenizer.json.zst";
	FILE *f = fopen(tp, "rb");
	if (!f) {
		printf("bench_tok: %s not found, skipped\n", tp);
		return 0;
	}
	fclose(f);
	double t0 = now();
	g4_tokenizer *t = g4_tok_load(tp);
	if (!t) {
		fprintf(stderr, "bench_tok: %s\n", g4_errmsg());
		return 1;
	}
	double t1 = now();
	printf("bench_tok: load %s: %.3f s (%zu tokens, %zu merges)\n", tp, t1 - t0, g4_tok_n_vocab(t), g4_tok_n_merges(t));

	const char *def[] = { "tests/data/tokenizer/extra-tests.inp", "tests/data/tokenizer/gemma4-vocab-tests.inp" };
	g4_buf src = { 0 };
	int nf = argc > 2 ? argc - 2 : 2;
	for (int i = 0; i < nf; i++) {
		char *b;
		size_t n;
		if (g4_slurp(argc > 2 ? argv[i + 2] : def[i], (size_t)1 << 30, &b, &n)) {
			fprintf(stderr, "bench_tok: %s\n", g4_errmsg());
			return 1;
		}
		g4_buf_put(&src, b, n);
		free(b);
	}
	g4_buf text = { 0 };
	while (text.n < ((size_t)4 << 20) && src.n)
		g4_buf_put(&text, src.p, src.n);

	int32_t *ids = NULL;
	size_t n = 0, cap = 0;
	double best = 1e9;
	for (int rep = 0; rep < 3; rep++) {
		n = 0;
		double a = now();
		if (g4_tok_encode(t, text.p, text.n, 0, &ids, &n, &cap)) {
			fprintf(stderr, "bench_tok: %s\n", g4_errmsg());
			return 1;
		}
		double d = now() - a;
		if (d < best)
			best = d;
	}
	printf("bench_tok: encode %.2f MB of mixed text -> %zu tokens: %.1f MB/s (1 core, best of 3)\n",
	       (double)text.n / 1e6, n, (double)text.n / 1e6 / best);
	/* short documents: the pieces between separators (or lines) */
	{
		size_t bytes = 0, ntok = 0;
		double a2 = now();
		while (bytes < ((size_t)4 << 20)) {
			const char *p = src.p, *end = src.p + src.n;
			while (p < end) {
				const char *e = memmem(p, (size_t)(end - p), "\n__ggml_vocab_test__\n", 21);
				if (!e)
					e = memchr(p, '\n', (size_t)(end - p));
				size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
				n = 0;
				g4_tok_encode(t, p, len, 0, &ids, &n, &cap);
				ntok += n;
				bytes += len;
				p += len + (e ? (*e == '\n' && e[1] != '_' ? 1 : 21) : 0);
			}
		}
		double d2 = now() - a2;
		printf("bench_tok: encode %.2f MB as %s short documents -> %zu tokens: %.1f MB/s (1 core, no cache)\n",
		       (double)bytes / 1e6, "separate", ntok, (double)bytes / 1e6 / d2);
		n = 0;
		g4_tok_encode(t, text.p, text.n, 0, &ids, &n, &cap);
	}
	g4_buf out = { 0 };
	double a = now();
	g4_tok_decode(t, ids, n, 0, &out);
	double d = now() - a;
	printf("bench_tok: decode %zu tokens: %.1f MB/s%s\n", n, (double)out.n / 1e6 / d,
	       out.n == text.n && !memcmp(out.p, text.p, out.n) ? "" : " (round trip differs: literal U+2581 in the text)");
	g4_buf_free(&out);
	g4_buf_free(&text);
	g4_buf_free(&src);
	free(ids);
	g4_tok_free(t);
	return 0;
}
