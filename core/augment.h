/*
 * Augment plugins on the host side: a transform with its filled params,
 * and a differentiable "stage" that sends each contiguous group of a
 * batch's images through one transform (the DA policy's building block).
 */
#ifndef DAM_AUGMENT_H
#define DAM_AUGMENT_H

#include "tape.h"

typedef struct dam_augment {
  const dam_augment_desc *desc;
  void *params; /* owned copy of the params block */
} dam_augment;

/* An instance of desc with a filled params block (desc->hdr.params_size
 * bytes), or its declared defaults when params is NULL.  DAM_ENOMEM. */
int dam_augment_create(const dam_augment_desc *desc, const void *params,
                       dam_augment **out);

/* Free an instance (NULL ok). */
void dam_augment_destroy(dam_augment *a);

/* Images first .. first+count-1 go through aug. */
typedef struct dam_augment_group {
  const dam_augment *aug;
  uint32_t first, count;
} dam_augment_group;

/* y = x with each group's images transformed: x [N, C, H, W] in [0, 1];
 * magnitude [N] levels; seed [N] uint32 bit patterns (dam_uint_tensor);
 * fill: the intensity geometric transforms bring in.  The groups must
 * cover 0 .. N-1 in order without overlap (an identity transform covers
 * images to leave alone).  Recorded on the tape when x or magnitude
 * requires a gradient.  NULL on failure with the error set (a plugin's
 * failure names it). */
dam_tensor *dam_augment_stage(dam_exec *ex, const dam_augment_group *groups,
                              uint32_t n_groups, dam_tensor *x,
                              dam_tensor *magnitude, dam_tensor *seed,
                              float fill);

#endif
