/* test_gen.c - consistency of the decoder on generated tiny models of the
 * real architectures (tests/unit/gen_model.h): one pass, split passes
 * through a snapshot, one token at a time and 1 vs 2 threads give bitwise
 * the same logits over sequences that cross the sliding window many times. */
#include <stdint.h>

#include "t.h"
#include "err.h"
#include "batch.h"
#include "forward.h"
#include "gen_model.h"
#include "matmul.h"
#include "model.h"
#include "par.h"
#include "qtypes.h"
#include "snapshot.h"

#define NTOK 1030

static int32_t *random_ids(int n, int V, uint64_t seed)
{
	gen_state g = { .rng = seed };
	int32_t *ids = malloc((size_t)n * sizeof *ids);
	ids[0] = 2;
	for (int i = 1; i < n; i++)
		ids[i] = (int32_t)(gen_next(&g) % (uint64_t)V);
	return ids;
}

static float *one_pass(const g4_model *m, uint32_t kvt, const int32_t *ids, int n)
{
	g4_seq *s = g4_seq_new(m, kvt);
	float *lg = malloc((size_t)n * m->n_vocab * sizeof *lg);
	g4_batch b = { .n = n, .ids = ids };
	CHECK(s && g4_forward(s, &b, lg) == 0, "forward: %s", g4_errmsg());
	g4_seq_free(s);
	return lg;
}

static void check_model(const char *what, const gen_cfg *c, uint32_t kvt)
{
	const char *path = t_tmp("gen.gguf");
	CHECK(gen_write(path, c) == 0, "%s: writing the model: %s", what, g4_errmsg());
	g4_model *m = g4_model_load(path);
	CHECK(m != NULL, "%s: load: %s", what, g4_errmsg());
	if (!m)
		return;
	const int V = m->n_vocab, n = NTOK;
	const size_t all = (size_t)n * V;
	int32_t *ids = random_ids(n, V, c->seed + 99);
	g4_set_threads(2);
	float *ref = one_pass(m, kvt, ids, n);
	int finite = 1;
	double spread = 0;
	for (size_t i = 0; i < all; i++) {
		finite &= isfinite(ref[i]);
		spread = fmax(spread, fabs(ref[i] - ref[i % V]));
	}
	CHECK(finite, "%s: non-finite logits", what);
	CHECK(spread > 0.1, "%s: logits do not change along the sequence", what);

	g4_set_threads(1);
	float *t1 = one_pass(m, kvt, ids, n);
	CHECK(!memcmp(ref, t1, all * 4), "%s: -t 1 differs from -t 2", what);

	/* three calls, each through a snapshot */
	float *sp = malloc(all * sizeof *sp);
	int cuts[4] = { 0, 3, 517, n };
	g4_seq *s = g4_seq_new(m, kvt);
	for (int k = 0; k < 3 && s; k++) {
		g4_batch b = { .n = cuts[k + 1] - cuts[k], .ids = ids + cuts[k] };
		CHECK(g4_forward(s, &b, sp + (size_t)cuts[k] * V) == 0, "split: %s", g4_errmsg());
		g4_snap sn;
		CHECK(g4_seq_to_snap(s, &sn) == 0, "to_snap: %s", g4_errmsg());
		g4_seq_free(s);
		s = g4_seq_from_snap(m, &sn);
		CHECK(s != NULL, "from_snap: %s", g4_errmsg());
		g4_snap_free(&sn);
	}
	CHECK(!memcmp(ref, sp, all * 4), "%s: split passes differ from one pass", what);
	g4_seq_free(s);

	/* one token at a time */
	s = g4_seq_new(m, kvt);
	for (int t = 0; t < n; t++) {
		g4_batch b = { .n = 1, .ids = ids + t };
		if (g4_forward(s, &b, sp + (size_t)t * V) < 0) {
			CHECK(0, "step: %s", g4_errmsg());
			break;
		}
	}
	CHECK(!memcmp(ref, sp, all * 4), "%s: token by token differs from one pass", what);
	g4_seq_free(s);
	g4_set_threads(2);
	free(sp);
	free(t1);
	free(ref);
	free(ids);
	g4_model_free(m);
}

/* E4B layout: period-6 pattern, PLE, KV sharing (sources 4 and 5), window 8. */
static void test_e4b(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.n_layer = 12;
	c.pattern = "SSSSSFSSSSSF";
	c.n_kv_shared = 6;
	c.ple = 16;
	c.nkv_swa = c.nkv_full = 2;
	c.seed = 11;
	check_model("e4b", &c, G4_F16);
}

