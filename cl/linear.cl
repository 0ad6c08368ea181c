/* linear_packed: y[b][m][n] = sum_k x[b][m][k] * W[b][k][n], the CPU path of every product with weights (see
 * host/gemm.h). W is stored in panels of PW = 32 columns, [ceil(N / PW)][K][PW], zero past column N, so that one
 * work-item streams its panel front to back: with W as [K][N] every step of k jumps N floats, a new page each
 * time, and pocl reached 9-14 GB/s of the machine's 30 (few rows) and 50-170 GFLOP/s (many rows) against 25-50 GB/s
 * and 200-225 GFLOP/s packed (2-core AVX-512 EPYC, 1024 <-> 4096 and d30 shapes).
 * A work-item owns one panel and rows [gid1 * MC, +MC) in blocks of RB rows: RB x 2 float16 accumulators (registers:
 * the loops over them are unrolled, or pocl keeps them on the stack and loads/stores each per FMA), one pass over
 * the panel per block. Rows past M repeat row M-1 and are not written.
 * x: M rows of K at x_off + b * x_bs, ldx apart; wp: panels at w_off + b * w_bs; y: [M][N] at y_off + b * y_bs.
 * act: 0 y = xW; 1 y = xW + bias; 2 y = GELU_tanh(xW + bias) (bias: [N]; the epilogues of add_bias and bias_gelu in
 * elementwise.cl, without their pass over y).
 * Global (panels, row chunks, batch); CPUs run it with local size 1 (pocl's own choice put all panels of a small
 * product into one work-group, one thread).
 * Weights are stored as f32 (linear_packedRB), f16 (_f16) or bf16 (_bf16): 16-bit panels are widened to f32 as
 * they are read (vload_half needs no cl_khr_fp16; a bf16 is the high half of an f32), and the sums stay f32. Few-row
 * products stream the weights, so half the bytes is up to twice as fast there. */
#define PW 32

/* Columns 16i .. 16i + 15 of row k of a panel, widened to f32. */
#define LOADW_F32(wp, k, i) vload16((i), (wp) + (size_t)(k) * PW)
#define LOADW_F16(wp, k, i) vload_half16((i), (wp) + (size_t)(k) * PW)
#define LOADW_BF16(wp, k, i) as_float16(convert_uint16(vload16((i), (wp) + (size_t)(k) * PW)) << 16)

float16 gelu_tanh16(float16 v) { return 0.5f * v * (1.0f + tanh(0.7978845608028654f * (v + 0.044715f * v * v * v))); }

