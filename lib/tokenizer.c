/* tokenizer.c - Gemma 4 BPE tokenizer (see tokenizer.h; spec
 * gemma4-tokenizer.md sections 2-5).
 *
 * Data: token strings in one blob, a string->id hash, a (left id, right id)
 * -> (rank, result id) merge hash, a code point -> id table for the first
 * symbols, and a byte trie of the added tokens (control / user-defined) for
 * the leftmost-longest split before BPE.
 *
 * BPE: symbols in a doubly linked list over the code points of a segment,
 * candidate merges in a binary min-heap keyed by (rank, position); a popped
 * candidate is used only if both symbols are still there and unchanged.
 * This is exactly the naive "merge the lowest-rank, leftmost pair" loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "err.h"
#include "fileio.h"
#include "gguf.h"
#include "tokenizer.h"

#define MAX_VOCAB (1u << 22)
#define GEMMA_VOCAB 262145	/* ids in Gemma 3's tokenizer.json, <image_soft_token> last */
#define MAX_MERGES (1u << 24)
#define MAX_JSON ((size_t)1 << 30)

typedef struct {
	int32_t child;		/* first child node, -1 */
	int32_t sib;		/* next sibling, -1 */
	int32_t id;		/* token ending here, -1 */
	unsigned char byte;
} tnode;

typedef struct {
	uint64_t key;		/* left << 32 | right, ~0 = empty */
	uint32_t rank;
	int32_t res;
} mslot;

struct g4_tokenizer {
	size_t n_vocab;
	char *blob;
	size_t *off;
	uint32_t *len;
	uint8_t *type;
	int32_t *hslot;		/* string hash: ids, -1 empty */
	size_t hmask;
	size_t n_merges;
	int32_t *ml, *mr;	/* merges in rank order (valid ones) */
	mslot *mh;
	size_t mmask;
	int32_t *cp_id;		/* code point < 0x10000 -> id, -1 */
	int32_t byte_id[256];
	int32_t space_id;	/* "▁" */
	uint8_t *pre_sp;	/* bitmap: code point c < 0x10000 is followed by ▁ inside some token */
	uint32_t *pre_sp_hi;	/* such code points >= 0x10000 */
	size_t n_pre_sp_hi;
	tnode *trie;
	size_t n_trie, cap_trie;
	int32_t root[256];	/* root children */
	int32_t bos, eos, unk, pad, mask;
	int32_t eog[8];
	size_t n_eog;
	char *chat_template;
};

/* ---- hashing ---------------------------------------------------------- */

static uint64_t shash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static uint64_t khash(uint64_t k)
{
	k *= 0x9E3779B97F4A7C15ull;
	return k ^ (k >> 31);
}

int32_t g4_tok_id(const g4_tokenizer *t, const char *s, size_t n)
{
	size_t i = shash(s, n) & t->hmask;
	for (;;) {
		int32_t id = t->hslot[i];
		if (id < 0)
			return -1;
		if (t->len[id] == n && !memcmp(t->blob + t->off[id], s, n))
			return id;
		i = (i + 1) & t->hmask;
	}
}

static void hinsert(g4_tokenizer *t, int32_t id)
{
	const char *s = t->blob + t->off[id];
	size_t n = t->len[id];
	size_t i = shash(s, n) & t->hmask;
	for (;;) {
		int32_t o = t->hslot[i];
		if (o < 0) {
			t->hslot[i] = id;
			return;
		}
		if (t->len[o] == n && !memcmp(t->blob + t->off[o], s, n))
			return;		/* keep the lowest id */
		i = (i + 1) & t->hmask;
	}
}

static const mslot *mfind(const g4_tokenizer *t, int32_t a, int32_t b)
{
	uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
	size_t i = khash(k) & t->mmask;
	for (;;) {
		const mslot *m = &t->mh[i];
		if (m->key == k)
			return m;
		if (m->key == ~0ull)
			return NULL;
		i = (i + 1) & t->mmask;
	}
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s, 0 if invalid; *cp its value. */
static int u8dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	if (c < 0x80) { *cp = c; return 1; }
	if (c < 0xC2) return 0;
	if (c < 0xE0) {
		if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
		*cp = (c & 0x1F) << 6 | (s[1] & 0x3F);
		return 2;
	}
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)) return 0;
		*cp = (c & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)) return 0;
		*cp = (c & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
		return 4;
	}
	return 0;
}

