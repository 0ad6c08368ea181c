/* winograd: the input and output transforms of Winograd convolutions F(m x m, 3x3), m = 2 or 4 (Lavin & Gray
 * 2015). With a = m + 2, a 3x3 convolution over one m x m output tile is, per position k of the a x a
 * transformed tile,
 *     M[k] = V[k] * U[k]     V = B^T d B (d: the a x a input tile), U = G g G^T (g: the 3x3 filter, at load time)
 *     y    = A^T M A         (the m x m output tile)
 * The a^2 products M[k] [tiles][Cout] = V[k] [tiles][Cin] * U[k] [Cin][Cout] are GEMMs (host/conv.c).
 * Multiplications per output: 9 direct, 4 for F(2x2, 3x3), 2.25 for F(4x4, 3x3) (whose larger transform
 * constants cost some fp32 accuracy: see the tests' bounds).
 * Maps are channels-last [B][H][W][C]; output tile (ty, tx) covers pixels (m ty.., m tx..) and reads input
 * rows m ty - 1 .. m ty + m (zero padding 1). Tiles are numbered t = (b * TH + ty) * TW + tx, TH = ceil(H / m),
 * and a call handles the tiles t0 .. t0 + n - 1 (the host bounds the scratch by chunking the tiles).
 *
 * Work shape (all kernels): global (blocks, n), one work-item per (channel block, tile); a block is `cpw`
 * float4s of contiguous channels, looped inside the work-item. pocl does not vectorise across work-items
 * around a loop, so on CPUs a large cpw (contiguous float4 loads and stores inside one work-item) is what is
 * fast; on GPUs cpw = 1 gives neighbouring work-items neighbouring float4s. The last block may end in 1-3 odd
 * channels (C % 4), done lane by lane. */

/* Up to 4 channels (nc < 4: the odd tail) as one float4, missing lanes zero; and back. */
float4 wino_load_tail(__global const float *p, int nc)
{
    return (float4)(p[0], nc > 1 ? p[1] : 0.0f, nc > 2 ? p[2] : 0.0f, 0.0f);
}
void wino_store_tail(__global float *p, float4 v, int nc)
{
    p[0] = v.x;
    if (nc > 1) p[1] = v.y;
    if (nc > 2) p[2] = v.z;
}
float4 wino_load(__global const float *p, int nc) { return nc == 4 ? vload4(0, p) : wino_load_tail(p, nc); }
void wino_store(__global float *p, float4 v, int nc)
{
    if (nc == 4) vstore4(v, 0, p);
    else wino_store_tail(p, v, nc);
}

/* The 1-D transforms, on the a values d[o], d[o + s], ... (in place for B^T; A^T writes m values to y[yo + i ys]).
 * F(2, 3): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1]. */
void wino2_bt(float4 *d, int o, int s)
{
    float4 d0 = d[o], d1 = d[o + s], d2 = d[o + 2 * s], d3 = d[o + 3 * s];
    d[o] = d0 - d2;
    d[o + s] = d1 + d2;
    d[o + 2 * s] = d2 - d1;
    d[o + 3 * s] = d1 - d3;
}
void wino2_at(const float4 *m, int o, int s, float4 *y, int yo, int ys)
{
    float4 m0 = m[o], m1 = m[o + s], m2 = m[o + 2 * s], m3 = m[o + 3 * s];
    y[yo] = m0 + m1 + m2;
    y[yo + ys] = m1 - m2 - m3;
}
/* F(4, 3), interpolation points 0, -1, 1, -2, 2 (and infinity):
 * B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 * A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]. */
