/*
 * diffautoml plugin SDK: the only header a plugin includes.
 *
 * A plugin is a shared object exporting one entry symbol whose name carries
 * the ABI major version (DAM_PLUGIN_ENTRY).  The host calls it with its API
 * table; the plugin returns a module descriptor listing what it provides
 * (ops, augmentations, hyper-parameter modules).  Write the entry with
 * DAM_PLUGIN_DEFINE.
 *
 * ABI rules: fixed-width fields, no reordering, every struct starts with
 * struct_size and only grows at the end.  A plugin built against a newer
 * minor version may still load if the host can read every struct it hands
 * over; the host refuses anything larger than it knows.
 */
#ifndef DIFFAUTOML_PLUGIN_H
#define DIFFAUTOML_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DAM_ABI_MAJOR 1
#define DAM_ABI_MINOR 3

#define DAM__CAT2(a, b) a##b
#define DAM__CAT(a, b) DAM__CAT2(a, b)
/* The entry symbol's name, e.g. dam_plugin_entry_v1. */
#define DAM_PLUGIN_ENTRY DAM__CAT(dam_plugin_entry_v, DAM_ABI_MAJOR)
#define DAM__STR2(a) #a
#define DAM__STR(a) DAM__STR2(a)
#define DAM_PLUGIN_ENTRY_NAME DAM__STR(DAM_PLUGIN_ENTRY)

#if defined(_WIN32)
#define DAM_PLUGIN_EXPORT __declspec(dllexport)
#else
#define DAM_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Return codes a plugin may give back (the host's table is larger). */
#define DAM_PLUGIN_OK 0
#define DAM_PLUGIN_EINVAL (-2)  /* bad shape or argument */
#define DAM_PLUGIN_ENOMEM (-3)  /* out of host or device memory */
#define DAM_PLUGIN_EDEVICE (-7) /* a device call failed */

typedef struct dam_tensor dam_tensor; /* opaque: owned by the host */
typedef struct dam_exec dam_exec;     /* opaque: the recording context */

enum dam_kind { DAM_KIND_OP = 1, DAM_KIND_AUGMENT = 2, DAM_KIND_HPO = 3 };

enum dam_param_type {
  DAM_PARAM_INT = 1,   /* int32_t at offset */
  DAM_PARAM_FLOAT = 2, /* double at offset */
  DAM_PARAM_BOOL = 3   /* int32_t 0/1 at offset */
};

/* One tunable parameter, declared as data.  Its layout is frozen for ABI
 * major 1 (plugins lay out arrays of it with their own sizeof): new
 * per-parameter data would come through a new descriptor field.  The host fills a zeroed
 * params_size block with defaults, then with config values checked against
 * [min, max], and hands the block to the plugin read-only. */
typedef struct dam_param_desc {
  uint32_t struct_size;
  uint32_t type; /* enum dam_param_type */
  const char *name;
  const char *help;
  double def, min, max;
  uint32_t offset; /* byte offset in the params block */
  uint32_t reserved;
} dam_param_desc;

/* Common header of every descriptor. */
typedef struct dam_desc_header {
  uint32_t struct_size; /* of the whole descriptor (dam_op_desc, ...) */
  uint32_t kind;        /* enum dam_kind */
  const char *name;     /* unique among loaded plugins of its kind */
  const char *summary;  /* one line */
  const dam_param_desc *params;
  uint32_t n_params;
  uint32_t params_size; /* bytes of the params block */
} dam_desc_header;

/* Up to 4-D shape, NCHW; unused trailing dims are 1. */
typedef struct dam_shape {
  uint32_t ndim;
  uint32_t dim[4];
} dam_shape;

/* Arguments of the host's layers (1.1).  Convolution geometry: [0] is
 * the height, [1] the width; zero in a stride, a dilation or groups means
 * 1. */
typedef struct dam_conv2d_geom {
  uint32_t stride[2];
  uint32_t pad[2]; /* zeros added on each side */
  uint32_t dilation[2];
  uint32_t groups;
} dam_conv2d_geom;

enum dam_pool2d_kind { DAM_POOL_MAX = 0, DAM_POOL_AVG = 1 };

/* A square pooling window; kind is a dam_pool2d_kind.  Average pooling
 * divides by the in-bounds count (count_include_pad=False). */
typedef struct dam_pool_args {
  uint32_t kind, kernel, stride, pad;
} dam_pool_args;