static int is_byte_piece(const char *s, size_t n, int *val)
{
	if (n != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>')
		return 0;
	int v = 0;
	for (int k = 3; k < 5; k++) {
		char c = s[k];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= c - '0';
		else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
		else return 0;
	}
	*val = v;
	return 1;
}

/* ---- building --------------------------------------------------------- */

static int trie_add(g4_tokenizer *t, int32_t id)
{
	const unsigned char *s = (const unsigned char *)t->blob + t->off[id];
	size_t n = t->len[id];
	if (!n)
		return 0;
	/* room for the whole string first: `link` points into the array */
	if (t->n_trie + n > t->cap_trie) {
		size_t nc = t->cap_trie ? t->cap_trie : 1024;
		while (nc < t->n_trie + n)
			nc *= 2;
		tnode *q = realloc(t->trie, nc * sizeof *q);
		if (!q)
			return g4_err("out of memory");
		t->trie = q;
		t->cap_trie = nc;
	}
	int32_t *link = &t->root[s[0]];
	int32_t node = -1;
	for (size_t i = 0; i < n; i++) {
		int32_t c = *link;
		while (c >= 0 && t->trie[c].byte != s[i]) {
			link = &t->trie[c].sib;
			c = *link;
		}
		if (c < 0) {
			c = (int32_t)t->n_trie++;
			t->trie[c] = (tnode){ -1, -1, -1, s[i] };
			*link = c;
		}
		node = c;
		link = &t->trie[c].child;
	}
	if (t->trie[node].id < 0)
		t->trie[node].id = id;
	return 0;
}

/* Which code points are followed by ▁ inside a token: a segment can be cut
 * before a space (▁) that follows any other character, since no symbol can
 * ever span that boundary (every symbol is a vocabulary token).  This gives
 * BPE word-sized pieces without changing the result. */
static int mark_pre_space(g4_tokenizer *t)
{
	size_t cap = 0;
	t->pre_sp = calloc(0x10000 / 8, 1);
	if (!t->pre_sp)
		return -1;
	for (size_t i = 0; i < t->n_vocab; i++) {
		const unsigned char *p = (const unsigned char *)t->blob + t->off[i];
		size_t n = t->len[i], k = 0;
		uint32_t prev = 0, cp;
		int have = 0;
		while (k < n) {
			int l = u8dec(p + k, n - k, &cp);
			if (!l) {
				have = 0;
				k++;
				continue;
			}
			if (have && cp == 0x2581) {
				if (prev < 0x10000)
					t->pre_sp[prev >> 3] |= (uint8_t)(1u << (prev & 7));
				else {
					if (t->n_pre_sp_hi == cap) {
						cap = cap ? cap * 2 : 16;
						uint32_t *q = realloc(t->pre_sp_hi, cap * sizeof *q);
						if (!q)
							return -1;
						t->pre_sp_hi = q;
					}
					t->pre_sp_hi[t->n_pre_sp_hi++] = prev;
				}
			}
			prev = cp;
			have = 1;
			k += (size_t)l;
		}
	}
	return 0;
}

static int joins_space(const g4_tokenizer *t, uint32_t cp)
{
	if (cp < 0x10000)
		return t->pre_sp[cp >> 3] >> (cp & 7) & 1;
	for (size_t i = 0; i < t->n_pre_sp_hi; i++)
		if (t->pre_sp_hi[i] == cp)
			return 1;
	return 0;
}

static int32_t by_name(const g4_tokenizer *t, int32_t given, const char *name)
{
	if (given >= 0 && (size_t)given < t->n_vocab)
		return given;
	return g4_tok_id(t, name, strlen(name));
}

g4_tokenizer *g4_tok_build(const g4_tok_spec *s)
{
	const char *nm = s->name ? s->name : "tokenizer";
	if (s->n_vocab == 0 || s->n_vocab > MAX_VOCAB) {
		g4_err("%s: vocabulary of %zu tokens", nm, s->n_vocab);
		return NULL;
	}
	if (s->n_merges > MAX_MERGES) {
		g4_err("%s: %zu merges", nm, s->n_merges);
		return NULL;
	}
	g4_tokenizer *t = calloc(1, sizeof *t);
	if (!t)
		goto oom;
	size_t nv = s->n_vocab, total = 0;
	for (size_t i = 0; i < nv; i++)
		total += s->tokens[i] ? s->token_len[i] : 0;
	t->n_vocab = nv;
	t->blob = malloc(total + 1);
	t->off = malloc(nv * sizeof *t->off);
	t->len = malloc(nv * sizeof *t->len);
	t->type = calloc(nv, 1);
	size_t hcap = 1;
	while (hcap < nv * 2)
		hcap <<= 1;
	t->hslot = malloc(hcap * sizeof *t->hslot);
	t->hmask = hcap - 1;
	t->cp_id = malloc(0x10000 * sizeof *t->cp_id);
	if (!t->blob || !t->off || !t->len || !t->type || !t->hslot || !t->cp_id)
		goto oom;
	memset(t->hslot, 0xff, hcap * sizeof *t->hslot);
	memset(t->cp_id, 0xff, 0x10000 * sizeof *t->cp_id);
	memset(t->byte_id, 0xff, sizeof t->byte_id);
	memset(t->root, 0xff, sizeof t->root);
	size_t o = 0;
	for (size_t i = 0; i < nv; i++) {
		size_t l = s->tokens[i] ? s->token_len[i] : 0;
		if (l > 0xffff) {
			g4_err("%s: token %zu is %zu bytes long", nm, i, l);
			goto fail;
		}
		t->off[i] = o;
		t->len[i] = (uint32_t)l;
		if (l)
			memcpy(t->blob + o, s->tokens[i], l);
		o += l;
		int ty = s->types ? s->types[i] : G4_TT_NORMAL, bv;
		if (!s->tokens[i])
			ty = 0;
		else if (!s->types && is_byte_piece(s->tokens[i], l, &bv))
			ty = G4_TT_BYTE;
		if (ty < 0 || ty > 6)
			ty = G4_TT_NORMAL;
		t->type[i] = (uint8_t)ty;
	}
	for (size_t i = 0; i < nv; i++) {
		if (!t->type[i] || !t->len[i])
			continue;
		hinsert(t, (int32_t)i);
		const char *p = t->blob + t->off[i];
		int bv;
		if (t->type[i] == G4_TT_BYTE && is_byte_piece(p, t->len[i], &bv)) {
			if (t->byte_id[bv] < 0)
				t->byte_id[bv] = (int32_t)i;
			continue;
		}
		uint32_t cp;
		int k = u8dec((const unsigned char *)p, t->len[i], &cp);
		if (k && (size_t)k == t->len[i] && cp < 0x10000 && t->cp_id[cp] < 0)
			t->cp_id[cp] = (int32_t)i;
		int ty = t->type[i];
		if (ty == G4_TT_CONTROL || ty == G4_TT_USER || ty == G4_TT_UNKNOWN)
			if (trie_add(t, (int32_t)i))
				goto fail;
	}
	for (int b = 0; b < 256; b++)
		if (t->byte_id[b] < 0) {
			g4_err("%s: byte token <0x%02X> is missing", nm, b);
			goto fail;
		}
	t->space_id = g4_tok_id(t, "\xE2\x96\x81", 3);
	if (mark_pre_space(t))
		goto oom;

	/* merges */
	size_t mcap = 1;
	while (mcap < s->n_merges * 2 + 2)
		mcap <<= 1;
	t->mh = malloc(mcap * sizeof *t->mh);
	t->ml = malloc((s->n_merges + 1) * sizeof *t->ml);
	t->mr = malloc((s->n_merges + 1) * sizeof *t->mr);
	if (!t->mh || !t->ml || !t->mr)
		goto oom;
	t->mmask = mcap - 1;
	for (size_t i = 0; i < mcap; i++)
		t->mh[i].key = ~0ull;
	char *cat = NULL;
	size_t catcap = 0;
	for (size_t r = 0; r < s->n_merges; r++) {
		const char *m = s->merges[r];
		size_t ml = s->merge_len[r], sp;
		for (sp = 1; sp < ml && m[sp] != ' '; sp++)
			;
		if (sp >= ml) {
			free(cat);
			g4_err("%s: merge %zu has no space separator", nm, r);
			goto fail;
		}
		int32_t a = g4_tok_id(t, m, sp), b = g4_tok_id(t, m + sp + 1, ml - sp - 1);
		if (a < 0 || b < 0)
			continue;
		if (ml > catcap) {
			catcap = ml * 2 + 64;
			char *q = realloc(cat, catcap);
			if (!q) { free(cat); goto oom; }
			cat = q;
		}
		memcpy(cat, m, sp);
		memcpy(cat + sp, m + sp + 1, ml - sp - 1);
		int32_t res = g4_tok_id(t, cat, ml - 1);
		if (res < 0)
			continue;
		uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
		size_t h = khash(k) & t->mmask;
		while (t->mh[h].key != ~0ull && t->mh[h].key != k)
			h = (h + 1) & t->mmask;
		if (t->mh[h].key == k)
			continue;	/* duplicate: the first rank wins */
		t->mh[h] = (mslot){ k, (uint32_t)r, res };
		t->ml[t->n_merges] = a;
		t->mr[t->n_merges] = b;
		t->n_merges++;
	}
	free(cat);

	t->bos = by_name(t, s->bos, "<bos>");
	t->eos = by_name(t, s->eos, "<eos>");
	t->unk = by_name(t, s->unk, "<unk>");
	t->pad = by_name(t, s->pad, "<pad>");
	t->mask = by_name(t, s->mask, "<mask>");
	const char *eog[] = { "<eos>", "<turn|>", "<|tool_response>" };
	if (t->eos >= 0)
		t->eog[t->n_eog++] = t->eos;
	for (int i = 0; i < 3; i++) {
		int32_t id = g4_tok_id(t, eog[i], strlen(eog[i]));
		if (id >= 0 && id != t->eos)
			t->eog[t->n_eog++] = id;
	}
	if (s->chat_template) {
		t->chat_template = malloc(s->chat_template_len + 1);
		if (!t->chat_template)
			goto oom;
		memcpy(t->chat_template, s->chat_template, s->chat_template_len);
		t->chat_template[s->chat_template_len] = 0;
	}
	return t;
oom:
	g4_err("%s: out of memory", nm);
fail:
	g4_tok_free(t);
	return NULL;
}

void g4_tok_free(g4_tokenizer *t)
{
	if (!t)
		return;
	free(t->blob); free(t->off); free(t->len); free(t->type); free(t->hslot);
	free(t->ml); free(t->mr); free(t->mh); free(t->cp_id); free(t->trie);
	free(t->chat_template);
	free(t->pre_sp);
	free(t->pre_sp_hi);
	free(t);
}

size_t g4_tok_n_vocab(const g4_tokenizer *t) { return t->n_vocab; }
size_t g4_tok_n_merges(const g4_tokenizer *t) { return t->n_merges; }
void g4_tok_merge(const g4_tokenizer *t, size_t i, int32_t *l, int32_t *r) { *l = t->ml[i]; *r = t->mr[i]; }
int32_t g4_tok_bos(const g4_tokenizer *t) { return t->bos; }
int32_t g4_tok_eos(const g4_tokenizer *t) { return t->eos; }
int32_t g4_tok_unk(const g4_tokenizer *t) { return t->unk; }
int32_t g4_tok_pad(const g4_tokenizer *t) { return t->pad; }
int32_t g4_tok_mask(const g4_tokenizer *t) { return t->mask; }
const char *g4_tok_chat_template(const g4_tokenizer *t) { return t->chat_template; }

size_t g4_tok_eog(const g4_tokenizer *t, int32_t *out, size_t max)
{
	size_t n = t->n_eog < max ? t->n_eog : max;
	memcpy(out, t->eog, n * sizeof *out);
	return t->n_eog;
}

int g4_tok_is_eog(const g4_tokenizer *t, int32_t id)
{
	for (size_t i = 0; i < t->n_eog; i++)
		if (t->eog[i] == id)
			return 1;
	return 0;
}

const char *g4_tok_piece(const g4_tokenizer *t, int32_t id, size_t *len)
{
	if (id < 0 || (size_t)id >= t->n_vocab || !t->type[id])
		return NULL;
	if (len)
		*len = t->len[id];
	return t->blob + t->off[id];
}

int g4_tok_type(const g4_tokenizer *t, int32_t id)
{
	if (id < 0 || (size_t)id >= t->n_vocab)
		return 0;
	return t->type[id];
}

/* ---- encoding --------------------------------------------------------- */

typedef struct {
	uint32_t rank, pos, rpos;
	int32_t lid, rid, res;
} cand;

/* Word cache for long texts (direct-mapped, per call): words repeat. */
typedef struct {
	uint64_t h;
	uint32_t koff, klen, ioff, nid;
} centry;

#define CACHE_SLOTS (1u << 14)
#define CACHE_MAXW 64
#define CACHE_ARENA (1u << 20)

typedef struct {
	int32_t *id, *prev, *next;
	uint32_t *b0, *b1;	/* byte span of each symbol (for byte fallback) */
	size_t cap;
	cand *heap;
	size_t nh, caph;
	int32_t **out;
	size_t *n_out, *cap_out;
	int oom;
	centry *cache;		/* NULL: no cache */
	unsigned char *ckeys;
	int32_t *cids;
	size_t nkeys, nids;
} work;

static int push_id(work *w, int32_t id)
{
	if (*w->n_out == *w->cap_out) {
		size_t nc = *w->cap_out ? *w->cap_out * 2 : 64;
		int32_t *q = realloc(*w->out, nc * sizeof *q);
		if (!q)
			return -1;
		*w->out = q;
		*w->cap_out = nc;
	}
	(*w->out)[(*w->n_out)++] = id;
	return 0;
}

static int less(const cand *a, const cand *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void hpush(work *w, cand c)
{
	if (w->nh == w->caph) {
		size_t nc = w->caph ? w->caph * 2 : 256;
		cand *q = realloc(w->heap, nc * sizeof *q);
		if (!q) {
			w->oom = 1;
			return;
		}
		w->heap = q;
		w->caph = nc;
	}
	size_t i = w->nh++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!less(&c, &w->heap[p]))
			break;
		w->heap[i] = w->heap[p];
		i = p;
	}
	w->heap[i] = c;
}