void wino4_bt(float4 *d, int o, int s)
{
    float4 d0 = d[o], d1 = d[o + s], d2 = d[o + 2 * s], d3 = d[o + 3 * s], d4 = d[o + 4 * s], d5 = d[o + 5 * s];
    d[o] = 4.0f * d0 - 5.0f * d2 + d4;
    d[o + s] = d3 + d4 - 4.0f * (d1 + d2);
    d[o + 2 * s] = d4 - d3 + 4.0f * (d1 - d2);
    d[o + 3 * s] = d4 - d2 + 2.0f * (d3 - d1);
    d[o + 4 * s] = d4 - d2 + 2.0f * (d1 - d3);
    d[o + 5 * s] = 4.0f * d1 - 5.0f * d3 + d5;
}
void wino4_at(const float4 *m, int o, int s, float4 *y, int yo, int ys)
{
    float4 m0 = m[o], m1 = m[o + s], m2 = m[o + 2 * s], m3 = m[o + 3 * s], m4 = m[o + 4 * s], m5 = m[o + 5 * s];
    float4 p12 = m1 + m2, d12 = m1 - m2, p34 = m3 + m4, d34 = m3 - m4;
    y[yo] = m0 + p12 + p34;
    y[yo + ys] = d12 + 2.0f * d34;
    y[yo + 2 * ys] = p12 + 4.0f * p34;
    y[yo + 3 * ys] = d12 + 8.0f * d34 + m5;
}

/* wino<m>_input: x: [B][Hin][Win][Cin]; the convolution sees it nearest-up-sampled by `up` (1 or 2):
 * H = Hin * up, and pixel (iy, ix) of that map is x[iy / up][ix / up] (the up-sampled map is never stored).
 * V: [a*a][n][Cin], V[k][t - t0][c] = (B^T d B)[k] of tile t. */
#define WINO_INPUT(m)                                                                                                  \
    __kernel void wino##m##_input(__global const float *x, __global float *V, int Hin, int Win, int Cin, int up,     \
                                  int TH, int TW, int t0, int n, int cpw)                                            \
    {                                                                                                                  \
        enum { a = m + 2 };                                                                                            \
        int blk = get_global_id(0), r = get_global_id(1), c_begin = blk * cpw * 4;                                     \
        if (r >= n || c_begin >= Cin) return;                                                                          \
        int c_end = min(c_begin + cpw * 4, Cin);                                                                       \
        int t = t0 + r, b = t / (TH * TW), ty = (t / TW) % TH, tx = t % TW, H = Hin * up, W = Win * up;              \
        long src[a * a]; /* the tile's source pixels (-1: zero padding) */                                             \
        for (int i = 0; i < a; i++) {                                                                                  \
            int iy = m * ty - 1 + i;                                                                                   \
            for (int j = 0; j < a; j++) {                                                                              \
                int ix = m * tx - 1 + j;                                                                               \
                src[i * a + j] = (iy >= 0 && iy < H && ix >= 0 && ix < W)                                              \
                                     ? (((long)b * Hin + iy / up) * Win + ix / up) * Cin                               \
                                     : -1;                                                                             \
            }                                                                                                          \
        }                                                                                                              \
        size_t kstride = (size_t)n * Cin; /* V[k] to V[k + 1] */                                                       \
        __global float *dst = V + (size_t)r * Cin;                                                                     \
        for (int c = c_begin; c < c_end; c += 4) {                                                                     \
            int nc = min(4, c_end - c);                                                                                \
            float4 d[a * a];                                                                                           \
            for (int i = 0; i < a * a; i++) d[i] = src[i] < 0 ? (float4)(0.0f) : wino_load(x + src[i] + c, nc);       \
            for (int j = 0; j < a; j++) wino##m##_bt(d, j, a);     /* B^T d: down each column */                      \
            for (int i = 0; i < a; i++) wino##m##_bt(d, i * a, 1); /* (B^T d) B: along each row */                    \
            for (int k = 0; k < a * a; k++) wino_store(dst + k * kstride + c, d[k], nc);                               \
        }                                                                                                              \
    }

/* wino<m>_output: M: [a*a][n][Cout] (the products) from element m_off on; y: [B][H][W][Cout],
 * y = A^T M A (+ bias[Cout] when has_bias). Pixels of an edge tile outside H x W are not written. */
