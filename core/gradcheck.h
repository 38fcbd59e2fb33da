/*
 * Finite-difference checks of op and augment plugins: the backward a
 * plugin gives (or the host's tape builds for it) against central
 * differences of its forward, at random shapes, on the selected device.
 */
#ifndef DAM_GRADCHECK_H
#define DAM_GRADCHECK_H

#include "op.h"

typedef struct dam_gradcheck_result {
  char shapes[160];    /* the inputs tried, e.g. "2x4x7x7/s1 1x4x9x9/s2" */
  uint32_t n_shapes;   /* configurations the op accepted */
  uint32_t checked;    /* directions compared */
  uint32_t skipped;    /* directions crossing a kink (max, relu), skipped */
  double max_err;      /* largest relative error of a directional derivative */
  bool deterministic;  /* two identical forwards gave identical outputs */
  bool pass;
} dam_gradcheck_result;

/* The largest relative error that passes.  float32 forwards put the
 * rounding of the loss near 1e-2 of a directional derivative at the step
 * the kinks allow, so a gradient wrong by a few percent or more (a missing
 * term, a wrong sign or index) fails; the PyTorch parity test checks the
 * in-tree ops to 1e-4. */
#define DAM_GRADCHECK_TOL 5e-2

/* Check `desc` with its default parameters at two placements (stride 1,
 * then 2; c_in = c_out) with shapes drawn from `seed`, in training mode:
 * the loss L = <op(x), r> for a random r, its derivatives along random
 * directions of x and of every weight the op created, analytic (the
 * op's backward) against central differences (steps 1e-3 and 5e-4,
 * Richardson-extrapolated, computed in double on the host).  A direction
 * along which the two steps disagree crosses a kink and is skipped.  A
 * placement the op refuses (infer_shape) is left out; none accepted fails,
 * and so do two identical forwards with different outputs (a race).
 * Returns 0 with *out filled (pass or not), or a negative code when the
 * device or the plugin fails. */
int dam_gradcheck_op(dam_exec *ex, const dam_op_desc *desc, uint64_t seed,
                     dam_gradcheck_result *out);

/* Check an augment plugin with its default parameters on 3 images of 1
 * and of 3 channels (random odd sizes; intensities within 4e-4 of
 * distinct 0-255 levels in each plane, so that no step crosses a
 * quantization boundary or swaps a plane's extremes; magnitudes in (0.5, 4), below the enhancements' clamping;
 * the batch split over two calls), L = <aug(x), r>: an EXACT gradient
 * against central differences as for ops; a straight-through one against
 * its definition (grad_in = r, the magnitude's = the sum of r over the
 * image); NONE must give zero.  The results as dam_gradcheck_op (n_shapes
 * counts the two batches). */
int dam_gradcheck_augment(dam_exec *ex, const dam_augment_desc *desc,
                          uint64_t seed, dam_gradcheck_result *out);

#endif
