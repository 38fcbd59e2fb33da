/*
 * Applying a drawn DA sample to a batch on the device: each image through
 * its two transforms in order, as two augment stages over images grouped
 * by transform (dam_permute_rows sorts them and restores their order).
 */
#ifndef DAM_DA_APPLY_H
#define DAM_DA_APPLY_H

#include "augment.h"
#include "da_policy.h"

/* y = the sample's sub-policies applied to x [N, C, H, W] (N == s->n, in
 * [0, 1]); augs[t] is transform t of the policy (k of them).  y keeps x's
 * image order.  When magnitude is non-NULL, magnitude[st] receives the
 * stage's [N] magnitude tensor in image order, as a leaf that requires a
 * gradient: after dam_backward its grad is d loss / d magnitude (for
 * dam_da_policy_magnitude_step).  NULL on failure with the error set. */
dam_tensor *dam_da_apply(dam_exec *ex, dam_augment *const *augs, uint32_t k,
                         const dam_da_sample *s, dam_tensor *x, float fill,
                         dam_tensor **magnitude);

#endif
