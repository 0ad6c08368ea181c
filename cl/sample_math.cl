/* sample_math: the sampler's arithmetic, one text compiled twice: into the device program (with the other .cl files)
 * and into the host sampler (host/sample.c includes this file). The device sampler must give exactly the host's
 * ids, and OpenCL's exp/log are not correctly rounded (3-4 ulp, differing between implementations) nor is fp64
 * everywhere (Intel GPUs), so every number that decides a token comes from the functions below, built only from
 * operations that IEEE 754 and OpenCL both round exactly: float +, -, *, comparisons, integer arithmetic,
 * conversions. Contraction into FMA is off here (device: the pragma below; host: -ffp-contract=off on sample.c).
 * Results stay in normal floats (no subnormal input or output), so devices that flush subnormals agree too.
 *
 * The includer provides: VS_U32 / VS_U64 (unsigned 32/64-bit), VS_AS_U32(float) / VS_AS_F32(VS_U32) (bit casts)
 * and VS_FN (function qualifiers). */
#ifdef __OPENCL_C_VERSION__
#pragma OPENCL FP_CONTRACT OFF
#define VS_U32 uint
#define VS_U64 ulong
#define VS_AS_U32(x) as_uint(x)
#define VS_AS_F32(x) as_float(x)
#define VS_FN
#endif

/* Philox4x32-10 (Salmon et al., SC'11; Random123's constants and round order) on ctr in place, key (k0, k1). */
VS_FN void vs_philox(VS_U32 *ctr, VS_U32 k0, VS_U32 k1)
{
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const VS_U64 p0 = (VS_U64)0xD2511F53u * ctr[0];
        const VS_U64 p1 = (VS_U64)0xCD9E8D57u * ctr[2];
        const VS_U32 c1 = ctr[1], c3 = ctr[3];
        ctr[0] = (VS_U32)(p1 >> 32) ^ c1 ^ k0;
        ctr[1] = (VS_U32)p1;
        ctr[2] = (VS_U32)(p0 >> 32) ^ c3 ^ k1;
        ctr[3] = (VS_U32)p0;
    }
}

/* Uniform in (0, 1) keyed by (seed, image, scale, token, index): Philox with key = seed (low word first) and
 * counter = (image, scale, token, index); the top 23 bits of the first output word, centred in their cell:
 * (bits + 0.5) * 2^-23, exact in float, from 2^-24 to 1 - 2^-24. */
VS_FN float vs_uniformf(VS_U32 seed_lo, VS_U32 seed_hi, VS_U32 image, VS_U32 scale, VS_U32 token, VS_U32 index)
{
    VS_U32 ctr[4] = {image, scale, token, index};
    vs_philox(ctr, seed_lo, seed_hi);
    return ((float)(ctr[0] >> 9) + 0.5f) * 0x1p-23f;
}

/* e^x for x <= 0 (the sampler's softmax numerators, x = logit - max): 0 below -86 (e^-86 = 4.5e-38, below any
 * probability that counts, and the result stays a normal float); relative error < 1e-7. Cody-Waite reduction
 * x = k ln2 + r with ln2 split so that k * ln2_hi is exact, a degree-7 Taylor polynomial for e^r (|r| <= 0.35:
 * truncation 6e-9), then 2^k from its bits. */
VS_FN float vs_expf(float x)
{
    if (!(x >= -86.0f)) return 0.0f;
    if (x > 0.0f) x = 0.0f;
    const float t = x * 1.44269502f;
    const int k = (int)(t - 0.5f); /* round half away from zero (t <= 0); the cast truncates */
    const float kf = (float)k;
    const float hi = kf * 0.693359375f, lo = kf * -2.12194440e-4f;
    const float r = (x - hi) - lo;
    float p = 1.98412698e-4f; /* 1/7! */
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333377e-3f;
    p = p * r + 4.16666679e-2f;
    p = p * r + 0.166666672f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p * VS_AS_F32((VS_U32)(k + 127) << 23);
}

/* Natural log of a positive normal float (the draw's -log(u) and log(E)); relative error about 1e-7 away from 1,
 * absolute near 1. x = m 2^e with m in [sqrt(1/2), sqrt(2)), f = m - 1 exact (Sterbenz), log(1 + f) by its Taylor
 * series to degree 16 (|f| <= 0.415: truncation 2e-8 relative). */
VS_FN float vs_logf(float x)
{
    const VS_U32 bits = VS_AS_U32(x);
    int e = (int)(bits >> 23) - 127;
    float m = VS_AS_F32((bits & 0x007FFFFFu) | 0x3F800000u);
    if (m > 1.41421354f) {
        m = m * 0.5f;
        e = e + 1;
    }
    const float f = m - 1.0f;
    float p = -0.0625f; /* -1/16 */
    p = p * f + 0.0666666701f;
    p = p * f - 0.0714285746f;
    p = p * f + 0.0769230798f;
    p = p * f - 0.0833333358f;
    p = p * f + 0.0909090936f;
    p = p * f - 0.100000001f;
    p = p * f + 0.111111112f;
    p = p * f - 0.125f;
    p = p * f + 0.142857149f;
    p = p * f - 0.166666672f;
    p = p * f + 0.200000003f;
    p = p * f - 0.25f;
    p = p * f + 0.333333343f;
    p = p * f - 0.5f;
    p = p * f + 1.0f;
    return (float)e * 0.693147182f + p * f;
}

/* 1/s correctly rounded (round to nearest even), for s a float in [1, 2^23]: the mantissa division done in
 * integers, so no device's division error (OpenCL allows 2.5 ulp) can enter. */
VS_FN float vs_recipf(float s)
{
    const VS_U32 bits = VS_AS_U32(s);
    const int e = (int)(bits >> 23) - 127;                         /* s = M 2^(e - 23) */
    const VS_U64 M = (VS_U64)((bits & 0x007FFFFFu) | 0x00800000u); /* [2^23, 2^24) */
    VS_U64 q = ((VS_U64)1 << 48) / M;                              /* (2^24, 2^25] */
    const VS_U64 rem = ((VS_U64)1 << 48) - q * M;
    const VS_U64 dropped = q & 1; /* the bit worth half an ulp of the result */
    q >>= 1;
    if (dropped && (rem != 0 || (q & 1))) q++; /* above half, or exactly half and odd */
    /* 1/s = q 2^(-24 - e): q <= 2^24 is exact in float, the power of two is a normal float for e <= 23 */
    return (float)q * VS_AS_F32((VS_U32)(127 - 24 - e) << 23);
}

/* An unsigned key that orders like the float (with -0 and +0 equal); NaN is never passed. */
VS_FN VS_U32 vs_order_key(float v)
{
    if (v == 0.0f) v = 0.0f;
    const VS_U32 u = VS_AS_U32(v);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* The float that vs_order_key maps to k. */
VS_FN float vs_order_value(VS_U32 k) { return VS_AS_F32((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k); }

/* Fixed-point scales of the top-p sums: each softmax numerator (<= 1) in units of 2^-40 (a vocabulary up to 2^23
 * fits a 64-bit sum), each normalised probability in units of 2^-60 (their sum is about 1). Truncating conversions,
 * so every sum is exact and the same in any order. */
#define VS_NUM_SCALE 0x1p40f
#define VS_NUM_UNIT 0x1p-40f
#define VS_PROB_SCALE 0x1p60f
#define VS_PROB_UNIT 0x1p-60f

#ifdef __OPENCL_C_VERSION__
#pragma OPENCL FP_CONTRACT ON
#endif
