/* bench_bw - this machine's memory read bandwidth, the roofline of decode.
 *
 *   build/bench/bench_bw [-t N] [MB] [passes]
 *
 * Reads a buffer of MB megabytes (default 1024, far beyond the caches) with
 * N threads (default g4_threads()), each an even share, summing 64-bit
 * words in independent lanes (AVX2, and on alternate passes AVX-512 loads
 * with a software prefetch as the decode kernels do, when present) so the
 * loads, not the adds, set the pace.
 * Prints the best of `passes` (default 5) as "read_gbps=X threads=N". */
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "par.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* sum of words [lo, hi) in 4 lanes */
static uint64_t sum_c(const uint64_t *b, size_t lo, size_t hi)
{
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (size_t i = lo; i + 4 <= hi; i += 4) {
		s0 += b[i];
		s1 += b[i + 1];
		s2 += b[i + 2];
		s3 += b[i + 3];
	}
	return s0 ^ s1 ^ s2 ^ s3;
}

__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *b, size_t lo, size_t hi)
{
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	for (size_t i = lo; i + 16 <= hi; i += 16) {
		a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(b + i)));
		a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(b + i + 4)));
		a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(b + i + 8)));
		a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(b + i + 12)));
	}
	a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
	uint64_t o[4];
	_mm256_storeu_si256((__m256i *)o, a0);
	return o[0] ^ o[1] ^ o[2] ^ o[3];
}

/* the same with 64-byte loads and a software prefetch 4 KB ahead, as the
 * decode kernels read their weights */
__attribute__((target("avx512f"))) static uint64_t sum_avx512(const uint64_t *b, size_t lo, size_t hi)
{
	__m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
	for (size_t i = lo; i + 32 <= hi; i += 32) {
		_mm_prefetch((const char *)(b + i) + 4096, _MM_HINT_T0);
		_mm_prefetch((const char *)(b + i) + 4096 + 64, _MM_HINT_T0);
		_mm_prefetch((const char *)(b + i) + 4096 + 128, _MM_HINT_T0);
		_mm_prefetch((const char *)(b + i) + 4096 + 192, _MM_HINT_T0);
		a0 = _mm512_add_epi64(a0, _mm512_load_si512((const void *)(b + i)));
		a1 = _mm512_add_epi64(a1, _mm512_load_si512((const void *)(b + i + 8)));
		a2 = _mm512_add_epi64(a2, _mm512_load_si512((const void *)(b + i + 16)));
		a3 = _mm512_add_epi64(a3, _mm512_load_si512((const void *)(b + i + 24)));
	}
	a0 = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
	return (uint64_t)_mm512_reduce_add_epi64(a0);
}

int main(int argc, char **argv)
{
	int a = 1;
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: bench_bw [-t N] [MB] [passes]\n");
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "-t")) {
		int t = g4_parse_threads(argv[2]);
		if (t < 0) {
			fprintf(stderr, "usage: bench_bw [-t N] [MB] [passes]\n");
			return 2;
		}
		g4_set_threads(t);
		a = 3;
	}
	long mb = argc > a ? atol(argv[a]) : 1024, passes = argc > a + 1 ? atol(argv[a + 1]) : 5;
	if (mb < 16 || mb > 65536 || passes < 1 || passes > 1000) {
		fprintf(stderr, "usage: bench_bw [-t N] [MB] [passes]\n");
		return 2;
	}
	size_t n = (size_t)mb << 17;	/* 64-bit words */
	uint64_t *buf = aligned_alloc(64, n * sizeof *buf);
	int avx2 = __builtin_cpu_supports("avx2"), avx512 = __builtin_cpu_supports("avx512f");
	if (!buf) {
		fprintf(stderr, "bench_bw: out of memory (%ld MB)\n", mb);
		return 1;
	}
	int nt = g4_threads();
#pragma omp parallel for num_threads(nt) schedule(static)
	for (size_t i = 0; i < n; i++)
		buf[i] = i * 0x9e3779b97f4a7c15ull;
	double best = 0, bestv[2] = { 0, 0 };
	uint64_t sink = 0;
	for (long p = 0; p < passes; p++) {
		uint64_t tot = 0;
		double t0 = now();
#pragma omp parallel num_threads(nt) reduction(+ : tot)
		{
			int id = omp_get_thread_num(), k = omp_get_num_threads();
			size_t lo = n / k * id, hi = id == k - 1 ? n : n / k * (id + 1);
			/* passes alternate the two loops (the best of all is kept) */
			tot += avx512 && p % 2 ? sum_avx512(buf, lo, hi) : avx2 ? sum_avx2(buf, lo, hi) : sum_c(buf, lo, hi);
		}
		double dt = now() - t0, gbps = n * 8.0 / dt / 1e9;
		if (gbps > best)
			best = gbps;
		if (gbps > bestv[avx512 && p % 2])
			bestv[avx512 && p % 2] = gbps;
		sink += tot;
	}
	printf("read_gbps=%.1f threads=%d mb=%ld", best, nt, mb);
	if (avx512)
		printf(" avx2_gbps=%.1f avx512_gbps=%.1f", bestv[0], bestv[1]);
	printf("%s\n", sink == 42 ? " " : "");
	free(buf);
	return 0;
}
