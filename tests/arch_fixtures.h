/*
 * Helpers shared by the architecture tests (test_arch.c, test_arch_state.c):
 * the DHA and DARTS settings, an arch's state read and set through its
 * checkpoint tensors, and normal draws.
 */
#ifndef DAM_TEST_ARCH_FIXTURES_H
#define DAM_TEST_ARCH_FIXTURES_H

#include <stdint.h>

#include "arch.h"
#include "safetensors.h"

/* The DARTS ops, none first, and the cells' names in checkpoints. */
extern const char *const DARTS_OPS[8];
extern const char *const KIND[2];

/* The first column of node i's edges in a cell's (i + 2)-edge layout. */
uint32_t off(uint32_t i);

/* The DHA defaults: 4 nodes, the 7 ops without none. */
dam_arch_settings ista_settings(void);

/* DARTS: 4 nodes, the 8 ops with none. */
dam_arch_settings darts_settings(void);

/* dam_arch_create, failing the test on an error. */
dam_arch *create(const dam_arch_settings *s);

/* a's checkpoint tensors (the caller frees them). */
dam_safetensors *saved(const dam_arch *a);

/* dam_arch_load, failing the test on an error. */
void load(dam_arch *a, const dam_safetensors *st);

/* The printf-named tensor of st; fails the test when there is none. */
dam_st_tensor *tensor(dam_safetensors *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define F64(st, ...) ((double *)tensor(st, __VA_ARGS__)->data)
#define U32(st, ...) ((uint32_t *)tensor(st, __VA_ARGS__)->data)

/* Every tensor of a equal, byte for byte, to b's. */
void assert_same_state(dam_safetensors *a, dam_safetensors *b);

/* A standard normal draw from rng. */
double normal(uint64_t *rng);

/* Set ISTA node i's code b to A_i zstar (through a checkpoint). */
void set_code(dam_arch *a, int cell, uint32_t i, uint32_t P, uint32_t n_ops,
              const double *zstar);

#endif