/* E2B layout: period 5, double-wide shared layers, F16 weights, q8_0 KV. */
static void test_e2b_f16(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.n_layer = 10;
	c.pattern = "SSSSFSSSSF";
	c.n_kv_shared = 5;
	c.double_wide = 1;
	c.ple = 16;
	c.hd_swa = 32;
	c.hd_full = 64;
	c.wtype = G4_F16;
	c.window = 16;
	c.seed = 12;
	check_model("e2b-f16", &c, G4_Q8_0);
}

/* 12B layout: K=V full layers with one KV head, BF16 weights, untied output. */
static void test_12b_bf16(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.n_layer = 6;
	c.pattern = "SSSSSF";
	c.n_head = 4;
	c.nkv_swa = 2;
	c.nkv_full = 1;
	c.k_eq_v = 1;
	c.hd_full = 64;
	c.untied = 1;
	c.wtype = G4_BF16;
	c.window = 32;
	c.seed = 13;
	check_model("12b-bf16", &c, G4_BF16);
}

/* BF16 weights in 8-bit-activation mode (bf16 activations, vdpbf16ps's
 * numerics; every width a multiple of 32): the
 * consistency checks above, and logits near those of f32 activations. */
static void test_bf16_q8(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.n_layer = 6;
	c.pattern = "SSSSSF";
	c.n_embd = 64;
	c.n_head = 4;
	c.nkv_swa = 2;
	c.hd_swa = 32;
	c.hd_full = 64;
	c.ff = 160;
	c.double_wide = 1;	/* the shared layers' FFN: 320 */
	c.untied = 1;
	c.wtype = G4_BF16;
	c.window = 32;
	c.seed = 16;
	g4_matmul_set_act(G4_ACT_Q8);
	check_model("bf16-q8", &c, G4_F16);
	g4_model *m = g4_model_load(t_tmp("gen.gguf"));
	CHECK(m != NULL, "load: %s", g4_errmsg());
	if (!m) {
		g4_matmul_set_act(G4_ACT_F32);
		return;
	}
	const int V = m->n_vocab, n = 200;
	int32_t *ids = random_ids(n, V, 7);
	float *q8 = one_pass(m, G4_F16, ids, n);
	g4_matmul_set_act(G4_ACT_F32);
	float *f32 = one_pass(m, G4_F16, ids, n);
	double mx = 0, sum = 0, mag = 0;
	int same_top = 0;
	for (int t = 0; t < n; t++) {
		int a = 0, b = 0;
		for (int v = 0; v < V; v++) {
			const size_t i = (size_t)t * V + v;
			const double d = fabs((double)q8[i] - f32[i]);
			mx = d > mx ? d : mx;
			sum += d;
			mag += fabs(f32[i]);
			a = q8[i] > q8[(size_t)t * V + a] ? v : a;
			b = f32[i] > f32[(size_t)t * V + b] ? v : b;
		}
		same_top += a == b;
	}
	printf("  bf16 activations vs f32: max |d| %.3g, mean |d| %.3g (mean |logit| %.3g), same top-1 at %d of %d\n",
	       mx, sum / ((double)n * V), mag / ((double)n * V), same_top, n);
	CHECK(sum > 0, "8-bit mode gave the f32 logits: BF16 still has f32 activations");
	/* bf16 rounds an activation by up to 2^-9 of it; this random model
	 * amplifies input changes ~500 times (1e-6 moves its logits by 4e-4):
	 * ~2% of the mean logit, 0.14 at most */
	CHECK(sum <= 0.05 * mag && mx <= 0.5, "logits too far from f32 activations' (mean %.3g, max %.3g)",
	      sum / ((double)n * V), mx);
	CHECK(same_top >= n * 9 / 10, "top-1 differs at %d of %d positions", n - same_top, n);
	free(q8);
	free(f32);
	free(ids);
	g4_model_free(m);
}

/* 26B layout with separate gate/up expert tensors. */
static void test_moe_separate(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.n_layer = 6;
	c.pattern = "SSFSSF";
	c.n_head = 4;
	c.nkv_swa = 2;
	c.nkv_full = 1;
	c.k_eq_v = 1;
	c.n_expert = 8;
	c.n_expert_used = 2;
	c.n_ff_exp = 16;
	c.moe_separate = 1;
	c.ff = 24;
	c.window = 12;
	c.seed = 14;
	check_model("moe-separate", &c, G4_F32);
}

