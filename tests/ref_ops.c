/* ref_ops: the primitive operations of the C reference (see ref.h for shapes and layouts).
 * Plain loops; fp32 products, double for the sums that statistics and softmax need. */
#include "ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference is test code: running out of memory is not a case it reports, it stops. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "ref: out of host memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

/* Dot product with eight interleaved partial sums (lets the compiler vectorise without reassociating). */
static float dot(const float *a, const float *b, int n)
{
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int u = 0; u < 8; u++) part[u] += a[i + u] * b[i + u];
    float s = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void ref_layernorm(const float *x, float *y, int rows, int C, float eps)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * C;
        float *yr = y + (size_t)r * C;
        double sum = 0;
        for (int c = 0; c < C; c++) sum += xr[c];
        double mean = sum / C;
        double sq = 0;
        for (int c = 0; c < C; c++) {
            double d = xr[c] - mean;
            sq += d * d;
        }
        double rstd = 1.0 / sqrt(sq / C + eps);
        for (int c = 0; c < C; c++) yr[c] = (float)((xr[c] - mean) * rstd);
    }
}

void ref_linear(const float *x, const float *W, const float *b, float *y, int rows, int in, int out)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * in;
        float *yr = y + (size_t)r * out;
        for (int o = 0; o < out; o++) {
            float acc = dot(xr, W + (size_t)o * in, in);
            yr[o] = b ? acc + b[o] : acc;
        }
    }
}

void ref_modulate(const float *x, float *y, int rows, int C, const float *scale, const float *shift)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)r * C + c;
            y[i] = x[i] * (1.0f + scale[c]) + shift[c];
        }
}

void ref_gelu_tanh(float *x, size_t n)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void ref_silu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

static void l2norm_head(float *v, int dh, float mul)
{
    double sq = 0;
    for (int d = 0; d < dh; d++) sq += (double)v[d] * v[d];
    float nrm = (float)sqrt(sq);
    if (nrm < 1e-12f) nrm = 1e-12f;
    for (int d = 0; d < dh; d++) v[d] = v[d] / nrm * mul;
}

void ref_qk_l2norm(float *q, float *k, int H, int dh, const float *scale_mul)
{
    const float max_mul = logf(100.0f);
    for (int h = 0; h < H; h++) {
        if (q) {
            float sm = scale_mul[h] < max_mul ? scale_mul[h] : max_mul;
            l2norm_head(q + (size_t)h * dh, dh, expf(sm));
        }
        if (k) l2norm_head(k + (size_t)h * dh, dh, 1.0f);
    }
}

void ref_attention(const float *q, int ldq, const float *k, int ldk, const float *v, int ldv, float *out, int ldo,
                   int nq, int nk, int H, int dh, float scale)
{
    float *p = xmalloc((size_t)nk * sizeof *p);
    float *acc = xmalloc((size_t)dh * sizeof *acc);
    for (int h = 0; h < H; h++) {
        for (int i = 0; i < nq; i++) {
            const float *qi = q + (size_t)i * ldq + (size_t)h * dh;
            float mx = -INFINITY;
            for (int j = 0; j < nk; j++) {
                const float *kj = k + (size_t)j * ldk + (size_t)h * dh;
                p[j] = dot(qi, kj, dh) * scale;
                if (p[j] > mx) mx = p[j];
            }
            double sum = 0;
            for (int j = 0; j < nk; j++) {
                p[j] = expf(p[j] - mx);
                sum += p[j];
            }
            for (int d = 0; d < dh; d++) acc[d] = 0;
            for (int j = 0; j < nk; j++) {
                const float *vj = v + (size_t)j * ldv + (size_t)h * dh;
                for (int d = 0; d < dh; d++) acc[d] += p[j] * vj[d];
            }
            float *oi = out + (size_t)i * ldo + (size_t)h * dh;
            for (int d = 0; d < dh; d++) oi[d] = (float)(acc[d] / sum);
        }
    }
    free(acc);
    free(p);
}