static cand hpop(work *w)
{
	cand top = w->heap[0], last = w->heap[--w->nh];
	size_t i = 0, n = w->nh;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		const cand *best = &last;
		if (l < n && less(&w->heap[l], best)) { m = l; best = &w->heap[l]; }
		if (l + 1 < n && less(&w->heap[l + 1], best)) { m = l + 1; best = &w->heap[l + 1]; }
		if (m == i)
			break;
		w->heap[i] = w->heap[m];
		i = m;
	}
	if (n)
		w->heap[i] = last;
	return top;
}

static void try_pair(const g4_tokenizer *t, work *w, int32_t l, int32_t r)
{
	if (l < 0 || r < 0 || w->id[l] < 0 || w->id[r] < 0)
		return;
	const mslot *m = mfind(t, w->id[l], w->id[r]);
	if (m)
		hpush(w, (cand){ m->rank, (uint32_t)l, (uint32_t)r, w->id[l], w->id[r], m->res });
}

static int grow(work *w, size_t n)
{
	if (n <= w->cap)
		return 0;
	size_t c = w->cap ? w->cap : 256;
	while (c < n)
		c *= 2;
	int32_t *a = realloc(w->id, c * sizeof *a); if (!a) return -1; w->id = a;
	a = realloc(w->prev, c * sizeof *a); if (!a) return -1; w->prev = a;
	a = realloc(w->next, c * sizeof *a); if (!a) return -1; w->next = a;
	uint32_t *u = realloc(w->b0, c * sizeof *u); if (!u) return -1; w->b0 = u;
	u = realloc(w->b1, c * sizeof *u); if (!u) return -1; w->b1 = u;
	w->cap = c;
	return 0;
}

