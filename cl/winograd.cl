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
