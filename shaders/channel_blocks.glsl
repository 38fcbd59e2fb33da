// Up to four channel blocks side by side in each row (image) of a wide
// tensor, for channel_concat.comp and channel_split.comp: block b holds
// len4[b] vec4s of every row and starts at vec4 off4 + start(b) of the
// wide tensor's rows of row4 vec4s.  The work is one vec4 of the blocks'
// rows per slot (elementwise.glsl), decoded into the block, the row and
// the vec4 within the block's row.  Include after the push constants P
// { n4, row4, off4, blocks, len4[4], ... } p (n4: vec4s of all blocks).
#ifndef DAM_CHANNEL_BLOCKS_GLSL
#define DAM_CHANNEL_BLOCKS_GLSL

struct block_at {
  uint b;    // block
  uint own;  // vec4 index in block b's own tensor
  uint wide; // vec4 index in the wide tensor
};

block_at block_of(uint k) {
  uint total = p.len4[0] + p.len4[1] + p.len4[2] + p.len4[3];
  uint row = k / total, o = k - row * total, b = 0u, start = 0u;
  for (uint i = 0u; i + 1u < p.blocks && o >= start + p.len4[i]; i++) {
    start += p.len4[i];
    b++;
  }
  return block_at(b, row * p.len4[b] + (o - start),
                  row * p.row4 + p.off4 + o);
}

#endif