/* Batch norm constants (PyTorch's defaults: eps 1e-5, momentum 0.1). */
typedef struct dam_bn_args {
  float eps;
  float momentum;
} dam_bn_args;

/* A compute shader shipped by a plugin.  Bindings are storage buffers
 * 0..n_bindings-1 in set 0; write_mask has bit i set when binding i is
 * written.  Push constants are at most 128 bytes.  The host keys its
 * pipelines by the SPIR-V array, which stays loaded with the plugin.
 * Since 1.3, texel_mask has bit i set when binding i is read as a
 * `uniform samplerBuffer` of vec4s (RGBA32F) instead: lavapipe fetches a
 * texel in about the time of one float from a storage buffer.  The host
 * binds the whole texels holding the tensor; the floats of the last one
 * past its elements are unspecified (dam_texel_float reads one float). */
typedef struct dam_shader {
  uint32_t struct_size;
  const char *name;
  const uint32_t *spirv;
  size_t spirv_size; /* bytes */
  uint32_t n_bindings;
  uint32_t write_mask;
  uint32_t push_size;
  /* must match the shader's local_size_x.  A shader that declares it
   * specialization constant 0, `layout(local_size_x = N,
   * local_size_x_id = 0) in;`, may be run in smaller workgroups (one
   * subgroup) on CPU devices when a dispatch is small; it must then use
   * no shared memory or barrier and index through gl_WorkGroupSize
   * (dam_linear_id does).  The host also sets specialization constant 1
   * (a bool, its core shaders' store width); a plugin's own constants
   * take ids from 2. */
  uint32_t local_size_x;
  /* ---- 1.3 ---- */
  uint32_t texel_mask;
} dam_shader;

/*
 * The host API table, handed to the entry function.  Append-only: check
 * struct_size (or minor) before using a member added after 1.0.  Every call
 * returns 0 or a negative code unless it says otherwise; tensors the
 * functions return are owned by the host.
 */
typedef struct dam_host_api {
  uint32_t struct_size;
  uint32_t abi_minor;

  /* level: 0 error, 1 warning, 2 info, 3 debug. */
  void (*log)(int level, const char *fmt, ...);

  /* Shape of a tensor (dim[i] = 1 past ndim). */
  void (*tensor_shape)(const dam_tensor *t, dam_shape *out);
  /* A new activation tensor living until the end of the current step. */
  dam_tensor *(*tensor_new)(dam_exec *ex, const dam_shape *shape);
  /* A new persistent, trainable tensor (weights); zero-filled. */
  dam_tensor *(*param_new)(dam_exec *ex, const dam_shape *shape);
  /* The gradient of t, allocated and zero-filled on first use. */
  dam_tensor *(*tensor_grad)(dam_exec *ex, dam_tensor *t);

  /* Core kernels; all record device work into ex, none waits.  Shapes must
   * match element for element (same element count). */
  int (*fill)(dam_exec *ex, dam_tensor *y, float value);
  int (*add)(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
             dam_tensor *y);
  int (*mul)(dam_exec *ex, const dam_tensor *a, const dam_tensor *b,
             dam_tensor *y);
  /* y = alpha * x + beta * y (beta == 0 ignores the old y, even NaN). */
  int (*axpby)(dam_exec *ex, float alpha, const dam_tensor *x, float beta,
               dam_tensor *y);
  int (*relu)(dam_exec *ex, const dam_tensor *x, dam_tensor *y);
  /* gx += gy where x > 0 */
  int (*relu_backward)(dam_exec *ex, const dam_tensor *x,
                       const dam_tensor *gy, dam_tensor *gx);

  /* Record a dispatch of a plugin shader over `invocations` invocations
   * (the host splits them over a 2-D grid: use dam_linear_id() from the
   * SDK's dam_shader.glsl).  tensors[i] is bound at binding i. */
  int (*dispatch)(dam_exec *ex, const dam_shader *shader,
                  dam_tensor *const *tensors, uint32_t n_tensors,
                  const void *push, uint32_t invocations);

  /* ---- 1.1 ---- */
  /* A persistent tensor that is not trained (running statistics), filled
   * with `value`. */
  dam_tensor *(*state_new)(dam_exec *ex, const dam_shape *shape,
                           float value);
  /* Fill t with uniform values in [lo, hi) from the run's seeded
   * generator (weight initialisation). */
  int (*init_uniform)(dam_exec *ex, dam_tensor *t, float lo, float hi);
  /* Differentiable layers: each returns a new activation tensor and
   * records its backward on the host's tape (NULL on failure: return an
   * error and the host reports the layer's reason).  An op without a backward composes these. */
  dam_tensor *(*nn_relu)(dam_exec *ex, dam_tensor *x);
  dam_tensor *(*nn_add)(dam_exec *ex, dam_tensor *a, dam_tensor *b);
  /* x [N,C,H,W] with w [K, C/groups, KH, KW], no bias. */
  dam_tensor *(*nn_conv2d)(dam_exec *ex, dam_tensor *x, dam_tensor *w,
                           const dam_conv2d_geom *g);
  dam_tensor *(*nn_pool2d)(dam_exec *ex, dam_tensor *x,
                           const dam_pool_args *a);
  /* training 1: batch statistics, running ones updated when non-NULL;
   * 0: the running statistics.  gamma, beta NULL: no affine. */
  dam_tensor *(*nn_batchnorm)(dam_exec *ex, dam_tensor *x, dam_tensor *gamma,
                              dam_tensor *beta, dam_tensor *running_mean,
                              dam_tensor *running_var, const dam_bn_args *a,
                              uint32_t training);
  /* DARTS' factorized reduce without its relu and batch norm: 1x1
   * stride-2 convs w1 [K1,C,1,1] on the even pixels and w2 [K2,C,1,1] on
   * the odd ones, concatenated: [N, K1+K2, ceil(H/2), ceil(W/2)]. */
  dam_tensor *(*nn_factorized_reduce)(dam_exec *ex, dam_tensor *x,
                                      dam_tensor *w1, dam_tensor *w2);

  /* ---- 1.2 ---- */
  /* y[0] = sum over i < n of <a[i], b[i]>, reduced on the device into the
   * one-element tensor y (no host copy of a or b).  n == 0 gives 0. */
  int (*dot_sets)(dam_exec *ex, dam_tensor *const *a, dam_tensor *const *b,
                  uint32_t n, dam_tensor *y);
} dam_host_api;

