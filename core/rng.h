/*
 * The project's one pseudo-random generator: splitmix64 (Steele, Lea and
 * Flood, OOPSLA 2014; constants as in Vigna's public-domain splitmix64.c).
 * 64 bits of state, integer-only, so a seed gives the same numbers on every
 * platform.
 */
#ifndef DAM_RNG_H
#define DAM_RNG_H

#include <stdint.h>

/* The next 64 random bits; advances *state. */
static inline uint64_t dam_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double dam_uniform01(uint64_t *state) {
  return (double)(dam_splitmix64(state) >> 11) / (double)(1ULL << 53);
}

#endif