/* PyTorch's cubic convolution coefficients (A = -0.75) for the fractional offset t. */
static void cubic_weights(float t, float w[4])
{
    const float A = -0.75f;
    float x1 = t, x2 = 1.0f - t;
    /* c2(x) = ((A x - 5A) x + 8A) x - 4A for 1 <= |x| < 2; c1(x) = ((A+2) x - (A+3)) x^2 + 1 for |x| < 1 */
    w[0] = ((A * (x1 + 1.0f) - 5.0f * A) * (x1 + 1.0f) + 8.0f * A) * (x1 + 1.0f) - 4.0f * A;
    w[1] = ((A + 2.0f) * x1 - (A + 3.0f)) * x1 * x1 + 1.0f;
    w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
    w[3] = ((A * (x2 + 1.0f) - 5.0f * A) * (x2 + 1.0f) + 8.0f * A) * (x2 + 1.0f) - 4.0f * A;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void ref_bicubic(const float *in, int n, float *out, int S, int C)
{
    if (n == S) {
        memcpy(out, in, (size_t)S * S * C * sizeof *out);
        return;
    }
    const float scale = (float)n / (float)S;
    int *idx = xmalloc((size_t)S * 4 * sizeof *idx);
    float *wt = xmalloc((size_t)S * 4 * sizeof *wt);
    for (int d = 0; d < S; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f; /* not clamped for cubic */
        float f = floorf(src);
        int i0 = (int)f;
        cubic_weights(src - f, wt + 4 * d);
        for (int j = 0; j < 4; j++) idx[4 * d + j] = clampi(i0 - 1 + j, 0, n - 1);
    }
    for (int oy = 0; oy < S; oy++)
        for (int ox = 0; ox < S; ox++)
            for (int c = 0; c < C; c++) {
                float acc = 0;
                for (int a = 0; a < 4; a++) {
                    const float *row = in + (size_t)idx[4 * oy + a] * n * C;
                    float r = 0; /* along x first, then y */
                    for (int b = 0; b < 4; b++) r += row[(size_t)idx[4 * ox + b] * C + c] * wt[4 * ox + b];
                    acc += r * wt[4 * oy + a];
                }
                out[((size_t)oy * S + ox) * C + c] = acc;
            }
    free(wt);
    free(idx);
}

void ref_area(const float *in, int S, float *out, int n, int C)
{
    double *acc = xmalloc((size_t)C * sizeof *acc);
    for (int oy = 0; oy < n; oy++) {
        int y0 = (oy * S) / n, y1 = ((oy + 1) * S + n - 1) / n; /* floor, ceil */
        for (int ox = 0; ox < n; ox++) {
            int x0 = (ox * S) / n, x1 = ((ox + 1) * S + n - 1) / n;
            for (int c = 0; c < C; c++) acc[c] = 0;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    const float *px = in + ((size_t)y * S + x) * C;
                    for (int c = 0; c < C; c++) acc[c] += px[c];
                }
            double cnt = (double)(y1 - y0) * (x1 - x0);
            float *po = out + ((size_t)oy * n + ox) * C;
            for (int c = 0; c < C; c++) po[c] = (float)(acc[c] / cnt);
        }
    }
    free(acc);
}

void ref_conv3x3_hwc(const float *in, int H, int W, int Cin, const float *w, const float *b, int Cout, float *out)
{
    /* Reorder the weights to [ky][kx][ci][co] so the innermost loop runs over contiguous output channels. */
    float *wt = xmalloc((size_t)9 * Cin * Cout * sizeof *wt);
    for (int co = 0; co < Cout; co++)
        for (int ci = 0; ci < Cin; ci++)
            for (int t = 0; t < 9; t++) wt[((size_t)t * Cin + ci) * Cout + co] = w[((size_t)co * Cin + ci) * 9 + t];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float *acc = out + ((size_t)y * W + x) * Cout;
            for (int co = 0; co < Cout; co++) acc[co] = 0;
            for (int ky = 0; ky < 3; ky++) {
                int iy = y + ky - 1;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < 3; kx++) {
                    int ix = x + kx - 1;
                    if (ix < 0 || ix >= W) continue;
                    const float *px = in + ((size_t)iy * W + ix) * Cin;
                    const float *wk = wt + (size_t)(ky * 3 + kx) * Cin * Cout;
                    for (int ci = 0; ci < Cin; ci++) {
                        const float a = px[ci];
                        const float *wc = wk + (size_t)ci * Cout;
                        for (int co = 0; co < Cout; co++) acc[co] += a * wc[co];
                    }
                }
            }
            if (b)
                for (int co = 0; co < Cout; co++) acc[co] += b[co];
        }
    free(wt);
}

void ref_conv1x1_hwc(const float *in, int HW, int Cin, const float *w, const float *b, int Cout, float *out)
{
    ref_linear(in, w, b, out, HW, Cin, Cout);
}

