/* attention: VAR's L2-normalised self-attention over the paged KV cache.
 * A layer's K/V for one CFG row live in pages of P tokens: table[tab_off + row * max_pages + k] is the pool page
 * holding the row's tokens k*P .. k*P+P-1 (tab_off selects the layer). Pools: [pages][P][C] for K and for V (all
 * heads; head h at columns h*64 .. h*64+63). Storage is f32 (kernels *_f32) or f16 (*_f16, through
 * vload_half/vstore_half, which need no cl_khr_fp16); the math is f32 either way. */
#define HD 64
#define KB 32 /* keys per softmax block */

#define LOAD_f32(p, i) ((p)[i])
#define STORE_f32(p, i, v) ((p)[i] = (v))
#define LOAD_f16(p, i) vload_half((i), (p))
#define STORE_f16(p, i, v) vstore_half((v), (i), (p))

/* qk_norm_store_*: from qkv [N][3C] (mat_qkv output, no bias): q = normalize(q + q_bias) * s_h, k = normalize(k),
 * v = v + v_bias, s_h = exp(min(scale_mul[h], ln 100)). Writes q to q_out [N][C] and appends k, v at positions
 * pos0 + t of row r = i / T. Global (N, H).
 *
 * attention_*: out[i] = softmax(q_i K^T) V over the row's first kv_len cached tokens (softmax scale 1: q carries
 * s_h). Online softmax, one (token, head) per work-item. q, out: [N][C]. Global (N, H). */
#define KV_KERNELS(TY, T)                                                                                              \
    __kernel void qk_norm_store_##TY(__global const float *qkv, __global const float *q_bias,                          \
                                     __global const float *v_bias, __global const float *scale_mul,                    \
                                     __global float *q_out, __global T *kpool, __global T *vpool,                      \
                                     __global const int *table, int N, int T_, int C, int pos0, int P, int max_pages,  \
                                     int tab_off)                                                                      \
    {                                                                                                                  \
        int i = get_global_id(0), h = get_global_id(1);                                                                \
        if (i >= N || h * HD >= C) return;                                                                             \
        __global const float *src = qkv + (size_t)i * 3 * C + h * HD;                                                  \
        float q[HD], k[HD];                                                                                            \
        float qn = 0, kn = 0;                                                                                          \
        for (int d = 0; d < HD; d++) {                                                                                 \
            q[d] = src[d] + q_bias[h * HD + d];                                                                        \
            k[d] = src[C + d];                                                                                         \
            qn += q[d] * q[d];                                                                                         \
            kn += k[d] * k[d];                                                                                         \
        }                                                                                                              \
        float s = exp(fmin(scale_mul[h], log(100.0f)));                                                                \
        float qi = 1.0f / fmax(sqrt(qn), 1e-12f), ki = 1.0f / fmax(sqrt(kn), 1e-12f);                                  \
        int r = i / T_, p = pos0 + i % T_;                                                                             \
        int page = table[tab_off + r * max_pages + p / P];                                                             \
        size_t slot = ((size_t)page * P + p % P) * C + h * HD;                                                         \
        __global float *qo = q_out + (size_t)i * C + h * HD;                                                           \
        for (int d = 0; d < HD; d++) {                                                                                 \
            qo[d] = q[d] * qi * s;                                                                                     \
            STORE_##TY(kpool, slot + d, k[d] * ki);                                                                    \
            STORE_##TY(vpool, slot + d, src[2 * C + d] + v_bias[h * HD + d]);                                          \
        }                                                                                                              \
    }                                                                                                                  \
                                                                                                                       \
    __kernel void attention_##TY(__global const float *q, __global const T *kpool, __global const T *vpool,            \
                                 __global const int *table, __global float *out, int N, int T_, int C, int kv_len,     \
                                 int P, int max_pages, int tab_off)                                                    \
    {                                                                                                                  \
        int i = get_global_id(0), h = get_global_id(1);                                                                \
        if (i >= N || h * HD >= C) return;                                                                             \
        float qv[HD], acc[HD], s[KB];                                                                                  \
        __global const float *qi = q + (size_t)i * C + h * HD;                                                         \
        for (int d = 0; d < HD; d++) {                                                                                 \
            qv[d] = qi[d];                                                                                             \
            acc[d] = 0;                                                                                                \
        }                                                                                                              \
        __global const int *tab = table + tab_off + (i / T_) * max_pages;                                              \
        float m = -3.0e38f, l = 0;                                                                                     \
        /* keys in blocks of KB: the running sum and accumulator are rescaled once per block, not once per key */     \
        for (int j0 = 0; j0 < kv_len; j0 += KB) {                                                                      \
            int nb = min(KB, kv_len - j0);                                                                             \
            float bm = -3.0e38f;                                                                                       \
            for (int jj = 0; jj < nb; jj++) {                                                                          \
                int j = j0 + jj;                                                                                       \
                size_t slot = ((size_t)tab[j / P] * P + j % P) * C + h * HD;                                           \
                float dot = 0;                                                                                         \
                for (int d = 0; d < HD; d++) dot += qv[d] * LOAD_##TY(kpool, slot + d);                                \
                s[jj] = dot;                                                                                           \
                bm = fmax(bm, dot);                                                                                    \
            }                                                                                                          \
            float mn = fmax(m, bm), corr = exp(m - mn);                                                                \
            l *= corr;                                                                                                 \
            for (int d = 0; d < HD; d++) acc[d] *= corr;                                                               \
            for (int jj = 0; jj < nb; jj++) {                                                                          \
                int j = j0 + jj;                                                                                       \
                size_t slot = ((size_t)tab[j / P] * P + j % P) * C + h * HD;                                           \
                float w = exp(s[jj] - mn);                                                                             \
                l += w;                                                                                                \
                for (int d = 0; d < HD; d++) acc[d] += w * LOAD_##TY(vpool, slot + d);                                 \
            }                                                                                                          \
            m = mn;                                                                                                    \
        }                                                                                                              \
        __global float *o = out + (size_t)i * C + h * HD;                                                              \
        float inv = 1.0f / l;                                                                                          \
        for (int d = 0; d < HD; d++) o[d] = acc[d] * inv;                                                              \
    }

KV_KERNELS(f32, float)
KV_KERNELS(f16, half)