static void test_bad_shape(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.break_q = 1;
	const char *path = t_tmp("gen-bad.gguf");
	CHECK(gen_write(path, &c) == 0, "write: %s", g4_errmsg());
	g4_model *m = g4_model_load(path);
	CHECK(m == NULL, "a wrong attn_q shape was accepted");
	CHECK(strstr(g4_errmsg(), "blk.1.attn_q.weight") != NULL, "message: %s", g4_errmsg());
	g4_model_free(m);
}

/* One-token calls on 2 threads with the attention split over keys forced:
 * the same bits as one pass (q8_0 and f32 K/V). */
static void test_attention_split(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.n_layer = 6;
	c.pattern = "SSSSSF";
	c.n_head = 4;
	c.nkv_swa = 2;
	c.nkv_full = 1;
	c.hd_swa = 32;
	c.hd_full = 64;
	c.k_eq_v = 1;
	c.seed = 15;
	const char *path = t_tmp("gen-split.gguf");
	CHECK(gen_write(path, &c) == 0, "write: %s", g4_errmsg());
	g4_model *m = g4_model_load(path);
	if (!m)
		return;
	const int n = 64, V = m->n_vocab;
	int32_t *ids = random_ids(n, V, 5);
	const uint32_t kvts[2] = { G4_Q8_0, G4_F32 };
	for (int k = 0; k < 2; k++) {
		g4_set_threads(1);
		float *ref = one_pass(m, kvts[k], ids, n), *step = malloc((size_t)n * V * sizeof *step);
		g4_set_threads(2);
		g4_attn_split_min(0);
		g4_seq *s = g4_seq_new(m, kvts[k]);
		for (int t = 0; t < n; t++) {
			g4_batch b = { .n = 1, .ids = ids + t };
			CHECK(g4_forward(s, &b, step + (size_t)t * V) == 0, "step: %s", g4_errmsg());
		}
		g4_attn_split_min(1048576.0);
		CHECK(!memcmp(ref, step, (size_t)n * V * 4), "%s KV: split attention differs", g4_type_name(kvts[k]));
		g4_seq_free(s);
		free(ref);
		free(step);
	}
	free(ids);
	g4_model_free(m);
}

/* tokenizer.ggml.suppress_tokens: loaded, and never sampled by g4decode
 * (greedy picks the next best token instead). */
static void test_suppress(void)
{
	gen_cfg c = GEN_DEFAULTS;
	c.seed = 21;
	const char *path = t_tmp("gen-sup.gguf");
	CHECK(gen_write(path, &c) == 0, "write: %s", g4_errmsg());
	g4_model *m = g4_model_load(path);
	if (!m)
		return;
	int32_t ids[3] = { 2, 17, 33 };
	g4_seq *s = g4_seq_new(m, G4_F32);
	g4_batch b = { .n = 3, .ids = ids };
	CHECK(g4_forward(s, &b, NULL) == 0, "forward: %s", g4_errmsg());
	int32_t top = 0, second = -1;
	for (int i = 1; i < m->n_vocab; i++)
		if (s->logits[i] > s->logits[top])
			top = i;
	for (int i = 0; i < m->n_vocab; i++)
		if (i != top && (second < 0 || s->logits[i] > s->logits[second]))
			second = i;
	g4_seq_free(s);
	g4_model_free(m);
	int32_t sup[2] = { 3, top };
	c.suppress = sup;
	c.n_suppress = 2;
	CHECK(gen_write(path, &c) == 0, "write: %s", g4_errmsg());
	m = g4_model_load(path);
	CHECK(m && m->n_suppress == 2 && m->suppress[1] == top, "suppress_tokens not loaded");
	g4_model_free(m);
	const char *bin = getenv("G4_BIN") ? getenv("G4_BIN") : "bin";
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "echo 2 17 33 | %s/g4prefill -m %s | %s/g4decode -m %s --temp 0 --ids -n 1",
		 bin, path, bin, path);
	FILE *f = popen(cmd, "r");
	int got = -1;
	if (f) {
		if (fscanf(f, "%d", &got) != 1)
			got = -1;
		pclose(f);
	}
	CHECK(got == second, "g4decode gave %d; %d is suppressed, the next best is %d", got, top, second);
}

/* Ids decoded (--ids, greedy, up to 100) after a prompt of n tokens, and
 * the positions of the snapshot written after them. */