void ref_groupnorm_hwc(const float *in, float *out, int HW, int C, int G, float eps, const float *gamma,
                       const float *beta)
{
    const int cg = C / G;
    double *mean = xmalloc((size_t)G * sizeof *mean);
    double *rstd = xmalloc((size_t)G * sizeof *rstd);
    for (int g = 0; g < G; g++) mean[g] = rstd[g] = 0;
    for (size_t p = 0; p < (size_t)HW; p++)
        for (int c = 0; c < C; c++) mean[c / cg] += in[p * C + c];
    const double cnt = (double)HW * cg;
    for (int g = 0; g < G; g++) mean[g] /= cnt;
    for (size_t p = 0; p < (size_t)HW; p++)
        for (int c = 0; c < C; c++) {
            double d = in[p * C + c] - mean[c / cg];
            rstd[c / cg] += d * d;
        }
    for (int g = 0; g < G; g++) rstd[g] = 1.0 / sqrt(rstd[g] / cnt + eps);
    for (size_t p = 0; p < (size_t)HW; p++)
        for (int c = 0; c < C; c++) {
            int g = c / cg;
            out[p * C + c] = (float)((in[p * C + c] - mean[g]) * rstd[g]) * gamma[c] + beta[c];
        }
    free(rstd);
    free(mean);
}

void ref_upsample2x_hwc(const float *in, int H, int W, int C, float *out)
{
    for (int y = 0; y < 2 * H; y++)
        for (int x = 0; x < 2 * W; x++)
            memcpy(out + ((size_t)y * 2 * W + x) * C, in + ((size_t)(y / 2) * W + x / 2) * C, (size_t)C * sizeof *out);
}

void ref_vae_attn(const float *x, float *out, int HW, int C, const float *norm_w, const float *norm_b,
                  const float *qkv_w, const float *qkv_b, const float *proj_w, const float *proj_b)
{
    float *hn = xmalloc((size_t)HW * C * sizeof *hn);
    float *qkv = xmalloc((size_t)HW * 3 * C * sizeof *qkv);
    float *att = xmalloc((size_t)HW * C * sizeof *att);
    ref_groupnorm_hwc(x, hn, HW, C, 32, 1e-6f, norm_w, norm_b);
    ref_conv1x1_hwc(hn, HW, C, qkv_w, qkv_b, 3 * C, qkv);
    const float scale = (float)(1.0 / sqrt((double)C));
    ref_attention(qkv, 3 * C, qkv + C, 3 * C, qkv + 2 * C, 3 * C, att, C, HW, HW, 1, C, scale);
    ref_conv1x1_hwc(att, HW, C, proj_w, proj_b, C, hn);
    for (size_t i = 0; i < (size_t)HW * C; i++) out[i] = x[i] + hn[i];
    free(att);
    free(qkv);
    free(hn);
}

void ref_vae_resblock(const float *x, float *out, int H, int W, int Cin, int Cout, const float *norm1_w,
                      const float *norm1_b, const float *conv1_w, const float *conv1_b, const float *norm2_w,
                      const float *norm2_b, const float *conv2_w, const float *conv2_b, const float *nin_w,
                      const float *nin_b)
{
    const size_t HW = (size_t)H * W;
    float *t1 = xmalloc(HW * Cin * sizeof *t1);
    float *t2 = xmalloc(HW * Cout * sizeof *t2);
    ref_groupnorm_hwc(x, t1, (int)HW, Cin, 32, 1e-6f, norm1_w, norm1_b);
    ref_silu(t1, HW * Cin);
    ref_conv3x3_hwc(t1, H, W, Cin, conv1_w, conv1_b, Cout, t2);
    ref_groupnorm_hwc(t2, t2, (int)HW, Cout, 32, 1e-6f, norm2_w, norm2_b);
    ref_silu(t2, HW * Cout);
    ref_conv3x3_hwc(t2, H, W, Cout, conv2_w, conv2_b, Cout, out);
    if (nin_w) {
        ref_conv1x1_hwc(x, (int)HW, Cin, nin_w, nin_b, Cout, t2);
        for (size_t i = 0; i < HW * Cout; i++) out[i] = t2[i] + out[i];
    } else {
        for (size_t i = 0; i < HW * Cout; i++) out[i] = x[i] + out[i];
    }
    free(t2);
    free(t1);
}

void ref_phi(const float *h, int S, int C, const float *w, const float *b, float *out)
{
    ref_conv3x3_hwc(h, S, S, C, w, b, C, out);
    for (size_t i = 0; i < (size_t)S * S * C; i++) out[i] = h[i] * 0.5f + out[i] * 0.5f;
}

int ref_phi_index(int si, int scales)
{
    static const int table10[10] = {0, 0, 1, 1, 1, 2, 2, 3, 3, 3};
    if (scales == 10) return table10[si];
    double r = scales > 1 ? (double)si / (scales - 1) : 0.0;
    int best = 0;
    double bestd = INFINITY;
    for (int i = 0; i < 4; i++) {
        double tick = 1.0 / 12.0 + i * ((11.0 / 12.0 - 1.0 / 12.0) / 3.0);
        double d = fabs(tick - r);
        if (d < bestd) {
            bestd = d;
            best = i;
        }
    }
    return best;
}