/* Where an op is placed in the network. */
typedef struct dam_op_site {
  uint32_t struct_size;
  uint32_t stride;   /* 1 or 2 */
  uint32_t c_in;
  uint32_t c_out;
} dam_op_site;

/*
 * One application of an op.  The host owns the struct.
 * An op with a backward: forward fills `out` (already allocated by the
 * host with the shape from infer_shape) and may keep up to 4 tensors in
 * saved[] for its backward.  Backward accumulates into grad_in when it is
 * non-NULL (the needs-grad mask) and into its weights' gradients
 * (host->tensor_grad).
 * An op without a backward (1.1): forward builds its output from the
 * host's differentiable layers (the nn_* members) and sets `out` to it
 * (`in` itself is fine); the host's tape differentiates it.  Tensors it
 * made on the way are its own and die with the call: once forward
 * returns, the host frees those whose contents no backward needs (a 1x1
 * conv's output feeding a batch norm without affine, say).
 */
typedef struct dam_op_call {
  uint32_t struct_size;
  uint32_t needs_grad; /* backward: bit 0 = input, bit 1 = weights */
  const void *params;  /* the filled params block */
  void *state;         /* what create() returned */
  const dam_op_site *site;
  dam_exec *ex;
  dam_tensor *in;
  dam_tensor *out;
  dam_tensor *grad_out; /* backward only */
  dam_tensor *grad_in;  /* backward only; NULL when not needed */
  dam_tensor *saved[4];
  /* 1.1 */
  uint32_t training; /* 1: batch statistics in batch norms; 0: running */
} dam_op_call;

/* A candidate operation: one input, one output. */
typedef struct dam_op_desc {
  dam_desc_header hdr;
  /* Output shape for an input shape at a site; DAM_PLUGIN_EINVAL if the op
   * can't be placed there. */
  int (*infer_shape)(const void *params, const dam_op_site *site,
                     const dam_shape *in, dam_shape *out);
  /* Optional: create per-instance state (weights via host->param_new) and
   * store it in *state.  Called once per placement. */
  int (*create)(const dam_host_api *host, dam_exec *ex, const void *params,
                const dam_op_site *site, void **state);
  /* Optional: release what create() made (host tensors are freed by the
   * host). */
  void (*destroy)(void *state);
  int (*forward)(const dam_host_api *host, dam_op_call *call);
  /* NULL: forward composes the host's nn_* layers (see dam_op_call). */
  int (*backward)(const dam_host_api *host, dam_op_call *call);
} dam_op_desc;

