/*
 * Placing and running op plugins: an instance of an op descriptor at a
 * site (stride, channels) with its filled parameters, applied through the
 * plugin's forward and differentiated through its backward on the tape.
 */
#ifndef DAM_OP_H
#define DAM_OP_H

#include "tape.h"

typedef struct dam_op {
  const dam_op_desc *desc;
  void *params; /* owned copy of the params block */
  void *state;  /* what desc->create returned */
  dam_op_site site;
  dam_tensor_list weights; /* trainable tensors create() made */
  dam_tensor_list buffers; /* its untrained state (running statistics) */
} dam_op;

/* Place `desc` at `site`.  params: a filled block of
 * desc->hdr.params_size bytes, or NULL for the declared defaults.  Calls
 * the plugin's create(). */
int dam_op_create(dam_exec *ex, const dam_op_desc *desc, const void *params,
                  const dam_op_site *site, dam_op **out);

/* Call the plugin's destroy() and free the instance (NULL ok); tensors it
 * made stay with ex. */
void dam_op_destroy(dam_op *op);

/* The output shape for input shape `in`, or DAM_ESHAPE naming the op. */
int dam_op_infer(const dam_op *op, const dam_shape *in, dam_shape *out);

/* Apply the op to x (training: batch norms use batch statistics): a step
 * tensor (x itself for an identity), recorded on the tape when x or the
 * op's weights need gradients.  NULL on failure with the error set. */
dam_tensor *dam_op_forward(dam_exec *ex, dam_op *op, dam_tensor *x,
                           bool training);

#endif