/* BPE over one segment with no newline inside (or only newlines). */
static int bpe(const g4_tokenizer *t, work *w, const unsigned char *s, size_t n)
{
	if (!n)
		return 0;
	if (grow(w, n))
		return -1;
	int32_t ns = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int k = u8dec(s + i, n - i, &cp), id;
		if (!k) {
			k = 1;
			id = -1;
		} else if (cp == ' ')
			id = t->space_id;
		else if (cp < 0x10000)
			id = t->cp_id[cp];
		else
			id = g4_tok_id(t, (const char *)s + i, (size_t)k);
		w->id[ns] = id;
		w->b0[ns] = (uint32_t)i;
		w->b1[ns] = (uint32_t)(i + (size_t)k);
		w->prev[ns] = ns - 1;
		w->next[ns] = ns + 1;
		ns++;
		i += (size_t)k;
	}
	w->next[ns - 1] = -1;
	w->nh = 0;
	for (int32_t i = 0; i + 1 < ns; i++)
		try_pair(t, w, i, i + 1);
	while (w->nh) {
		cand c = hpop(w);
		int32_t l = (int32_t)c.pos, r = (int32_t)c.rpos;
		if (w->id[l] != c.lid || w->next[l] != r || w->id[r] != c.rid)
			continue;
		w->id[l] = c.res;
		w->b1[l] = w->b1[r];
		w->next[l] = w->next[r];
		if (w->next[r] >= 0)
			w->prev[w->next[r]] = l;
		w->id[r] = -2;		/* dead */
		w->next[r] = -1;
		try_pair(t, w, w->prev[l], l);
		try_pair(t, w, l, w->next[l]);
	}
	if (w->oom)
		return -1;
	for (int32_t i = 0; i >= 0; i = w->next[i]) {
		if (w->id[i] >= 0) {
			if (push_id(w, w->id[i]))
				return -1;
			continue;
		}
		for (uint32_t b = w->b0[i]; b < w->b1[i]; b++) {
			/* a space that is not in the vocabulary falls back as ▁ */
			if (s[b] == ' ') {
				if (push_id(w, t->byte_id[0xE2]) || push_id(w, t->byte_id[0x96]) ||
				    push_id(w, t->byte_id[0x81]))
					return -1;
			} else if (push_id(w, t->byte_id[s[b]]))
				return -1;
		}
	}
	return 0;
}

/* BPE of one word, through the cache when there is one. */
static int cached_bpe(const g4_tokenizer *t, work *w, const unsigned char *s, size_t n)
{
	if (!w->cache || n > CACHE_MAXW || !n)
		return bpe(t, w, s, n);
	uint64_t h = shash((const char *)s, n);
	centry *e = &w->cache[h & (CACHE_SLOTS - 1)];
	if (e->h == h && e->klen == n && !memcmp(w->ckeys + e->koff, s, n)) {
		for (uint32_t i = 0; i < e->nid; i++)
			if (push_id(w, w->cids[e->ioff + i]))
				return -1;
		return 0;
	}
	size_t before = *w->n_out;
	if (bpe(t, w, s, n))
		return -1;
	size_t nid = *w->n_out - before;
	if (w->nkeys + n > CACHE_ARENA || w->nids + nid > CACHE_ARENA) {
		memset(w->cache, 0, CACHE_SLOTS * sizeof *w->cache);
		w->nkeys = w->nids = 0;
	}
	memcpy(w->ckeys + w->nkeys, s, n);
	memcpy(w->cids + w->nids, *w->out + before, nid * sizeof(int32_t));
	*e = (centry){ h, (uint32_t)w->nkeys, (uint32_t)n, (uint32_t)w->nids, (uint32_t)nid };
	w->nkeys += n;
	w->nids += nid;
	return 0;
}

/* Cuts a newline-free piece before each space (or literal ▁) whose left
 * neighbour never precedes ▁ inside a token (see mark_pre_space). */
static int words(const g4_tokenizer *t, work *w, const unsigned char *s, size_t n)
{
	size_t st = 0, i = 0;
	uint32_t prev = 0;
	int have = 0;
	while (i < n) {
		uint32_t cp;
		int k = u8dec(s + i, n - i, &cp);
		if (!k) {
			have = 0;
			i++;
			continue;
		}
		if ((cp == ' ' || cp == 0x2581) && have && i > st && !joins_space(t, prev)) {
			if (cached_bpe(t, w, s + st, i - st))
				return -1;
			st = i;
		}
		prev = cp == ' ' ? 0x2581 : cp;
		have = 1;
		i += (size_t)k;
	}
	return cached_bpe(t, w, s + st, n - st);
}

/* A text segment between added tokens: cut at newline runs, then BPE. */
static int segment(const g4_tokenizer *t, work *w, const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		int nl = s[i] == '\n';
		while (j < n && (s[j] == '\n') == nl)
			j++;
		if ((nl ? bpe(t, w, s + i, j - i) : words(t, w, s + i, j - i)))
			return -1;
		i = j;
	}
	return 0;
}

/* Longest matchable added token at s; its length, 0 if none. */
static size_t match(const g4_tokenizer *t, const unsigned char *s, size_t n, int flags, int32_t *id)
{
	int32_t c = t->root[s[0]];
	size_t best = 0;
	for (size_t i = 0; c >= 0;) {
		int32_t tid = t->trie[c].id;
		if (tid >= 0 && (t->type[tid] == G4_TT_USER || (flags & G4_ENC_SPECIAL))) {
			best = i + 1;
			*id = tid;
		}
		if (++i >= n)
			break;
		c = t->trie[c].child;
		while (c >= 0 && t->trie[c].byte != s[i])
			c = t->trie[c].sib;
	}
	return best;
}

int g4_tok_encode(const g4_tokenizer *t, const char *text, size_t n, int flags,
		  int32_t **ids, size_t *n_ids, size_t *cap)
{
	if (n > 0xFFFFFFF0u)
		return g4_err("text of %zu bytes is too long to encode at once", n);
	/* symbol arrays are kept per thread between calls (short prompts
	 * would otherwise spend their time in malloc) */
	static _Thread_local work keep;
	work w = keep;
	w.cache = NULL;
	w.oom = 0;
	w.out = ids;
	w.n_out = n_ids;
	w.cap_out = cap;
	int r = 0;
	if (n > 4096) {		/* long text: cache words (no cache is fine too) */
		w.cache = calloc(CACHE_SLOTS, sizeof *w.cache);
		w.ckeys = malloc(CACHE_ARENA);
		w.cids = malloc(CACHE_ARENA * sizeof *w.cids);
		if (!w.cache || !w.ckeys || !w.cids) {
			free(w.cache); free(w.ckeys); free(w.cids);
			w.cache = NULL;
		}
	}
	if ((flags & G4_ENC_BOS) && t->bos >= 0 && push_id(&w, t->bos))
		r = -1;
	const unsigned char *s = (const unsigned char *)text;
	size_t seg = 0;
	for (size_t i = 0; i < n && !r;) {
		int32_t id;
		size_t m = t->root[s[i]] >= 0 ? match(t, s + i, n - i, flags, &id) : 0;
		if (!m) {
			i++;
			continue;
		}
		if (segment(t, &w, s + seg, i - seg) || push_id(&w, id))
			r = -1;
		i += m;
		seg = i;
	}
	if (!r && segment(t, &w, s + seg, n - seg))
		r = -1;
	if (w.cap > (1u << 16) || w.caph > (1u << 16)) {
		free(w.id); free(w.prev); free(w.next); free(w.b0); free(w.b1); free(w.heap);
		memset(&keep, 0, sizeof keep);
	} else
		keep = w;
	if (w.cache) {
		free(w.cache); free(w.ckeys); free(w.cids);
	}
	return r ? g4_err("out of memory while encoding") : 0;
}

/* ---- decoding --------------------------------------------------------- */

static const char fffd[] = "\xEF\xBF\xBD";

static void put_text(g4_buf *b, const char *p, size_t n)
{
	size_t st = 0;
	for (size_t i = 0; i + 2 < n; i++)
		if ((unsigned char)p[i] == 0xE2 && (unsigned char)p[i + 1] == 0x96 && (unsigned char)p[i + 2] == 0x81) {
			g4_buf_put(b, p + st, i - st);
			g4_buf_putc(b, ' ');
			i += 2;
			st = i + 1;
		}
	g4_buf_put(b, p + st, n - st);
}

