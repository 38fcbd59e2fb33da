// SET_OR_ADD(dst, v): dst += v, or with SET 1 (the _set variants) dst = v,
// so dst is not read: a forward's output, or a gradient's zeros that were
// never written (dam__k_take_zeros).  SET_OR_ADD_TO(dst, old, v): the same
// with dst's value read as `old` (dst's range bound again as texels: CPU
// devices load a storage buffer one lane at a time, a texel buffer for
// all lanes at once), which only the invocation writing dst may read.
// SET_OR_ADDED(old, v): the value SET_OR_ADD_TO stores, for shaders that
// store it themselves (store8.glsl); `old` is not evaluated with SET.
#ifndef DAM_SET_OR_ADD_GLSL
#define DAM_SET_OR_ADD_GLSL
#ifndef SET
#define SET 0
#endif
#if SET
#define SET_OR_ADD(dst, v) dst = (v)
#define SET_OR_ADD_TO(dst, old, v) dst = (v)
#define SET_OR_ADDED(old, v) (v)
#else
#define SET_OR_ADD(dst, v) dst += (v)
#define SET_OR_ADD_TO(dst, old, v) dst = (old) + (v)
#define SET_OR_ADDED(old, v) ((old) + (v))
#endif
#endif
