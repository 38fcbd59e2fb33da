// SET_OR_ADD(dst, v): dst += v, or with SET 1 (the _set variants) dst = v,
// so dst is not read: a forward's output, or a gradient's zeros that were
// never written (dam__k_take_zeros).
#ifndef DAM_SET_OR_ADD_GLSL
#define DAM_SET_OR_ADD_GLSL
#ifndef SET
#define SET 0
#endif
#if SET
#define SET_OR_ADD(dst, v) dst = (v)
#else
#define SET_OR_ADD(dst, v) dst += (v)
#endif
#endif