static int shown(int ty, int flags)
{
	return !(ty == G4_TT_CONTROL || ty == G4_TT_UNKNOWN || ty == G4_TT_UNUSED) || (flags & G4_DEC_SPECIAL);
}

int g4_tok_decode(const g4_tokenizer *t, const int32_t *ids, size_t n, int flags, g4_buf *out)
{
	unsigned char run[256];
	size_t nrun = 0;
	for (size_t i = 0; i <= n; i++) {
		int32_t id = i < n ? ids[i] : -1;
		if (i < n && (id < 0 || (size_t)id >= t->n_vocab || !t->type[id]))
			return g4_err("token %zu: id %d is not in the vocabulary (0..%zu)", i, (int)id, t->n_vocab - 1);
		int bv = 0;
		int isb = i < n && t->type[id] == G4_TT_BYTE &&
			  is_byte_piece(t->blob + t->off[id], t->len[id], &bv);
		if (isb && nrun < sizeof run) {
			run[nrun++] = (unsigned char)bv;
			continue;
		}
		if (nrun) {
			/* HF ByteFallback: a valid run is text, else U+FFFD per byte */
			size_t j = 0;
			uint32_t cp;
			while (j < nrun) {
				int k = u8dec(run + j, nrun - j, &cp);
				if (!k)
					break;
				j += (size_t)k;
			}
			if (j == nrun)
				g4_buf_put(out, run, nrun);
			else
				for (size_t k = 0; k < nrun; k++)
					g4_buf_puts(out, fffd);
			nrun = 0;
		}
		if (isb) {		/* run longer than the buffer */
			run[nrun++] = (unsigned char)bv;
			continue;
		}
		if (i < n && shown(t->type[id], flags))
			put_text(out, t->blob + t->off[id], t->len[id]);
	}
	return out->oom ? g4_err("out of memory while decoding") : 0;
}

void g4_detok_flush(g4_detok *st, g4_buf *out)
{
	for (int i = 0; i < st->npend; i++)
		g4_buf_puts(out, fffd);
	st->npend = st->need = 0;
}

static void detok_byte(g4_detok *st, unsigned b, g4_buf *out)
{
	if (st->npend) {
		unsigned lead = st->pend[0];
		unsigned lo = 0x80, hi = 0xBF;
		if (st->npend == 1) {
			if (lead == 0xE0) lo = 0xA0;
			else if (lead == 0xED) hi = 0x9F;
			else if (lead == 0xF0) lo = 0x90;
			else if (lead == 0xF4) hi = 0x8F;
		}
		if (b >= lo && b <= hi) {
			st->pend[st->npend++] = (unsigned char)b;
			if (st->npend == st->need) {
				g4_buf_put(out, st->pend, (size_t)st->npend);
				st->npend = st->need = 0;
			}
			return;
		}
		g4_detok_flush(st, out);
	}
	if (b < 0x80) {
		g4_buf_putc(out, (int)b);
	} else if (b >= 0xC2 && b <= 0xF4) {
		st->pend[0] = (unsigned char)b;
		st->npend = 1;
		st->need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
	} else
		g4_buf_puts(out, fffd);
}

int g4_detok_put(const g4_tokenizer *t, g4_detok *st, int32_t id, int flags, g4_buf *out)
{
	if (id < 0 || (size_t)id >= t->n_vocab || !t->type[id])
		return g4_err("id %d is not in the vocabulary (0..%zu)", (int)id, t->n_vocab - 1);
	int bv;
	if (t->type[id] == G4_TT_BYTE && is_byte_piece(t->blob + t->off[id], t->len[id], &bv)) {
		detok_byte(st, (unsigned)bv, out);
		return 0;
	}
	if (st->npend)
		g4_detok_flush(st, out);
	if (shown(t->type[id], flags))
		put_text(out, t->blob + t->off[id], t->len[id]);
	return 0;
}

/* ---- tokenizer.json ----------------------------------------------------- */

/* Gemma 4 names of ids that a Gemma 3 tokenizer.json has under other names
 * (spec 4.2, gemma4-special-tokens.json).  user = 1: llama.cpp types it
 * user-defined (always matched and shown), else control. */
static const struct { int32_t id; const char *s; int user; } g4_special[] = {
	{ 46, "<|tool>", 0 }, { 47, "<tool|>", 0 }, { 48, "<|tool_call>", 1 },
	{ 49, "<tool_call|>", 1 }, { 50, "<|tool_response>", 1 }, { 51, "<tool_response|>", 1 },
	{ 52, "<|\"|>", 1 }, { 98, "<|think|>", 0 }, { 100, "<|channel>", 1 },
	{ 101, "<channel|>", 1 }, { 105, "<|turn>", 0 }, { 106, "<turn|>", 0 },
	{ 255999, "<|image>", 0 }, { 256000, "<|audio>", 0 }, { 258880, "<|image|>", 0 },
	{ 258881, "<|audio|>", 0 }, { 258882, "<image|>", 0 }, { 258883, "<audio|>", 0 },
	{ 258884, "<|video|>", 0 },
};

typedef struct {
	char *blob;
	size_t n, cap;
} sblob;

static int sb_add(sblob *b, const char *s, size_t n, size_t *off)
{
	if (b->n + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 1 << 16;
		while (c < b->n + n + 1)
			c *= 2;
		char *q = realloc(b->blob, c);
		if (!q)
			return g4_err("out of memory");
		b->blob = q;
		b->cap = c;
	}
	memcpy(b->blob + b->n, s, n);
	*off = b->n;
	b->n += n;
	return 0;
}

typedef struct {
	sblob sb;
	size_t *voff, *vlen;	/* by id */
	int32_t *vtype;
	size_t nv, capv;
	size_t max_id;	/* ids: Gemma's vocabulary, or as many as the file can hold (n / 4) */
	size_t *moff, *mlen;
	size_t nm, capm;
} jload;

static int set_tok(jload *L, int64_t id, const char *s, size_t n, int type, const char *name)
{
	if (id < 0 || id >= (int64_t)MAX_VOCAB)
		return g4_err("%s: token id %lld out of range", name, (long long)id);
	if ((uint64_t)id > L->max_id)
		return g4_err("%s: token id %lld is past both Gemma's vocabulary and the %zu tokens a file "
			      "of its size can hold", name, (long long)id, L->max_id + 1);
	if ((size_t)id >= L->capv) {
		size_t c = L->capv ? L->capv : 1024;
		while (c <= (size_t)id)
			c *= 2;
		size_t *a = realloc(L->voff, c * sizeof *a), *b;
		if (!a) return g4_err("out of memory");
		L->voff = a;
		b = realloc(L->vlen, c * sizeof *b);
		if (!b) return g4_err("out of memory");
		L->vlen = b;
		int32_t *ty = realloc(L->vtype, c * sizeof *ty);
		if (!ty) return g4_err("out of memory");
		L->vtype = ty;
		for (size_t i = L->capv; i < c; i++)
			L->vtype[i] = 0;
		L->capv = c;
	}
	if ((size_t)id >= L->nv)
		L->nv = (size_t)id + 1;
	if (sb_add(&L->sb, s, n, &L->voff[id]))
		return -1;
	L->vlen[id] = n;
	if (type || !L->vtype[id])
		L->vtype[id] = type ? type : G4_TT_NORMAL;
	return 0;
}

