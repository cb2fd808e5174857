/* kern.h - the seam between vecdot.c (portable C, dispatch) and the SIMD
 * kernels (kern_avx2.c, kern_avx512.c).  Internal to libg4.
 *
 * A kernel computes g4_vecdot for one weight type with exactly the numerics
 * documented in vecdot.h.  The SIMD files fill a table with the kernels
 * they have; types they lack keep the next path's kernel. */
#ifndef G4_KERN_H
#define G4_KERN_H
#include <stdint.h>

#include "qtypes.h"

typedef float (*g4_dot_fn)(int64_t n, const void *w, const void *act);

/* The fixed final reduction of the 32 lanes (see vecdot.h). */
float g4_reduce32(const float acc[32]);

/* Portable: adds 32-element block b (weights wb of type t, activation
 * block ab) into its lanes 8*(b%4)..+7 of acc.  SIMD kernels use it for
 * the blocks left over after their main loop. */
void g4_blk32_add(uint32_t t, const uint8_t *wb, const uint8_t *ab, int64_t b, float acc[32]);

/* Set tab[t] for the types each path implements (only called when the CPU
 * supports the path). */
void g4_kern_avx2(g4_dot_fn tab[G4_NTYPES]);
void g4_kern_avx512(g4_dot_fn tab[G4_NTYPES]);

#endif
