/* Tests of lib/requant and lib/imatrix: GGUF -> GGUF quantisation
 * byte-identical to llama-quantize (whole-file SHA-256 of the golden micro
 * models), thread independence, imatrix files (legacy and GGUF) and their
 * use, errors, and the peak memory of bin/g4quant on a model many times
 * larger than the bound. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "err.h"
#include "gguf.h"
#include "imatrix.h"
#include "par.h"
#include "qtypes.h"
#include "quantize.h"
#include "requant.h"
#include "sha256.h"

static const struct {
	const char *name;
	int ftype;
	const char *sha;
} golden[] = {
	{ "micro-e2b-Q8_0.gguf", G4_FT_Q8_0, "ed9e95b7346aa5fcef077bdc4f6bdc7bd00758b59732f890133af3e5c795b13a" },
	{ "micro-e2b-Q4_0.gguf", G4_FT_Q4_0, "c181c0fa43e247363175517aec74bc3490f519a63458fd58ef1791d414c0714e" },
	{ "micro-e2b-Q4_K_M.gguf", G4_FT_Q4_K_M, "1db93f26ae7f1771207031bfc65b693dd80069e6dbb06f1a0449273fba39bf1a" },
};

/* quantises tests/data/micro-e2b-f32.gguf to path; 0 on success */
static int quantise(const char *path, const g4_requant_opts *o)
{
	g4_gguf *g = g4_gguf_open(t_data("micro-e2b-f32.gguf"));
	CHECK(g != NULL, "open: %s", g4_errmsg());
	if (!g) return -1;
	FILE *f = fopen(path, "wb");
	int rc = g4_requant(g, f, o);
	fclose(f);
	g4_gguf_close(g);
	return rc;
}

static void file_sha(const char *path, char hex[65])
{
	size_t n;
	void *p = t_slurp(path, &n);
	hex[0] = 0;
	if (p) g4_sha256_hex(p, n, hex);
	free(p);
}

static void test_golden_files(void)
{
	for (int th = 1; th <= 3; th += 2) {
		g4_set_threads(th);
		for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
			g4_requant_opts o;
			g4_requant_opts_init(&o, golden[i].ftype);
			const char *out = t_tmp("rq.gguf");
			CHECK(quantise(out, &o) == 0, "%s: %s", golden[i].name, g4_errmsg());
			char hex[65];
			file_sha(out, hex);
			CHECK(!strcmp(hex, golden[i].sha), "%s with %d threads: sha %s", golden[i].name, th, hex);
		}
	}
	g4_set_threads(0);
}

/* F16 and BF16 mixes of the micro model: eligible tensors converted, the
 * rest copied; F16 -> Q8_0 goes through f32 */
static void test_float_mixes(void)
{
	g4_requant_opts o;
	g4_requant_opts_init(&o, G4_FT_F16);
	CHECK(quantise(t_tmp("f16.gguf"), &o) == 0, "F16: %s", g4_errmsg());
	g4_gguf *g = g4_gguf_open(t_tmp("f16.gguf"));
	CHECK(g != NULL, "open f16: %s", g4_errmsg());
	if (!g) return;
	const g4_gguf_tensor *t = g4_gguf_find_tensor(g, "blk.0.attn_q.weight");
	CHECK(t && t->type == G4_F16, "attn_q is not F16");
	t = g4_gguf_find_tensor(g, "per_layer_model_proj.weight");
	CHECK(t && t->type == G4_F32, "per_layer_model_proj changed type");
	t = g4_gguf_find_tensor(g, "token_embd.weight");
	CHECK(t && t->type == G4_F16, "token_embd is not F16");
	uint32_t ft = 0;
	CHECK(g4_gguf_get_u32(g, "general.file_type", &ft) == 0 && ft == 1, "file_type %u", ft);
	/* F16 file -> Q8_0: the data of attn_q equals quantising the f16 values */
	FILE *f = fopen(t_tmp("f16-q8.gguf"), "wb");
	g4_requant_opts_init(&o, G4_FT_Q8_0);
	CHECK(g4_requant(g, f, &o) == 0, "F16 -> Q8_0: %s", g4_errmsg());
	fclose(f);
	g4_gguf *q = g4_gguf_open(t_tmp("f16-q8.gguf"));
	CHECK(q != NULL, "open: %s", g4_errmsg());
	if (q) {
		const g4_gguf_tensor *a = g4_gguf_find_tensor(g, "blk.1.ffn_up.weight");
		const g4_gguf_tensor *b = g4_gguf_find_tensor(q, "blk.1.ffn_up.weight");
		CHECK(a && b && b->type == G4_Q8_0, "ffn_up");
		if (a && b) {
			int64_t n = a->ne[0] * a->ne[1];
			float *x = malloc((size_t)n * 4);
			uint8_t *want = malloc(b->nbytes);
			for (int64_t i = 0; i < n; i++)
				x[i] = g4_f16_to_f32(((const uint16_t *)a->data)[i]);
			g4_quantize(G4_Q8_0, x, want, a->ne[1], a->ne[0], NULL);
			CHECK(!memcmp(want, b->data, b->nbytes), "F16 -> Q8_0 data differs");
			free(x); free(want);
		}
		/* requantising the Q8_0 file needs --allow-requantize */
		f = fopen(t_tmp("q8-q4.gguf"), "wb");
		g4_requant_opts_init(&o, G4_FT_Q4_0);
		CHECK(g4_requant(q, f, &o) == -1 && strstr(g4_errmsg(), "requantiz"), "requant refused: %s",
		      g4_errmsg());
		fclose(f);
		f = fopen(t_tmp("q8-q4.gguf"), "wb");
		o.allow_requantize = 1;
		CHECK(g4_requant(q, f, &o) == 0, "requant allowed: %s", g4_errmsg());
		fclose(f);
		g4_gguf_close(q);
	}
	g4_gguf_close(g);
}

