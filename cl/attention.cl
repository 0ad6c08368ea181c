/* attention: VAR's L2-normalised self-attention over the paged KV cache.
 * A layer's K/V for one CFG row live in pages of P tokens: table[tab_off + row * max_pages + k] is the pool page
 * holding the row's tokens k*P .. k*P+P-1 (tab_off selects the layer). V pool: [pages][P][C] (token-major, head h
 * at columns h*64 .. h*64+63). K pool: [pages][C][P], i.e. transposed within each page, so that one dimension of P
 * consecutive keys is contiguous: the blocked kernel scores 16 keys with one vector per dimension and needs no
 * horizontal sums. Storage is f32 (kernels *_f32) or f16 (*_f16, through vload_half/vstore_half, which need no
 * cl_khr_fp16); the math is f32 either way. */
#define HD 64

#define LOAD_f32(p, i) ((p)[i])
#define STORE_f32(p, i, v) ((p)[i] = (v))
#define LOAD_f16(p, i) vload_half((i), (p))
#define LOAD16_f32(p) vload16(0, (p))
#define LOAD16_f16(p) vload_half16(0, (p))
#define QB 4 /* queries per work-item in attention_blk */
#define STORE_f16(p, i, v) vstore_half((v), (i), (p))

/* q . (16 keys' dimensions d0..d0+15 of one key): k points at dimension d0 of the key, dimensions P apart (the
 * K pool's transposed pages). Written out: private arrays indexed in a loop became per-lane memory on llvmpipe
 * (attention 101 ms per call there against 0.7 ms on pocl for the tiny model's last scale). */
#define DOT16_BODY(LD)                                                                                                 \
    (q.s0 * LD(0) + q.s1 * LD(1) + q.s2 * LD(2) + q.s3 * LD(3) + q.s4 * LD(4) + q.s5 * LD(5) + q.s6 * LD(6) +          \
     q.s7 * LD(7) + q.s8 * LD(8) + q.s9 * LD(9) + q.sa * LD(10) + q.sb * LD(11) + q.sc * LD(12) + q.sd * LD(13) +      \
     q.se * LD(14) + q.sf * LD(15))
#define LD_F32(d) k[(size_t)(d) * P]
#define LD_F16(d) vload_half((size_t)(d) * P, k)
float attn_dot16_f32(float16 q, __global const float *k, int P) { return DOT16_BODY(LD_F32); }
float attn_dot16_f16(float16 q, __global const half *k, int P) { return DOT16_BODY(LD_F16); }
#define DOT16_f32(q, k, P) attn_dot16_f32(q, k, P)
#define DOT16_f16(q, k, P) attn_dot16_f16(q, k, P)

/* One dimension of the first nk (< 16) of 16 consecutive keys, zeros after them: the last block of keys when
 * kv_len is not a multiple of 16. The page holds slots past kv_len that no kernel has written yet (this image's
 * later scales; on Oclgrind, which varcl leaves unfilled, undefined values); they are never read. */
float16 attn_keys_part_f32(__global const float *k, int nk)
{
    float t[16];
    for (int l = 0; l < 16; l++) t[l] = l < nk ? k[l] : 0.0f;
    return vload16(0, t);
}
float16 attn_keys_part_f16(__global const half *k, int nk)
{
    float t[16];
    for (int l = 0; l < 16; l++) t[l] = l < nk ? vload_half(l, k) : 0.0f;
    return vload16(0, t);
}
/* Lanes 8..15 of a float16 as a float8, lane by lane: the same code as .hi after optimisation, but Oclgrind 21.10
 * marks .hi (and .s89abcdef) of a float16 uninitialised whatever its value (tests/oclgrind_repro.c, "upper"). */
#define HI8(v) ((float8)((v).s8, (v).s9, (v).sa, (v).sb, (v).sc, (v).sd, (v).se, (v).sf))
/* One head's 64 outputs at o: the four float16 accumulators divided by the softmax sum l (inv = 1 / l). */
#define STORE_HEAD(o, v0, v1, v2, v3, inv)                                                                             \
    vstore16((v0) * (inv), 0, (o));                                                                                    \
    vstore16((v1) * (inv), 1, (o));                                                                                    \
    vstore16((v2) * (inv), 2, (o));                                                                                    \
    vstore16((v3) * (inv), 3, (o));