#define WINO_OUTPUT(m)                                                                                                 \
    __kernel void wino##m##_output(__global const float *M, int m_off, __global float *y,                           \
                                   __global const float *bias, int has_bias, int H, int W, int Cout, int TH, int TW, \
                                   int t0, int n, int cpw)                                                           \
    {                                                                                                                  \
        enum { a = m + 2 };                                                                                            \
        int blk = get_global_id(0), r = get_global_id(1), c_begin = blk * cpw * 4;                                     \
        if (r >= n || c_begin >= Cout) return;                                                                         \
        int c_end = min(c_begin + cpw * 4, Cout);                                                                      \
        int t = t0 + r, b = t / (TH * TW), oy = m * ((t / TW) % TH), ox = m * (t % TW);                              \
        int rows = min(m, H - oy), cols = min(m, W - ox); /* fewer at the bottom and right edges */                    \
        size_t kstride = (size_t)n * Cout;                                                                             \
        __global const float *src = M + m_off + (size_t)r * Cout;                                                      \
        __global float *dst = y + (((size_t)b * H + oy) * W + ox) * Cout;                                              \
        for (int c = c_begin; c < c_end; c += 4) {                                                                     \
            int nc = min(4, c_end - c);                                                                                \
            float4 mk[a * a], s[m * a], o[m * m];                                                                      \
            for (int k = 0; k < a * a; k++) mk[k] = wino_load(src + k * kstride + c, nc);                              \
            for (int j = 0; j < a; j++) wino##m##_at(mk, j, a, s, j, a);      /* A^T M: down each column */           \
            for (int i = 0; i < m; i++) wino##m##_at(s, i * a, 1, o, i * m, 1); /* (A^T M) A: along each row */       \
            float4 bv = has_bias ? wino_load(bias + c, nc) : (float4)(0.0f);                                           \
            for (int i = 0; i < rows; i++)                                                                             \
                for (int j = 0; j < cols; j++) wino_store(dst + ((size_t)i * W + j) * Cout + c, o[i * m + j] + bv, nc); \
        }                                                                                                              \
    }

WINO_INPUT(2)
WINO_OUTPUT(2)
WINO_INPUT(4)
WINO_OUTPUT(4)

/* ---- Lane variants (policy wino_cpw = 0): one work-item per (channel, tile), global (C, n) ----
 * For drivers that run work-items as SIMD lanes on a CPU (llvmpipe): there the kernels above keep 36 float4s (and 36
 * source offsets) per work-item in per-lane memory and took 76-85 ms per call on the demo decoder's 256 px maps
 * (VARCL_PROFILE, rusticl). Here every array index is a constant (the loops are written out by the macros below),
 * so the tile stays in registers, and neighbouring lanes read and write neighbouring channels. Same arithmetic as
 * wino<m>_bt / wino<m>_at, one channel at a time. */
#define WL_I2(M, p) M(0, p) M(1, p)
#define WL_I4(M, p) WL_I2(M, p) M(2, p) M(3, p)
#define WL_I6(M, p) WL_I4(M, p) M(4, p) M(5, p)
#define WL_J2(M, p) M(p, 0) M(p, 1)
#define WL_J4(M, p) WL_J2(M, p) M(p, 2) M(p, 3)
#define WL_J6(M, p) WL_J4(M, p) M(p, 4) M(p, 5)

/* B^T along d[o], d[o + s], ... in place; A^T from x[o + k s] to y[yo + i ys] (o, s, yo, ys constants) */
#define WL2_BT(d, o, s)                                                                                                \
    {                                                                                                                  \
        float x0 = d[o], x1 = d[(o) + (s)], x2 = d[(o) + 2 * (s)], x3 = d[(o) + 3 * (s)];                              \
        d[o] = x0 - x2;                                                                                                \
        d[(o) + (s)] = x1 + x2;                                                                                        \
        d[(o) + 2 * (s)] = x2 - x1;                                                                                    \
        d[(o) + 3 * (s)] = x1 - x3;                                                                                    \
    }
