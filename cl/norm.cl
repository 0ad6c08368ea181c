/* norm: LayerNorm + AdaLN modulation for the transformer, GroupNorm (+ SiLU) for the VQ-VAE decoder.
 * Layouts: token-major activations [rows][C]; channels-last feature maps [HW][C]. */

/* out[c] = LN(xi)[c] * (1 + m[scale_off + c]) + m[shift_off + c] for one row xi [C] whose sum is known: the part
 * that ln_modulate and residual_ln_modulate share. */
void ln_row_modulate(__global const float *xi, __global float *oi, __global const float *m, int C, float sum,
                     int scale_off, int shift_off, float eps)
{
    const float mean = sum / C;
    float var = 0;
    for (int c = 0; c < C; c++) {
        float d = xi[c] - mean;
        var += d * d;
    }
    float rstd = rsqrt(var / C + eps);
    for (int c = 0; c < C; c++) oi[c] = (xi[c] - mean) * rstd * (1.0f + m[scale_off + c]) + m[shift_off + c];
}

/* out[i] = LN(x[i]) * (1 + mod[r][scale_off + c]) + mod[r][shift_off + c], r = i / tokens (the CFG row).
 * LN has no affine part; biased variance. x, out: [rows][C]; mod: [R][mod_stride]. One row per work-item. */
__kernel void ln_modulate(__global const float *x, __global float *out, __global const float *mod, int rows, int C,
                          int tokens, int mod_stride, int scale_off, int shift_off, float eps)
{
    int i = get_global_id(0);
    if (i >= rows) return;
    __global const float *xi = x + (size_t)i * C;
    float sum = 0;
    for (int c = 0; c < C; c++) sum += xi[c];
    ln_row_modulate(xi, out + (size_t)i * C, mod + (size_t)(i / tokens) * mod_stride, C, sum, scale_off, shift_off,
                    eps);
}

/* The end of one sub-layer and the start of the next in one pass (VAR_SPEC.md section 2): the gated residual
 *   x[i] += gmod[r][gamma_off + c] * (y[i] + b[c])
 * then out[i] = the modulated LayerNorm of the updated row, as ln_modulate with lmod (the next sub-layer's AdaLN
 * vectors, or the head's). r = i / tokens. x, y, out: [rows][C]; b: [C]; gmod: [R][g_stride]; lmod: [R][l_stride].
 * One launch instead of two (a launch is the dominant cost of an early scale on every device, and on rusticl of
 * every scale). One row per work-item. */
__kernel void residual_ln_modulate(__global float *x, __global const float *y, __global const float *b,
                                   __global const float *gmod, int g_stride, int gamma_off, __global float *out,
                                   __global const float *lmod, int l_stride, int scale_off, int shift_off, int rows,
                                   int C, int tokens, float eps)
{
    int i = get_global_id(0);
    if (i >= rows) return;
    __global float *xi = x + (size_t)i * C;
    __global const float *yi = y + (size_t)i * C, *g = gmod + (size_t)(i / tokens) * g_stride + gamma_off;
    float sum = 0;
    for (int c = 0; c < C; c++) {
        float v = xi[c] + g[c] * (yi[c] + b[c]);
        xi[c] = v;
        sum += v;
    }
    ln_row_modulate(xi, out + (size_t)i * C, lmod + (size_t)(i / tokens) * l_stride, C, sum, scale_off, shift_off,
                    eps);
}

#define LN_WG_MAX 256

