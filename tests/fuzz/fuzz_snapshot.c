/* fuzz_snapshot - libFuzzer target: the KV snapshot reader.
 *
 * The first input byte picks a mode.  Bit 0 clear: the rest is read as it
 * is (zstd framing, truncation, checksums).  Bit 0 set: the rest is the
 * frame content; the harness fixes its header check, compresses it into a
 * proper frame (content size, checksum) and reads that, so the fuzzer
 * reaches the header, table and size logic behind the checksums.  Bit 1:
 * read against a model fingerprint of zeros; bit 2: two frames in a row.
 * A snapshot read is written and read back against a model made from its
 * own shapes (g4_snap_want): it must come back the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "err.h"
#include "qtypes.h"
#include "sha256.h"
#include "snapshot.h"

static int same_snap(const g4_snap *a, const g4_snap *b)
{
	if (memcmp(a->fingerprint, b->fingerprint, 32) || a->kv_type != b->kv_type ||
	    a->n_tokens != b->n_tokens || a->n_layers != b->n_layers || a->n_vocab != b->n_vocab)
		return 0;
	if (memcmp(a->tokens, b->tokens, 4 * a->n_tokens) || memcmp(a->logits, b->logits, 4ull * a->n_vocab))
		return 0;
	for (uint32_t i = 0; i < a->n_layers; i++) {
		const g4_snap_layer *x = &a->layers[i], *y = &b->layers[i];
		if (x->layer != y->layer || x->n_head_kv != y->n_head_kv || x->head_dim != y->head_dim ||
		    x->pos0 != y->pos0 || x->n_rows != y->n_rows)
			return 0;
		size_t n = x->n_rows * g4_row_bytes(a->kv_type, (int64_t)x->n_head_kv * x->head_dim);
		if (memcmp(x->k, y->k, n) || memcmp(x->v, y->v, n))
			return 0;
	}
	return 1;
}

static void snap_round_trip(const g4_snap *s)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	if (!m)
		return;
	int ok = g4_snap_write(m, s, "round trip") == 0;
	fclose(m);
	if (ok) {
		/* read back against a model made from the snapshot itself */
		g4_snap_kv *kv = calloc(s->n_layers ? s->n_layers : 1, sizeof *kv);
		if (!kv)
			abort();
		for (uint32_t i = 0; i < s->n_layers; i++) {
			const g4_snap_layer *l = &s->layers[i];
			kv[i] = (g4_snap_kv){ l->layer, l->n_head_kv, l->head_dim,
					      l->n_rows < s->n_tokens ? l->n_rows : UINT64_MAX };
		}
		g4_snap_want w = { s->fingerprint, s->n_tokens, s->n_vocab, s->n_layers, kv };
		FILE *f = fmemopen(buf, n, "r");
		g4_snap t;
		int rc = f ? g4_snap_read_want(f, &t, &w, "round trip") : -1;
		free(kv);
		if (rc != 1) {
			fprintf(stderr, "fuzz_snapshot: a snapshot read cannot be read back: %s\n", g4_errmsg());
			abort();
		}
		if (!same_snap(s, &t)) {
			fprintf(stderr, "fuzz_snapshot: a snapshot changes through write + read\n");
			abort();
		}
		g4_snap_free(&t);
		fclose(f);
	}
	free(buf);
}

/* Content -> one zstd frame with content size and checksum; 0 on failure. */
static size_t snap_wrap(uint8_t *c, size_t n, uint8_t *out, size_t cap)
{
	if (n >= 72 + 8) {	/* fix the header check, as a writer would */
		uint32_t nl;
		memcpy(&nl, c + 56, 4);
		if (nl <= (n - 80) / 32) {
			uint8_t d[32];
			g4_sha256 sh;
			g4_sha256_init(&sh);
			g4_sha256_update(&sh, c, 72 + 32 * (size_t)nl);
			g4_sha256_final(&sh, d);
			memcpy(c + 72 + 32 * (size_t)nl, d, 8);
		}
	}
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!cc)
		return 0;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
	size_t r = ZSTD_compress2(cc, out, cap, c, n);
	ZSTD_freeCCtx(cc);
	return ZSTD_isError(r) ? 0 : r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned mode = data[0];
	data++, size--;
	size_t cap = 2 * (ZSTD_compressBound(size) + 64), n = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return 0;
	if (mode & 1) {
		uint8_t *c = malloc(size);
		if (c) {
			memcpy(c, data, size);
			n = snap_wrap(c, size, buf, cap / 2);
			if (n && (mode & 4)) {
				memcpy(buf + n, buf, n);
				n *= 2;
			}
			free(c);
		}
	} else {
		memcpy(buf, data, size);
		n = size;
	}
	static const uint8_t zeros[32];
	FILE *f = n ? fmemopen(buf, n, "r") : NULL;
	if (f) {
		for (int k = 0; k < 4; k++) {
			g4_snap s;
			if (g4_snap_read(f, &s, (mode & 2) ? zeros : NULL, "fuzz") != 1)
				break;
			snap_round_trip(&s);
			g4_snap_free(&s);
		}
		fclose(f);
	}
	free(buf);
	g4_err_clear();
	return 0;
}
