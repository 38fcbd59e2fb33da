/*
 * Finite-difference checks of op plugins: the backward a plugin gives (or
 * the host's tape builds for it) against central differences of its
 * forward, at random shapes and both strides, on the selected device.
 */
#ifndef DAM_GRADCHECK_H
#define DAM_GRADCHECK_H

#include "op.h"

typedef struct dam_gradcheck_result {
  char shapes[160];    /* the inputs tried, e.g. "2x4x7x7/s1 1x4x9x9/s2" */
  uint32_t n_shapes;   /* configurations the op accepted */
  uint32_t checked;    /* coordinates compared */
  uint32_t skipped;    /* coordinates next to a kink (max, relu), skipped */
  double max_err;      /* largest relative gradient error */
  bool deterministic;  /* two identical forwards gave identical outputs */
  bool pass;
} dam_gradcheck_result;

/* The largest relative gradient error that passes. */
#define DAM_GRADCHECK_TOL 1e-2

/* Check `desc` with its default parameters at two placements (stride 1,
 * then 2; c_in = c_out) with shapes drawn from `seed`: the loss
 * L = <op(x), r> for a random r, its gradient to x and to every weight
 * the op created, against central differences (step 1e-2, computed in
 * double on the host, Richardson-extrapolated from the step and half of
 * it), in training mode.  A coordinate whose difference
 * quotients at the step and half of it disagree lies next to a kink and is
 * skipped.  A placement the op refuses (infer_shape) is left out; none
 * accepted fails.  Returns 0 with *out filled (pass or not), or a negative
 * code when the device or the plugin fails. */
int dam_gradcheck_op(dam_exec *ex, const dam_op_desc *desc, uint64_t seed,
                     dam_gradcheck_result *out);

#endif
