/* norm: LayerNorm + AdaLN modulation for the transformer, GroupNorm (+ SiLU) for the VQ-VAE decoder.
 * Layouts: token-major activations [rows][C]; channels-last feature maps [HW][C]. */

/* out[i] = LN(x[i]) * (1 + mod[r][scale_off + c]) + mod[r][shift_off + c], r = i / tokens (the CFG row).
 * LN has no affine part; biased variance. x, out: [rows][C]; mod: [R][mod_stride]. One row per work-item. */
__kernel void ln_modulate(__global const float *x, __global float *out, __global const float *mod, int rows, int C,
                          int tokens, int mod_stride, int scale_off, int shift_off, float eps)
{
    int i = get_global_id(0);
    if (i >= rows) return;
    __global const float *xi = x + (size_t)i * C;
    __global float *oi = out + (size_t)i * C;
    __global const float *m = mod + (size_t)(i / tokens) * mod_stride;
    float mean = 0;
    for (int c = 0; c < C; c++) mean += xi[c];
    mean /= C;
    float var = 0;
    for (int c = 0; c < C; c++) {
        float d = xi[c] - mean;
        var += d * d;
    }
    float rstd = rsqrt(var / C + eps);
    for (int c = 0; c < C; c++) oi[c] = (xi[c] - mean) * rstd * (1.0f + m[scale_off + c]) + m[shift_off + c];
}

/* GroupNorm, pass 1: Welford statistics of one (group, chunk of pixels). x: [HW][C];
 * part: [G][chunks][3] = (count, mean, M2). Global size (chunks, G). */
__kernel void gn_partial(__global const float *x, __global float *part, int HW, int C, int G, int chunks)
{
    int ch = get_global_id(0), g = get_global_id(1);
    if (ch >= chunks || g >= G) return;
    int cpg = C / G;
    int p0 = (int)((long)HW * ch / chunks), p1 = (int)((long)HW * (ch + 1) / chunks);
    float n = 0, mean = 0, m2 = 0;
    for (int p = p0; p < p1; p++) {
        __global const float *xp = x + (size_t)p * C + g * cpg;
        for (int c = 0; c < cpg; c++) {
            n += 1;
            float d = xp[c] - mean;
            mean += d / n;
            m2 += d * (xp[c] - mean);
        }
    }
    __global float *o = part + ((size_t)g * chunks + ch) * 3;
    o[0] = n;
    o[1] = mean;
    o[2] = m2;
}

/* GroupNorm, pass 2: merge the chunks (Chan et al.) into stats[G][2] = (mean, rstd). */
__kernel void gn_finalize(__global const float *part, __global float *stats, int G, int chunks, float eps)
{
    int g = get_global_id(0);
    if (g >= G) return;
    float n = 0, mean = 0, m2 = 0;
    for (int ch = 0; ch < chunks; ch++) {
        __global const float *q = part + ((size_t)g * chunks + ch) * 3;
        float nb = q[0];
        if (nb == 0) continue;
        float d = q[1] - mean, nn = n + nb;
        mean += d * nb / nn;
        m2 += q[2] + d * d * n * nb / nn;
        n = nn;
    }
    stats[2 * g] = mean;
    stats[2 * g + 1] = rsqrt(m2 / n + eps);
}

/* GroupNorm, pass 3: y = (x - mean) * rstd * gamma + beta, then SiLU when silu != 0. x, y: [HW][C]. */
__kernel void gn_apply(__global const float *x, __global float *y, __global const float *stats,
                       __global const float *gamma, __global const float *beta, int n, int C, int G, int silu)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int c = i % C, g = c / (C / G);
    float v = (x[i] - stats[2 * g]) * stats[2 * g + 1] * gamma[c] + beta[c];
    if (silu) v = v / (1.0f + exp(-v));
    y[i] = v;
}
