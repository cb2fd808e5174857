/* prompt.c - token-stream documents as decoder input (see prompt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "prompt.h"

static const char *mod_name(int m)
{
	return m == G4_MOD_IMAGE ? "image" : m == G4_MOD_AUDIO ? "audio" : "embedding";
}

int g4_media_add_file(g4_media *md, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return g4_err_sys("%s", path);
	g4_sr *r = g4_sr_open(f, path);
	if (!r) {
		fclose(f);
		return -1;
	}
	int rc;
	for (;;) {
		g4_doc *d = realloc(md->docs, (md->n_docs + 1) * sizeof *d);
		if (!d) {
			rc = g4_err("out of memory");
			break;
		}
		md->docs = d;
		memset(&d[md->n_docs], 0, sizeof *d);
		rc = g4_sr_next_doc(r, &d[md->n_docs]);
		if (rc <= 0) {
			g4_doc_free(&d[md->n_docs]);
			break;
		}
		md->n_docs++;
	}
	g4_sr_close(r);
	fclose(f);
	if (rc < 0)
		return -1;
	/* the docs array may have moved: rebuild the block list */
	size_t n = 0;
	for (size_t i = 0; i < md->n_docs; i++)
		for (size_t j = 0; j < md->docs[i].n_segs; j++)
			n += md->docs[i].segs[j].kind == G4_SEG_EMBD;
	const g4_seg **b = realloc(md->blocks, (n ? n : 1) * sizeof *b);
	if (!b)
		return g4_err("out of memory");
	md->blocks = b;
	md->n = 0;
	for (size_t i = 0; i < md->n_docs; i++)
		for (size_t j = 0; j < md->docs[i].n_segs; j++)
			if (md->docs[i].segs[j].kind == G4_SEG_EMBD)
				md->blocks[md->n++] = &md->docs[i].segs[j];
	return 0;
}

int g4_media_done(const g4_media *md)
{
	if (md->used != md->n)
		return g4_err("the media streams hold %zu embedding blocks, the prompt has %zu media slots",
			      md->n, md->used);
	return 0;
}

void g4_media_free(g4_media *md)
{
	for (size_t i = 0; i < md->n_docs; i++)
		g4_doc_free(&md->docs[i]);
	free(md->docs);
	free(md->blocks);
	memset(md, 0, sizeof *md);
}

int g4_prompt_build(g4_prompt *p, const g4_doc *d, int n_embd, g4_media *md)
{
	size_t n = 0, used = md ? md->used : 0;
	for (size_t i = 0; i < d->n_segs; i++) {
		const g4_seg *sg = &d->segs[i];
		if (sg->kind == G4_SEG_SLOT) {
			if (!md || used >= md->n)
				return g4_err("the prompt has more media slots than the media streams have "
					      "embedding blocks (%zu)", md ? md->n : 0);
			const g4_seg *b = md->blocks[used++];
			if (b->modality != sg->modality)
				return g4_err("media slot %zu wants %s, the block given is %s", used,
					      mod_name(sg->modality), mod_name(b->modality));
			sg = b;
		}
		if (sg->kind == G4_SEG_EMBD && sg->width != (uint32_t)n_embd)
			return g4_err("an embedding block of width %u does not fit the model's %d",
				      sg->width, n_embd);
		if (sg->kind != G4_SEG_SLOT)
			n += sg->n;
	}
	if (n > p->cap) {
		int32_t *ids = realloc(p->ids, n * sizeof *ids);
		if (ids)
			p->ids = ids;
		int32_t *bl = realloc(p->block, n * sizeof *bl);
		if (bl)
			p->block = bl;
		const float **rows = realloc(p->rows, n * sizeof *rows);
		if (rows)
			p->rows = rows;
		if (!ids || !bl || !rows)
			return g4_err("out of memory for a prompt of %zu positions", n);
		p->cap = n;
	}
	size_t k = 0;
	int32_t blk = 0;
	int prev_img = 0;
	for (size_t i = 0; i < d->n_segs; i++) {
		const g4_seg *sg = &d->segs[i];
		if (sg->kind == G4_SEG_SLOT)
			sg = md->blocks[md->used++];
		if (sg->kind == G4_SEG_TOKENS) {
			for (size_t j = 0; j < sg->n; j++, k++) {
				p->ids[k] = sg->ids[j];
				p->rows[k] = NULL;
				p->block[k] = 0;
			}
			if (sg->n)
				prev_img = 0;
			continue;
		}
		if (sg->kind != G4_SEG_EMBD)
			continue;
		const int img = sg->modality == G4_MOD_IMAGE;
		if (img && !prev_img)
			blk++;	/* a vision block is a maximal run of image rows */
		for (size_t j = 0; j < sg->n; j++, k++) {
			p->ids[k] = -1 - sg->modality;
			p->rows[k] = sg->embd + j * sg->width;
			p->block[k] = img ? blk : 0;
		}
		if (sg->n)
			prev_img = img;
	}
	p->n = (int64_t)k;
	return 0;
}

void g4_prompt_free(g4_prompt *p)
{
	free(p->ids);
	free(p->block);
	free(p->rows);
	memset(p, 0, sizeof *p);
}
