// The conv's input relu(y) where y is a batch norm's output not yet made
// (core/tensor.h, bn_of): with BN_X (the _bn variants of the depthwise
// _flat shaders) the bound input is the batch norm's, made y on the fly
// with the coefficients of bn_apply.comp, bound at binding BN_COEF (the
// includer's).  Each invocation stays within one channel and calls
// bn_x_begin(channel) first.  Without BN_X bn_x is the identity.
#ifndef DAM_CONV2D_BN_X_GLSL
#define DAM_CONV2D_BN_X_GLSL
#ifdef BN_X
layout(std430, binding = BN_COEF) readonly buffer BnCoef { vec4 bn_coef[]; };
vec4 bn_k;
void bn_x_begin(uint c) { bn_k = bn_coef[c]; }
vec4 bn_x(vec4 v) { return ((v - bn_k.x) - bn_k.y) * bn_k.z + bn_k.w; }
#else
void bn_x_begin(uint c) {}
vec4 bn_x(vec4 v) { return v; }
#endif
#endif
