/*
 * square: a test op plugin, y = x * x, that ships its own SPIR-V shaders
 * (square.comp, square_backward.comp) and records them through
 * host->dispatch instead of composing the host's kernels.
 */
#include <diffautoml/plugin.h>

#include "square.spv.h"
#include "square_backward.spv.h"

/* Static: the host keys its pipelines on the dam_shader's address. */
static const dam_shader square_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "square",
    .spirv = dam_spv_square,
    .spirv_size = sizeof dam_spv_square,
    .n_bindings = 2,
    .write_mask = 0x2,
    .push_size = 4,
    .local_size_x = 64,
};

static const dam_shader square_backward_shader = {
    .struct_size = sizeof(dam_shader),
    .name = "square_backward",
    .spirv = dam_spv_square_backward,
    .spirv_size = sizeof dam_spv_square_backward,
    .n_bindings = 3,
    .write_mask = 0x4,
    .push_size = 4,
    .local_size_x = 64,
};

static uint32_t numel(const dam_host_api *host, const dam_tensor *t) {
  dam_shape s;
  host->tensor_shape(t, &s);
  return s.dim[0] * s.dim[1] * s.dim[2] * s.dim[3];
}

static int square_infer_shape(const void *params, const dam_op_site *site,
                              const dam_shape *in, dam_shape *out) {
  (void)params;
  if (site->stride != 1 || site->c_in != site->c_out) return DAM_PLUGIN_EINVAL;
  *out = *in;
  return DAM_PLUGIN_OK;
}

static int square_forward(const dam_host_api *host, dam_op_call *call) {
  dam_tensor *t[2] = {call->in, call->out};
  uint32_t n = numel(host, call->in);
  return host->dispatch(call->ex, &square_shader, t, 2, &n, n);
}

static int square_backward(const dam_host_api *host, dam_op_call *call) {
  if (!call->grad_in) return DAM_PLUGIN_OK;
  dam_tensor *t[3] = {call->in, call->grad_out, call->grad_in};
  uint32_t n = numel(host, call->in);
  return host->dispatch(call->ex, &square_backward_shader, t, 3, &n, n);
}

static const dam_op_desc square = {
    .hdr = {.struct_size = sizeof(dam_op_desc),
            .kind = DAM_KIND_OP,
            .name = "square",
            .summary = "elementwise square, y = x * x (own shaders)",
            .params = NULL,
            .n_params = 0,
            .params_size = 0},
    .infer_shape = square_infer_shape,
    .forward = square_forward,
    .backward = square_backward,
};

DAM_PLUGIN_DEFINE("square", "0.1.0", "MIT", &square.hdr)
