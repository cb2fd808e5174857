/* test_batch.c - many sequences in one forward (g4_forward_multi): every
 * sequence's logits, KV and history are bitwise those of running it alone,
 * for any grouping, thread count, KV type, with and without a prefix. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "err.h"
#include "forward.h"
#include "matmul.h"
#include "model.h"
#include "par.h"
#include "qtypes.h"
#include "snapshot.h"

#define NS 5

/* Token ids of sequence k: lengths 0, 1, 7, 40 and 300 (> one micro-batch
 * and many sliding windows), pseudo-random ids below V. */
static int seq_len(int k)
{
	static const int len[NS] = { 0, 1, 7, 40, 300 };
	return len[k];
}

static int32_t *seq_ids(int k, int V)
{
	int n = seq_len(k);
	int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
	uint32_t x = 2463534242u + (uint32_t)k;
	for (int i = 0; i < n; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		ids[i] = (int32_t)(x % (uint32_t)V);
	}
	return ids;
}

/* Serialises a sequence's KV and history (through a snapshot) for bitwise
 * comparison. */
static char *state_bytes(const g4_seq *s, size_t *n)
{
	char *p = NULL;
	FILE *f = open_memstream(&p, n);
	CHECK(g4_seq_write_snap(s, f, "mem") == 0, "write: %s", g4_errmsg());
	fclose(f);
	return p;
}

static g4_seq *fresh(const g4_model *m, uint32_t kvt, const g4_seq *prefix)
{
	if (!prefix)
		return g4_seq_new(m, kvt);
	g4_snap sn;
	CHECK(g4_seq_to_snap(prefix, &sn) == 0, "to_snap: %s", g4_errmsg());
	g4_seq *s = g4_seq_from_snap(m, &sn);
	g4_snap_free(&sn);
	return s;
}