#define KEYS16_f32(k, nk) ((nk) == 16 ? vload16(0, (k)) : attn_keys_part_f32((k), (nk)))
#define KEYS16_f16(k, nk) ((nk) == 16 ? vload_half16(0, (k)) : attn_keys_part_f16((k), (nk)))

/* qk_norm_store_*: from qkv [N][3C] (mat_qkv output, no bias): q = normalize(q + q_bias) * s_h, k = normalize(k),
 * v = v + v_bias, s_h = exp(min(scale_mul[h], ln 100)). Writes q to q_out [N][C] and appends k, v at positions
 * pos0 + t of row r = i / T. Global (N, H).
 *
 * attention_*: out[i] = softmax(q_i K^T) V over the row's first kv_len cached tokens (softmax scale 1: q carries
 * s_h). Online softmax key by key, one (token, head) per work-item, q and the accumulator in float16 vectors: the
 * shape for SIMD lanes (a GPU warp's or llvmpipe's lanes take neighbouring queries, which read the same keys), and
 * the fallback when P is not a multiple of 16. q, out: [N][C]. Global (N, H).
 *
 * attention_blk_*: the same result for CPUs (pocl vectorises inside a work-item, not across work-items around an
 * inner loop): one work-item takes QB queries of one (row, head) and walks the keys in blocks of 16 with float16
 * vectors; each K and V load serves QB queries. Needs P % 16 == 0 (a block never spans pages).
 * Global (ceil(T / QB), H, rows). */
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
        size_t vslot = ((size_t)page * P + p % P) * C + h * HD, kslot = ((size_t)page * C + h * HD) * P + p % P;       \
        __global float *qo = q_out + (size_t)i * C + h * HD;                                                           \
        for (int d = 0; d < HD; d++) {                                                                                 \
            qo[d] = q[d] * qi * s;                                                                                     \
            STORE_##TY(kpool, kslot + (size_t)d * P, k[d] * ki);                                                       \
            STORE_##TY(vpool, vslot + d, src[2 * C + d] + v_bias[h * HD + d]);                                         \
        }                                                                                                              \
    }                                                                                                                  \
                                                                                                                       \
    __kernel void attention_##TY(__global const float *q, __global const T *kpool, __global const T *vpool,            \
                                 __global const int *table, __global float *out, int N, int T_, int C, int kv_len,     \
                                 int P, int max_pages, int tab_off)                                                    \
    {                                                                                                                  \
        int i = get_global_id(0), h = get_global_id(1);                                                                \
        if (i >= N || h * HD >= C) return;                                                                             \
        __global const float *qi = q + (size_t)i * C + h * HD;                                                         \
        float16 q0 = vload16(0, qi), q1 = vload16(1, qi), q2 = vload16(2, qi), q3 = vload16(3, qi);                    \
        float16 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;                                                            \
        __global const int *tab = table + tab_off + (i / T_) * max_pages;                                              \
        float m = -3.0e38f, l = 0;                                                                                     \
        for (int j = 0; j < kv_len; j++) {                                                                             \
            int page = tab[j / P], jp = j % P;                                                                         \
            __global const T *kb = kpool + ((size_t)page * C + h * HD) * P + jp; /* dimension d at kb + d * P */       \
            __global const T *vb = vpool + ((size_t)page * P + jp) * C + h * HD;                                       \
            size_t p16 = (size_t)16 * P;                                                                               \
            float dot = DOT16_##TY(q0, kb, P) + DOT16_##TY(q1, kb + p16, P) + DOT16_##TY(q2, kb + 2 * p16, P) +        \
                        DOT16_##TY(q3, kb + 3 * p16, P);                                                               \
            float mn = fmax(m, dot), corr = exp(m - mn), w = exp(dot - mn);                                            \
            l = l * corr + w;                                                                                          \
            a0 = VFMA((float16)(w), LOAD16_##TY(vb), a0 * corr);                                                       \
            a1 = VFMA((float16)(w), LOAD16_##TY(vb + 16), a1 * corr);                                                  \
            a2 = VFMA((float16)(w), LOAD16_##TY(vb + 32), a2 * corr);                                                  \
            a3 = VFMA((float16)(w), LOAD16_##TY(vb + 48), a3 * corr);                                                  \
            m = mn;                                                                                                    \
        }                                                                                                              \
        __global float *o = out + (size_t)i * C + h * HD;                                                              \
        STORE_HEAD(o, a0, a1, a2, a3, 1.0f / l)                                                                        \
    }

#define BLK_KERNEL(TY, T)                                                                                              \
    __kernel void attention_blk_##TY(__global const float *q, __global const T *kpool, __global const T *vpool,        \
                                     __global const int *table, __global float *out, int N, int T_, int C, int kv_len, \
                                     int P, int max_pages, int tab_off)                                                \
    {                                                                                                                  \
        int t0 = get_global_id(0) * QB, h = get_global_id(1), r = get_global_id(2);                                    \
        if (t0 >= T_ || h * HD >= C || r * T_ >= N) return;                                                            \
        int nq = min(QB, T_ - t0);                                                                                     \
        float qv[QB][HD], m[QB], l[QB], p[QB][16];                                                                     \
        float16 acc[QB][4];                                                                                            \
        _Pragma("unroll") for (int a = 0; a < QB; a++) { /* queries past T_ repeat the last one and are not written */ \
            __global const float *qi = q + ((size_t)r * T_ + t0 + min(a, nq - 1)) * C + h * HD;                        \
            for (int d = 0; d < HD; d++) qv[a][d] = qi[d];                                                             \
            _Pragma("unroll") for (int c = 0; c < 4; c++) acc[a][c] = (float16)(0.0f);                                 \
            m[a] = -3.0e38f;                                                                                           \
            l[a] = 0.0f;                                                                                               \
        }                                                                                                              \
        __global const int *tab = table + tab_off + r * max_pages;                                                     \
        const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);                              \
        for (int j0 = 0; j0 < kv_len; j0 += 16) {                                                                      \
            int page = tab[j0 / P], jp = j0 % P, nk = min(16, kv_len - j0);                                            \
            __global const T *kb = kpool + ((size_t)page * C + h * HD) * P + jp; /* dim d of the 16 keys: kb + d*P */  \
            float16 s[QB];                                                                                             \
            _Pragma("unroll") for (int a = 0; a < QB; a++) s[a] = (float16)(0.0f);                                     \
            for (int d = 0; d < HD; d++) {                                                                             \
                float16 kd = KEYS16_##TY(kb + (size_t)d * P, nk); /* no key past kv_len read */                        \
                _Pragma("unroll") for (int a = 0; a < QB; a++) s[a] = VFMA((float16)(qv[a][d]), kd, s[a]);              \
            }                                                                                                          \
            _Pragma("unroll") for (int a = 0; a < QB; a++) {                                                           \
                float16 sa = select(s[a], (float16)(-3.0e38f), lane >= nk); /* keys past kv_len: no weight */          \
                float8 m8 = fmax(sa.lo, HI8(sa));                                                                      \
                float4 m4 = fmax(m8.lo, m8.hi);                                                                        \
                float2 m2 = fmax(m4.lo, m4.hi);                                                                        \
                float mn = fmax(m[a], fmax(m2.x, m2.y)), corr = exp(m[a] - mn);                                        \
                float16 e = exp(sa - mn);                                                                              \
                float8 e8 = e.lo + HI8(e);                                                                             \
                float4 e4 = e8.lo + e8.hi;                                                                             \
                l[a] = l[a] * corr + (e4.x + e4.y + e4.z + e4.w);                                                      \
                m[a] = mn;                                                                                             \
                _Pragma("unroll") for (int c = 0; c < 4; c++) acc[a][c] *= corr;                                       \
                vstore16(e, 0, p[a]);                                                                                  \
            }                                                                                                          \
            __global const T *vb = vpool + ((size_t)page * P + jp) * C + h * HD;                                       \
            for (int jj = 0; jj < nk; jj++) {                                                                          \
                _Pragma("unroll") for (int c = 0; c < 4; c++) {                                                        \
                    float16 v = LOAD16_##TY(vb + (size_t)jj * C + c * 16);                                             \
                    _Pragma("unroll") for (int a = 0; a < QB; a++) acc[a][c] = VFMA((float16)(p[a][jj]), v, acc[a][c]); \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        for (int a = 0; a < nq; a++) {                                                                                 \
            __global float *o = out + ((size_t)r * T_ + t0 + a) * C + h * HD;                                          \
            float inv = 1.0f / l[a];                                                                                   \
            _Pragma("unroll") for (int c = 0; c < 4; c++) vstore16(acc[a][c] * inv, c, o);                             \
        }                                                                                                              \
    }

KV_KERNELS(f32, float)
KV_KERNELS(f16, half)
BLK_KERNEL(f32, float)
BLK_KERNEL(f16, half)

/* attention2_*: attention_*'s result with two queries of one CFG row per work-item (pair p of row r: queries
 * r*T + 2p and r*T + 2p + 1; the second repeats the first, unwritten, when T is odd), for Mesa's llvmpipe
 * (policy.h attn_pairs): there every component of a global load costs a loop over the SIMD lanes whatever the
 * address (README "Speed"), so loading each key's 64 K and 64 V values once for two queries halves the loads per
 * FLOP; the accumulators' extra registers spill with plain vector moves. Global (R * ceil(T / 2), H). */
#define DOT16X2_BODY(LD)                                                                                               \
    float16 kv = (float16)(LD(0), LD(1), LD(2), LD(3), LD(4), LD(5), LD(6), LD(7), LD(8), LD(9), LD(10), LD(11),       \
                           LD(12), LD(13), LD(14), LD(15));                                                            \
    float16 x = qa * kv, y = qb * kv;                                                                                  \
    return (float2)(x.s0 + x.s1 + x.s2 + x.s3 + x.s4 + x.s5 + x.s6 + x.s7 + x.s8 + x.s9 + x.sa + x.sb + x.sc + x.sd +   \
                        x.se + x.sf,                                                                                   \
                    y.s0 + y.s1 + y.s2 + y.s3 + y.s4 + y.s5 + y.s6 + y.s7 + y.s8 + y.s9 + y.sa + y.sb + y.sc + y.sd +   \
                        y.se + y.sf);
float2 attn_dot16x2_f32(float16 qa, float16 qb, __global const float *k, int P) { DOT16X2_BODY(LD_F32) }
float2 attn_dot16x2_f16(float16 qa, float16 qb, __global const half *k, int P) { DOT16X2_BODY(LD_F16) }

#define PAIR_KERNEL(TY, T)                                                                                             \
    __kernel void attention2_##TY(__global const float *q, __global const T *kpool, __global const T *vpool,           \
                                  __global const int *table, __global float *out, int N, int T_, int C, int kv_len,    \
                                  int P, int max_pages, int tab_off)                                                   \
    {                                                                                                                  \
        int pt = (T_ + 1) / 2, g = get_global_id(0), h = get_global_id(1);                                             \
        int r = g / pt, t0 = 2 * (g % pt), i0 = r * T_ + t0, two = t0 + 1 < T_, i1 = two ? i0 + 1 : i0;               \
        if (i0 >= N || h * HD >= C) return;                                                                            \
        __global const float *qa = q + (size_t)i0 * C + h * HD, *qb = q + (size_t)i1 * C + h * HD;                     \
        float16 a0 = vload16(0, qa), a1 = vload16(1, qa), a2 = vload16(2, qa), a3 = vload16(3, qa);                    \
        float16 b0 = vload16(0, qb), b1 = vload16(1, qb), b2 = vload16(2, qb), b3 = vload16(3, qb);                    \
        float16 x0 = 0.0f, x1 = 0.0f, x2 = 0.0f, x3 = 0.0f, y0 = 0.0f, y1 = 0.0f, y2 = 0.0f, y3 = 0.0f;                \
        __global const int *tab = table + tab_off + r * max_pages;                                                     \
        float ma = -3.0e38f, la = 0, mb = -3.0e38f, lb = 0;                                                            \
        for (int j = 0; j < kv_len; j++) {                                                                             \
            int page = tab[j / P], jp = j % P;                                                                         \
            __global const T *kb = kpool + ((size_t)page * C + h * HD) * P + jp; /* dimension d at kb + d * P */       \
            __global const T *vb = vpool + ((size_t)page * P + jp) * C + h * HD;                                       \
            size_t p16 = (size_t)16 * P;                                                                               \
            float2 dot = attn_dot16x2_##TY(a0, b0, kb, P) + attn_dot16x2_##TY(a1, b1, kb + p16, P) +                   \
                         attn_dot16x2_##TY(a2, b2, kb + 2 * p16, P) + attn_dot16x2_##TY(a3, b3, kb + 3 * p16, P);      \
            float na = fmax(ma, dot.x), ca = exp(ma - na), wa = exp(dot.x - na);                                       \
            float nb = fmax(mb, dot.y), cb = exp(mb - nb), wb = exp(dot.y - nb);                                       \
            la = la * ca + wa;                                                                                         \
            lb = lb * cb + wb;                                                                                         \
            float16 v = LOAD16_##TY(vb);                                                                               \
            x0 = VFMA((float16)(wa), v, x0 * ca);                                                                      \
            y0 = VFMA((float16)(wb), v, y0 * cb);                                                                      \
            v = LOAD16_##TY(vb + 16);                                                                                  \
            x1 = VFMA((float16)(wa), v, x1 * ca);                                                                      \
            y1 = VFMA((float16)(wb), v, y1 * cb);                                                                      \
            v = LOAD16_##TY(vb + 32);                                                                                  \
            x2 = VFMA((float16)(wa), v, x2 * ca);                                                                      \
            y2 = VFMA((float16)(wb), v, y2 * cb);                                                                      \
            v = LOAD16_##TY(vb + 48);                                                                                  \
            x3 = VFMA((float16)(wa), v, x3 * ca);                                                                      \
            y3 = VFMA((float16)(wb), v, y3 * cb);                                                                      \
            ma = na;                                                                                                   \
            mb = nb;                                                                                                   \
        }                                                                                                              \
        __global float *o = out + (size_t)i0 * C + h * HD;                                                             \
        STORE_HEAD(o, x0, x1, x2, x3, 1.0f / la)                                                                       \
        if (two) {                                                                                                     \
            STORE_HEAD(o + C, y0, y1, y2, y3, 1.0f / lb)                                                               \
        }                                                                                                              \
    }
PAIR_KERNEL(f32, float)
PAIR_KERNEL(f16, half)

/* attn_scores_* -> attn_softmax -> attn_values_*: attention_*'s result as two products around a softmax, for Mesa's
 * llvmpipe (policy.h attn_split). There a work-item's arithmetic is cheap only while its state fits the vector
 * registers; attention2 holds two queries and their 64-wide outputs (256 floats) and rescales the outputs at every
 * key. Here each product keeps linear_simt8's 8 x 8 tile (8 queries x 8 keys, then 8 queries x 8 output dimensions)
 * and the softmax runs in between over a scores buffer, for the CFG rows r0 .. r0 + rows - 1 of the scale (the
 * caller's chunk). S: [rows * H][T][kv_len], z = (r - r0) * H + h. The queries come scaled (qk_norm_store).
 * attn_scores_*: S[z][t][j] = q[r T + t][h] . k_j. Global (ceil(kv_len / 8), ceil(T / 8), rows * H). */
#define SC_Q(i) __global const float *q##i = q + ((size_t)r * T_ + min(t0 + i, T_ - 1)) * C + h * HD;
#define SC_K(b, T)                                                                                                     \
    __global const T *k##b;                                                                                            \
    {                                                                                                                  \
        int j = min(j0 + b, kv_len - 1);                                                                               \
        k##b = kpool + ((size_t)tab[j / P] * C + h * HD) * P + j % P; /* dimension d at k + d * P */                   \
    }
#define SC_FMA(i) a##i = VFMA((float8)(q##i[d]), kv, a##i);
#define SPLIT_STORE(i, dst, ld)                                                                                        \
    if (i < nq) {                                                                                                      \
        __global float *o_ = (dst) + (size_t)(i) * (ld);                                                               \
        if (n8 == 8) vstore8(a##i, 0, o_);                                                                             \
        else {                                                                                                         \
            float t_[8];                                                                                               \
            vstore8(a##i, 0, t_);                                                                                      \
            for (int c = 0; c < n8; c++) o_[c] = t_[c];                                                                \
        }                                                                                                              \
    }
#define SPLIT_KERNELS(TY, T)                                                                                           \
    __kernel void attn_scores_##TY(__global const float *q, __global const T *kpool, __global const int *table,        \
                                   __global float *s, int T_, int C, int kv_len, int P, int max_pages, int tab_off,    \
                                   int r0)                                                                             \
    {                                                                                                                  \
        const int j0 = get_global_id(0) * 8, t0 = get_global_id(1) * 8, z = get_global_id(2), H = C / HD;             \
        if (j0 >= kv_len || t0 >= T_) return;                                                                          \
        const int r = r0 + z / H, h = z % H, nq = min(8, T_ - t0), n8 = min(8, kv_len - j0);                           \
        __global const int *tab = table + tab_off + r * max_pages;                                                     \
        SC_Q(0) SC_Q(1) SC_Q(2) SC_Q(3) SC_Q(4) SC_Q(5) SC_Q(6) SC_Q(7)                                                \
        SC_K(0, T) SC_K(1, T) SC_K(2, T) SC_K(3, T) SC_K(4, T) SC_K(5, T) SC_K(6, T) SC_K(7, T)                        \
        float8 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;                 \
        for (int d = 0; d < HD; d++) {                                                                                 \
            const size_t o = (size_t)d * P;                                                                            \
            float8 kv = (float8)(LOAD_##TY(k0, o), LOAD_##TY(k1, o), LOAD_##TY(k2, o), LOAD_##TY(k3, o),               \
                                 LOAD_##TY(k4, o), LOAD_##TY(k5, o), LOAD_##TY(k6, o), LOAD_##TY(k7, o));              \
            SC_FMA(0) SC_FMA(1) SC_FMA(2) SC_FMA(3) SC_FMA(4) SC_FMA(5) SC_FMA(6) SC_FMA(7)                            \
        }                                                                                                              \
        __global float *sb = s + ((size_t)z * T_ + t0) * kv_len + j0;                                                  \
        SPLIT_STORE(0, sb, kv_len) SPLIT_STORE(1, sb, kv_len) SPLIT_STORE(2, sb, kv_len) SPLIT_STORE(3, sb, kv_len)    \
        SPLIT_STORE(4, sb, kv_len) SPLIT_STORE(5, sb, kv_len) SPLIT_STORE(6, sb, kv_len) SPLIT_STORE(7, sb, kv_len)    \
    }                                                                                                                  \
    /* attn_values_*: out[r T + t][h] = sum_j S[z][t][j] v_j[h]. Global (HD / 8, ceil(T / 8), rows * H). */            \
    __kernel void attn_values_##TY(__global const float *s, __global const T *vpool, __global const int *table,        \
                                   __global float *out, int T_, int C, int kv_len, int P, int max_pages, int tab_off,  \
                                   int r0)                                                                             \
    {                                                                                                                  \
        const int d0 = get_global_id(0) * 8, t0 = get_global_id(1) * 8, z = get_global_id(2), H = C / HD;             \
        if (d0 >= HD || t0 >= T_) return;                                                                              \
        const int r = r0 + z / H, h = z % H, nq = min(8, T_ - t0), n8 = 8;                                             \
        __global const int *tab = table + tab_off + r * max_pages;                                                     \
        __global const float *p0 = s + ((size_t)z * T_ + t0) * kv_len;                                                 \
        __global const float *p1 = p0 + (size_t)min(1, nq - 1) * kv_len, *p2 = p0 + (size_t)min(2, nq - 1) * kv_len;   \
        __global const float *p3 = p0 + (size_t)min(3, nq - 1) * kv_len, *p4 = p0 + (size_t)min(4, nq - 1) * kv_len;   \
        __global const float *p5 = p0 + (size_t)min(5, nq - 1) * kv_len, *p6 = p0 + (size_t)min(6, nq - 1) * kv_len;   \
        __global const float *p7 = p0 + (size_t)min(7, nq - 1) * kv_len;                                               \
        float8 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;                 \
        for (int pg = 0; pg * P < kv_len; pg++) {                                                                      \
            __global const T *vb = vpool + (size_t)tab[pg] * P * C + h * HD + d0;                                      \
            for (int j = pg * P, je = min(kv_len, j + P); j < je; j++, vb += C) {                                      \
                float8 v = LOAD8_##TY(vb);                                                                             \
                a0 = VFMA((float8)(p0[j]), v, a0);                                                                     \
                a1 = VFMA((float8)(p1[j]), v, a1);                                                                     \
                a2 = VFMA((float8)(p2[j]), v, a2);                                                                     \
                a3 = VFMA((float8)(p3[j]), v, a3);                                                                     \
                a4 = VFMA((float8)(p4[j]), v, a4);                                                                     \
                a5 = VFMA((float8)(p5[j]), v, a5);                                                                     \
                a6 = VFMA((float8)(p6[j]), v, a6);                                                                     \
                a7 = VFMA((float8)(p7[j]), v, a7);                                                                     \
            }                                                                                                          \
        }                                                                                                              \
        __global float *ob = out + ((size_t)r * T_ + t0) * C + h * HD + d0;                                            \
        SPLIT_STORE(0, ob, C) SPLIT_STORE(1, ob, C) SPLIT_STORE(2, ob, C) SPLIT_STORE(3, ob, C)                        \
        SPLIT_STORE(4, ob, C) SPLIT_STORE(5, ob, C) SPLIT_STORE(6, ob, C) SPLIT_STORE(7, ob, C)                        \
    }
#define LOAD8_f32(p) vload8(0, (p))
#define LOAD8_f16(p) vload_half8(0, (p))
SPLIT_KERNELS(f32, float)
SPLIT_KERNELS(f16, half)

/* attn_softmax: each of rows rows of S [rows][n] becomes softmax(row) = exp(x - max) / sum, as attention_*'s
 * online form gives it. One row per work-item. */
__kernel void attn_softmax(__global float *s, int rows, int n)
{
    const int i = get_global_id(0);
    if (i >= rows) return;
    __global float *p = s + (size_t)i * n;
    float m = -3.0e38f, l = 0;
    for (int j = 0; j < n; j++) m = fmax(m, p[j]);
    for (int j = 0; j < n; j++) {
        const float e = exp(p[j] - m);
        p[j] = e;
        l += e;
    }
    const float inv = 1.0f / l;
    for (int j = 0; j < n; j++) p[j] *= inv;
}

/* attention_tiled_*: attention_*'s result for GPUs (policy.h attn_tile): one work-group per (tile of S queries of one
 * CFG row, head), S the local size, a query per work-item. The group stages TK keys' K and V at a time in local
 * memory (8 KiB), where every query of the tile reads them, so a key crosses from global memory once per tile
 * instead of once per query, with attention_*'s online softmax from tile to tile. Every work-item loads and passes
 * every barrier (the tile's work-items past T compute on the row's last query and write nothing). Global
 * (S * ceil(T / S), H, R); local (S, 1, 1). */
#define TK 16
/* the sum of a float16's lanes; HI8: see above */
float attn_hsum16(float16 v)
{
    float8 e = v.lo + HI8(v);
    float4 f = e.lo + e.hi;
    return f.x + f.y + f.z + f.w;
}
float attn_hmax16(float16 v)
{
    float8 e = fmax(v.lo, HI8(v));
    float4 f = fmax(e.lo, e.hi);
    return fmax(fmax(f.x, f.y), fmax(f.z, f.w));
}
/* q . (key jj of the tile), q in q0..q3 */
#define TILE_DOT(jj)                                                                                                   \
    attn_hsum16(q0 * vload16(0, ks + (jj) * HD) + q1 * vload16(1, ks + (jj) * HD) + q2 * vload16(2, ks + (jj) * HD) + \
                q3 * vload16(3, ks + (jj) * HD))
#define TILE_ACC(jj, lane)                                                                                             \
    a0 = VFMA((float16)(p.lane), vload16(0, vs + (jj) * HD), a0);                                                      \
    a1 = VFMA((float16)(p.lane), vload16(1, vs + (jj) * HD), a1);                                                      \
    a2 = VFMA((float16)(p.lane), vload16(2, vs + (jj) * HD), a2);                                                      \
    a3 = VFMA((float16)(p.lane), vload16(3, vs + (jj) * HD), a3);
#define TILED_KERNEL(TY, T)                                                                                            \
    __kernel void attention_tiled_##TY(__global const float *q, __global const T *kpool, __global const T *vpool,      \
                                       __global const int *table, __global float *out, int N, int T_, int C,           \
                                       int kv_len, int P, int max_pages, int tab_off)                                  \
    {                                                                                                                  \
        __local float ks[TK * HD], vs[TK * HD];                                                                        \
        const int l = get_local_id(0), S = get_local_size(0), t = get_global_id(0), h = get_global_id(1);              \
        const int r = get_global_id(2), i = r * T_ + min(t, T_ - 1);                                                   \
        __global const float *qi = q + (size_t)i * C + h * HD;                                                         \
        const float16 q0 = vload16(0, qi), q1 = vload16(1, qi), q2 = vload16(2, qi), q3 = vload16(3, qi);              \
        float16 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;                                                            \
        __global const int *tab = table + tab_off + r * max_pages;                                                     \
        const int16 idx = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);                               \
        float m = -3.0e38f, lsum = 0;                                                                                  \
        for (int j0 = 0; j0 < kv_len; j0 += TK) {                                                                      \
            const int nk = min(TK, kv_len - j0);                                                                       \
            for (int e = l; e < TK * HD; e += S) { /* element (key jj, dimension d), zeros past kv_len */             \
                const int jj = e / HD, d = e % HD;                                                                     \
                float kv = 0.0f, vv = 0.0f;                                                                            \
                if (jj < nk) {                                                                                         \
                    const int j = j0 + jj, page = tab[j / P], jp = j % P;                                              \
                    kv = LOAD_##TY(kpool, ((size_t)page * C + h * HD + d) * P + jp);                                   \
                    vv = LOAD_##TY(vpool, ((size_t)page * P + jp) * C + h * HD + d);                                   \
                }                                                                                                      \
                ks[e] = kv;                                                                                            \
                vs[e] = vv;                                                                                            \
            }                                                                                                          \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                              \
            float16 sc = (float16)(TILE_DOT(0), TILE_DOT(1), TILE_DOT(2), TILE_DOT(3), TILE_DOT(4), TILE_DOT(5),       \
                                   TILE_DOT(6), TILE_DOT(7), TILE_DOT(8), TILE_DOT(9), TILE_DOT(10), TILE_DOT(11),     \
                                   TILE_DOT(12), TILE_DOT(13), TILE_DOT(14), TILE_DOT(15));                            \
            sc = select((float16)(-3.0e38f), sc, idx < (int16)(nk));                                                   \
            const float mn = fmax(m, attn_hmax16(sc)), corr = exp(m - mn);                                             \
            const float16 p = exp(sc - mn);                                                                            \
            lsum = lsum * corr + attn_hsum16(p);                                                                       \
            a0 *= corr, a1 *= corr, a2 *= corr, a3 *= corr;                                                            \
            TILE_ACC(0, s0) TILE_ACC(1, s1) TILE_ACC(2, s2) TILE_ACC(3, s3) TILE_ACC(4, s4) TILE_ACC(5, s5)            \
            TILE_ACC(6, s6) TILE_ACC(7, s7) TILE_ACC(8, s8) TILE_ACC(9, s9) TILE_ACC(10, sa) TILE_ACC(11, sb)          \
            TILE_ACC(12, sc) TILE_ACC(13, sd) TILE_ACC(14, se) TILE_ACC(15, sf)                                        \
            m = mn;                                                                                                    \
            barrier(CLK_LOCAL_MEM_FENCE); /* the next tile overwrites ks and vs */                                     \
        }                                                                                                              \
        if (t < T_) {                                                                                                  \
            __global float *o = out + (size_t)i * C + h * HD;                                                          \
            STORE_HEAD(o, a0, a1, a2, a3, 1.0f / lsum)                                                                 \
        }                                                                                                              \
    }
TILED_KERNEL(f32, float)
TILED_KERNEL(f16, half)
