// Shared-memory GEMM tile for the conv2d *_tiled shaders (GPU devices): a
// workgroup of 64 computes a BM x BN output tile; each step stages a
// BK-deep slice of both operands in shared memory and every invocation
// adds a 4 x 4 sub-tile (rows tm + 8 i, columns tn + 8 j, so neighbouring
// invocations read neighbouring words).  The including shader fills
// As/Bs between barriers and writes acc at the end.
#ifndef DAM_CONV2D_TILED_GLSL
#define DAM_CONV2D_TILED_GLSL

#define BM 32
#define BN 32
#define BK 16

shared float As[BK][BM];
shared float Bs[BK][BN];
float acc[4][4];

// The workgroup's tile index, uniform over the workgroup; every
// invocation of a workgroup past the work returns together.
uint tile_index() { return dam_linear_id() / gl_WorkGroupSize.x; }

void tile_zero() {
  for (uint i = 0; i < 4; i++)
    for (uint j = 0; j < 4; j++) acc[i][j] = 0.0;
}

void tile_fma(uint tm, uint tn) {
  for (uint kk = 0; kk < BK; kk++) {
    float a[4], b[4];
    for (uint i = 0; i < 4; i++) a[i] = As[kk][tm + 8 * i];
    for (uint j = 0; j < 4; j++) b[j] = Bs[kk][tn + 8 * j];
    for (uint i = 0; i < 4; i++)
      for (uint j = 0; j < 4; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
  }
}

#endif
