/* conv: 3x3 convolutions as GEMMs. im2col writes col[row][tap * Cin + ci] (tap = ky * 3 + kx) for a range of
 * output pixels; weights are laid out at load time as Wt[tap * Cin + ci][Cout] to match. `up` = 2 folds the
 * decoder's nearest-neighbour x2 up-sampling into the gather (the up-sampled map is never stored). */

/* x: [B][Hin][Win][Cin] channels-last; output pixels p = row0 .. row0 + nrows - 1 over [B][Hin*up][Win*up];
 * col: [nrows][9 * Cin]. Zero padding 1. One work-item copies the Cin contiguous channels of one (pixel, tap):
 * global (9, nrows). */
__kernel void im2col3x3(__global const float *x, __global float *col, int Hin, int Win, int Cin, int up, int row0,
                        int nrows)
{
    int tap = get_global_id(0), r = get_global_id(1);
    if (tap >= 9 || r >= nrows) return;
    int H = Hin * up, W = Win * up;
    int p = row0 + r, b = p / (H * W), yx = p % (H * W);
    int iy = yx / W + tap / 3 - 1, ix = yx % W + tap % 3 - 1;
    __global float *dst = col + ((size_t)r * 9 + tap) * Cin;
    if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
        __global const float *src = x + (((size_t)b * Hin + iy / up) * Win + ix / up) * Cin;
        for (int ci = 0; ci < Cin; ci++) dst[ci] = src[ci];
    } else {
        for (int ci = 0; ci < Cin; ci++) dst[ci] = 0.0f;
    }
}

/* im2col3x3_simt: the same columns for devices whose neighbouring work-items are SIMD lanes (policy.h): one
 * work-item per (4 channels, tap, pixel), channels fastest, so that the lanes read and write contiguous memory and
 * llvmpipe, which pays a few ns per work-item, has a quarter of the work-items. Global (ceil(Cin / 4), 9, nrows). */
__kernel void im2col3x3_simt(__global const float *x, __global float *col, int Hin, int Win, int Cin, int up,
                             int row0, int nrows)
{
    int c4 = get_global_id(0) * 4, tap = get_global_id(1), r = get_global_id(2);
    if (c4 >= Cin || tap >= 9 || r >= nrows) return;
    int H = Hin * up, W = Win * up, nc = min(4, Cin - c4);
    int p = row0 + r, b = p / (H * W), yx = p % (H * W);
    int iy = yx / W + tap / 3 - 1, ix = yx % W + tap % 3 - 1;
    int inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
    __global const float *src = x + (inside ? (((size_t)b * Hin + iy / up) * Win + ix / up) * Cin + c4 : 0);
    __global float *dst = col + ((size_t)r * 9 + tap) * Cin + c4;
    if (nc == 4) vstore4(inside ? vload4(0, src) : (float4)(0.0f), 0, dst);
    else
        for (int c = 0; c < nc; c++) dst[c] = inside ? src[c] : 0.0f;
}
