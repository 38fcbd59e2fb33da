// The batch-norm backward's store into gx: added to it, or with SET 1 (the
// _set variants) written over zeros that were never written.
#ifndef DAM_BN_STORE_GLSL
#define DAM_BN_STORE_GLSL
#ifndef SET
#define SET 0
#endif
#if SET
#define BN_STORE(dst, v) dst = (v)
#else
#define BN_STORE(dst, v) dst += (v)
#endif
#endif
