/* fuzz_stream - libFuzzer target: the token stream reader (binary records
 * and decimal-id text).  Every document read is written back with the
 * writer and read again: it must come back the same (else abort()).  Built
 * and run by `make fuzz`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "stream.h"

static int same_doc(const g4_doc *a, const g4_doc *b)
{
	if (a->n_segs != b->n_segs || a->n_pos != b->n_pos)
		return 0;
	for (size_t i = 0; i < a->n_segs; i++) {
		const g4_seg *x = &a->segs[i], *y = &b->segs[i];
		if (x->kind != y->kind || x->n != y->n)
			return 0;
		if (x->kind == G4_SEG_TOKENS && memcmp(x->ids, y->ids, x->n * sizeof *x->ids))
			return 0;
		if (x->kind != G4_SEG_TOKENS && x->modality != y->modality)
			return 0;
		if (x->kind == G4_SEG_EMBD &&
		    (x->width != y->width || memcmp(x->embd, y->embd, x->n * x->width * sizeof(float))))
			return 0;
	}
	return 1;
}

/* Writes d as a stream and reads it back; aborts if it changes. */
static void stream_round_trip(const g4_doc *d)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	if (!m)
		return;
	g4_sw *w = g4_sw_open(m);
	int ok = w && g4_sw_doc(w, d) == 0 && g4_sw_doc_end(w) == 0;
	if (w && g4_sw_close(w) != 0)
		ok = 0;
	fclose(m);
	if (ok) {
		FILE *f = fmemopen(buf, n, "r");
		g4_sr *r = f ? g4_sr_open(f, "round trip") : NULL;
		g4_doc e = { 0 };
		if (!r || g4_sr_next_doc(r, &e) != 1 || !same_doc(d, &e)) {
			fprintf(stderr, "fuzz_stream: a document read does not survive write + read: %s\n",
				g4_errmsg());
			abort();
		}
		g4_doc_free(&e);
		g4_sr_close(r);
		fclose(f);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;	/* fmemopen wants at least one byte */
	FILE *f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	g4_sr *r = g4_sr_open(f, "fuzz");
	if (r) {
		g4_doc d = { 0 };
		for (int k = 0; k < 1000 && g4_sr_next_doc(r, &d) > 0; k++)
			stream_round_trip(&d);
		g4_doc_free(&d);
		g4_sr_close(r);
	}
	fclose(f);
	g4_err_clear();
	return 0;
}
