/* Strided pixel selection of NCHW planes and its scatter back, over
 * subsample.comp and subsample_backward.comp. */
#include "kernels.h"

#include "kernel_util.h"
#include "subsample.spv.h"
#include "subsample_backward.spv.h"

DAM_SHADER_TEXEL(subsample, 2, 0x2, 0x1, 40);
DAM_SHADER_TEXEL(subsample_backward, 4, 0x2, 0xd, 40);

/* Run s over the planes of `small` (y forward, gy backward), `big` the
 * planes the pixels are picked from or added into; relu: the forward
 * picks relu(x), the backward passes gy where relu_x, big's shape, is
 * positive. */
static int run(dam_exec *ex, const dam_shader *s, const char *op,
               const dam_tensor *from, dam_tensor *to, const dam_tensor *big,
               const dam_tensor *small, uint32_t stride, uint32_t offset,
               const dam_tensor *relu_x, bool relu) {
  const dam_tensor *t[] = {from, to, to, relu_x ? relu_x : to};
  int err = dam__k_check(op, t, 2, 0);
  if (!err && relu_x) {
    const dam_tensor *pair[] = {to, relu_x};
    err = dam__k_check(op, pair, 2, to->numel);
  }
  uint32_t c = err ? 0 : big->shape.dim[1];
  uint32_t blocks = c ? small->shape.dim[1] / c : 0;
  if (!err && (big->shape.ndim != 4 || small->shape.ndim != 4 ||
               big->shape.dim[0] != small->shape.dim[0] || blocks == 0 ||
               small->shape.dim[1] != blocks * c || blocks > stride))
    err = dam_fail(DAM_ESHAPE, "%s: planes of different images, or not "
                   "1..stride blocks of the channels", op);
  if (err)
    return err;
  struct { uint32_t planes, h, w, oh, ow, s, o, relu, c, blocks; } p = {
      small->shape.dim[0] * small->shape.dim[1],
      big->shape.dim[2],
      big->shape.dim[3],
      small->shape.dim[2],
      small->shape.dim[3],
      stride,
      offset,
      relu,
      c,
      blocks};
  return dam__k_run(ex, s, t, &p, p.planes);
}

int dam_k_subsample(dam_exec *ex, const dam_tensor *x, uint32_t stride,
                    uint32_t offset, dam_tensor *y) {
  return run(ex, &shader_subsample, "subsample", x, y, x, y, stride, offset,
             NULL, false);
}

int dam_k_subsample_relu(dam_exec *ex, const dam_tensor *x, uint32_t stride,
                         uint32_t offset, dam_tensor *y) {
  return run(ex, &shader_subsample, "subsample", x, y, x, y, stride, offset,
             NULL, true);
}

int dam_k_subsample_backward_acc(dam_exec *ex, const dam_tensor *gy,
                                 uint32_t stride, uint32_t offset,
                                 dam_tensor *gx) {
  return run(ex, &shader_subsample_backward, "subsample backward", gy, gx,
             gx, gy, stride, offset, NULL, false);
}

int dam_k_subsample_backward_relu_acc(dam_exec *ex, const dam_tensor *gy,
                                      uint32_t stride, uint32_t offset,
                                      const dam_tensor *x, dam_tensor *gx) {
  return run(ex, &shader_subsample_backward, "subsample backward", gy, gx,
             gx, gy, stride, offset, x, true);
}
