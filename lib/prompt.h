/* prompt.h - a document of the token stream as decoder input.
 *
 * Flattens the segments of a g4_doc (stream.h) into a g4_batch (forward.h):
 * token ids, embedding rows (history id -1 - modality) and image-block
 * numbers (a vision block is a maximal run of image rows).  Media slots are
 * filled, in order, with the embedding blocks of the --media streams.
 *
 *   g4_media md = {0};  g4_media_add_file(&md, "img.g4s");
 *   g4_prompt p = {0};
 *   g4_prompt_build(&p, &doc, m->n_embd, &md);   for each document
 *   g4_batch b = g4_prompt_batch(&p);
 *   g4_media_done(&md)   -1 if blocks were left over
 *   g4_prompt_free(&p); g4_media_free(&md);
 */
#ifndef G4_PROMPT_H
#define G4_PROMPT_H
#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "stream.h"

typedef struct {
	g4_doc *docs;
	size_t n_docs;
	const g4_seg **blocks;	/* the EMBD segments of all docs, in order */
	size_t n, used;
} g4_media;

/* Appends the embedding blocks of a stream file ("-" is not allowed). */
int g4_media_add_file(g4_media *md, const char *path);
/* 0 if every block was used, else -1 with a message. */
int g4_media_done(const g4_media *md);
void g4_media_free(g4_media *md);

typedef struct {
	int64_t n;
	int32_t *ids, *block;
	const float **rows;
	size_t cap;
} g4_prompt;

/* Builds p from d; slots take the next blocks of md (NULL: no media).
 * Errors: a slot without a block, a modality mismatch, a block whose width
 * is not n_embd.  Rows point into d or md: keep them alive. */
int g4_prompt_build(g4_prompt *p, const g4_doc *d, int n_embd, g4_media *md);
void g4_prompt_free(g4_prompt *p);

static inline g4_batch g4_prompt_batch(const g4_prompt *p)
{
	g4_batch b = { .n = p->n, .ids = p->ids, .rows = p->rows, .block = p->block };
	return b;
}

#endif
