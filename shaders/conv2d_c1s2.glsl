// What conv2d_fwd_c1s2.comp and conv2d_grad_weight_c1s2.comp share: an
// invocation takes KB output channels of one group (core/conv.c's
// C1S2_KB), and TW outputs of a row of a 3x3 stride-2 convolution read,
// in kernel row r, the SPAN = 2 TW + 1 inputs from column col0 =
// 2 ow0 - pw of input row 2 oh - ph + r on.  Includers declare x (vec4
// texels) and include conv2d.glsl first.
#ifndef DAM_CONV2D_C1S2_GLSL
#define DAM_CONV2D_C1S2_GLSL

#define KB 8
#define TW 8
#define SPAN (2 * TW + 1)
#define NV ((SPAN + 3 + 3) / 4)  // vec4s holding SPAN floats at any alignment

// v[m] = conv_x of input row `ih` (of `h`, `wd` wide) of the plane whose
// first float is `plane0`, at column col0 + m: read as the NV aligned
// vec4s that hold the span (clamped to the n4 texels of x), zero where
// the row or column is padding.
void c1s2_span(int plane0, int ih, int col0, int h, int wd, int n4,
               out float v[SPAN]) {
  int first = plane0 + ih * wd + col0;
  int a = first & 3, v0 = (first - a) >> 2;
  float f[4 * NV];
  [[unroll]] for (int q = 0; q < NV; q++) {
    vec4 t = conv_x(texelFetch(x, clamp(v0 + q, 0, n4 - 1)));
    f[4 * q] = t.x;
    f[4 * q + 1] = t.y;
    f[4 * q + 2] = t.z;
    f[4 * q + 3] = t.w;
  }
  bool row_ok = uint(ih) < uint(h);
  [[unroll]] for (int m = 0; m < SPAN; m++) {
    float s = a == 0 ? f[m] : a == 1 ? f[m + 1] : a == 2 ? f[m + 2]
                                                         : f[m + 3];
    v[m] = row_ok && uint(col0 + m) < uint(wd) ? s : 0.0;
  }
}

#endif
