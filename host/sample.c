/* sample: CFG combine, upstream top-k / top-p masking and the counter-based draw (see sample.h).
 * The masking reproduces torch 1.13 CPU numerics where they decide which entries survive: float32 softmax,
 * cumsum accumulated in double and stored as float32, compared against float32(1 - p). */
#include "sample.h"

#include "error.h"
#include "team.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vs_sampler {
    int vocab;
    uint64_t *keys; /* [vocab] packed (orderable value, ~id) of the entries still in play */
    float *probs;   /* [vocab] softmax of the sorted survivors, top-p only */
    float cached_p; /* top_p whose threshold is in cached_threshold (NaN: none yet) */
    float cached_threshold;
};

vs_sampler *vs_new(int vocab)
{
    if (vocab <= 0) {
        varcl_fail(VARCL_E_INPUT, "sampler: vocabulary size %d is not positive", vocab);
        return NULL;
    }
    vs_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->keys = malloc((size_t)vocab * sizeof *s->keys);
        s->probs = malloc((size_t)vocab * sizeof *s->probs);
    }
    if (!s || !s->keys || !s->probs) {
        vs_free(s);
        varcl_fail(VARCL_E_RUNTIME, "sampler: out of host memory for a vocabulary of %d", vocab);
        return NULL;
    }
    s->vocab = vocab;
    s->cached_p = NAN;
    return s;
}

void vs_free(vs_sampler *s)
{
    if (!s) return;
    free(s->keys);
    free(s->probs);
    free(s);
}

/* ---- the shared arithmetic (cl/sample_math.cl: the device sampler compiles the same text) ---- */

static uint32_t vs_as_u32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float vs_as_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#define VS_U32 uint32_t
#define VS_U64 uint64_t
#define VS_AS_U32(x) vs_as_u32(x)
#define VS_AS_F32(x) vs_as_f32(x)
#define VS_FN
#include "../cl/sample_math.cl"

float vs_uniform(uint64_t seed, uint32_t image, uint32_t scale, uint32_t token, uint32_t index)
{
    return vs_uniformf((uint32_t)seed, (uint32_t)(seed >> 32), image, scale, token, index);
}

void vs_cfg_factors(double cfg, int si, int scales, float *a, float *u)
{
    /* upstream: ratio = si / self.num_stages_minus_1; t = cfg * ratio (Python floats), and each of (1 + t) and t
     * becomes fp32 when it multiplies an fp32 tensor */
    const double ratio = scales > 1 ? (double)si / (double)(scales - 1) : 0.0, t = cfg * ratio;
    *a = (float)(1.0 + t);
    *u = (float)t;
}

void vs_cfg_combine(const float *cond, const float *uncond, float a, float u, size_t n, float *out)
{
    /* Upstream multiplies fp32 tensors by Python scalars, which become fp32: two rounded products, then one
     * rounded difference. Separate statements keep the compiler from fusing them into an FMA. */
    for (size_t i = 0; i < n; i++) {
        const float c = a * cond[i];
        const float v = u * uncond[i];
        out[i] = c - v;
    }
}

/* ---- ordering: one uint64 per entry, so selection and sorting need no comparator callback ---- */

/* Upper word orders like the float value; lower word is ~id, so among equal values the lowest id sorts last
 * (ascending), i.e. ranks highest: top-p cuts inside a tie then keep the lowest ids, matching argmax. */
static uint64_t pack(float v, int id) { return ((uint64_t)vs_order_key(v) << 32) | (uint32_t)~(uint32_t)id; }

static int unpack_id(uint64_t key) { return (int)~(uint32_t)key; }

static void insertion_sort(uint64_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        const uint64_t v = a[i];
        int j = i;
        for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
        a[j] = v;
    }
}