static int add_merge(jload *L, const char *a, size_t na, const char *b, size_t nb)
{
	if (L->nm == L->capm) {
		size_t c = L->capm ? L->capm * 2 : 1 << 16;
		size_t *x = realloc(L->moff, c * sizeof *x), *y;
		if (!x) return g4_err("out of memory");
		L->moff = x;
		y = realloc(L->mlen, c * sizeof *y);
		if (!y) return g4_err("out of memory");
		L->mlen = y;
		L->capm = c;
	}
	size_t o, o2;
	if (sb_add(&L->sb, a, na, &o) || sb_add(&L->sb, " ", 1, &o2) ||
	    (nb && sb_add(&L->sb, b, nb, &o2)))
		return -1;
	L->moff[L->nm] = o;
	L->mlen[L->nm] = na + 1 + nb;
	L->nm++;
	return 0;
}

static int read_model(g4_jp *p, jload *L, const char *name)
{
	const char *k;
	size_t kn;
	int r;
	if (g4_jp_obj_begin(p))
		return -1;
	while ((r = g4_jp_obj_next(p, &k, &kn)) > 0) {
		if (kn == 4 && !memcmp(k, "type", 4)) {
			const char *v;
			size_t vn;
			if (g4_jp_str(p, &v, &vn))
				return -1;
			if (vn != 3 || memcmp(v, "BPE", 3))
				return g4_err("%s: model type is not BPE", name);
		} else if (kn == 5 && !memcmp(k, "vocab", 5)) {
			if (g4_jp_obj_begin(p))
				return -1;
			while ((r = g4_jp_obj_next(p, &k, &kn)) > 0) {
				/* the key stays in the scratch buffer: numbers do not use it */
				int64_t id;
				if (g4_jp_i64(p, &id) || set_tok(L, id, k, kn, 0, name))
					return -1;
			}
			if (r < 0)
				return -1;
		} else if (kn == 6 && !memcmp(k, "merges", 6)) {
			if (g4_jp_arr_begin(p))
				return -1;
			while ((r = g4_jp_arr_next(p)) > 0) {
				int ty = g4_jp_peek(p);
				const char *v;
				size_t vn;
				if (ty == G4_JSON_STRING) {
					if (g4_jp_str(p, &v, &vn))
						return -1;
					/* "left right": store as is */
					char *tmp = malloc(vn + 1);
					if (!tmp) return g4_err("out of memory");
					memcpy(tmp, v, vn);
					size_t sp;
					for (sp = 1; sp < vn && tmp[sp] != ' '; sp++)
						;
					r = sp < vn ? add_merge(L, tmp, sp, tmp + sp + 1, vn - sp - 1)
						    : g4_err("%s: byte %zu: merge without a space", name, p->i);
					free(tmp);
					if (r)
						return -1;
				} else if (ty == G4_JSON_ARRAY) {
					char *a = NULL;
					size_t an = 0;
					int cnt = 0;
					if (g4_jp_arr_begin(p))
						return -1;
					while ((r = g4_jp_arr_next(p)) > 0) {
						if (g4_jp_str(p, &v, &vn)) { free(a); return -1; }
						if (cnt == 0) {
							a = malloc(vn + 1);
							if (!a) return g4_err("out of memory");
							memcpy(a, v, vn);
							an = vn;
						} else if (cnt == 1) {
							if (add_merge(L, a, an, v, vn)) { free(a); return -1; }
						}
						cnt++;
					}
					free(a);
					if (r < 0)
						return -1;
					if (cnt != 2)
						return g4_err("%s: byte %zu: a merge is not a pair", name, p->i);
				} else
					return g4_err("%s: byte %zu: bad merge entry", name, p->i);
			}
			if (r < 0)
				return -1;
		} else if (g4_jp_skip(p))
			return -1;
	}
	return r;
}

static int read_added(g4_jp *p, jload *L, const char *name)
{
	int r;
	if (g4_jp_arr_begin(p))
		return -1;
	while ((r = g4_jp_arr_next(p)) > 0) {
		const char *k;
		size_t kn;
		int64_t id = -1;
		int special = 0;
		char *content = NULL;
		size_t cn = 0;
		if (g4_jp_obj_begin(p))
			return -1;
		while ((r = g4_jp_obj_next(p, &k, &kn)) > 0) {
			if (kn == 2 && !memcmp(k, "id", 2))
				r = g4_jp_i64(p, &id);
			else if (kn == 7 && !memcmp(k, "special", 7))
				r = g4_jp_bool(p, &special);
			else if (kn == 7 && !memcmp(k, "content", 7)) {
				const char *v;
				r = g4_jp_str(p, &v, &cn);
				if (!r) {
					free(content);
					content = malloc(cn + 1);
					if (!content)
						return g4_err("out of memory");
					memcpy(content, v, cn);
				}
			} else
				r = g4_jp_skip(p);
			if (r) {
				free(content);
				return -1;
			}
		}
		if (r < 0 || !content || id < 0) {
			free(content);
			return r < 0 ? -1 : g4_err("%s: byte %zu: added token without id or content", name, p->i);
		}
		r = set_tok(L, id, content, cn, special ? G4_TT_CONTROL : G4_TT_USER, name);
		free(content);
		if (r)
			return -1;
	}
	return r;
}

g4_tokenizer *g4_tok_from_json(const char *buf, size_t n, const char *name)
{
	jload L = { .max_id = n / 4 > GEMMA_VOCAB ? n / 4 : GEMMA_VOCAB };
	g4_jp p;
	g4_tokenizer *t = NULL;
	const char **toks = NULL, **mer = NULL;
	g4_jp_init(&p, buf, n, name);
	const char *k;
	size_t kn;
	int r, have_model = 0;
	if (g4_jp_obj_begin(&p))
		goto out;
	while ((r = g4_jp_obj_next(&p, &k, &kn)) > 0) {
		if (kn == 5 && !memcmp(k, "model", 5)) {
			have_model = 1;
			r = read_model(&p, &L, name);
		} else if (kn == 12 && !memcmp(k, "added_tokens", 12))
			r = read_added(&p, &L, name);
		else
			r = g4_jp_skip(&p);
		if (r)
			goto out;
	}
	if (r < 0 || g4_jp_end(&p))
		goto out;
	if (!have_model || !L.nv) {
		g4_err("%s: no model.vocab (not a tokenizer.json?)", name);
		goto out;
	}
	/* byte tokens; Gemma 4 names over a Gemma 3 file */
	for (size_t i = 0; i < L.nv; i++) {
		int bv;
		if (L.vtype[i] && is_byte_piece(L.sb.blob + L.voff[i], L.vlen[i], &bv))
			L.vtype[i] = G4_TT_BYTE;
	}
	int gemma3 = L.nv > 105 && L.vtype[105] && L.vlen[105] == 15 &&
		     !memcmp(L.sb.blob + L.voff[105], "<start_of_turn>", 15);
	for (size_t i = 0; i < sizeof g4_special / sizeof *g4_special; i++) {
		int32_t id = g4_special[i].id;
		size_t sl = strlen(g4_special[i].s);
		if ((size_t)id >= L.nv)
			continue;
		int is4 = L.vtype[id] && L.vlen[id] == sl && !memcmp(L.sb.blob + L.voff[id], g4_special[i].s, sl);
		if (gemma3 && !is4 && set_tok(&L, id, g4_special[i].s, sl, G4_TT_CONTROL, name))
			goto out;
		if (gemma3 || is4)
			L.vtype[id] = g4_special[i].user ? G4_TT_USER : G4_TT_CONTROL;
	}
	if (gemma3 && L.nv == 262145 && L.vlen[262144] == 18 &&
	    !memcmp(L.sb.blob + L.voff[262144], "<image_soft_token>", 18))
		L.nv = 262144;
	toks = malloc(L.nv * sizeof *toks);
	mer = malloc((L.nm + 1) * sizeof *mer);
	int32_t *types = L.vtype;
	if (!toks || !mer) {
		g4_err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < L.nv; i++) {
		toks[i] = L.vtype[i] ? L.sb.blob + L.voff[i] : NULL;
		if (!L.vtype[i])
			L.vlen[i] = 0;
	}
	for (size_t i = 0; i < L.nm; i++)
		mer[i] = L.sb.blob + L.moff[i];
	g4_tok_spec s = {
		.n_vocab = L.nv, .tokens = toks, .token_len = L.vlen, .types = types,
		.n_merges = L.nm, .merges = mer, .merge_len = L.mlen,
		.bos = -1, .eos = -1, .unk = -1, .pad = -1, .mask = -1, .name = name,
	};
	/* holes have type 0: keep them out of the types the builder sees */
	t = g4_tok_build(&s);
out:
	g4_jp_done(&p);
	free(toks); free(mer);
	free(L.sb.blob); free(L.voff); free(L.vlen); free(L.vtype); free(L.moff); free(L.mlen);
	return t;
}

