/* sampler: one scale's tokens on the device (VAR_SPEC.md 3.1; host/sample.h is the reference and gives the same
 * ids): CFG combine, upstream's top-k and top-p masking, and the counter-based draw, one work-group per row. Every
 * decision uses cl/sample_math.cl's functions and exact integer sums, so the order in which work-items meet the
 * entries never matters. Work-items take entries i = lid, lid + S, ... in every phase: each reads back only what it
 * wrote itself, and the work-group shares nothing but its reductions. */
#pragma OPENCL FP_CONTRACT OFF

#define SAMPLE_MAX_LOCAL 256

/* Sum (max) of v over the work-group, returned to every work-item. red: [get_local_size(0)], a power of two. The
 * closing barrier keeps the next call's stores from overtaking this call's last reads; its global fence orders
 * the row's reads before the barrier against work-item 0's writes after it (kept[r]). */
ulong wg_sum(__local ulong *red, ulong v)
{
    const int l = get_local_id(0);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (l < s) red[l] += red[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const ulong r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    return r;
}

ulong wg_max(__local ulong *red, ulong v)
{
    const int l = get_local_id(0);
    red[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (l < s && red[l + s] > red[l]) red[l] = red[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const ulong r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    return r;
}

/* Orders entries like host/sample.c's keys: value, then the lower id first among equal values (ascending order
 * puts the lowest id last, so it ranks highest). */
ulong entry_key(float v, int id) { return ((ulong)vs_order_key(v) << 32) | (uint)~(uint)id; }

/* Every kernel below: one work-group of S = get_local_size(0) (a power of two <= SAMPLE_MAX_LOCAL) per row r of
 * `rows`. logits: [2][rows][V], the conditional rows first (as the head writes them); the conditional half becomes
 * the masked combined row, the unconditional half top-p's normalised probabilities. kept: [rows] entries still in
 * play. Barriers sit only where every work-item of every group passes (no barrier under a condition: pocl replicates
 * the code after a conditional barrier, and nested ones made its compile take minutes), so the searches always run
 * their fixed number of steps and only the masking depends on the row. */

/* CFG combine (two rounded products, one rounded difference), the non-finite check, NaN -> -inf, +inf -> FLT_MAX.
 * bad[scale]: the lowest row whose combined logits hold a NaN or an infinity (atomic_min; the host sets INT_MAX). */
__kernel void sample_combine(__global float *logits, int rows, int V, float ca, float cu, __global int *kept,
                             __global int *bad, int scale)
{
    __local ulong red[SAMPLE_MAX_LOCAL];
    const int r = get_group_id(0), l = get_local_id(0), S = get_local_size(0);
    __global float *x = logits + (size_t)r * V;
    __global const float *y = logits + ((size_t)rows + r) * V;
    ulong nonfinite = 0, n = 0;
    for (int i = l; i < V; i += S) {
        const float c = ca * x[i];
        const float u = cu * y[i];
        float z = c - u;
        if (!isfinite(z)) nonfinite = 1;
        if (isnan(z)) z = -INFINITY;
        else if (z == INFINITY) z = FLT_MAX;
        x[i] = z;
        n += z != -INFINITY;
    }
    nonfinite = wg_sum(red, nonfinite);
    n = wg_sum(red, n);
    if (l == 0) {
        if (nonfinite) atomic_min(bad + scale, r);
        kept[r] = (int)n;
    }
}

/* top-k (0 < top_k, applied where top_k < kept): the k-th largest value counting duplicates, bit by bit from the
 * top of its order key (the largest t with at least k entries >= t is that value's key); entries strictly below
 * it go. */
__kernel void sample_top_k(__global float *logits, int V, int top_k, __global int *kept)
{
    __local ulong red[SAMPLE_MAX_LOCAL];
    const int r = get_group_id(0), l = get_local_id(0), S = get_local_size(0);
    __global float *x = logits + (size_t)r * V;
    const int apply = top_k < kept[r]; /* read before the barriers: work-item 0 rewrites it at the end */
    uint t = 0;
    for (int b = 31; b >= 0; b--) {
        const uint c = t | (1u << b);
        ulong cnt = 0;
        for (int i = l; i < V; i += S) cnt += vs_order_key(x[i]) >= c;
        if (wg_sum(red, cnt) >= (ulong)top_k) t = c;
    }
    ulong n = 0;
    for (int i = l; i < V; i += S) {
        if (apply && vs_order_key(x[i]) < t) x[i] = -INFINITY;
        n += x[i] != -INFINITY;
    }
    n = wg_sum(red, n);
    if (l == 0) kept[r] = (int)n;
}

/* top-p (applied where kept > 1): entry j (ascending order) goes while the sum of the normalised probabilities of
 * it and of every entry below it, rounded to float, is <= thr = 1 - p; the largest always stays. Sums in fixed point
 * are exact, so the cut is the largest key K with (float)sum(key <= K) <= thr, found bit by bit over the 64-bit
 * keys. */
__kernel void sample_top_p(__global float *logits, int rows, int V, float thr, __global int *kept)
{
    __local ulong red[SAMPLE_MAX_LOCAL];
    const int r = get_group_id(0), l = get_local_id(0), S = get_local_size(0);
    __global float *x = logits + (size_t)r * V;
    __global float *q = logits + ((size_t)rows + r) * V;
    const int apply = kept[r] > 1; /* read before the barriers: work-item 0 rewrites it at the end */
    ulong mk = 0;
    for (int i = l; i < V; i += S)
        if (x[i] != -INFINITY) mk = max(mk, entry_key(x[i], i));
    mk = wg_max(red, mk);
    const float mx = vs_order_value((uint)(mk >> 32));
    ulong num = 0;
    for (int i = l; i < V; i += S)
        if (x[i] != -INFINITY) num += (ulong)(vs_expf(x[i] - mx) * VS_NUM_SCALE);
    num = wg_sum(red, num);
    /* a row with nothing kept has num 0: any positive sum keeps vs_recipf in its range, and nothing is masked */
    const float inv = vs_recipf(num ? (float)num * VS_NUM_UNIT : 1.0f);
    for (int i = l; i < V; i += S) q[i] = x[i] != -INFINITY ? vs_expf(x[i] - mx) * inv : 0.0f;
    ulong K = 0;
    for (int b = 63; b >= 0; b--) {
        const ulong c = K | ((ulong)1 << b);
        ulong s = 0;
        for (int i = l; i < V; i += S)
            if (x[i] != -INFINITY && entry_key(x[i], i) <= c) s += (ulong)(q[i] * VS_PROB_SCALE);
        if ((float)wg_sum(red, s) * VS_PROB_UNIT <= thr) K = c;
    }
    ulong n = 0;
    for (int i = l; i < V; i += S) {
        if (x[i] == -INFINITY) continue;
        const ulong k = entry_key(x[i], i);
        if (apply && k <= K && k != mk) x[i] = -INFINITY;
        else n++;
    }
    n = wg_sum(red, n);
    if (l == 0) kept[r] = (int)n;
}

/* The draw: argmax over kept i of (x_i - max) - log(E_i), E_i = -log(u_i) (= argmax p_i / E_i), u keyed by
 * (seed, image_ids[r / T], scale, r % T, i); with top-k 1 or a single survivor the argmax itself, with nothing kept
 * 0; ties to the lowest id (the larger ~id). ids: [rows] (the VQ step's input); tokens: [rows / T][tok_stride] with
 * this scale's tokens at tok_begin. */
__kernel void sample_draw(__global const float *logits, int V, int T, int top_k, __global const int *kept,
                          uint seed_lo, uint seed_hi, uint scale, __global const uint *image_ids, __global int *ids,
                          __global int *tokens, int tok_stride, int tok_begin)
{
    __local ulong red[SAMPLE_MAX_LOCAL];
    const int r = get_group_id(0), l = get_local_id(0), S = get_local_size(0);
    __global const float *x = logits + (size_t)r * V;
    const int n = kept[r];
    ulong best = 0;
    for (int i = l; i < V; i += S) best = max(best, entry_key(x[i], i));
    best = wg_max(red, best);
    const float mx = vs_order_value((uint)(best >> 32));
    const int draw = top_k != 1 && n > 1;
    const uint image = image_ids[r / T], token = (uint)(r % T);
    ulong win = 0;
    for (int i = l; i < V && draw; i += S) {
        if (x[i] == -INFINITY) continue;
        const float e = -vs_logf(vs_uniformf(seed_lo, seed_hi, image, scale, token, (uint)i));
        win = max(win, entry_key((x[i] - mx) - vs_logf(e), i));
    }
    win = wg_max(red, win);
    if (l == 0) {
        const int id = n == 0 ? 0 : (int)~(uint)(draw ? win : best);
        ids[r] = id;
        tokens[(size_t)(r / T) * tok_stride + tok_begin + r % T] = id;
    }
}

#pragma OPENCL FP_CONTRACT ON
