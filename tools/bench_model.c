/* bench_model - one timed run of the decoder on a GGUF (tools/bench.sh runs
 * it several times beside llama-bench and takes medians).
 *
 *   build/bench/bench_model MODEL.gguf [-t N] [-p PROMPT] [-n DECODE] [--kv TYPE] [--act q8|f32]
 *
 * --act: activations for quantised weights (default q8, llama.cpp's numerics;
 * f32 is the exact path).
 * Prefills PROMPT tokens (default 512) in one call, then decodes DECODE
 * tokens (default 128) one call each (fixed pseudo-random ids: the sampler
 * is not timed, as in llama-bench), saves the state as a snapshot to a
 * temporary file and reads it back.  Every page of the file is touched
 * before the clock starts.  Prints one line of key=value pairs:
 *   prefill_tps decode_tps rss_mb weight_mb_per_token snap_mb snap_w_mbps snap_r_mbps
 *   prefill_cpu_s decode_cpu_s (CPU seconds of all threads: on a busy
 *   machine tokens per CPU second still say how fast the code is)
 * weight_mb_per_token: bytes of weights one decoded token reads (every
 * matrix once; the tied output matrix whole, embedding tables one row,
 * expert tensors k/E of their size); rss_mb: peak resident set (the mapped
 * weights that were touched count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "forward.h"
#include "matmul.h"
#include "gguf.h"
#include "model.h"
#include "par.h"
#include "qtypes.h"
#include "snapshot.h"

static const char *prog = "bench_model";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int has(const g4_str *s, const char *sub)
{
	size_t n = strlen(sub);
	for (uint64_t i = 0; i + n <= s->len; i++)
		if (!memcmp(s->ptr + i, sub, n))
			return 1;
	return 0;
}

static int is(const g4_str *s, const char *name)
{
	return s->len == strlen(name) && !memcmp(s->ptr, name, s->len);
}

/* weight bytes read per decoded token */
static double weight_bytes(const g4_model *m)
{
	const g4_gguf *g = m->gguf;
	int tied = 1;
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (is(&g->tensors[i].name, "output.weight"))
			tied = 0;
	double b = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const g4_gguf_tensor *t = &g->tensors[i];
		double row = (double)t->nbytes / (double)(t->ne[1] * t->ne[2] * t->ne[3]);
		if (is(&t->name, "token_embd.weight"))
			b += tied ? (double)t->nbytes + row : row;
		else if (is(&t->name, "per_layer_token_embd.weight"))
			b += row;
		else if (has(&t->name, "_exps.weight") && m->n_expert > 0)
			b += (double)t->nbytes * m->n_expert_used / m->n_expert;
		else
			b += (double)t->nbytes;
	}
	return b;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int np = 512, nd = 128;
	uint32_t kv = G4_F16;
	int act = G4_ACT_Q8;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			int t = g4_parse_threads(argv[++i]);
			if (t < 0) {
				fprintf(stderr, "%s: bad -t\n", prog);
				return 2;
			}
			g4_set_threads(t);
		} else if (!strcmp(argv[i], "-p") && i + 1 < argc) {
			np = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			nd = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--kv") && i + 1 < argc) {
			int t = g4_type_from_name(argv[++i]);
			if (t < 0) {
				fprintf(stderr, "%s: bad --kv\n", prog);
				return 2;
			}
			kv = (uint32_t)t;
		} else if (!strcmp(argv[i], "--act") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "q8") && strcmp(argv[i], "f32")) {
				fprintf(stderr, "%s: --act q8 or f32\n", prog);
				return 2;
			}
			act = strcmp(argv[i], "q8") ? G4_ACT_F32 : G4_ACT_Q8;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: bench_model MODEL.gguf [-t N] [-p PROMPT] [-n DECODE] [--kv TYPE] [--act q8|f32]\n");
			return 0;
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			fprintf(stderr, "usage: bench_model MODEL.gguf [-t N] [-p PROMPT] [-n DECODE] [--kv TYPE] [--act q8|f32]\n");
			return 2;
		}
	}
	if (!path || np < 1 || nd < 0 || np > 1 << 20 || nd > 1 << 20) {
		fprintf(stderr, "usage: bench_model MODEL.gguf [-t N] [-p PROMPT] [-n DECODE] [--kv TYPE] [--act q8|f32]\n");
		return 2;
	}
	g4_matmul_set_act(act);
	g4_model *m = g4_model_load(path);
	if (!m)
		g4_die(prog);
	/* the weights in the page cache before timing (llama.cpp maps with
	 * MAP_POPULATE): a cold file would measure the disk */
	{
		volatile uint8_t sink = 0;
		for (uint64_t o = 0; o < m->gguf->size; o += 4096)
			sink ^= m->gguf->map[o];
		(void)sink;
	}
	double tprep = now();
	g4_matmul_prepare(m);
	tprep = now() - tprep;
	int32_t *ids = malloc((size_t)(np + nd) * sizeof *ids);
	if (!ids)
		g4_die(prog);
	uint64_t s = 12345;
	for (int i = 0; i < np + nd; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		ids[i] = (int32_t)((s >> 33) % (uint64_t)m->n_vocab);
	}
	ids[0] = m->bos_id >= 0 ? m->bos_id : ids[0];
	g4_seq *q = g4_seq_new(m, kv);
	if (!q)
		g4_die(prog);
	g4_batch b = { .n = np, .ids = ids };
	double t0 = now(), c0 = cpu();
	if (g4_forward(q, &b, NULL) < 0)
		g4_die(prog);
	double t1 = now(), c1 = cpu();
	for (int i = 0; i < nd; i++) {
		g4_batch one = { .n = 1, .ids = ids + np + i };
		if (g4_forward(q, &one, NULL) < 0)
			g4_die(prog);
	}
	double t2 = now(), c2 = cpu();

	/* snapshot round trip through a temporary file */
	char tmp[] = "/tmp/g4bench-snap-XXXXXX";
	int fd = mkstemp(tmp);
	if (fd < 0)
		g4_die(prog);
	close(fd);
	g4_snap sn, back;
	if (g4_seq_to_snap(q, &sn))
		g4_die(prog);
	double t3 = now();
	FILE *f = fopen(tmp, "wb");
	if (!f || g4_snap_write(f, &sn, tmp) || fclose(f)) {
		remove(tmp);
		g4_die(prog);
	}
	double t4 = now();
	f = fopen(tmp, "rb");
	if (!f || g4_snap_read(f, &back, m->fingerprint, tmp) != 1) {
		remove(tmp);
		g4_die(prog);
	}
	double t5 = now();
	fclose(f);
	struct stat st;
	double snap_mb = stat(tmp, &st) ? 0 : st.st_size / 1e6;
	remove(tmp);
	g4_snap_free(&sn);
	g4_snap_free(&back);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("prefill_tps=%.2f decode_tps=%.2f rss_mb=%.0f weight_mb_per_token=%.1f snap_mb=%.2f "
	       "snap_w_mbps=%.0f snap_r_mbps=%.0f prefill_cpu_s=%.2f decode_cpu_s=%.2f threads=%d prepare_s=%.2f\n",
	       np / (t1 - t0), nd ? nd / (t2 - t1) : 0.0, ru.ru_maxrss / 1024.0, weight_bytes(m) / 1e6, snap_mb,
	       snap_mb / (t4 - t3), snap_mb / (t5 - t4), c1 - c0, c2 - c1, g4_threads(), tprep);
	g4_seq_free(q);
	g4_model_free(m);
	free(ids);
	return 0;
}