/* Whole file, zstd-decompressed when it starts with the zstd magic. */
static int slurp_maybe_zstd(const char *path, char **out, size_t *n)
{
	char *raw;
	size_t rn;
	if (g4_slurp(path, MAX_JSON, &raw, &rn))
		return -1;
	if (rn < 4 || memcmp(raw, "\x28\xB5\x2F\xFD", 4)) {
		*out = raw;
		*n = rn;
		return 0;
	}
	ZSTD_DStream *ds = ZSTD_createDStream();
	size_t cap = rn * 4 + 1024, len = 0;
	char *dst = malloc(cap + 1);
	if (!ds || !dst) {
		free(raw); free(dst); ZSTD_freeDStream(ds);
		return g4_err("%s: out of memory", path);
	}
	ZSTD_inBuffer in = { raw, rn, 0 };
	size_t rc = 1;
	for (;;) {
		if (len == cap) {
			if (cap >= MAX_JSON) {
				g4_err("%s: decompresses to more than %zu bytes", path, MAX_JSON);
				goto bad;
			}
			cap *= 2;
			char *q = realloc(dst, cap + 1);
			if (!q) { g4_err("%s: out of memory", path); goto bad; }
			dst = q;
		}
		ZSTD_outBuffer ob = { dst, cap, len };
		rc = ZSTD_decompressStream(ds, &ob, &in);
		len = ob.pos;
		if (ZSTD_isError(rc)) {
			g4_err("%s: zstd: %s", path, ZSTD_getErrorName(rc));
			goto bad;
		}
		if (in.pos == in.size && len < cap)
			break;
		if (rc == 0 && in.pos < in.size)
			ZSTD_initDStream(ds);	/* next frame */
	}
	if (rc != 0) {
		g4_err("%s: truncated zstd data", path);
		goto bad;
	}
	ZSTD_freeDStream(ds);
	free(raw);
	dst[len] = 0;
	*out = dst;
	*n = len;
	return 0;
bad:
	ZSTD_freeDStream(ds);
	free(raw);
	free(dst);
	return -1;
}

/* ---- GGUF ------------------------------------------------------------------ */

static int32_t opt_id(const g4_gguf *g, const char *key)
{
	uint32_t v;
	if (g4_gguf_find_key(g, key) < 0 || g4_gguf_get_u32(g, key, &v) || v > INT32_MAX)
		return -1;
	return (int32_t)v;
}

g4_tokenizer *g4_tok_from_gguf(const g4_gguf *g)
{
	const char *nm = g->path ? g->path : "gguf";
	g4_str model, pre = { 0, NULL };
	if (g4_gguf_get_str(g, "tokenizer.ggml.model", &model)) {
		g4_err("%s: no tokenizer in this file (tokenizer.ggml.model missing)", nm);
		return NULL;
	}
	if (g4_gguf_find_key(g, "tokenizer.ggml.pre") >= 0)
		g4_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
	int ok = (model.len == 6 && !memcmp(model.ptr, "gemma4", 6)) ||
		 (pre.len == 6 && !memcmp(pre.ptr, "gemma4", 6));
	if (!ok) {
		g4_err("%s: tokenizer.ggml.model is '%.*s', not a Gemma 4 vocabulary", nm,
		       (int)(model.len > 64 ? 64 : model.len), model.ptr);
		return NULL;
	}
	g4_str *tok = NULL, *mer = NULL;
	uint64_t nt = 0, nmg = 0, ntype = 0;
	const char **tp = NULL, **mp = NULL, *tmpl = NULL;
	size_t *tl = NULL, *ml = NULL, tmpl_len = 0;
	int32_t *types = NULL;
	g4_tokenizer *t = NULL;
	if (g4_gguf_get_str_arr(g, "tokenizer.ggml.tokens", &tok, &nt))
		goto out;
	if (g4_gguf_find_key(g, "tokenizer.ggml.merges") >= 0 &&
	    g4_gguf_get_str_arr(g, "tokenizer.ggml.merges", &mer, &nmg))
		goto out;
	if (nt == 0 || nt > MAX_VOCAB || nmg > MAX_MERGES) {
		g4_err("%s: %llu tokens, %llu merges", nm, (unsigned long long)nt, (unsigned long long)nmg);
		goto out;
	}
	tp = malloc(nt * sizeof *tp);
	tl = malloc(nt * sizeof *tl);
	mp = malloc((nmg + 1) * sizeof *mp);
	ml = malloc((nmg + 1) * sizeof *ml);
	if (!tp || !tl || !mp || !ml) {
		g4_err("out of memory");
		goto out;
	}
	for (uint64_t i = 0; i < nt; i++) {
		tp[i] = tok[i].ptr;
		tl[i] = tok[i].len;
	}
	for (uint64_t i = 0; i < nmg; i++) {
		mp[i] = mer[i].ptr;
		ml[i] = mer[i].len;
	}
	if (g4_gguf_find_key(g, "tokenizer.ggml.token_type") >= 0) {
		uint32_t et;
		const void *d;
		if (g4_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &ntype, &d))
			goto out;
		if (ntype != nt) {
			g4_err("%s: tokenizer.ggml.token_type has %llu entries for %llu tokens", nm,
			       (unsigned long long)ntype, (unsigned long long)nt);
			goto out;
		}
		types = malloc(nt * sizeof *types);
		if (!types) {
			g4_err("out of memory");
			goto out;
		}
		for (uint64_t i = 0; i < nt; i++) {
			int64_t v = g4_gguf_arr_i64(et, d, i);
			types[i] = v >= 1 && v <= 6 ? (int32_t)v : G4_TT_NORMAL;
		}
	}
	g4_str ct;
	if (g4_gguf_find_key(g, "tokenizer.chat_template") >= 0 && !g4_gguf_get_str(g, "tokenizer.chat_template", &ct)) {
		tmpl = ct.ptr;
		tmpl_len = ct.len;
	}
	g4_err_clear();
	g4_tok_spec s = {
		.n_vocab = nt, .tokens = tp, .token_len = tl, .types = types,
		.n_merges = nmg, .merges = mp, .merge_len = ml,
		.bos = opt_id(g, "tokenizer.ggml.bos_token_id"), .eos = opt_id(g, "tokenizer.ggml.eos_token_id"),
		.unk = opt_id(g, "tokenizer.ggml.unknown_token_id"), .pad = opt_id(g, "tokenizer.ggml.padding_token_id"),
		.mask = opt_id(g, "tokenizer.ggml.mask_token_id"),
		.chat_template = tmpl, .chat_template_len = tmpl_len, .name = nm,
	};
	t = g4_tok_build(&s);
