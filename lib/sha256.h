/* sha256.h - SHA-256 (FIPS 180-4), for model fingerprints and tests. */
#ifndef G4_SHA256_H
#define G4_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
} g4_sha256;

void g4_sha256_init(g4_sha256 *s);
void g4_sha256_update(g4_sha256 *s, const void *p, size_t n);
void g4_sha256_final(g4_sha256 *s, uint8_t out[32]);
/* One call: digest of p[0..n) as 64 lowercase hex digits + NUL. */
void g4_sha256_hex(const void *p, size_t n, char out[65]);

#endif