/* Sum of v over the work-group (a power of two <= LN_WG_MAX items), returned to every work-item. */
float ln_wg_sum(__local float *red, float v)
{
    const int l = get_local_id(0);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (l < s) red[l] += red[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* ln_row_modulate for a work-group per row: the work-item's columns c = l, l + S, ... of a row whose work-item
 * partial sums s are known (summed over the group here). */
void ln_row_modulate_wg(__local float *red, __global const float *xi, __global float *oi, __global const float *m,
                        int C, float s, int scale_off, int shift_off, float eps)
{
    const int l = get_local_id(0), S = get_local_size(0);
    const float mean = ln_wg_sum(red, s) / C;
    float v = 0;
    for (int c = l; c < C; c += S) {
        const float d = xi[c] - mean;
        v += d * d;
    }
    const float rstd = rsqrt(ln_wg_sum(red, v) / C + eps);
    for (int c = l; c < C; c += S) oi[c] = (xi[c] - mean) * rstd * (1.0f + m[scale_off + c]) + m[shift_off + c];
}

/* ln_modulate with one work-group per row (GPUs): the row's C values spread over the work-items, whose neighbours
 * read neighbouring addresses, and two work-group reductions (mean, then squared deviations), instead of one
 * work-item walking C values alone (at batch 1 an early scale has 2-8 rows: 2-8 busy lanes on the whole GPU). The
 * same math summed in another order. Global rows * local; local a power of two <= LN_WG_MAX. */
__kernel void ln_modulate_wg(__global const float *x, __global float *out, __global const float *mod, int rows,
                             int C, int tokens, int mod_stride, int scale_off, int shift_off, float eps)
{
    __local float red[LN_WG_MAX];
    const int i = get_group_id(0), l = get_local_id(0), S = get_local_size(0);
    if (i >= rows) return; /* whole work-groups */
    __global const float *xi = x + (size_t)i * C;
    float s = 0;
    for (int c = l; c < C; c += S) s += xi[c];
    ln_row_modulate_wg(red, xi, out + (size_t)i * C, mod + (size_t)(i / tokens) * mod_stride, C, s, scale_off,
                       shift_off, eps);
}

/* residual_ln_modulate with a work-group per row (GPUs), as ln_modulate_wg. Each work-item reads back only the
 * columns it wrote, so the residual needs no barrier of its own. Global rows * local; local a power of two
 * <= LN_WG_MAX. */
__kernel void residual_ln_modulate_wg(__global float *x, __global const float *y, __global const float *b,
                                      __global const float *gmod, int g_stride, int gamma_off, __global float *out,
                                      __global const float *lmod, int l_stride, int scale_off, int shift_off,
                                      int rows, int C, int tokens, float eps)
{
    __local float red[LN_WG_MAX];
    const int i = get_group_id(0), l = get_local_id(0), S = get_local_size(0);
    if (i >= rows) return; /* whole work-groups */
    __global float *xi = x + (size_t)i * C;
    __global const float *yi = y + (size_t)i * C, *g = gmod + (size_t)(i / tokens) * g_stride + gamma_off;
    float s = 0;
    for (int c = l; c < C; c += S) {
        const float v = xi[c] + g[c] * (yi[c] + b[c]);
        xi[c] = v;
        s += v;
    }
    ln_row_modulate_wg(red, xi, out + (size_t)i * C, lmod + (size_t)(i / tokens) * l_stride, C, s, scale_off,
                       shift_off, eps);
}

/* GroupNorm (32 groups in the decoder) of a channels-last map x: [HW][C], in three passes. The statistics are
 * per channel first, which keeps every access contiguous (vectors over channels) whatever C / G is, and every
 * mean is kept as a value k taken from the data plus a small offset, so that maps with large means (|mean| >> std)
 * lose no precision:
 *   pass 1, for each (chunk of pixels, channel): k = the chunk's first value, m = mean(x - k),
 *           M2 = sum((x - k - m)^2), from sums of x - k and (x - k)^2 -> part [chunks][3][C] = (k, m, M2);
 *   gn_finalize, per group: combines its (chunk, channel) entries, means relative to the group's first value
 *           K = x[0][first channel]; then per channel coef [3][C] = (K, scale = rstd * gamma,
 *           shift = beta - (mean - K) * scale);
 *   pass 3: y = (x - K) * scale + shift (+ SiLU).
 * Passes 1 and 3 come in two shapes: for GPUs (gn_partial, gn_apply) one float4 of channels per work-item, so that
 * neighbouring work-items read neighbouring addresses; for CPUs (gn_partial_rows, gn_apply_rows) whole pixel rows
 * per work-item in float16s, since a CPU work-item runs alone and streams fastest through contiguous memory.
 * Chunk ch holds pixels [HW*ch/chunks, HW*(ch+1)/chunks). C: a multiple of 4 (GPU shape) or of 16 and at most
 * GN_ROWS_CMAX (CPU shape); G = 32 groups make it a multiple of 32. */
#define GN_ROWS_CMAX 1024
#define GN_FL 64 /* largest gn_finalize work-group */

/* Pass 1, GPU shape: global size (C / 4, chunks); work-item (b, ch) walks chunk ch for channels 4b..4b+3. */
__kernel void gn_partial(__global const float *x, __global float *part, int HW, int C, int chunks)
{
    int b = get_global_id(0), ch = get_global_id(1);
    if (b * 4 >= C || ch >= chunks) return;
    int p0 = (int)((long)HW * ch / chunks), p1 = (int)((long)HW * (ch + 1) / chunks);
    if (p1 <= p0) return;
    __global const float *xc = x + (size_t)p0 * C + b * 4;
    float4 k = vload4(0, xc), s = 0.0f, q = 0.0f;
    for (int p = p0 + 1; p < p1; p++) { /* the first pixel's deviations are 0 */
        xc += C;
        float4 d = vload4(0, xc) - k;
        s += d;
        q = VFMA(d, d, q);
    }
    float4 m = s * (1.0f / (float)(p1 - p0));
    __global float *o = part + (size_t)ch * 3 * C + b * 4;
    vstore4(k, 0, o);
    vstore4(m, 0, o + C);
    vstore4(fmax(q - s * m, 0.0f), 0, o + 2 * C);
}

/* Pass 1, CPU shape: global size chunks; work-item ch walks the whole rows of chunk ch. */
__kernel void gn_partial_rows(__global const float *x, __global float *part, int HW, int C, int chunks)
{
    int ch = get_global_id(0), C16 = C / 16;
    if (ch >= chunks || C16 > GN_ROWS_CMAX / 16) return;
    int p0 = (int)((long)HW * ch / chunks), p1 = (int)((long)HW * (ch + 1) / chunks);
    if (p1 <= p0) return;
    __global const float *x0 = x + (size_t)p0 * C; /* the shifts k */
    float16 s[GN_ROWS_CMAX / 16], q[GN_ROWS_CMAX / 16];
    for (int i = 0; i < C16; i++) s[i] = q[i] = 0.0f;
    for (int p = p0 + 1; p < p1; p++) {
        __global const float *xp = x + (size_t)p * C;
        for (int i = 0; i < C16; i++) {
            float16 d = vload16(i, xp) - vload16(i, x0);
            s[i] += d;
            q[i] = VFMA(d, d, q[i]);
        }
    }
    float inv = 1.0f / (float)(p1 - p0);
    __global float *o = part + (size_t)ch * 3 * C;
    for (int i = 0; i < C16; i++) {
        float16 m = s[i] * inv;
        vstore16(vload16(i, x0), i, o);
        vstore16(m, i, o + C);
        vstore16(fmax(q[i] - s[i] * m, 0.0f), i, o + 2 * C);
    }
}

/* Sum of v over the work-group (L = local size, a power of two up to GN_FL), through red[]; all work-items get it. */
float gn_sum(float v, __local float *red, int l, int L)
{
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = L / 2; h > 0; h /= 2) {
        if (l < h) red[l] += red[l + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    v = red[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* red is reused */
    return v;
}

/* s += v with compensation c (Kahan) */
#define GN_KAHAN(s, c, v)                                                                                     \
    do {                                                                                                     \
        float y_ = (v) - (c), t_ = (s) + y_;                                                                 \
        (c) = (t_ - (s)) - y_;                                                                               \
        (s) = t_;                                                                                            \
    } while (0)

/* Pass 2: one work-group of L work-items per group g combines the group's (chunk, channel) entries e (count n_e,
 * mean K + u_e, M2_e) in two division-free sums: u = sum(n_e u_e) / N, then M2 = sum(M2_e + n_e (u_e - u)^2), all
 * terms >= 0. Writes coef[3][C] for its channels. Global size G * L, local L: a power of two up to GN_FL (GN_FL on
 * GPUs, 1 on CPUs, where the few hundred entries are quicker in one work-item than through barriers); work-item
 * l takes chunks l, l + L, ... */
__kernel void gn_finalize(__global const float *part, __global const float *gamma, __global const float *beta,
                          __global float *coef, int HW, int C, int G, int chunks, float eps)
{
    __local float red[GN_FL];
    int l = get_local_id(0), g = get_group_id(0), L = get_local_size(0);
    int cpg = C / G;
    float K = part[g * cpg]; /* x[0][g * cpg] */
    float su = 0, cu = 0; /* Kahan sums: a work-item may add up a thousand entries */
    for (int ch = l; ch < chunks; ch += L) {
        float cnt = (float)((int)((long)HW * (ch + 1) / chunks) - (int)((long)HW * ch / chunks)), t = 0;
        __global const float *q = part + (size_t)ch * 3 * C + g * cpg;
        for (int c = 0; c < cpg; c++) t += (q[c] - K) + q[C + c];
        GN_KAHAN(su, cu, cnt * t);
    }
    float u = gn_sum(su, red, l, L) / ((float)HW * cpg), sq = 0, cq = 0;
    for (int ch = l; ch < chunks; ch += L) {
        float cnt = (float)((int)((long)HW * (ch + 1) / chunks) - (int)((long)HW * ch / chunks)), t = 0;
        __global const float *q = part + (size_t)ch * 3 * C + g * cpg;
        for (int c = 0; c < cpg; c++) {
            float d = (q[c] - K) + q[C + c] - u;
            t += q[2 * C + c] + cnt * d * d;
        }
        GN_KAHAN(sq, cq, t);
    }
    float rstd = rsqrt(gn_sum(sq, red, l, L) / ((float)HW * cpg) + eps);
    for (int j = l; j < cpg; j += L) {
        int c = g * cpg + j;
        float sc = rstd * gamma[c];
        coef[c] = K;
        coef[C + c] = sc;
        coef[2 * C + c] = beta[c] - u * sc;
    }
}

/* Pass 3, GPU shape: global size (C / 4, HW), one float4 per work-item. y = (x - K) * scale + shift, then SiLU
 * when silu != 0. x, y: [HW][C]; coef from gn_finalize. */
__kernel void gn_apply(__global const float *x, __global float *y, __global const float *coef, int HW, int C,
                       int silu)
{
    int b = get_global_id(0), p = get_global_id(1);
    if (b * 4 >= C || p >= HW) return;
    size_t o = (size_t)p * C + b * 4;
    float4 v = VFMA(vload4(0, x + o) - vload4(b, coef), vload4(b, coef + C), vload4(b, coef + 2 * C));
    if (silu) v = v / (1.0f + exp(-v));
    vstore4(v, 0, y + o);
}

/* Pass 3, CPU shape: global size HW, one pixel row (float16s) per work-item. */
__kernel void gn_apply_rows(__global const float *x, __global float *y, __global const float *coef, int HW, int C,
                            int silu)
{
    int p = get_global_id(0);
    if (p >= HW) return;
    __global const float *xp = x + (size_t)p * C, *ck = coef, *cs = coef + C, *cb = coef + 2 * C;
    __global float *yp = y + (size_t)p * C;
    for (int i = 0; i < C / 16; i++) {
        float16 v = VFMA(vload16(i, xp) - vload16(i, ck), vload16(i, cs), vload16(i, cb));
        if (silu) v = v / (1.0f + exp(-v));
        vstore16(v, i, yp);
    }
}
