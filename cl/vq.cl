/* vq: the multi-scale VQ proxy. tokens -> codebook vectors -> bicubic up-sampling to the latent size ->
 * phi residual -> f-hat accumulation -> area down-sampling to the next scale. Maps are channels-last [HW][Cv]. */

/* h[n][c] = codebook[tokens[n]][c]. Global n * Cv. */
__kernel void codebook_lookup(__global const int *tokens, __global const float *codebook, __global float *h, int n,
                              int Cv)
{
    int i = get_global_id(0);
    if (i >= n * Cv) return;
    h[i] = codebook[(size_t)tokens[i / Cv] * Cv + i % Cv];
}

/* PyTorch's cubic convolution coefficients, A = -0.75. */
float cubic1(float x) { return ((-0.75f + 2.0f) * x - (-0.75f + 3.0f)) * x * x + 1.0f; }
float cubic2(float x) { return ((-0.75f * x - 5.0f * -0.75f) * x + 8.0f * -0.75f) * x - 4.0f * -0.75f; }

/* Bicubic (align_corners=False, half-pixel, unclamped source, clamped taps) from pn x pn to L x L.
 * in: [B][pn*pn][Cv]; out: [B][L*L][Cv]. Interpolates along x for 4 tap rows, then along y. */
__kernel void bicubic_up(__global const float *in, __global float *out, int B, int pn, int L, int Cv)
{
    int i = get_global_id(0);
    if (i >= B * L * L * Cv) return;
    int c = i % Cv, p = (i / Cv) % (L * L), b = i / (Cv * L * L);
    int oy = p / L, ox = p % L;
    float scale = (float)pn / (float)L;
    float sy = scale * (oy + 0.5f) - 0.5f, sx = scale * (ox + 0.5f) - 0.5f;
    float fy = floor(sy), fx = floor(sx);
    int iy = (int)fy, ix = (int)fx;
    float ty = sy - fy, tx = sx - fx;
    float wx[4] = {cubic2(tx + 1.0f), cubic1(tx), cubic1(1.0f - tx), cubic2(2.0f - tx)};
    float wy[4] = {cubic2(ty + 1.0f), cubic1(ty), cubic1(1.0f - ty), cubic2(2.0f - ty)};
    __global const float *src = in + (size_t)b * pn * pn * Cv;
    float acc = 0;
    for (int k = 0; k < 4; k++) {
        int yy = clamp(iy - 1 + k, 0, pn - 1);
        float row = 0;
        for (int j = 0; j < 4; j++) {
            int xx = clamp(ix - 1 + j, 0, pn - 1);
            row += src[(size_t)(yy * pn + xx) * Cv + c] * wx[j];
        }
        acc += row * wy[k];
    }
    out[i] = acc;
}

/* f-hat += phi(h) = 0.5 h + 0.5 (conv3x3(h) + bias). fhat, h, conv: [n] channels-last with Cv channels. */
__kernel void phi_accumulate(__global float *fhat, __global const float *h, __global const float *conv,
                             __global const float *bias, int n, int Cv)
{
    int i = get_global_id(0);
    if (i >= n) return;
    fhat[i] += h[i] * 0.5f + (conv[i] + bias[i % Cv]) * 0.5f;
}

/* Area (adaptive average) down-sampling L x L -> n x n: cell i covers floor(i L / n) .. ceil((i+1) L / n) - 1.
 * in: [B][L*L][Cv]; out: [B][n*n][Cv]. */
__kernel void area_down(__global const float *in, __global float *out, int B, int L, int n, int Cv)
{
    int i = get_global_id(0);
    if (i >= B * n * n * Cv) return;
    int c = i % Cv, p = (i / Cv) % (n * n), b = i / (Cv * n * n);
    int oy = p / n, ox = p % n;
    int y0 = oy * L / n, y1 = ((oy + 1) * L + n - 1) / n;
    int x0 = ox * L / n, x1 = ((ox + 1) * L + n - 1) / n;
    __global const float *src = in + (size_t)b * L * L * Cv;
    float s = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) s += src[(size_t)(y * L + x) * Cv + c];
    out[i] = s / (float)((y1 - y0) * (x1 - x0));
}