static void wr32(FILE *f, int32_t v) { fwrite(&v, 4, 1, f); }

static void test_imatrix_legacy(void)
{
	const char *p = t_tmp("im.dat");
	FILE *f = fopen(p, "wb");
	wr32(f, 2);
	const char *n1 = "blk.0.ffn_down.weight";
	wr32(f, (int32_t)strlen(n1)); fwrite(n1, 1, strlen(n1), f);
	wr32(f, 4); wr32(f, 128);
	for (int i = 0; i < 128; i++) { float v = 4.0f * (float)(1 + i % 7); fwrite(&v, 4, 1, f); }
	const char *n2 = "blk.0.attn_q.weight";
	wr32(f, (int32_t)strlen(n2)); fwrite(n2, 1, strlen(n2), f);
	wr32(f, 0); wr32(f, 64);
	for (int i = 0; i < 64; i++) { float v = 0.5f + (float)i; fwrite(&v, 4, 1, f); }
	wr32(f, 10);	/* chunk count */
	wr32(f, 4); fwrite("wiki", 1, 4, f);
	fclose(f);
	g4_imatrix *m = g4_imatrix_load(p);
	CHECK(m != NULL, "load: %s", g4_errmsg());
	if (!m) return;
	CHECK(m->legacy && m->n == 2 && m->chunk_count == 10, "n %zu chunks %d", m->n, m->chunk_count);
	CHECK(m->dataset && !strcmp(m->dataset, "wiki"), "dataset");
	int64_t n;
	const float *v = g4_imatrix_find(m, n1, &n);
	CHECK(v && n == 128 && v[0] == 1.0f && v[6] == 7.0f, "sum / ncall");
	v = g4_imatrix_find(m, n2, &n);
	CHECK(v && n == 64 && v[3] == 3.5f, "ncall 0 keeps the sums");
	CHECK(!g4_imatrix_find(m, "nope", &n), "find missing");
	g4_imatrix_free(m);
	/* a truncated file and a NaN are errors */
	static const unsigned char trunc[] = { 1, 0, 0, 0, 3, 0, 0, 0, 'a', 'b' };
	CHECK(!g4_imatrix_load_mem(trunc, sizeof trunc, "t") && strstr(g4_errmsg(), "entry 1"), "truncated: %s",
	      g4_errmsg());
	unsigned char nan[4 + 4 + 1 + 8 + 4];
	int32_t x;
	x = 1; memcpy(nan, &x, 4); x = 1; memcpy(nan + 4, &x, 4); nan[8] = 'a';
	x = 1; memcpy(nan + 9, &x, 4); x = 1; memcpy(nan + 13, &x, 4);
	float fn = NAN; memcpy(nan + 17, &fn, 4);
	CHECK(!g4_imatrix_load_mem(nan, sizeof nan, "n") && strstr(g4_errmsg(), "finite"), "nan: %s", g4_errmsg());
	CHECK(!g4_imatrix_load_mem("\0\0\0\0", 4, "z"), "zero entries");
}