#define WL2_AT(x, o, s, y, yo, ys)                                                                                     \
    {                                                                                                                  \
        float m0 = x[o], m1 = x[(o) + (s)], m2 = x[(o) + 2 * (s)], m3 = x[(o) + 3 * (s)];                              \
        y[yo] = m0 + m1 + m2;                                                                                          \
        y[(yo) + (ys)] = m1 - m2 - m3;                                                                                 \
    }
#define WL4_BT(d, o, s)                                                                                                \
    {                                                                                                                  \
        float x0 = d[o], x1 = d[(o) + (s)], x2 = d[(o) + 2 * (s)], x3 = d[(o) + 3 * (s)], x4 = d[(o) + 4 * (s)],       \
              x5 = d[(o) + 5 * (s)];                                                                                   \
        d[o] = 4.0f * x0 - 5.0f * x2 + x4;                                                                             \
        d[(o) + (s)] = x3 + x4 - 4.0f * (x1 + x2);                                                                     \
        d[(o) + 2 * (s)] = x4 - x3 + 4.0f * (x1 - x2);                                                                 \
        d[(o) + 3 * (s)] = x4 - x2 + 2.0f * (x3 - x1);                                                                 \
        d[(o) + 4 * (s)] = x4 - x2 + 2.0f * (x1 - x3);                                                                 \
        d[(o) + 5 * (s)] = 4.0f * x1 - 5.0f * x3 + x5;                                                                 \
    }
#define WL4_AT(x, o, s, y, yo, ys)                                                                                     \
    {                                                                                                                  \
        float m0 = x[o], m1 = x[(o) + (s)], m2 = x[(o) + 2 * (s)], m3 = x[(o) + 3 * (s)], m4 = x[(o) + 4 * (s)],       \
              m5 = x[(o) + 5 * (s)];                                                                                   \
        float p12 = m1 + m2, d12 = m1 - m2, p34 = m3 + m4, d34 = m3 - m4;                                              \
        y[yo] = m0 + p12 + p34;                                                                                        \
        y[(yo) + (ys)] = d12 + 2.0f * d34;                                                                             \
        y[(yo) + 2 * (ys)] = p12 + 4.0f * p34;                                                                         \
        y[(yo) + 3 * (ys)] = d12 + 8.0f * d34 + m5;                                                                    \
    }

/* source row / column of tile position i / j in the input map (-1: zero padding) */
#define WL_RO(i, _) int ro##i = (y0 + i >= 0 && y0 + i < H) ? (y0 + i) / up : -1;
#define WL_CO(j, _) int co##j = (x0 + j >= 0 && x0 + j < W) ? (x0 + j) / up : -1;
#define WL_LD(i, j) d[i * A + j] = (ro##i >= 0 && co##j >= 0) ? xb[((size_t)ro##i * Win + co##j) * Cin] : 0.0f;
#define WL_ST(i, j) Vc[(size_t)(i * A + j) * kstride] = d[i * A + j];
#define WL_LDM(i, j) mk[i * A + j] = src[(size_t)(i * A + j) * kstride];
#define WL_STO(i, j)                                                                                                   \
    if (i < rows && j < cols) dst[((size_t)i * W + j) * Cout] = o[i * M + j] + bv;
#define WL_LD_ROW4(i, _) WL_J4(WL_LD, i)
#define WL_LD_ROW6(i, _) WL_J6(WL_LD, i)
#define WL_ST_ROW4(i, _) WL_J4(WL_ST, i)
#define WL_ST_ROW6(i, _) WL_J6(WL_ST, i)
#define WL_LDM_ROW4(i, _) WL_J4(WL_LDM, i)
#define WL_LDM_ROW6(i, _) WL_J6(WL_LDM, i)
#define WL_STO_ROW2(i, _) WL_J2(WL_STO, i)
#define WL_STO_ROW4(i, _) WL_J4(WL_STO, i)
#define WL2_BT_COL(j, _) WL2_BT(d, j, 4)
#define WL2_BT_ROW(i, _) WL2_BT(d, (i) * 4, 1)
#define WL4_BT_COL(j, _) WL4_BT(d, j, 6)
#define WL4_BT_ROW(i, _) WL4_BT(d, (i) * 6, 1)
#define WL2_AT_COL(j, _) WL2_AT(mk, j, 4, s, j, 4)
#define WL2_AT_ROW(i, _) WL2_AT(s, (i) * 4, 1, o, (i) * 2, 1)
#define WL4_AT_COL(j, _) WL4_AT(mk, j, 6, s, j, 6)
#define WL4_AT_ROW(i, _) WL4_AT(s, (i) * 6, 1, o, (i) * 4, 1)

