/* The host API table: the core's tensors and kernels as plugins see them. */
#include "host_api.h"
#include "error.h"
#include "autograd.h"
#include "kernels.h"
#include "optim.h"
#include "nn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void host_log(int level, const char *fmt, ...) {
  const char *env = getenv("DIFFAUTOML_LOG");
  int max = env && env[0] ? atoi(env) : 1;
  static const char *names[] = {"error", "warning", "info", "debug"};
  if (level > max || level < 0 || level > 3)
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "diffautoml: plugin %s: ", names[level]);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void host_tensor_shape(const dam_tensor *t, dam_shape *out) {
  *out = t->shape;
}

static dam_tensor *host_tensor_new(dam_exec *ex, const dam_shape *shape) {
  return dam_tensor_new(ex, shape, false);
}

static int host_dispatch(dam_exec *ex, const dam_shader *shader,
                         dam_tensor *const *tensors, uint32_t n_tensors,
                         const void *push, uint32_t invocations) {
  dam_range r[DAM_MAX_BINDINGS];
  if (n_tensors > DAM_MAX_BINDINGS)
    return dam_fail(DAM_EINVAL, "shader %s: %u tensors (at most %d)",
                    shader->name, n_tensors, DAM_MAX_BINDINGS);
  for (uint32_t i = 0; i < n_tensors; i++) {
    int err = dam_tensor_materialize(ex, tensors[i]);
    if (err)
      return err;
    r[i] = dam_tensor_binding(tensors[i], shader, i);
  }
  return dam_exec_dispatch(ex, shader, r, n_tensors, push, invocations);
}

static dam_tensor *host_nn_batchnorm(dam_exec *ex, dam_tensor *x,
                                     dam_tensor *gamma, dam_tensor *beta,
                                     dam_tensor *running_mean,
                                     dam_tensor *running_var,
                                     const dam_bn_args *a, uint32_t training) {
  return dam_batchnorm(ex, x, gamma, beta, running_mean, running_var, a,
                       training != 0);
}

static int host_dot_sets(dam_exec *ex, dam_tensor *const *a,
                         dam_tensor *const *b, uint32_t n, dam_tensor *y) {
  return dam_k_dot_sets(ex, (const dam_tensor *const *)a,
                        (const dam_tensor *const *)b, n, y);
}

static const dam_host_api table = {
    .struct_size = sizeof(dam_host_api),
    .abi_minor = DAM_ABI_MINOR,
    .log = host_log,
    .tensor_shape = host_tensor_shape,
    .tensor_new = host_tensor_new,
    .param_new = dam_param_new,
    .tensor_grad = dam_tensor_grad,
    .fill = dam_k_fill,
    .add = dam_k_add,
    .mul = dam_k_mul,
    .axpby = dam_k_axpby,
    .relu = dam_k_relu,
    .relu_backward = dam_k_relu_backward,
    .dispatch = host_dispatch,
    .state_new = dam_state_new,
    .init_uniform = dam_tensor_init_uniform,
    .nn_relu = dam_relu,
    .nn_add = dam_add,
    .nn_conv2d = dam_conv2d,
    .nn_pool2d = dam_pool2d,
    .nn_batchnorm = host_nn_batchnorm,
    .nn_factorized_reduce = dam_factorized_reduce,
    .dot_sets = host_dot_sets,
};

const dam_host_api *dam_host_api_get(void) { return &table; }