#define LINEAR_PACKED(RB, SUFFIX, WTYPE, LOADW)                                                                        \
    __kernel void linear_packed##RB##SUFFIX(__global const float *x, ulong x_off, ulong x_bs,                          \
                                            __global const WTYPE *wp, ulong w_off, ulong w_bs, __global float *y,      \
                                            ulong y_off, ulong y_bs, int M, int N, int K, int MC,                      \
                                            __global const float *bias, int act, int ldx)                              \
    {                                                                                                                  \
        int p = get_global_id(0), b = get_global_id(2), n0 = p * PW;                                                   \
        int m_begin = get_global_id(1) * MC, m_end = min(M, m_begin + MC);                                             \
        if (n0 >= N || m_begin >= M) return;                                                                           \
        x += x_off + b * x_bs;                                                                                         \
        wp += w_off + b * w_bs + (size_t)p * K * PW;                                                                   \
        y += y_off + b * y_bs;                                                                                         \
        int cols = min(PW, N - n0);                                                                                    \
        float16 b0 = (float16)(0.0f), b1 = (float16)(0.0f);                                                            \
        if (act && cols == PW) {                                                                                       \
            b0 = vload16(0, bias + n0);                                                                                \
            b1 = vload16(1, bias + n0);                                                                                \
        } else if (act) {                                                                                              \
            float bp[PW];                                                                                              \
            for (int c = 0; c < PW; c++) bp[c] = c < cols ? bias[n0 + c] : 0.0f;                                       \
            b0 = vload16(0, bp);                                                                                       \
            b1 = vload16(1, bp);                                                                                       \
        }                                                                                                              \
        for (int m0 = m_begin; m0 < m_end; m0 += RB) {                                                                 \
            float16 acc[RB][2];                                                                                        \
            size_t xo[RB];                                                                                             \
            _Pragma("unroll") for (int m = 0; m < RB; m++)                                                             \
            {                                                                                                          \
                acc[m][0] = acc[m][1] = (float16)(0.0f);                                                               \
                xo[m] = (size_t)min(m0 + m, M - 1) * ldx;                                                              \
            }                                                                                                          \
            for (int k = 0; k < K; k++) {                                                                              \
                float16 w0 = LOADW(wp, k, 0), w1 = LOADW(wp, k, 1);                                                    \
                _Pragma("unroll") for (int m = 0; m < RB; m++)                                                         \
                {                                                                                                      \
                    float16 xv = (float16)(x[xo[m] + k]);                                                              \
                    acc[m][0] = VFMA(xv, w0, acc[m][0]);                                                                \
                    acc[m][1] = VFMA(xv, w1, acc[m][1]);                                                                \
                }                                                                                                      \
            }                                                                                                          \
            _Pragma("unroll") for (int m = 0; m < RB; m++)                                                             \
            {                                                                                                          \
                if (m0 + m >= m_end) break;                                                                            \
                __global float *yr = y + (size_t)(m0 + m) * N + n0;                                                    \
                acc[m][0] += b0;                                                                                       \
                acc[m][1] += b1;                                                                                       \
                if (act == 2) {                                                                                        \
                    acc[m][0] = gelu_tanh16(acc[m][0]);                                                                \
                    acc[m][1] = gelu_tanh16(acc[m][1]);                                                                \
                }                                                                                                      \
                if (cols == PW) {                                                                                      \
                    vstore16(acc[m][0], 0, yr);                                                                        \
                    vstore16(acc[m][1], 1, yr);                                                                        \
                } else { /* the last, partial panel */                                                                 \
                    float r[PW];                                                                                       \
                    vstore16(acc[m][0], 0, r);                                                                         \
                    vstore16(acc[m][1], 1, r);                                                                         \
                    for (int c = 0; c < cols; c++) yr[c] = r[c];                                                       \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }

LINEAR_PACKED(2, , float, LOADW_F32)
LINEAR_PACKED(4, , float, LOADW_F32)
LINEAR_PACKED(8, , float, LOADW_F32)
LINEAR_PACKED(2, _f16, half, LOADW_F16)
LINEAR_PACKED(4, _f16, half, LOADW_F16)
LINEAR_PACKED(8, _f16, half, LOADW_F16)
LINEAR_PACKED(2, _bf16, ushort, LOADW_BF16)
LINEAR_PACKED(4, _bf16, ushort, LOADW_BF16)
LINEAR_PACKED(8, _bf16, ushort, LOADW_BF16)

/* pack_panels: a K x N operand B into linear_packed's panels, scaled by alpha: out[p][k][c] = alpha * B(k, 32p + c),
 * 0 past column N; B(k, n) = B[b_off + k * ldb + n], or with trans_b B[b_off + n * ldb + k] (B given as [N][K]).
 * For products whose second operand is computed, not loaded (the decoder's attention). Global (32 * panels, K). */
__kernel void pack_panels(__global const float *B, ulong b_off, int ldb, int trans_b, int K, int N, float alpha,
                          __global float *out)
{
    int n = get_global_id(0), k = get_global_id(1);
    if (k >= K) return;
    float v = 0.0f;
    if (n < N) v = alpha * B[b_off + (trans_b ? (size_t)n * ldb + k : (size_t)k * ldb + n)];
    out[((size_t)(n / PW) * K + k) * PW + n % PW] = v;
}

/* linear_simt: y[b][m][n] = act(alpha * sum_k x[b][m][k] * W(k, n) + bias[n]) with W [K][N] as CLBlast takes it,
 * for devices whose neighbouring work-items are SIMD lanes but which CLBlast does not serve well (policy.h: Mesa's
 * llvmpipe, where CLBlast's default parameters ran the decoder's products at 0.1-0.4 GFLOP/s). Work-item (column
 * block, row block) computes 4 columns of 8 rows in named float4 accumulators: llvmpipe turns private arrays into
 * memory indexed per lane, and every work-item costs it a fixed few ns, so each does 32 outputs (measured on
 * 512 x 128 -> 512: one column per work-item with an array of 8 rows 0.1 GFLOP/s, 4 columns x 8 rows 2-5).
 * W(k, n) = w[k * ldw + n], or w[n * ldw + k] with trans_w (B given as [N][K]: the decoder's q k^T). x rows ldx
 * apart, y rows ldy apart; rows past M repeat row M - 1 and columns past N column N - 1, neither written.
 * act as linear_packed (0 none, 1 bias, 2 bias + GELU). Global (ceil(N / 4), ceil(M / 8), batch).
 * Weights stored as f32 (linear_simt), f16 (_f16) or bf16 (_bf16), widened as they are read and summed in f32 (as
 * linear_packed's): w_off, w_bs and ldw count elements of the stored dtype. Few-row products stream W, so 16 bits
 * read half the bytes; the 16-bit kernels serve weights only (computed operands are f32). */
#define SIMT_ROW(r) __global const float *x##r = xb + min(r, rows - 1) * ldx;
#define SIMT_FMA(r) a##r = VFMA((float4)(x##r[k]), wv, a##r);
/* v (a row's 4 columns, bias added) with GELU where act is 2, stored as its first `cols` (1..4) floats at yr */
void store_cols4(float4 v, int act, int cols, __global float *yr)
{
    if (act == 2) v = 0.5f * v * (1.0f + tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    if (cols == 4) vstore4(v, 0, yr);
    else {
        yr[0] = v.x;
        if (cols > 1) yr[1] = v.y;
        if (cols > 2) yr[2] = v.z;
    }
}
#define SIMT_STORE(r)                                                                                                  \
    if (r < rows) store_cols4(alpha * a##r + bv, act, cols, yb + (size_t)r * ldy);

/* Weights as linear_simt reads them, widened to f32: W1 one element at p, W4 and W8 4 and 8 in a row from p. f16 by
 * vload_half (no cl_khr_fp16), bf16 as the high half of an f32. */
#define W1_F32(p) (*(p))
#define W4_F32(p) vload4(0, (p))
#define W8_F32(p) vload8(0, (p))
#define W1_F16(p) vload_half(0, (p))
#define W4_F16(p) vload_half4(0, (p))
#define W8_F16(p) vload_half8(0, (p))
#define W1_BF16(p) as_float((uint)(*(p)) << 16)
#define W4_BF16(p) as_float4(convert_uint4(vload4(0, (p))) << 16)
#define W8_BF16(p) as_float8(convert_uint8(vload8(0, (p))) << 16)

/* linear_simt{,_f16,_bf16} (WTYPE: the weights' storage, W1/W4: their loads). */
#define LINEAR_SIMT(SUFFIX, WTYPE, W1, W4)                                                                             \
    __kernel void linear_simt##SUFFIX(__global const float *x, ulong x_off, ulong x_bs, int ldx,                       \
                                      __global const WTYPE *w, ulong w_off, ulong w_bs, int ldw, int trans_w,          \
                                      __global float *y, ulong y_off, ulong y_bs, int ldy, int M, int N, int K,        \
                                      float alpha, __global const float *bias, int act)                                \
    {                                                                                                                  \
        int n = get_global_id(0) * 4, m0 = get_global_id(1) * 8, b = get_global_id(2);                                 \
        if (n >= N || m0 >= M) return;                                                                                 \
        int rows = min(8, M - m0), cols = min(4, N - n);                                                               \
        __global const float *xb = x + x_off + b * x_bs + (size_t)m0 * ldx;                                            \
        __global const WTYPE *wb = w + w_off + b * w_bs;                                                               \
        SIMT_ROW(0) SIMT_ROW(1) SIMT_ROW(2) SIMT_ROW(3) SIMT_ROW(4) SIMT_ROW(5) SIMT_ROW(6) SIMT_ROW(7)                \
        float4 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;                 \
        if (cols == 4 && !trans_w) {                                                                                   \
            for (int k = 0; k < K; k++) {                                                                              \
                float4 wv = W4(wb + (size_t)k * ldw + n);                                                              \
                SIMT_FMA(0) SIMT_FMA(1) SIMT_FMA(2) SIMT_FMA(3) SIMT_FMA(4) SIMT_FMA(5) SIMT_FMA(6) SIMT_FMA(7)        \
            }                                                                                                          \
        } else { /* W transposed, or the last columns: W(k, n + c) one by one, columns past N repeat N - 1 */          \
            size_t wk = trans_w ? 1 : (size_t)ldw, wn = trans_w ? (size_t)ldw : 1;                                     \
            __global const WTYPE *c0 = wb + (size_t)n * wn, *c1 = wb + (size_t)min(n + 1, N - 1) * wn,                 \
                                 *c2 = wb + (size_t)min(n + 2, N - 1) * wn, *c3 = wb + (size_t)min(n + 3, N - 1) * wn; \
            for (int k = 0; k < K; k++) {                                                                              \
                size_t o = (size_t)k * wk;                                                                             \
                float4 wv = (float4)(W1(c0 + o), W1(c1 + o), W1(c2 + o), W1(c3 + o));                                  \
                SIMT_FMA(0) SIMT_FMA(1) SIMT_FMA(2) SIMT_FMA(3) SIMT_FMA(4) SIMT_FMA(5) SIMT_FMA(6) SIMT_FMA(7)        \
            }                                                                                                          \
        }                                                                                                              \
        float4 bv = 0.0f;                                                                                              \
        if (act) bv = (float4)(bias[n], bias[min(n + 1, N - 1)], bias[min(n + 2, N - 1)], bias[min(n + 3, N - 1)]);    \
        __global float *yb = y + y_off + b * y_bs + (size_t)m0 * ldy + n;                                              \
        SIMT_STORE(0) SIMT_STORE(1) SIMT_STORE(2) SIMT_STORE(3) SIMT_STORE(4) SIMT_STORE(5) SIMT_STORE(6)              \
        SIMT_STORE(7)                                                                                                  \
    }
LINEAR_SIMT(, float, W1_F32, W4_F32)
LINEAR_SIMT(_f16, half, W1_F16, W4_F16)
LINEAR_SIMT(_bf16, ushort, W1_BF16, W4_BF16)

/* linear_simt8: the same product, 8 columns x 8 rows per work-item in float8 accumulators, for llvmpipe (policy.h
 * simt_cols), and only its plain cases: W not transposed, N a multiple of 8, act 0 or 1 (GELU runs as bias_gelu
 * after it; gemm.c picks linear_simt for the rest). Kept this small on purpose: rusticl 22.3 on llvmpipe pays per
 * launch in proportion to the kernel's code (a 1 x 8 -> 8 product: linear_simt 2.0 ms, the same kernel with 8
 * columns 3.0 ms, this one 0.8-1.1 ms; its GELU epilogue alone added 2 ms), and most of the transformer's products are
 * small. On 64 x 128 -> 512: 2.0 ms against linear_simt's 3.7-4.0 ms. Global (N / 8, ceil(M / 8), batch). */
#define SIMT8_FMA(r) a##r = VFMA((float8)(x##r[k]), wv, a##r);
#define SIMT8_STORE(r)                                                                                                 \
    if (r < rows) vstore8(alpha * a##r + bv, 0, yb + (size_t)r * ldy);
#define LINEAR_SIMT8(SUFFIX, WTYPE, W8)                                                                                \
    __kernel void linear_simt8##SUFFIX(__global const float *x, ulong x_off, ulong x_bs, int ldx,                      \
                                       __global const WTYPE *w, ulong w_off, ulong w_bs, int ldw, int trans_w,         \
                                       __global float *y, ulong y_off, ulong y_bs, int ldy, int M, int N, int K,       \
                                       float alpha, __global const float *bias, int act)                               \
    {                                                                                                                  \
        int n = get_global_id(0) * 8, m0 = get_global_id(1) * 8, b = get_global_id(2);                                \
        if (n >= N || m0 >= M) return;                                                                                 \
        int rows = min(8, M - m0);                                                                                     \
        __global const float *xb = x + x_off + b * x_bs + (size_t)m0 * ldx;                                            \
        __global const WTYPE *wb = w + w_off + b * w_bs + n;                                                           \
        SIMT_ROW(0) SIMT_ROW(1) SIMT_ROW(2) SIMT_ROW(3) SIMT_ROW(4) SIMT_ROW(5) SIMT_ROW(6) SIMT_ROW(7)                \
        float8 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;                 \
        for (int k = 0; k < K; k++) {                                                                                  \
            float8 wv = W8(wb + (size_t)k * ldw);                                                                      \
            SIMT8_FMA(0) SIMT8_FMA(1) SIMT8_FMA(2) SIMT8_FMA(3) SIMT8_FMA(4) SIMT8_FMA(5) SIMT8_FMA(6) SIMT8_FMA(7)    \
        }                                                                                                              \
        float8 bv = act ? vload8(0, bias + n) : (float8)(0.0f);                                                        \
        __global float *yb = y + y_off + b * y_bs + (size_t)m0 * ldy + n;                                              \
        SIMT8_STORE(0) SIMT8_STORE(1) SIMT8_STORE(2) SIMT8_STORE(3) SIMT8_STORE(4) SIMT8_STORE(5) SIMT8_STORE(6)       \
        SIMT8_STORE(7)                                                                                                 \
    }
LINEAR_SIMT8(, float, W8_F32)
LINEAR_SIMT8(_f16, half, W8_F16)
LINEAR_SIMT8(_bf16, ushort, W8_BF16)

/* linear_simt8w: linear_simt8 for f32 weights reading pairs of floats as one 64-bit value (x at k and k + 1 of a
 * row, W's rows k and k + 1 as four ulongs each). On llvmpipe every component of a load is a loop over the vector
 * lanes whatever its width, so a ulong carries two floats for the cost of one (the 8 x 8 product at 512^3 on rusticl:
 * 28-30 ms against 19-21). The same sums in the same order (k, then k + 1): the same floats as linear_simt8. x's and
 * w's offsets, batch strides and row strides even (pairs 8-byte aligned); an odd K ends with one plain step. */
#define SIMT8_PAIR(r)                                                                                                  \
    {                                                                                                                  \
        const float2 xp = as_float2(*(__global const ulong *)(x##r + k));                                              \
        a##r = VFMA((float8)(xp.x), wv, a##r);                                                                         \
        a##r = VFMA((float8)(xp.y), wv1, a##r);                                                                        \
    }
__kernel void linear_simt8w(__global const float *x, ulong x_off, ulong x_bs, int ldx, __global const float *w,
                            ulong w_off, ulong w_bs, int ldw, int trans_w, __global float *y, ulong y_off, ulong y_bs,
                            int ldy, int M, int N, int K, float alpha, __global const float *bias, int act)
{
    int n = get_global_id(0) * 8, m0 = get_global_id(1) * 8, b = get_global_id(2);
    if (n >= N || m0 >= M) return;
    int rows = min(8, M - m0);
    __global const float *xb = x + x_off + b * x_bs + (size_t)m0 * ldx;
    __global const float *wb = w + w_off + b * w_bs + n;
    SIMT_ROW(0) SIMT_ROW(1) SIMT_ROW(2) SIMT_ROW(3) SIMT_ROW(4) SIMT_ROW(5) SIMT_ROW(6) SIMT_ROW(7)
    float8 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;
    int k = 0;
    for (; k + 1 < K; k += 2) {
        const float8 wv = as_float8(vload4(0, (__global const ulong *)(wb + (size_t)k * ldw)));
        const float8 wv1 = as_float8(vload4(0, (__global const ulong *)(wb + (size_t)(k + 1) * ldw)));
        SIMT8_PAIR(0) SIMT8_PAIR(1) SIMT8_PAIR(2) SIMT8_PAIR(3) SIMT8_PAIR(4) SIMT8_PAIR(5) SIMT8_PAIR(6) SIMT8_PAIR(7)
    }
    if (k < K) {
        const float8 wv = vload8(0, wb + (size_t)k * ldw);
        SIMT8_FMA(0) SIMT8_FMA(1) SIMT8_FMA(2) SIMT8_FMA(3) SIMT8_FMA(4) SIMT8_FMA(5) SIMT8_FMA(6) SIMT8_FMA(7)
    }
    float8 bv = act ? vload8(0, bias + n) : (float8)(0.0f);
    __global float *yb = y + y_off + b * y_bs + (size_t)m0 * ldy + n;
    SIMT8_STORE(0) SIMT8_STORE(1) SIMT8_STORE(2) SIMT8_STORE(3) SIMT8_STORE(4) SIMT8_STORE(5) SIMT8_STORE(6)
    SIMT8_STORE(7)
}

/* conv3x3_simt8: a 3x3 convolution (padding 1; nearest up-sampling by `up` first) as linear_simt8 over the columns
 * that im2col3x3 would write, read where they lie: row p (an output pixel of B x H x W, H = Hin up) and k = tap Cin +
 * ci (cl/conv.cl's order) read x at the tap's neighbour of p, or `zero` (Cin zeros) outside the map. The same sums in
 * the same order as im2col3x3_simt + linear_simt8, so the same floats, without the columns in memory (9 x the map,
 * written and read back: on llvmpipe im2col3x3_simt took a third of the decoder's time). x: [B][Hin][Win][Cin];
 * w: [9 Cin][Cout] (stored dtype WTYPE); y: [B H W][Cout], rows row0 .. row0 + nrows - 1 written; bias [Cout] when
 * act = 1. Cout a multiple of 8. Global (Cout / 8, ceil(nrows / 8)). */
#define CONV_ROW(r)                                                                                                    \
    {                                                                                                                  \
        int p = min(p0 + r, plast), b = p / HW, yx = p % HW, iy = yx / W + dy, ix = yx % W + dx;                       \
        int inside = iy >= 0 && iy < H && ix >= 0 && ix < W;                                                           \
        x##r = inside ? x + (((size_t)b * Hin + iy / up) * Win + ix / up) * Cin : zero;                                \
    }
#define CONV3X3_SIMT8(SUFFIX, WTYPE, W8)                                                                               \
    __kernel void conv3x3_simt8##SUFFIX(__global const float *x, __global const float *zero, __global const WTYPE *w,  \
                                        __global float *y, __global const float *bias, int act, int Hin, int Win,      \
                                        int Cin, int up, int Cout, int row0, int nrows)                                \
    {                                                                                                                  \
        int n = get_global_id(0) * 8, m0 = get_global_id(1) * 8;                                                       \
        if (n >= Cout || m0 >= nrows) return;                                                                          \
        const int rows = min(8, nrows - m0), H = Hin * up, W = Win * up, HW = H * W;                                   \
        const int p0 = row0 + m0, plast = row0 + nrows - 1, ldy = Cout;                                                \
        const float alpha = 1.0f;                                                                                      \
        float8 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;                 \
        for (int tap = 0; tap < 9; tap++) {                                                                            \
            const int dy = tap / 3 - 1, dx = tap % 3 - 1;                                                              \
            __global const float *x0, *x1, *x2, *x3, *x4, *x5, *x6, *x7;                                               \
            CONV_ROW(0) CONV_ROW(1) CONV_ROW(2) CONV_ROW(3) CONV_ROW(4) CONV_ROW(5) CONV_ROW(6) CONV_ROW(7)            \
            __global const WTYPE *wb = w + (size_t)tap * Cin * Cout + n;                                               \
            for (int k = 0; k < Cin; k++) {                                                                            \
                float8 wv = W8(wb + (size_t)k * Cout);                                                                 \
                SIMT8_FMA(0) SIMT8_FMA(1) SIMT8_FMA(2) SIMT8_FMA(3) SIMT8_FMA(4) SIMT8_FMA(5) SIMT8_FMA(6)             \
                SIMT8_FMA(7)                                                                                           \
            }                                                                                                          \
        }                                                                                                              \
        float8 bv = act ? vload8(0, bias + n) : (float8)(0.0f);                                                        \
        __global float *yb = y + (size_t)p0 * Cout + n;                                                                \
        SIMT8_STORE(0) SIMT8_STORE(1) SIMT8_STORE(2) SIMT8_STORE(3) SIMT8_STORE(4) SIMT8_STORE(5) SIMT8_STORE(6)       \
        SIMT8_STORE(7)                                                                                                 \
    }
CONV3X3_SIMT8(, float, W8_F32)
CONV3X3_SIMT8(_f16, half, W8_F16)
CONV3X3_SIMT8(_bf16, ushort, W8_BF16)

/* linear_splitk: y = alpha x W (+ bias, GELU as act: 0, 1, 2 as linear_packed), for products of few rows on GPUs,
 * where a product streams its weights once and is bound by memory bandwidth. linear_simt gives a work-item 4
 * columns and the whole of K: N / 4 work-items (480 for VAR-d30's 1920 columns), far too few to keep a GPU's
 * memory busy. Here a work-group of SPLITK_LANES x S items covers SPLITK_LANES float4s of columns (32 columns, 128
 * contiguous bytes of a row of W per group of lanes) and splits K into S contiguous slices (S a power of two, at most
 * SPLITK_SLICES): N / 32 work-groups of up to 128 items, each item summing 8 rows (registers) over its slice of K,
 * then the slices summed in local memory by halves (the same order on every device). Every item reaches every
 * barrier, none inside a condition (pocl compiles barriers in conditions and unrolled loops very slowly): rows past
 * M repeat M - 1 and columns past N repeat N - 1, and neither is written.
 * x: rows at x_off + b * x_bs, ldx apart (f32); w: [K][N] of WTYPE at w_off + b * w_bs, ldw apart; y: rows at
 * y_off + b * y_bs, ldy apart. Global (ceil(N / 32) * SPLITK_LANES, S, batch * ceil(M / 8)), local (SPLITK_LANES, S,
 * 1); rows m0 = 8 * (gid2 % row_blocks) .. + 8 of batch gid2 / row_blocks. red: local memory of 8 x S x SPLITK_LANES
 * float4s (16 KiB at S = 16), an argument rather than an array of the kernel: Oclgrind counts every kernel's arrays
 * against one work-group's limit. */
#define SPLITK_LANES 8
#define SPLITK_SLICES 16
#define SPLITK_ROW(r) __global const float *x##r = xb + min(r, rows - 1) * ldx + k0;
#define SPLITK_FMA(r) a##r = VFMA((float4)(x##r[k]), wv, a##r);
#define SPLITK_PUT(r) red[(r * S + s) * SPLITK_LANES + c] = a##r;
#define LINEAR_SPLITK(SUFFIX, WTYPE, W1, W4)                                                                           \
    __kernel void linear_splitk##SUFFIX(__global const float *x, ulong x_off, ulong x_bs, int ldx,                     \
                                        __global const WTYPE *w, ulong w_off, ulong w_bs, int ldw, __global float *y,  \
                                        ulong y_off, ulong y_bs, int ldy, int M, int N, int K, float alpha,            \
                                        __global const float *bias, int act, int row_blocks, __local float4 *red)      \
    {                                                                                                                  \
        const int c = get_local_id(0), s = get_local_id(1), S = get_local_size(1);                                     \
        const int n = get_global_id(0) * 4, b = get_global_id(2) / row_blocks;                                         \
        const int m0 = get_global_id(2) % row_blocks * 8, rows = min(8, M - m0), cols = clamp(N - n, 0, 4);            \
        const int per = (K + S - 1) / S, k0 = min(K, s * per), kn = min(K, k0 + per) - k0;                             \
        const int n1 = min(n + 1, N - 1), n2 = min(n + 2, N - 1), n3 = min(n + 3, N - 1);                              \
        __global const float *xb = x + x_off + b * x_bs + (size_t)m0 * ldx;                                            \
        __global const WTYPE *wb = w + w_off + b * w_bs + (size_t)k0 * ldw;                                            \
        SPLITK_ROW(0) SPLITK_ROW(1) SPLITK_ROW(2) SPLITK_ROW(3) SPLITK_ROW(4) SPLITK_ROW(5) SPLITK_ROW(6)              \
        SPLITK_ROW(7)                                                                                                  \
        float4 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;                 \
        if (cols == 4) {                                                                                               \
            for (int k = 0; k < kn; k++) {                                                                             \
                float4 wv = W4(wb + (size_t)k * ldw + n);                                                              \
                SPLITK_FMA(0) SPLITK_FMA(1) SPLITK_FMA(2) SPLITK_FMA(3) SPLITK_FMA(4) SPLITK_FMA(5) SPLITK_FMA(6)      \
                SPLITK_FMA(7)                                                                                          \
            }                                                                                                          \
        } else if (cols > 0) { /* the last columns one by one */                                                       \
            for (int k = 0; k < kn; k++) {                                                                             \
                __global const WTYPE *wr = wb + (size_t)k * ldw;                                                       \
                float4 wv = (float4)(W1(wr + n), W1(wr + n1), W1(wr + n2), W1(wr + n3));                               \
                SPLITK_FMA(0) SPLITK_FMA(1) SPLITK_FMA(2) SPLITK_FMA(3) SPLITK_FMA(4) SPLITK_FMA(5) SPLITK_FMA(6)      \
                SPLITK_FMA(7)                                                                                          \
            }                                                                                                          \
        }                                                                                                              \
        SPLITK_PUT(0) SPLITK_PUT(1) SPLITK_PUT(2) SPLITK_PUT(3) SPLITK_PUT(4) SPLITK_PUT(5) SPLITK_PUT(6)              \
        SPLITK_PUT(7)                                                                                                  \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                                  \
        for (int h = S / 2; h > 0; h /= 2) {                                                                           \
            if (s < h)                                                                                                 \
                for (int r = 0; r < 8; r++)                                                                            \
                    red[(r * S + s) * SPLITK_LANES + c] += red[(r * S + s + h) * SPLITK_LANES + c];                    \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                              \
        }                                                                                                              \
        if (s == 0 && cols > 0) {                                                                                      \
            const float4 bv = act ? (float4)(bias[n], bias[n1], bias[n2], bias[n3]) : (float4)(0.0f);                  \
            __global float *yb = y + y_off + b * y_bs + (size_t)m0 * ldy + n;                                          \
            for (int r = 0; r < rows; r++)                                                                             \
                store_cols4(alpha * red[r * S * SPLITK_LANES + c] + bv, act, cols, yb + (size_t)r * ldy);              \
        }                                                                                                              \
    }
LINEAR_SPLITK(, float, W1_F32, W4_F32)
LINEAR_SPLITK(_f16, half, W1_F16, W4_F16)
LINEAR_SPLITK(_bf16, ushort, W1_BF16, W4_BF16)

/* widen: out[i] = W[w_off + i] widened to f32, i < n: a 16-bit weight matrix for a product that reads f32 only
 * (CLBlast's SGEMM, where it runs the products of many rows; host/gemm.c). The values are exact, so the product is
 * the one an f32 copy of the weights gives. Global n, one element per work-item (neighbours read neighbours). */
#define WIDEN(SUFFIX, WTYPE, W1)                                                                                       \
    __kernel void widen##SUFFIX(__global const WTYPE *w, ulong w_off, __global float *out, ulong n)                    \
    {                                                                                                                  \
        size_t i = get_global_id(0);                                                                                   \
        if (i < n) out[i] = W1(w + w_off + i);                                                                         \
    }
WIDEN(_f16, half, W1_F16)
WIDEN(_bf16, ushort, W1_BF16)
