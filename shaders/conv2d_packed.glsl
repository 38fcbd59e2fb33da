// Layouts of the packed forward (CPU devices), shared by conv2d_pack_x,
// conv2d_pack_w and conv2d_fwd_packed.  Channels of a group are padded to
// C4 vec4s, so one vec4 load brings four channels of one pixel or weight:
//  - xp [N][groups][H + 2 ph][W + 2 pw][C4] vec4: the input, channels last,
//    with the zero padding written out (no bounds checks when reading);
//  - wp [groups][tiles_m][KH * KW][C4][PK_TM] vec4: the weights of one
//    output-channel tile, in the order the forward reads them (zeros past
//    Kg and Cg).
#ifndef DAM_CONV2D_PACKED_GLSL
#define DAM_CONV2D_PACKED_GLSL

#define PK_TM 16

uint pk_c4() { return (p.Cg + 3u) / 4u; }
uint pk_hp() { return p.H + 2u * p.ph; }
uint pk_wp() { return p.W + 2u * p.pw; }

#endif
