// Pooling forwards that read a batch norm's output not yet made (BN_X: the
// _bn variants; core/pool.c) through the norm's input: each pooled value
// is normalized with its channel's coefficients as bn_apply.comp does,
// ((v - k.x) - k.y) * k.z + k.w.  The norm increases in every channel (k.z
// > 0), so the maximum of normalized inputs is the normalized maximum;
// an average commutes with any affine map.  The coefficients are binding
// 2, as texels; the includer's push constants end in the channel count c.
#ifndef DAM_POOL2D_BN_GLSL
#define DAM_POOL2D_BN_GLSL
#ifdef BN_X
layout(binding = 2) uniform samplerBuffer coef;
vec4 bn_coef(uint plane) { return texelFetch(coef, int(plane % p.c)); }
float bn_norm(float v, vec4 k) { return ((v - k.x) - k.y) * k.z + k.w; }
#endif
#endif