/*
 * ---- 1.2: augmentations ----
 * Images are [N, C, H, W] intensities in [0, 1] (before normalization).
 * A call transforms images first .. first+count-1 of `in` into the same
 * images of `out` and leaves every other image of `out` alone, so the host
 * can apply several transforms to one batch without copies.  Image i has
 * its own magnitude level magnitude[i] in [0, 8] and its own 32-bit seed
 * seed[i] (uint bit patterns: declare that binding `uint[]`); random
 * decisions (a sign, a position) come from dam_draw(seed[i], k), so they
 * are the same on the host and on the device.  `in` and `out` are always
 * distinct tensors, and backward gets the same in, out, magnitude and
 * seed as the forward it differentiates.
 */
typedef struct dam_augment_call {
  uint32_t struct_size;
  uint32_t needs_grad; /* backward: bit 0 = grad_in, bit 1 = grad_magnitude */
  const void *params;  /* the filled params block */
  dam_exec *ex;
  uint32_t first, count; /* the images to transform */
  dam_tensor *in;        /* [N, C, H, W] */
  dam_tensor *out;       /* [N, C, H, W], allocated by the host */
  dam_tensor *magnitude; /* [N] levels in [0, 8] */
  dam_tensor *seed;      /* [N] per-image seeds */
  float fill;            /* intensity geometric transforms bring in */
  uint32_t reserved;
  /* backward only: accumulate (+=) over the call's images; a gradient the
   * needs_grad mask leaves out is NULL */
  dam_tensor *grad_out;       /* [N, C, H, W] */
  dam_tensor *grad_in;        /* [N, C, H, W] */
  dam_tensor *grad_magnitude; /* [N] */
} dam_augment_call;

/* How a transform's backward treats a variable. */
enum dam_augment_grad {
  /* The true derivative of forward (finite differences check it). */
  DAM_AUG_GRAD_EXACT = 0,
  /* Straight-through: as if d out / d var were 1 for every pixel (for the
   * input: grad_in += grad_out; for the magnitude: grad_magnitude[i] +=
   * the sum of grad_out over image i).  For transforms that are not
   * differentiable in the variable; state it in the summary. */
  DAM_AUG_GRAD_STRAIGHT_THROUGH = 1,
  /* Magnitude only: forward does not depend on it (no magnitude), or
   * only piecewise constantly; backward adds nothing. */
  DAM_AUG_GRAD_NONE = 2
};

/* A data augmentation transform. */
typedef struct dam_augment_desc {
  dam_desc_header hdr;
  uint32_t input_grad;     /* enum dam_augment_grad: EXACT or STRAIGHT_THROUGH */
  uint32_t magnitude_grad; /* enum dam_augment_grad */
  /* Magnitude 0 is the identity (gradcheck and the tests rely on it). */
  uint32_t identity_at_zero;
  uint32_t reserved;
  int (*forward)(const dam_host_api *host, const dam_augment_call *call);
  int (*backward)(const dam_host_api *host, const dam_augment_call *call);
} dam_augment_desc;

/*
 * ---- 1.2: hyper-parameter modules ----
 * The engine's weight step, for every trained tensor w with gradient g:
 *   buf = mu * buf_prev + g + lambda * w;   w' = w - eta * buf
 * then a validation forward/backward at w' gives g_val.  An hpo module owns
 * one of eta, lambda, mu: from these it records device reductions, and
 * once they are read back it computes its hypergradient and updates
 * itself.
 */
enum dam_hyper {
  DAM_HYPER_LEARNING_RATE = 1, /* eta */
  DAM_HYPER_WEIGHT_DECAY = 2,  /* lambda */
  DAM_HYPER_MOMENTUM = 3       /* mu */
};

/* Parallel arrays of n tensors the engine hands over after a step. */
typedef struct dam_hpo_step {
  uint32_t struct_size;
  uint32_t n;
  dam_tensor *const *weights;  /* w' (after the step) */
  dam_tensor *const *buf;      /* the momentum buffer the step used */
  dam_tensor *const *buf_prev; /* before the step; NULL unless the
                                  module sets DAM_HPO_NEEDS_BUF_PREV */
  dam_tensor *const *grad_val; /* validation gradient at w' */
  double learning_rate, weight_decay, momentum; /* what the step used */
} dam_hpo_step;