static int decode_after(const g4_model *m, int n, uint64_t *snap_tokens)
{
	int32_t *ids = random_ids(n, m->n_vocab, 9);
	g4_seq *s = g4_seq_new(m, G4_F32);
	g4_batch b = { .n = n, .ids = ids };
	char *in = NULL, *out = NULL, *snap = NULL;
	size_t nin = 0, nout = 0, nsnap = 0;
	FILE *fi = open_memstream(&in, &nin);
	CHECK(g4_forward(s, &b, NULL) == 0 && g4_seq_write_snap(s, fi, "mem") == 0, "prompt: %s", g4_errmsg());
	fclose(fi);
	g4_seq_free(s);
	free(ids);
	g4_bd_opts o;
	g4_bd_defaults(&o);
	o.max_new = 100;
	o.format = G4_BD_IDS;
	o.sp.temp = 0;
	fi = fmemopen(in, nin, "r");
	FILE *fo = open_memstream(&out, &nout), *fs = open_memstream(&snap, &nsnap);
	CHECK(g4_bd_run(m, NULL, &o, fi, "mem", fo, fs, "snap") == 0, "decode: %s", g4_errmsg());
	fclose(fi);
	fclose(fo);
	fclose(fs);
	int k = 0;
	for (char *p = out; p && *p; p++)
		k += *p != ' ' && *p != '\n' && (p == out || p[-1] == ' ');
	g4_snap sn = { 0 };
	fs = fmemopen(snap, nsnap, "r");
	CHECK(g4_snap_read_model(fs, &sn, m, "snap") == 1, "snapshot after decoding: %s", g4_errmsg());
	*snap_tokens = sn.n_tokens;
	g4_snap_free(&sn);
	fclose(fs);
	free(in);
	free(out);
	free(snap);
	return k;
}

/* The model's context (gemma4.context_length) bounds every sequence: a
 * forward past it is refused and leaves the sequence as it was, and
 * generation stops when the context is full, its snapshot still readable. */
static void test_context_limit(void)
{
	gen_cfg c = GEN_DEFAULTS;
	int32_t sup[1] = { 1 };	/* no end of sequence: only the context stops it */
	c.n_ctx = 16;
	c.suppress = sup;
	c.n_suppress = 1;
	c.seed = 22;
	const char *path = t_tmp("gen-ctx.gguf");
	CHECK(gen_write(path, &c) == 0, "write: %s", g4_errmsg());
	g4_model *m = g4_model_load(path);
	CHECK(m && m->n_ctx_train == 16, "context_length not loaded");
	if (!m)
		return;
	CHECK(m->eot_id < 0 || m->eot_id >= m->n_vocab, "end of turn %d is in the vocabulary", m->eot_id);
	int32_t *ids = random_ids(17, m->n_vocab, 3);
	g4_seq *s = g4_seq_new(m, G4_F32);
	g4_batch b17 = { .n = 17, .ids = ids }, b10 = { .n = 10, .ids = ids }, b6 = { .n = 6, .ids = ids + 10 },
		 b7 = { .n = 7, .ids = ids + 10 }, b1 = { .n = 1, .ids = ids + 16 };
	CHECK(g4_forward(s, &b17, NULL) < 0 && strstr(g4_errmsg(), "context of 16"), "17 positions: %s",
	      g4_errmsg());
	CHECK(s->n_pos == 0, "a refused batch moved the sequence to %lld", (long long)s->n_pos);
	CHECK(g4_forward(s, &b10, NULL) == 0, "10: %s", g4_errmsg());
	CHECK(g4_forward(s, &b7, NULL) < 0 && s->n_pos == 10, "10 + 7 positions were accepted");
	CHECK(g4_forward(s, &b6, NULL) == 0 && s->n_pos == 16, "10 + 6: %s", g4_errmsg());
	CHECK(g4_forward(s, &b1, NULL) < 0, "a 17th position was accepted");
	g4_seq_free(s);
	free(ids);
	/* after 10 tokens: 6 more; each but the last goes in, the last fills
	 * position 15 for the snapshot */
	uint64_t st = 0;
	int k = decode_after(m, 10, &st);
	CHECK(k == 6 && st == 16, "after 10 of 16: %d tokens, snapshot of %llu", k, (unsigned long long)st);
	k = decode_after(m, 15, &st);
	CHECK(k == 1 && st == 16, "after 15 of 16: %d tokens, snapshot of %llu", k, (unsigned long long)st);
	k = decode_after(m, 16, &st);
	CHECK(k == 0 && st == 16, "after 16 of 16: %d tokens, snapshot of %llu", k, (unsigned long long)st);
	g4_model_free(m);
}

int main(void)
{
	RUN(test_e4b);
	RUN(test_e2b_f16);
	RUN(test_12b_bf16);
	RUN(test_bf16_q8);
	RUN(test_moe_separate);
	RUN(test_attention_split);
	RUN(test_bad_shape);
	RUN(test_suppress);
	RUN(test_context_limit);
	return t_done();
}
