/* elementwise: bias, activations, residuals and the token embedding of a scale. Layouts token-major [rows][N]. */

/* y[off + i] += b[i % N] for i < total: bias of a [rows][N] block starting at element off. */
__kernel void add_bias(__global float *y, __global const float *b, int total, int N, int off)
{
    int i = get_global_id(0);
    if (i >= total) return;
    y[off + i] += b[i % N];
}

/* y[off + i] = GELU_tanh(y[off + i] + b[i % N]): the FFN's fc1 bias and activation (after CLBlast; packed products
 * apply it in linear_packed). */
__kernel void bias_gelu(__global float *y, __global const float *b, int total, int N, int off)
{
    int i = get_global_id(0);
    if (i >= total) return;
    float v = y[off + i] + b[i % N];
    y[off + i] = 0.5f * v * (1.0f + tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
}

/* y = SiLU(x), elementwise. */
__kernel void silu(__global const float *x, __global float *y, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float v = x[i];
    y[i] = v / (1.0f + exp(-v));
}

/* a += b, elementwise (VQ-VAE residual connections). */
__kernel void add_inplace(__global float *a, __global const float *b, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    a[i] += b[i];
}

/* The input of scale si >= 1: x[r][t] = (y[r mod B][t] + wb) + (lvl + pos[begin + t]) for the 2B CFG rows
 * (conditional and unconditional rows get the same tokens). y: [B*T][C] = word_embed(next input) without bias;
 * lvl_embed: [scales][C] (row si is used); pos: [L][C]; x: [2B*T][C]. */
__kernel void embed_scale(__global const float *y, __global const float *wb, __global const float *lvl_embed,
                          __global const float *pos, __global float *x, int B, int T, int C, int begin, int si)
{
    __global const float *lvl = lvl_embed + (size_t)si * C;
    int i = get_global_id(0);
    if (i >= 2 * B * T * C) return;
    int c = i % C, rt = i / C, t = rt % T, r = rt / T;
    x[i] = (y[((size_t)(r % B) * T + t) * C + c] + wb[c]) + (lvl[c] + pos[(size_t)(begin + t) * C + c]);
}

/* Row softmax in place: x: [rows][N]. One row per work-item (the decoder's attention, N <= 1024). */
__kernel void softmax_rows(__global float *x, int rows, int N)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    __global float *v = x + (size_t)r * N;
    float m = -3.0e38f;
    for (int j = 0; j < N; j++) m = fmax(m, v[j]);
    float s = 0;
    for (int j = 0; j < N; j++) {
        float e = exp(v[j] - m);
        v[j] = e;
        s += e;
    }
    float inv = 1.0f / s;
    for (int j = 0; j < N; j++) v[j] *= inv;
}

/* dst = src, 16 bytes per work-item: the bandwidth probe of vbench. */
__kernel void copy_f4(__global const float4 *src, __global float4 *dst, int n4)
{
    int i = get_global_id(0);
    if (i >= n4) return;
    dst[i] = src[i];
}