/* a GGUF imatrix with one 2-D entry and one 3-D (2 experts) entry */
static void write_gguf_imatrix(const char *path, int with_meta)
{
	g4_ggufw *w = g4_ggufw_new();
	if (with_meta) {
		g4_str ds = { 4, "wiki" };
		g4_ggufw_set_str_arr(w, "imatrix.datasets", 1, &ds);
		g4_ggufw_set_u32(w, "imatrix.chunk_count", 7);
		g4_ggufw_set_u32(w, "imatrix.chunk_size", 512);
	}
	int64_t ne1[4] = { 64, 1, 1, 1 }, nc1[4] = { 1, 1, 1, 1 };
	int64_t ne2[4] = { 8, 2, 1, 1 }, nc2[4] = { 2, 1, 1, 1 };
	g4_ggufw_add_tensor(w, "blk.0.ffn_up.weight.in_sum2", G4_F32, 1, ne1);
	g4_ggufw_add_tensor(w, "blk.0.ffn_up.weight.counts", G4_F32, 1, nc1);
	g4_ggufw_add_tensor(w, "x.in_sum2", G4_F32, 2, ne2);
	g4_ggufw_add_tensor(w, "x.counts", G4_F32, 1, nc2);
	FILE *f = fopen(path, "wb");
	g4_ggufw_write_header(w, f);
	float s1[64], c1 = 2.4f, s2[16], c2[2] = { 4.0f, 0.0f };
	for (int i = 0; i < 64; i++) s1[i] = (float)(2 * (1 + i % 5));
	for (int i = 0; i < 16; i++) s2[i] = (float)(i + 1);
	g4_ggufw_write_data(w, f, s1, sizeof s1);
	g4_ggufw_write_data(w, f, &c1, 4);
	g4_ggufw_write_data(w, f, s2, sizeof s2);
	g4_ggufw_write_data(w, f, c2, 8);
	g4_ggufw_finish(w, f);
	fclose(f);
	g4_ggufw_free(w);
}

static void test_imatrix_gguf(void)
{
	write_gguf_imatrix(t_tmp("im.gguf"), 1);
	g4_imatrix *m = g4_imatrix_load(t_tmp("im.gguf"));
	CHECK(m != NULL, "load: %s", g4_errmsg());
	if (!m) return;
	CHECK(!m->legacy && m->n == 2 && m->chunk_count == 7, "n %zu chunks %d", m->n, m->chunk_count);
	CHECK(m->dataset && !strcmp(m->dataset, "wiki"), "dataset");
	int64_t n;
	const float *v = g4_imatrix_find(m, "blk.0.ffn_up.weight", &n);
	/* count 2.4 rounds to 2 */
	CHECK(v && n == 64 && v[0] == 1.0f && v[4] == 5.0f, "sum / lround(count): %g", v ? v[0] : -1);
	v = g4_imatrix_find(m, "x", &n);
	CHECK(v && n == 16 && v[0] == 0.25f && v[7] == 2.0f && v[8] == 1.0f && v[15] == 1.0f,
	      "per-expert counts, 0 -> 1.0");
	g4_imatrix_free(m);
	write_gguf_imatrix(t_tmp("im2.gguf"), 0);
	CHECK(!g4_imatrix_load(t_tmp("im2.gguf")) && strstr(g4_errmsg(), "metadata"), "no metadata: %s",
	      g4_errmsg());
}

/* Q4_0 with an imatrix: the tensor with an entry is quantised with it (the
 * same bytes as g4_quantize with those weights), the keys are appended */