static void sift_down(uint64_t *a, int root, int n)
{
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child + 1] > a[child]) child++;
        if (a[root] >= a[child]) return;
        const uint64_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heap_sort(uint64_t *a, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(a, i, n);
    for (int end = n - 1; end > 0; end--) {
        const uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* Hoare partition around the median of first, middle, last (n >= 3). Returns m in [1, n-1] with
 * a[0..m) <= a[m..n): the pivot sits at index (n-1)/2 < n-1, which keeps both sides non-empty. */
static int partition(uint64_t *a, int n)
{
    const int mid = (n - 1) / 2;
    uint64_t t;
#define VS_ORDER(x, y) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t; }
    VS_ORDER(0, mid)
    VS_ORDER(mid, n - 1)
    VS_ORDER(0, mid)
#undef VS_ORDER
    const uint64_t pivot = a[mid];
    int i = -1, j = n;
    for (;;) {
        do i++; while (a[i] < pivot);
        do j--; while (a[j] > pivot);
        if (i >= j) return j + 1;
        t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static int depth_budget(int n)
{
    int d = 0;
    while (n > 1) {
        n >>= 1;
        d++;
    }
    return 2 * d + 4;
}

/* Introsort: quicksort while it behaves, heapsort when a crafted row would make it quadratic. */
static void sort_keys(uint64_t *a, int n, int depth)
{
    while (n > 16) {
        if (depth-- == 0) {
            heap_sort(a, n);
            return;
        }
        const int m = partition(a, n);
        if (m < n - m) {
            sort_keys(a, m, depth);
            a += m;
            n -= m;
        } else {
            sort_keys(a + m, n - m, depth);
            n = m;
        }
    }
    insertion_sort(a, n);
}

/* Leaves the rank-th smallest key at a[rank] (expected O(n); falls back to a full sort if unlucky). */
static void select_rank(uint64_t *a, int n, int rank)
{
    int lo = 0, hi = n, budget = depth_budget(n);
    while (hi - lo > 16) {
        if (budget-- == 0) {
            sort_keys(a + lo, hi - lo, depth_budget(hi - lo));
            return;
        }
        const int m = lo + partition(a + lo, hi - lo);
        if (rank < m) hi = m;
        else lo = m;
    }
    insertion_sort(a + lo, hi - lo);
}

/* ---- masking ---- */

/* Upstream compares against 1 - p computed from a Python float (the decimal the user typed), rounded to
 * fp32. Our p arrives as a float; the shortest decimal that rounds to it is what was typed, and for
 * p = 0.96 the difference is six fp32 ulps of the threshold. */
float vs_top_p_threshold(float top_p)
{
    double typed = top_p;
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)top_p);
        const double d = strtod(buf, NULL);
        if ((float)d == top_p) {
            typed = d;
            break;
        }
    }
    return (float)(1.0 - typed);
}

static float top_p_threshold(vs_sampler *s, float top_p)
{
    if (top_p != s->cached_p) {
        s->cached_p = top_p;
        s->cached_threshold = vs_top_p_threshold(top_p);
    }
    return s->cached_threshold;
}

int vs_mask(vs_sampler *s, float *logits, int top_k, float top_p)
{
    const int vocab = s->vocab;
    uint64_t *keys = s->keys;
    int n = 0;
    for (int i = 0; i < vocab; i++) {
        float v = logits[i];
        if (isnan(v)) v = logits[i] = -INFINITY;
        else if (v == INFINITY) v = logits[i] = FLT_MAX; /* keeps softmax defined: exp(+inf - +inf) is NaN */
        if (v != -INFINITY) keys[n++] = pack(v, i);
    }

    if (top_k > 0 && top_k < n) {
        /* Threshold = k-th largest counting duplicates; only entries strictly below it go. */
        select_rank(keys, n, n - top_k);
        const float threshold = logits[unpack_id(keys[n - top_k])];
        int kept = 0;
        for (int j = 0; j < n; j++) {
            const int id = unpack_id(keys[j]);
            if (logits[id] < threshold) logits[id] = -INFINITY;
            else keys[kept++] = keys[j];
        }
        n = kept;
    }

    if (top_p > 0 && n > 1) {
        sort_keys(keys, n, depth_budget(n));
        const float max = logits[unpack_id(keys[n - 1])];
        float *probs = s->probs;
        /* torch: fp32 softmax (reciprocal of the sum, one multiply per entry), cumsum in double, stored as fp32. Here
         * the numerators come from vs_expf and the sums are exact in fixed point (cl/sample_math.cl), so the device
         * sampler, which adds in another order, reaches the same floats. */
        uint64_t num = 0;
        for (int j = 0; j < n; j++) {
            probs[j] = vs_expf(logits[unpack_id(keys[j])] - max);
            num += (uint64_t)(probs[j] * VS_NUM_SCALE);
        }
        const float inv_sum = vs_recipf((float)num * VS_NUM_UNIT);
        const float threshold = top_p_threshold(s, top_p);
        uint64_t cumsum = 0;
        int removed = 0;
        /* The cumsum only grows, so the removed entries are a prefix; the largest is always kept. */
        for (; removed < n - 1; removed++) {
            cumsum += (uint64_t)(probs[removed] * inv_sum * VS_PROB_SCALE);
            if (!((float)cumsum * VS_PROB_UNIT <= threshold)) break;
            logits[unpack_id(keys[removed])] = -INFINITY;
        }
        n -= removed;
    }
    return n;
}

static int argmax_lowest_id(const float *logits, int vocab)
{
    int best = 0;
    for (int i = 1; i < vocab; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int vs_sample(vs_sampler *s, float *logits, int top_k, float top_p, uint64_t seed, uint32_t image,
              uint32_t scale, uint32_t token)
{
    const int kept = vs_mask(s, logits, top_k, top_p);
    if (kept == 0) return 0;
    if (top_k == 1 || kept == 1) return argmax_lowest_id(logits, s->vocab);

    /* argmax p_i / E_i taken as argmax (logit_i - max - log E_i): the softmax's shift and scale are common
     * to every entry, and the log form cannot underflow for unlikely entries. Float arithmetic from
     * cl/sample_math.cl, as the device sampler's; ties go to the lowest id. */
    const float max = logits[argmax_lowest_id(logits, s->vocab)];
    int best = -1;
    float best_score = 0;
    for (int i = 0; i < s->vocab; i++) {
        if (logits[i] == -INFINITY) continue;
        const float e = -vs_logf(vs_uniform(seed, image, scale, token, (uint32_t)i));
        const float score = (logits[i] - max) - vs_logf(e);
        if (best < 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

/* ---- many rows: a team of threads ---- */

#define VS_ROWS_PER_THREAD 16 /* fewer rows than this per thread: not worth a thread's start (~50 us) */

struct vs_team {
    int n, vocab;
    vs_sampler *s[HT_MAX_THREADS];
    float *row[HT_MAX_THREADS]; /* [vocab] the combined logits */
};

typedef struct {
    vs_team *t;
    const vs_rows *r;
    int *ids;
    int bad[HT_MAX_THREADS]; /* per thread: the first of its rows with a non-finite combined logit, or -1 */
} vs_job;

static int all_finite(const float *x, int n)
{
    int ok = 1;
    for (int i = 0; i < n; i++) ok &= isfinite(x[i]) != 0; /* no early exit: the loop vectorises */
    return ok;
}

/* Rows id, id + n, ... on sampler and row buffer `id` (one thread each). */
static void vs_work(void *arg, int id, int n)
{
    vs_job *j = arg;
    const vs_rows *r = j->r;
    const int V = j->t->vocab;
    for (int k = id; k < r->rows; k += n) {
        float *row = j->t->row[id];
        vs_cfg_combine(r->cond + (size_t)k * V, r->uncond + (size_t)k * V, r->cfg_a, r->cfg_u, (size_t)V, row);
        if (j->bad[id] < 0 && !all_finite(row, V)) j->bad[id] = k;
        const uint32_t image = r->image_ids ? r->image_ids[k / r->T] : r->image0 + (uint32_t)(k / r->T);
        j->ids[k] = vs_sample(j->t->s[id], row, r->top_k, r->top_p, r->seed, image, r->scale, (uint32_t)(k % r->T));
    }
}

vs_team *vs_team_new(int vocab, int threads)
{
    if (threads <= 0 && (threads = ht_threads()) < 0) return NULL;
    if (threads > HT_MAX_THREADS) threads = HT_MAX_THREADS;
    vs_team *t = calloc(1, sizeof *t);
    if (!t) {
        varcl_fail(VARCL_E_RUNTIME, "sampler: out of host memory");
        return NULL;
    }
    t->n = threads;
    t->vocab = vocab;
    for (int i = 0; i < threads; i++)
        if (!(t->s[i] = vs_new(vocab)) || !(t->row[i] = malloc((size_t)vocab * sizeof(float)))) {
            vs_team_free(t);
            varcl_fail(VARCL_E_RUNTIME, "sampler: out of host memory for %d threads", threads);
            return NULL;
        }
    return t;
}

void vs_team_free(vs_team *t)
{
    if (!t) return;
    for (int i = 0; i < HT_MAX_THREADS; i++) {
        vs_free(t->s[i]);
        free(t->row[i]);
    }
    free(t);
}

int vs_team_threads(const vs_team *t) { return t->n; }

int vs_team_sample(vs_team *t, const vs_rows *r, int *ids)
{
    int n = (r->rows + VS_ROWS_PER_THREAD - 1) / VS_ROWS_PER_THREAD;
    if (n > t->n) n = t->n;
    if (n < 1) n = 1;
    vs_job job = {t, r, ids, {0}};
    for (int i = 0; i < HT_MAX_THREADS; i++) job.bad[i] = -1;
    ht_run(n, vs_work, &job);
    int bad = -1;
    for (int i = 0; i < n; i++)
        if (job.bad[i] >= 0 && (bad < 0 || job.bad[i] < bad)) bad = job.bad[i];
    return bad;
}