out:
	free(tok); free(mer); free(tp); free(tl); free(mp); free(ml); free(types);
	return t;
}

/* Only ▁, newlines or tabs: llama.cpp must see these as normal tokens, so
 * that it prints ▁ as a space. */
static int blank_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (s[i] == '\n' || s[i] == '\t')
			i++;
		else if (n - i >= 3 && !memcmp(s + i, "\xE2\x96\x81", 3))
			i += 3;
		else
			return 0;
	}
	return n > 0;
}

int g4_tok_write_gguf(const g4_tokenizer *t, g4_ggufw *w)
{
	size_t nv = t->n_vocab, nm = t->n_merges;
	g4_str *tok = malloc(nv * sizeof *tok), *mer = malloc((nm + 1) * sizeof *mer);
	float *sc = malloc(nv * sizeof *sc);
	int32_t *ty = malloc(nv * sizeof *ty);
	char *mb = NULL, (*hole)[32] = NULL;
	size_t nh = 0, mtot = 0;
	int rc = -1;
	for (size_t i = 0; i < nv; i++)
		nh += !t->type[i];
	for (size_t i = 0; i < nm; i++)
		mtot += t->len[t->ml[i]] + 1 + t->len[t->mr[i]];
	mb = malloc(mtot + 1);
	hole = malloc((nh + 1) * sizeof *hole);
	if (!tok || !mer || !sc || !ty || !mb || !hole) {
		g4_err("out of memory");
		goto out;
	}
	nh = 0;
	for (size_t i = 0; i < nv; i++) {
		sc[i] = -1000.0f;
		if (!t->type[i]) {	/* a hole in a cut-down vocabulary */
			snprintf(hole[nh], sizeof *hole, "<g4_hole_%zu>", i);
			tok[i] = (g4_str){ strlen(hole[nh]), hole[nh] };
			nh++;
			ty[i] = G4_TT_UNUSED;
			continue;
		}
		tok[i] = (g4_str){ t->len[i], t->blob + t->off[i] };
		ty[i] = t->type[i];
		if (ty[i] == G4_TT_USER && blank_run(tok[i].ptr, tok[i].len))
			ty[i] = G4_TT_NORMAL;
	}
	size_t o = 0;
	for (size_t i = 0; i < nm; i++) {
		size_t a = t->len[t->ml[i]], b = t->len[t->mr[i]];
		memcpy(mb + o, t->blob + t->off[t->ml[i]], a);
		mb[o + a] = ' ';
		memcpy(mb + o + a + 1, t->blob + t->off[t->mr[i]], b);
		mer[i] = (g4_str){ a + 1 + b, mb + o };
		o += a + 1 + b;
	}
	if (g4_ggufw_set_str(w, "tokenizer.ggml.model", "gemma4") ||
	    g4_ggufw_set_str_arr(w, "tokenizer.ggml.tokens", nv, tok) ||
	    g4_ggufw_set_arr(w, "tokenizer.ggml.scores", G4_GGUF_FLOAT32, nv, sc) ||
	    g4_ggufw_set_arr(w, "tokenizer.ggml.token_type", G4_GGUF_INT32, nv, ty) ||
	    g4_ggufw_set_str_arr(w, "tokenizer.ggml.merges", nm, mer))
		goto out;
	const struct { const char *k; int32_t v; } ids[] = {
		{ "tokenizer.ggml.bos_token_id", t->bos }, { "tokenizer.ggml.eos_token_id", t->eos },
		{ "tokenizer.ggml.unknown_token_id", t->unk }, { "tokenizer.ggml.padding_token_id", t->pad },
		{ "tokenizer.ggml.mask_token_id", t->mask },
	};
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		if (ids[i].v >= 0 && g4_ggufw_set_u32(w, ids[i].k, (uint32_t)ids[i].v))
			goto out;
	if (g4_ggufw_set_bool(w, "tokenizer.ggml.add_bos_token", 1) ||
	    g4_ggufw_set_bool(w, "tokenizer.ggml.add_eos_token", 0) ||
	    g4_ggufw_set_bool(w, "tokenizer.ggml.add_space_prefix", 0))
		goto out;
	if (t->chat_template && g4_ggufw_set_str(w, "tokenizer.chat_template", t->chat_template))
		goto out;
	rc = 0;
out:
	free(tok); free(mer); free(sc); free(ty); free(mb); free(hole);
	return rc;
}

int g4_tok_write_vocab_gguf(const g4_tokenizer *t, const char *path)
{
	g4_out *o = g4_out_open(path);
	if (!o)
		return -1;
	g4_ggufw *w = g4_ggufw_new();
	int rc = !w ? g4_err("out of memory") : 0;
	if (!rc)
		rc = g4_ggufw_set_str(w, "general.architecture", "gemma4");
	if (!rc)
		rc = g4_ggufw_set_str(w, "general.type", "vocab");
	if (!rc)
		rc = g4_tok_write_gguf(t, w);
	if (rc)
		g4_err_ctx("writing %s: ", path);
	else {	/* write errors name the file themselves */
		g4_ggufw_set_name(w, g4_out_path(o));
		rc = g4_ggufw_write_header(w, g4_out_file(o)) || g4_ggufw_finish(w, g4_out_file(o));
	}
	g4_ggufw_free(w);
	if (rc) {
		g4_out_abort(o);
		return -1;
	}
	return g4_out_commit(o);
}

g4_tokenizer *g4_tok_load(const char *path)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : NULL;
	if (f) {
		char m[4] = { 0 };
		size_t got = fread(m, 1, 4, f);
		fclose(f);
		if (got == 4 && !memcmp(m, "GGUF", 4)) {
			g4_gguf *g = g4_gguf_open(path);
			if (!g)
				return NULL;
			g4_tokenizer *t = g4_tok_from_gguf(g);
			g4_gguf_close(g);
			return t;
		}
	}
	if (slurp_maybe_zstd(path, &buf, &n))
		return NULL;
	g4_tokenizer *t = g4_tok_from_json(buf, n, path);
	free(buf);
	return t;
}