/* wino<m>_input_lane: wino<m>_input's result and arguments (cpw unused: the host launches either kernel alike),
 * work-item (c, r) */
#define WINO_INPUT_LANE(m, a)                                                                                          \
    __kernel void wino##m##_input_lane(__global const float *x, __global float *V, int Hin, int Win, int Cin, int up, \
                                       int TH, int TW, int t0, int n, int cpw)                                         \
    {                                                                                                                  \
        enum { A = a };                                                                                                \
        int c = get_global_id(0), r = get_global_id(1);                                                                \
        if (c >= Cin || r >= n) return;                                                                                \
        int t = t0 + r, b = t / (TH * TW), H = Hin * up, W = Win * up;                                                 \
        int y0 = m * ((t / TW) % TH) - 1, x0 = m * (t % TW) - 1;                                                       \
        __global const float *xb = x + (size_t)b * Hin * Win * Cin + c;                                                \
        WL_I##a(WL_RO, 0) WL_I##a(WL_CO, 0);                                                                           \
        float d[a * a];                                                                                                \
        WL_I##a(WL_LD_ROW##a, 0);                                                                                      \
        WL_I##a(WL##m##_BT_COL, 0); /* B^T d: down each column */                                                      \
        WL_I##a(WL##m##_BT_ROW, 0); /* (B^T d) B: along each row */                                                    \
        size_t kstride = (size_t)n * Cin;                                                                              \
        __global float *Vc = V + (size_t)r * Cin + c;                                                                  \
        WL_I##a(WL_ST_ROW##a, 0);                                                                                      \
    }

/* wino<m>_output_lane: wino<m>_output's result and arguments (cpw unused), work-item (c, r) */
#define WINO_OUTPUT_LANE(m, a)                                                                                         \
    __kernel void wino##m##_output_lane(__global const float *Mb, int m_off, __global float *y,                        \
                                        __global const float *bias, int has_bias, int H, int W, int Cout, int TH,      \
                                        int TW, int t0, int n, int cpw)                                                \
    {                                                                                                                  \
        enum { A = a, M = m };                                                                                         \
        int c = get_global_id(0), r = get_global_id(1);                                                                \
        if (c >= Cout || r >= n) return;                                                                               \
        int t = t0 + r, b = t / (TH * TW), oy = m * ((t / TW) % TH), ox = m * (t % TW);                              \
        int rows = min(m, H - oy), cols = min(m, W - ox);                                                              \
        size_t kstride = (size_t)n * Cout;                                                                             \
        __global const float *src = Mb + m_off + (size_t)r * Cout + c;                                                 \
        __global float *dst = y + (((size_t)b * H + oy) * W + ox) * Cout + c;                                          \
        float mk[a * a], s[m * a], o[m * m];                                                                           \
        WL_I##a(WL_LDM_ROW##a, 0);                                                                                     \
        WL_I##a(WL##m##_AT_COL, 0); /* A^T M: down each column */                                                      \
        WL_I##m(WL##m##_AT_ROW, 0); /* (A^T M) A: along each row */                                                    \
        float bv = has_bias ? bias[c] : 0.0f;                                                                          \
        WL_I##m(WL_STO_ROW##m, 0);                                                                                     \
    }

WINO_INPUT_LANE(2, 4)
WINO_OUTPUT_LANE(2, 4)
WINO_INPUT_LANE(4, 6)
WINO_OUTPUT_LANE(4, 6)
