// Up to four channel blocks side by side in each row (image) of a wide
// tensor, for channel_concat.comp and channel_split.comp: block b holds
// len4[b] vec4s of every row and starts at vec4 off4 + start(b) of the
// wide tensor's rows of row4 vec4s.  `parts` invocations share a row,
// invocation e of it taking the row's block vec4s e, e + parts, ... so
// neighbours touch neighbouring addresses and nothing is divided per
// vec4.  Include after the push constants P { rows, row4, off4, blocks,
// len4[4], parts, ... } p.
#ifndef DAM_CHANNEL_BLOCKS_GLSL
#define DAM_CHANNEL_BLOCKS_GLSL

struct block_at {
  uint b;    // block
  uint own;  // vec4 index in block b's own tensor
  uint wide; // vec4 index in the wide tensor
};

uint blocks_total() { return p.len4[0] + p.len4[1] + p.len4[2] + p.len4[3]; }

// Vec4 o of row `row`'s blocks (constant indices into len4: a dynamic
// one is a gather per lane on llvmpipe).
block_at block_of(uint row, uint o) {
  uint b = 0u, start = 0u, len = p.len4[0];
  if (p.blocks > 1u && o >= start + len) {
    b = 1u, start += len, len = p.len4[1];
    if (p.blocks > 2u && o >= start + len) {
      b = 2u, start += len, len = p.len4[2];
      if (p.blocks > 3u && o >= start + len)
        b = 3u, start += len, len = p.len4[3];
    }
  }
  return block_at(b, row * len + (o - start), row * p.row4 + p.off4 + o);
}

#endif
