/* Op plugin instances: creation, shape inference, forward and backward. */
#include "op.h"
#include "error.h"
#include "host_api.h"
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

int dam_op_create(dam_exec *ex, const dam_op_desc *desc, const void *params,
                  const dam_op_site *site, dam_op **out) {
  dam_op *op = calloc(1, sizeof *op);
  size_t size = desc->hdr.params_size;
  if (!op || !(op->params = calloc(1, size ? size : 1))) {
    free(op);
    return dam_fail(DAM_ENOMEM, "out of memory");
  }
  if (params)
    memcpy(op->params, params, size);
  else
    dam_params_defaults(&desc->hdr, op->params);
  op->desc = desc;
  op->site = *site;
  op->site.struct_size = sizeof op->site;
  if (desc->create) {
    dam_tensor_list *sink = ex->param_sink, *states = ex->state_sink;
    ex->param_sink = &op->weights;
    ex->state_sink = &op->buffers;
    dam_clear_error();
    int err = desc->create(dam_host_api_get(), ex, op->params, &op->site,
                           &op->state);
    ex->param_sink = sink;
    ex->state_sink = states;
    if (err) {
      free(op->weights.t);
      free(op->buffers.t);
      free(op->params);
      free(op);
      return dam_plugin_fail(&desc->hdr, "create", err);
    }
  }
  *out = op;
  return DAM_OK;
}

void dam_op_destroy(dam_op *op) {
  if (!op)
    return;
  if (op->desc->destroy)
    op->desc->destroy(op->state);
  free(op->weights.t);
  free(op->buffers.t);
  free(op->params);
  free(op);
}

int dam_op_infer(const dam_op *op, const dam_shape *in, dam_shape *out) {
  *out = (dam_shape){0};
  int err = op->desc->infer_shape(op->params, &op->site, in, out);
  if (err || out->ndim < 1 || out->ndim > 4)
    return dam_fail(DAM_ESHAPE, "op %s can't take input %ux%ux%ux%u at "
                    "stride %u, %u -> %u channels", op->desc->hdr.name,
                    in->dim[0], in->dim[1], in->dim[2], in->dim[3],
                    op->site.stride, op->site.c_in, op->site.c_out);
  return DAM_OK;
}

/* What a tape node keeps of one application of an op. */
typedef struct op_record {
  const dam_op_desc *desc;
  dam_op_call call;
} op_record;

static int op_backward(dam_exec *ex, dam_node *node, uint32_t needs) {
  op_record *r = node->data;
  r->call.grad_out = node->out->grad;
  r->call.grad_in = NULL;
  if ((needs & 1u) && !(r->call.grad_in = dam_tensor_grad(ex, node->in[0])))
    return DAM_ENOMEM;
  r->call.needs_grad = (needs & 1u) | (node->weights ? 2u : 0u);
  dam_clear_error();
  int err = r->desc->backward(dam_host_api_get(), &r->call);
  return err ? dam_plugin_fail(&r->desc->hdr, "backward", err) : DAM_OK;
}

/* An op without a backward: its forward builds the output on the tape,
 * and what it made besides is the op's alone (plugin.h): intermediates
 * whose contents no backward reads are released at once. */
static dam_tensor *composed_forward(dam_op *op, dam_op_call *call,
                                   const dam_shape *shape) {
  dam_scope scope = dam_scope_open(call->ex);
  dam_clear_error();
  int err = op->desc->forward(dam_host_api_get(), call);
  if (!err && call->out)
    dam_scope_close(call->ex, &scope, &call->out, 1, false);
  if (err || !call->out) {
    dam_plugin_fail(&op->desc->hdr, "forward", err ? err : DAM_PLUGIN_EINVAL);
    return NULL;
  }
  if (!dam_shape_equal(&call->out->shape, shape)) {
    dam_fail(DAM_ESHAPE, "op %s: forward gave %ux%ux%ux%u, infer_shape "
             "said %ux%ux%ux%u", op->desc->hdr.name,
             call->out->shape.dim[0], call->out->shape.dim[1],
             call->out->shape.dim[2], call->out->shape.dim[3], shape->dim[0],
             shape->dim[1], shape->dim[2], shape->dim[3]);
    return NULL;
  }
  return call->out;
}

dam_tensor *dam_op_forward(dam_exec *ex, dam_op *op, dam_tensor *x,
                           bool training) {
  dam_shape shape;
  if (!x) {
    dam_fail(DAM_EINVAL, "op %s: NULL input", op->desc->hdr.name);
    return NULL;
  }
  if (dam_op_infer(op, &x->shape, &shape))
    return NULL;
  dam_op_call call = {
      .struct_size = sizeof call,
      .params = op->params,
      .state = op->state,
      .site = &op->site,
      .ex = ex,
      .in = x,
      .training = training,
  };
  if (!op->desc->backward)
    return composed_forward(op, &call, &shape);
  dam_tensor *y = dam_tensor_new(ex, &shape, false);
  op_record *r = calloc(1, sizeof *r);
  if (!y || !r) {
    free(r);
    if (y)
      dam_fail(DAM_ENOMEM, "out of memory");
    return NULL;
  }
  r->desc = op->desc;
  r->call = call;
  r->call.out = y;
  dam_clear_error();
  int err = op->desc->forward(dam_host_api_get(), &r->call);
  if (err) {
    dam_plugin_fail(&r->desc->hdr, "forward", err);
    free(r);
    return NULL;
  }
  bool weights = op->weights.n > 0;
  if (!x->requires_grad && !weights) {
    free(r);
    return y;
  }
  dam_node node = {
      .name = op->desc->hdr.name,
      .backward = op_backward,
      .in = {x},
      .n_in = 1,
      .out = y,
      .weights = weights,
      .data = r,
      .free_data = free,
  };
  return dam_tape_record(ex, &node) ? NULL : y;
}