static void multi_case(const char *gguf, uint32_t kvt, int with_prefix, int threads)
{
	g4_model *m = g4_model_load(t_data(gguf));
	CHECK(m != NULL, "load %s: %s", gguf, g4_errmsg());
	if (!m)
		return;
	const int V = m->n_vocab;
	g4_seq *prefix = NULL;
	if (with_prefix) {
		int32_t pre[3] = { 2, 5 % V, 9 % V };
		prefix = g4_seq_new(m, kvt);
		g4_batch b = { .n = 3, .ids = pre };
		CHECK(g4_forward(prefix, &b, NULL) == 0, "prefix: %s", g4_errmsg());
	}
	int32_t *ids[NS];
	float *one[NS], *many[NS];
	g4_seq *a[NS], *bs[NS];
	g4_batch b[NS];
	char *sa[NS];
	size_t na[NS];
	g4_set_threads(1);
	for (int k = 0; k < NS; k++) {
		ids[k] = seq_ids(k, V);
		b[k] = (g4_batch){ .n = seq_len(k), .ids = ids[k] };
		one[k] = malloc(((size_t)seq_len(k) + 1) * V * sizeof(float));
		many[k] = malloc(((size_t)seq_len(k) + 1) * V * sizeof(float));
		a[k] = fresh(m, kvt, prefix);
		CHECK(g4_forward(a[k], &b[k], one[k]) == 0, "alone: %s", g4_errmsg());
		sa[k] = state_bytes(a[k], &na[k]);
	}
	g4_set_threads(threads);
	/* all together, then in groups in another order */
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < NS; k++)
			bs[k] = fresh(m, kvt, prefix);
		if (pass == 0) {
			CHECK(g4_forward_multi(bs, b, NS, many) == 0, "multi: %s", g4_errmsg());
		} else {
			g4_seq *g1[2] = { bs[4], bs[1] }, *g2[3] = { bs[2], bs[0], bs[3] };
			g4_batch b1[2] = { b[4], b[1] }, b2[3] = { b[2], b[0], b[3] };
			float *l1[2] = { many[4], many[1] }, *l2[3] = { many[2], NULL, many[3] };
			CHECK(g4_forward_multi(g1, b1, 2, l1) == 0, "multi: %s", g4_errmsg());
			CHECK(g4_forward_multi(g2, b2, 3, l2) == 0, "multi: %s", g4_errmsg());
		}
		for (int k = 0; k < NS; k++) {
			const size_t nb = (size_t)seq_len(k) * V * sizeof(float);
			if (!(pass == 1 && k == 0))
				CHECK(!memcmp(one[k], many[k], nb), "%s pass %d seq %d: logits differ", gguf, pass, k);
			CHECK(bs[k]->have_logits == a[k]->have_logits &&
			      (!a[k]->have_logits || !memcmp(bs[k]->logits, a[k]->logits, (size_t)V * 4)),
			      "%s pass %d seq %d: last logits differ", gguf, pass, k);
			size_t nn;
			char *sb = state_bytes(bs[k], &nn);
			CHECK(nn == na[k] && !memcmp(sa[k], sb, nn), "%s pass %d seq %d: state differs", gguf, pass, k);
			free(sb);
			g4_seq_free(bs[k]);
		}
	}
	/* batched decode steps: one token each, several steps */
	for (int k = 0; k < NS; k++)
		bs[k] = fresh(m, kvt, prefix);
	CHECK(g4_forward_multi(bs, b, NS, NULL) == 0, "multi: %s", g4_errmsg());
	for (int step = 0; step < 4; step++) {
		int32_t tok[NS];
		g4_batch b1[NS];
		for (int k = 0; k < NS; k++) {
			tok[k] = (int32_t)((7 * step + 3 * k + 1) % V);
			b1[k] = (g4_batch){ .n = 1, .ids = &tok[k] };
			CHECK(g4_forward(a[k], &b1[k], NULL) == 0, "step: %s", g4_errmsg());
		}
		CHECK(g4_forward_multi(bs, b1, NS, NULL) == 0, "multi step: %s", g4_errmsg());
		for (int k = 0; k < NS; k++)
			CHECK(!memcmp(a[k]->logits, bs[k]->logits, (size_t)V * 4),
			      "%s step %d seq %d: logits differ", gguf, step, k);
	}
	for (int k = 0; k < NS; k++) {
		g4_seq_free(a[k]);
		g4_seq_free(bs[k]);
		free(ids[k]);
		free(one[k]);
		free(many[k]);
		free(sa[k]);
	}
	g4_seq_free(prefix);
	g4_model_free(m);
	g4_set_threads(0);
}

static void test_multi_e2b(void) { multi_case("micro-e2b-f32.gguf", G4_F32, 0, 2); }
static void test_multi_e2b_prefix(void) { multi_case("micro-e2b-f32.gguf", G4_F16, 1, 1); }
static void test_multi_moe(void) { multi_case("micro-moe-f32.gguf", G4_F16, 1, 2); }
static void test_multi_q4(void) { multi_case("micro-e2b-Q4_0.gguf", G4_BF16, 0, 2); }

/* 8-bit activations (--act q8): also per row, whatever the batch */
static void test_multi_q8_act(void)
{
	g4_matmul_set_act(G4_ACT_Q8);
	multi_case("micro-e2b-Q4_K_M.gguf", G4_F16, 0, 2);
	g4_matmul_set_act(G4_ACT_F32);
}

static void test_multi_refuses(void)
{
	g4_model *m = g4_model_load(t_data("micro-e2b-f32.gguf"));
	if (!m)
		return;
	g4_seq *s = g4_seq_new(m, G4_F32);
	int32_t ok = 2, bad = m->n_vocab;
	g4_seq *two[2] = { s, s };
	g4_batch b[2] = { { .n = 1, .ids = &ok }, { .n = 1, .ids = &ok } };
	CHECK(g4_forward_multi(two, b, 2, NULL) < 0, "a sequence twice accepted");
	b[0].ids = &bad;
	CHECK(g4_forward_multi(two, b, 1, NULL) < 0 && strstr(g4_errmsg(), "vocabulary"), "bad id accepted");
	CHECK(s->n_pos == 0, "state changed on a refusal");
	g4_seq_free(s);
	g4_model_free(m);
}

