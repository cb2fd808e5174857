/* stream.h - the g4 token stream (byte format: man/g4-formats.5).
 *
 * A stream is a sequence of records after a magic header: token ids,
 * embedding blocks (one image or audio clip each), media slots (a place an
 * embedding block fills later) and document boundaries.  A header may appear
 * again in mid-stream, so `cat a b` of two streams is a stream.  Readers also
 * accept plain decimal ids as text, one document per non-empty line.
 *
 * Writing:
 *   g4_sw *w = g4_sw_open(stdout);          writes the header
 *   g4_sw_tokens(w, ids, n);
 *   g4_sw_embd(w, G4_MOD_IMAGE, rows, width, data);
 *   g4_sw_doc_end(w);                        between documents
 *   g4_sw_close(w);                          flushes; check the result
 *
 * Reading, a document at a time:
 *   g4_sr *r = g4_sr_open(stdin, "<stdin>");
 *   g4_doc d = {0};
 *   while ((rc = g4_sr_next_doc(r, &d)) > 0) { ... }
 *   if (rc < 0) die(g4_errmsg());
 *   g4_doc_free(&d); g4_sr_close(r);
 */
#ifndef G4_STREAM_H
#define G4_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum g4_modality { G4_MOD_GENERIC = 0, G4_MOD_IMAGE = 1, G4_MOD_AUDIO = 2 };
enum g4_dtype { G4_DT_F32 = 0, G4_DT_F16 = 1, G4_DT_BF16 = 2 };
enum g4_seg_kind { G4_SEG_TOKENS = 1, G4_SEG_EMBD = 2, G4_SEG_SLOT = 3 };

/* One piece of a document. */
typedef struct {
	int kind;		/* enum g4_seg_kind */
	int modality;		/* EMBD and SLOT: enum g4_modality */
	size_t n;		/* TOKENS: ids; EMBD: rows; SLOT: 0 */
	uint32_t width;		/* EMBD: values per row */
	int32_t *ids;		/* TOKENS */
	float *embd;		/* EMBD: n*width floats (converted to f32 on read) */
} g4_seg;

/* A document: its segments in order (adjacent token records merged). */
typedef struct {
	g4_seg *segs;
	size_t n_segs, cap;
	size_t n_pos;		/* positions: tokens + embedding rows (+1 per slot) */
} g4_doc;

void g4_doc_free(g4_doc *d);
void g4_doc_reset(g4_doc *d);	/* empties it, keeps allocations */
int g4_doc_add_tokens(g4_doc *d, const int32_t *ids, size_t n);
int g4_doc_add_embd(g4_doc *d, int modality, size_t rows, uint32_t width, const float *data);
int g4_doc_add_slot(g4_doc *d, int modality);

typedef struct g4_sw g4_sw;
g4_sw *g4_sw_open(FILE *f);
int g4_sw_tokens(g4_sw *w, const int32_t *ids, size_t n);
/* data holds rows*width values of dtype (f32: float, f16/bf16: uint16_t). */
int g4_sw_embd(g4_sw *w, int modality, uint32_t rows, uint32_t width, int dtype, const void *data);
int g4_sw_slot(g4_sw *w, int modality);
int g4_sw_doc_end(g4_sw *w);
int g4_sw_doc(g4_sw *w, const g4_doc *d);	/* all segments of d, no boundary */
int g4_sw_close(g4_sw *w);	/* flushes and frees; -1 on a write error */

typedef struct g4_sr g4_sr;
/* Detects binary stream vs decimal-id text from the first bytes. */
g4_sr *g4_sr_open(FILE *f, const char *name);
/* Reads the next document into d (reset first).  Returns 1 with a document,
 * 0 at the end of input, -1 on a malformed, truncated or garbage stream
 * (message says where: byte offset or line).  An empty document between two
 * boundaries is returned as a document with no segments. */
int g4_sr_next_doc(g4_sr *r, g4_doc *d);
void g4_sr_close(g4_sr *r);

#endif
