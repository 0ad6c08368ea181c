/* conv: 3x3 convolutions as GEMMs. im2col writes col[row][tap * Cin + ci] (tap = ky * 3 + kx) for a range of
 * output pixels; weights are laid out at load time as Wt[tap * Cin + ci][Cout] to match. `up` = 2 folds the
 * decoder's nearest-neighbour x2 up-sampling into the gather (the up-sampled map is never stored). */

/* x: [B][Hin][Win][Cin] channels-last; output pixels p = row0 .. row0 + nrows - 1 over [B][Hin*up][Win*up];
 * col: [nrows][9 * Cin]. Zero padding 1. */
__kernel void im2col3x3(__global const float *x, __global float *col, int Hin, int Win, int Cin, int up, int row0,
                        int nrows)
{
    int r = get_global_id(0), k = get_global_id(1);
    if (r >= nrows || k >= 9 * Cin) return;
    int H = Hin * up, W = Win * up;
    int p = row0 + r, b = p / (H * W), yx = p % (H * W);
    int tap = k / Cin, ci = k % Cin;
    int iy = yx / W + tap / 3 - 1, ix = yx % W + tap % 3 - 1;
    float v = 0;
    if (iy >= 0 && iy < H && ix >= 0 && ix < W)
        v = x[(((size_t)b * Hin + iy / up) * Win + ix / up) * Cin + ci];
    col[(size_t)r * 9 * Cin + k] = v;
}
