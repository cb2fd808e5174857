/* snapshot.h - the KV snapshot (byte format: man/g4-formats.5).
 *
 * One zstd frame (content checksum on) per snapshot, so snapshots
 * concatenate into a snapshot stream like token streams do.  Inside: a
 * versioned header, the fingerprint of the model (g4_gguf_fingerprint), the
 * token history, the K/V rows of every layer that owns KV (sliding layers:
 * only the live window), and the last logits.  K/V rows are kept in the KV
 * type (f32, f16, bf16 or q8_0) exactly as the decoder stores them, so a
 * snapshot read back gives bitwise the same attention.  Written and read as a
 * stream (a pipe is fine); never built whole in memory.
 */
#ifndef G4_SNAPSHOT_H
#define G4_SNAPSHOT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
	uint32_t layer;		/* model layer index that owns this KV */
	uint32_t n_head_kv, head_dim;	/* row = n_head_kv*head_dim values */
	uint64_t pos0;		/* position of the first stored row */
	uint64_t n_rows;	/* rows stored (sliding layers: the live window) */
	void *k, *v;		/* n_rows rows of g4_row_bytes(kv_type, n_head_kv*head_dim) bytes */
} g4_snap_layer;

typedef struct {
	uint8_t fingerprint[32];	/* of the model (g4_gguf_fingerprint) */
	uint32_t kv_type;	/* G4_F32, G4_F16, G4_BF16 or G4_Q8_0 (qtypes.h) */
	uint64_t n_tokens;	/* history length = next position */
	int32_t *tokens;	/* n_tokens ids; an embedding row is stored as -1 - modality */
	uint32_t n_layers;	/* layers that own KV */
	g4_snap_layer *layers;
	uint32_t n_vocab;	/* 0 if no logits are stored */
	float *logits;		/* n_vocab: the logits after the last token */
} g4_snap;

/* Writes one snapshot as one zstd frame (level: fast); -1 on a write error. */
int g4_snap_write(FILE *f, const g4_snap *s, const char *name);

/* Reads the next snapshot of a stream into *s (allocating its arrays).
 * Returns 1 with a snapshot, 0 at a clean end of input, -1 on error: not a
 * snapshot, truncated, corrupt (checksum), inconsistent sizes, or (when
 * fingerprint is not NULL) made by another model.  name is for messages. */
int g4_snap_read(FILE *f, g4_snap *s, const uint8_t *fingerprint, const char *name);

void g4_snap_free(g4_snap *s);

#endif