static void test_requant_imatrix(void)
{
	write_gguf_imatrix(t_tmp("im.gguf"), 1);
	g4_imatrix *m = g4_imatrix_load(t_tmp("im.gguf"));
	if (!m) { CHECK(0, "load: %s", g4_errmsg()); return; }
	/* drop the entry that fits no tensor of the model: add a bad-size one later */
	g4_requant_opts o;
	g4_requant_opts_init(&o, G4_FT_Q4_0);
	o.imatrix = m;
	o.imatrix_path = "im.gguf";
	CHECK(quantise(t_tmp("im-q4.gguf"), &o) == 0, "quantise: %s", g4_errmsg());
	g4_gguf *q = g4_gguf_open(t_tmp("im-q4.gguf")), *g = g4_gguf_open(t_data("micro-e2b-f32.gguf"));
	CHECK(q && g, "open");
	if (q && g) {
		g4_str s;
		uint32_t u = 0;
		CHECK(!g4_gguf_get_str(q, "quantize.imatrix.file", &s) && s.len == 7, "imatrix.file");
		CHECK(!g4_gguf_get_str(q, "quantize.imatrix.dataset", &s) && s.len == 4, "imatrix.dataset");
		CHECK(!g4_gguf_get_u32(q, "quantize.imatrix.entries_count", &u) && u == 2, "entries %u", u);
		CHECK(!g4_gguf_get_u32(q, "quantize.imatrix.chunks_count", &u) && u == 7, "chunks %u", u);
		CHECK(q->n_kv >= 4 && !memcmp(q->kv[q->n_kv - 1].key.ptr, "quantize.imatrix.chunks_count", 29),
		      "imatrix keys last");
		const g4_gguf_tensor *a = g4_gguf_find_tensor(g, "blk.0.ffn_up.weight");
		const g4_gguf_tensor *b = g4_gguf_find_tensor(q, "blk.0.ffn_up.weight");
		int64_t n;
		const float *im = g4_imatrix_find(m, "blk.0.ffn_up.weight", &n);
		uint8_t *want = malloc(b->nbytes), *plain = malloc(b->nbytes);
		g4_quantize(G4_Q4_0, a->data, want, a->ne[1], a->ne[0], im);
		g4_quantize(G4_Q4_0, a->data, plain, a->ne[1], a->ne[0], NULL);
		CHECK(!memcmp(want, b->data, b->nbytes), "imatrix data differs");
		CHECK(memcmp(plain, b->data, b->nbytes), "imatrix had no effect");
		free(want); free(plain);
	}
	g4_gguf_close(q);
	g4_gguf_close(g);
	g4_imatrix_free(m);
	/* an entry of the wrong length is an error */
	g4_ggufw *w = g4_ggufw_new();
	g4_str ds = { 1, "d" };
	g4_ggufw_set_str_arr(w, "imatrix.datasets", 1, &ds);
	g4_ggufw_set_u32(w, "imatrix.chunk_count", 1);
	g4_ggufw_set_u32(w, "imatrix.chunk_size", 1);
	int64_t ne[4] = { 32, 1, 1, 1 }, nc[4] = { 1, 1, 1, 1 };
	g4_ggufw_add_tensor(w, "blk.1.attn_q.weight.in_sum2", G4_F32, 1, ne);
	g4_ggufw_add_tensor(w, "blk.1.attn_q.weight.counts", G4_F32, 1, nc);
	FILE *f = fopen(t_tmp("imbad.gguf"), "wb");
	float z[32] = { 1 }, one = 1;
	g4_ggufw_write_header(w, f);
	g4_ggufw_write_data(w, f, z, sizeof z);
	g4_ggufw_write_data(w, f, &one, 4);
	g4_ggufw_finish(w, f);
	fclose(f);
	g4_ggufw_free(w);
	m = g4_imatrix_load(t_tmp("imbad.gguf"));
	CHECK(m != NULL, "load bad: %s", g4_errmsg());
	o.imatrix = m;
	CHECK(quantise(t_tmp("im-bad.gguf"), &o) == -1 && strstr(g4_errmsg(), "blk.1.attn_q.weight"),
	      "wrong length: %s", g4_errmsg());
	g4_imatrix_free(m);
}

/* Peak RSS of bin/g4quant on a generated F32 model of 64 x 2 MiB tensors
 * (128 MiB; the data is a sparse hole, so writing it costs nothing). */
static void test_peak_memory(void)
{
	const char *bin = getenv("G4_BIN");
	char exe[4096];
	snprintf(exe, sizeof exe, "%s/g4quant", bin ? bin : "bin");
	if (access(exe, X_OK)) { CHECK(0, "no %s", exe); return; }
	const char *in = t_tmp("big-f32.gguf"), *out = t_tmp("big-q8.gguf");
	g4_ggufw *w = g4_ggufw_new();
	g4_ggufw_set_str(w, "general.architecture", "gemma4");
	g4_ggufw_set_u32(w, "gemma4.block_count", 64);
	g4_ggufw_set_u32(w, "gemma4.attention.head_count", 4);
	int64_t ne[4] = { 1024, 512, 1, 1 };
	char name[64];
	for (int l = 0; l < 64; l++) {
		snprintf(name, sizeof name, "blk.%d.ffn_up.weight", l);
		g4_ggufw_add_tensor(w, name, G4_F32, 2, ne);
	}
	FILE *f = fopen(in, "wb");
	g4_ggufw_write_header(w, f);
	long hdr = ftell(f);
	fclose(f);
	g4_ggufw_free(w);
	uint64_t total = (uint64_t)hdr + 64ull * 1024 * 512 * 4;
	CHECK(truncate(in, (off_t)total) == 0, "truncate");
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 2);
		execl(exe, exe, "-q", in, out, "Q8_0", (char *)NULL);
		_exit(127);
	}
	int st;
	struct rusage ru;
	CHECK(wait4(pid, &st, 0, &ru) == pid, "wait");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "g4quant failed: status %d", st);
	long peak_kb = ru.ru_maxrss;
	/* the model is 128 MiB: the bound is well under a quarter of it */
	CHECK(peak_kb < 32 * 1024, "peak RSS %ld KiB", peak_kb);
	printf("  (peak RSS %ld KiB quantising a %llu MiB model)\n", peak_kb,
	       (unsigned long long)(total >> 20));
	g4_gguf *q = g4_gguf_open(out);
	CHECK(q && q->n_tensors == 64 && q->tensors[63].type == G4_Q8_0, "output");
	g4_gguf_close(q);
	unlink(in);
	unlink(out);
}

int main(void)
{
	RUN(test_golden_files);
	RUN(test_float_mixes);
	RUN(test_imatrix_legacy);
	RUN(test_imatrix_gguf);
	RUN(test_requant_imatrix);
	RUN(test_peak_memory);
	return t_done();
}