/* A module's state; the host owns, reports and checkpoints it. */
typedef struct dam_hpo_state {
  double value;     /* the hyper-parameter */
  double velocity;  /* the hyper-optimizer's momentum buffer */
  double last_grad; /* the last hypergradient dL_val / d value */
  uint64_t steps;   /* updates so far */
} dam_hpo_state;

#define DAM_HPO_NEEDS_BUF_PREV 0x1u
#define DAM_HPO_MAX_DOTS 4

typedef struct dam_hpo_desc {
  dam_desc_header hdr;
  uint32_t target; /* enum dam_hyper */
  uint32_t flags;  /* DAM_HPO_NEEDS_BUF_PREV */
  uint32_t n_dots; /* one-element device tensors record() fills, <= 4 */
  uint32_t reserved;
  /* The starting state from the params block. */
  int (*init)(const void *params, dam_hpo_state *st);
  /* Record the reductions the hypergradient needs into dots[0..n_dots)
   * (host->dot_sets); nothing is read back here. */
  int (*record)(const dam_host_api *host, dam_exec *ex, const void *params,
                const dam_hpo_step *step, dam_tensor *const *dots);
  /* After the device finished: dots[] holds the values record() asked
   * for.  Update st (hypergradient, hyper-optimizer step, clamp). */
  int (*update)(const void *params, const dam_hpo_step *step,
                const double *dots, dam_hpo_state *st);
} dam_hpo_desc;

/* A 32-bit integer hash (good avalanche; the GLSL twin is in
 * dam_shader.glsl). */
static inline uint32_t dam_hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* The k-th random 32-bit draw of an image with seed `seed`. */
static inline uint32_t dam_draw(uint32_t seed, uint32_t k) {
  return dam_hash32(seed ^ dam_hash32(k + 0x9e3779b9u));
}

/* The k-th draw as a float in [0, 1) (24 bits). */
static inline float dam_draw_unit(uint32_t seed, uint32_t k) {
  return (float)(dam_draw(seed, k) >> 8) * (1.0f / 16777216.0f);
}

/* What the entry function returns. */
typedef struct dam_module {
  uint32_t struct_size;
  uint32_t abi_major; /* DAM_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor; /* DAM_ABI_MINOR the plugin was built with */
  uint32_t reserved;
  const char *name;
  const char *version;
  const char *license;
  const dam_desc_header *const *descs; /* NULL-terminated */
} dam_module;

/* Set by DAM_PLUGIN_DEFINE's entry before anything else is called; never
 * exported. */
extern __attribute__((visibility("hidden"))) const dam_host_api
    *dam_plugin_host;

typedef const dam_module *(*dam_plugin_entry_fn)(const dam_host_api *host,
                                                 uint32_t host_abi_minor);

/*
 * Write the plugin entry.  Example:
 *   DAM_PLUGIN_DEFINE("my_ops", "1.0", "MIT", &my_op.hdr, &my_other.hdr)
 * The host API table is stored in dam_plugin_host for the plugin's use.
 */
#define DAM_PLUGIN_DEFINE(NAME, VERSION, LICENSE, ...)                        \
  const dam_host_api *dam_plugin_host;                                        \
  static const dam_desc_header *const dam__plugin_descs[] = {__VA_ARGS__,     \
                                                             NULL};           \
  static const dam_module dam__plugin_module = {                              \
      sizeof(dam_module), DAM_ABI_MAJOR, DAM_ABI_MINOR, 0, NAME,              \
      VERSION,            LICENSE,       dam__plugin_descs};                  \
  DAM_PLUGIN_EXPORT const dam_module *DAM_PLUGIN_ENTRY(                       \
      const dam_host_api *host, uint32_t host_abi_minor) {                    \
    (void)host_abi_minor;                                                     \
    dam_plugin_host = host;                                                   \
    return &dam__plugin_module;                                               \
  }

/* Fill a dam_param_desc: DAM_PARAM(struct, field, DAM_PARAM_INT, def, min,
 * max, "help"). */
#define DAM_PARAM(STRUCT, FIELD, TYPE, DEF, MIN, MAX, HELP)                   \
  {sizeof(dam_param_desc), TYPE, #FIELD, HELP, DEF, MIN, MAX,                 \
   (uint32_t)offsetof(STRUCT, FIELD), 0}

#ifdef __cplusplus
}
#endif
#endif