/* Peak RSS (KB) of G4_BIN/prog args < in > out; -1 if it failed. */
static long run_rss(const char *prog, const char *const *args, const char *in, const char *out)
{
	const char *bin = getenv("G4_BIN") ? getenv("G4_BIN") : "bin";
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", bin, prog);
	pid_t pid = fork();
	if (pid == 0) {
		int fi = open(in, O_RDONLY), fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fi < 0 || fo < 0)
			_exit(127);
		dup2(fi, 0);
		dup2(fo, 1);
		char *av[16];
		int n = 0;
		av[n++] = path;
		for (int i = 0; args[i] && n < 15; i++)
			av[n++] = (char *)args[i];
		av[n] = NULL;
		execv(path, av);
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return ru.ru_maxrss;
}

/* A stream of 2000 tiny documents takes the memory of 50: bounded by the
 * batch, not the stream. */
static void test_memory_flat(void)
{
	if (getenv("G4_SANITIZED")) {	/* make check-asan: the quarantine holds freed memory */
		printf("SKIP test_memory_flat: peak RSS means nothing under AddressSanitizer\n");
		return;
	}
	const char *tmp = getenv("G4_TMP") ? getenv("G4_TMP") : "/tmp";
	char model[4096], ids[2][4096], kv[2][4096], out[4096];
	snprintf(model, sizeof model, "%s", t_data("micro-e2b-f32.gguf"));
	snprintf(out, sizeof out, "%s/rss.out", tmp);
	const int count[2] = { 50, 2000 };
	long rp[2], rd[2];
	for (int k = 0; k < 2; k++) {
		snprintf(ids[k], sizeof ids[k], "%s/rss%d.ids", tmp, k);
		snprintf(kv[k], sizeof kv[k], "%s/rss%d.kv", tmp, k);
		FILE *f = fopen(ids[k], "w");
		for (int i = 0; i < count[k]; i++)
			fprintf(f, "2 %d %d\n", 10 + i % 300, 20 + i % 7);
		fclose(f);
		const char *pa[] = { "-m", model, "-t", "1", NULL };
		rp[k] = run_rss("g4prefill", pa, ids[k], kv[k]);
		const char *da[] = { "-m", model, "--temp", "0", "--ids", "-n", "4", "-b", "8", "-t", "1", NULL };
		rd[k] = run_rss("g4decode", da, kv[k], out);
		CHECK(rp[k] > 0 && rd[k] > 0, "runs failed (%ld, %ld KB)", rp[k], rd[k]);
	}
	if (getenv("G4_SAN_LOG")) {	/* ASan's quarantine keeps freed memory: no bound to check */
		printf("  peak RSS not checked under sanitizers\n");
		return;
	}
	CHECK(rp[1] < rp[0] + 4096, "g4prefill: %ld KB for 2000 documents, %ld KB for 50", rp[1], rp[0]);
	CHECK(rd[1] < rd[0] + 4096, "g4decode: %ld KB for 2000 documents, %ld KB for 50", rd[1], rd[0]);
	printf("  peak RSS: g4prefill %ld / %ld KB, g4decode %ld / %ld KB (50 / 2000 documents)\n",
	       rp[0], rp[1], rd[0], rd[1]);
}

int main(void)
{
	RUN(test_memory_flat);	/* first: a child's peak RSS starts at ours */
	RUN(test_multi_e2b);
	RUN(test_multi_e2b_prefix);
	RUN(test_multi_moe);
	RUN(test_multi_q4);
	RUN(test_multi_q8_act);
	RUN(test_multi_refuses);
	return t_done();
}
