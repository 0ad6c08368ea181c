/* Every OpenCL kernel against the plain C reference (tests/ref.h), on random inputs, with a relative L2 error
 * bound chosen per operation (float rounding passes, a wrong index or formula fails). Also prints the time of
 * each operation so the same harness can compare devices. */
#include "check.h"
#include "conv.h"
#include "error.h"
#include "ref.h"
#include "runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static vr_runtime rt;
static uint64_t rng = 12345;
/* VARCL_TEST_TINY=1: a subset on small shapes, every kernel of varcl still covered (CLBlast's own kernels are not:
 * they are not varcl's), for running under Oclgrind (~1000x slower than pocl; ctest test_kernels_oclgrind) */
static int tiny;

static float frand(void) /* uniform in [-1, 1) */
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) / 8388608.0 - 1.0);
}
static float *randv(size_t n, float scale)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = frand() * scale;
    return v;
}
static cl_mem up(const void *h, size_t bytes) { return vm_alloc_copy(&rt.mem, VM_SCRATCH, bytes, h, "test input"); }
/* nmat weight matrices [K][N] (contiguous) uploaded in g's layout, as the model loader stores them */
static cl_mem up_weights(const vg_gemm *g, const float *wt, size_t nmat, size_t K, size_t N)
{
    size_t each = vg_weight_elems(g->packed, K, N);
    float *l = malloc(nmat * each * sizeof *l);
    for (size_t j = 0; j < nmat; j++) vg_weight_pack(g->packed, wt + j * K * N, K, N, l + j * each);
    cl_mem m = up(l, nmat * each * sizeof *l);
    free(l);
    return m;
}
static cl_mem dev(size_t bytes) { return vm_alloc(&rt.mem, VM_SCRATCH, bytes, "test output"); }
static void down(cl_mem m, void *h, size_t bytes) { vr_read(&rt, m, 0, bytes, h); }
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void compare(const char *op, const float *got, const float *want, size_t n, double bound, double ms)
{
    double e = check_rel_l2(got, want, n);
    CHECK(e <= bound, "%s: relative L2 error %.3g > %.3g", op, e, bound);
    printf("%-28s rel.err %9.2e (bound %.0e)  %8.3f ms\n", op, e, bound, ms);
}

#define RUN(name, dims, g, nargs, ...)                                                                  \
    do {                                                                                                \
        double t0_ = now_ms();                                                                          \
        int st_ = vr_launch(&rt, vr_kernel(&rt, name), name, dims, g, NULL, nargs, __VA_ARGS__);        \
        CHECK(st_ == 0, "%s launch: %s", name, varcl_last_error());                                     \
        vr_finish(&rt);                                                                                 \
        ms = now_ms() - t0_;                                                                            \
    } while (0)

static void test_ln_modulate(void)
{
    int R = 4, T = 9, C = 128, rows = R * T, stride = 6 * C, so = 2 * C, sho = 4 * C;
    float eps = 1e-6f, *x = randv((size_t)rows * C, 3.0f), *mod = randv((size_t)R * stride, 0.5f);
    float *want = malloc((size_t)rows * C * 4), *got = malloc((size_t)rows * C * 4);
    for (int i = 0; i < rows; i++) { /* x offset so mean is not ~0 */
        for (int c = 0; c < C; c++) x[(size_t)i * C + c] += 2.0f;
    }
    ref_layernorm(x, want, rows, C, eps);
    for (int r = 0; r < R; r++)
        ref_modulate(want + (size_t)r * T * C, want + (size_t)r * T * C, T, C, mod + (size_t)r * stride + so,
                     mod + (size_t)r * stride + sho);
    cl_mem dx = up(x, (size_t)rows * C * 4), dm = up(mod, (size_t)R * stride * 4), dy = dev((size_t)rows * C * 4);
    size_t g = (size_t)rows;
    double ms;
    RUN("ln_modulate", 1, &g, 10, VR_ARG(dx), VR_ARG(dy), VR_ARG(dm), VR_ARG(rows), VR_ARG(C), VR_ARG(T),
        VR_ARG(stride), VR_ARG(so), VR_ARG(sho), VR_ARG(eps));
    down(dy, got, (size_t)rows * C * 4);
    compare("ln_modulate", got, want, (size_t)rows * C, 1e-5, ms);
    /* a work-group per row (GPUs): every size from 1 to past C's 128 */
    cl_kernel kw = vr_kernel(&rt, "ln_modulate_wg");
    size_t kmax = 0;
    clGetKernelWorkGroupInfo(kw, rt.dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL);
    for (size_t l = 1; l <= 256 && l <= kmax; l *= tiny ? 4 : 2) {
        size_t gw = (size_t)rows * l;
        float *zero = calloc((size_t)rows * C, 4);
        vr_write(&rt, dy, 0, (size_t)rows * C * 4, zero);
        free(zero);
        double t0 = now_ms();
        int st = vr_launch(&rt, kw, "ln_modulate_wg", 1, &gw, &l, 10, VR_ARG(dx), VR_ARG(dy), VR_ARG(dm), VR_ARG(rows),
                           VR_ARG(C), VR_ARG(T), VR_ARG(stride), VR_ARG(so), VR_ARG(sho), VR_ARG(eps));
        CHECK(st == 0, "ln_modulate_wg local %zu: %s", l, varcl_last_error());
        vr_finish(&rt);
        ms = now_ms() - t0;
        down(dy, got, (size_t)rows * C * 4);
        char name[48];
        snprintf(name, sizeof name, "ln_modulate_wg local %zu", l);
        compare(name, got, want, (size_t)rows * C, 1e-5, ms);
    }
    vm_free(&rt.mem, dx), vm_free(&rt.mem, dm), vm_free(&rt.mem, dy);
    free(x), free(mod), free(want), free(got);
}

static void test_elementwise(void)
{
    int rows = 37, N = 96, total = rows * N, off = 0;
    float *y = randv((size_t)total, 4.0f), *b = randv((size_t)N, 1.0f), *want = malloc((size_t)total * 4),
          *got = malloc((size_t)total * 4);
    double ms;
    /* add_bias */
    for (int i = 0; i < total; i++) want[i] = y[i] + b[i % N];
    cl_mem dy = up(y, (size_t)total * 4), db = up(b, (size_t)N * 4);
    size_t g = (size_t)total;
    RUN("add_bias", 1, &g, 5, VR_ARG(dy), VR_ARG(db), VR_ARG(total), VR_ARG(N), VR_ARG(off));
    down(dy, got, (size_t)total * 4);
    compare("add_bias", got, want, (size_t)total, 1e-7, ms);
    /* bias_gelu */
    vr_write(&rt, dy, 0, (size_t)total * 4, y);
    for (int i = 0; i < total; i++) want[i] = y[i] + b[i % N];
    ref_gelu_tanh(want, (size_t)total);
    RUN("bias_gelu", 1, &g, 5, VR_ARG(dy), VR_ARG(db), VR_ARG(total), VR_ARG(N), VR_ARG(off));
    down(dy, got, (size_t)total * 4);
    compare("bias_gelu", got, want, (size_t)total, 1e-6, ms);
    /* silu */
    vr_write(&rt, dy, 0, (size_t)total * 4, y);
    memcpy(want, y, (size_t)total * 4);
    ref_silu(want, (size_t)total);
    cl_mem dz = dev((size_t)total * 4);
    RUN("silu", 1, &g, 3, VR_ARG(dy), VR_ARG(dz), VR_ARG(total));
    down(dz, got, (size_t)total * 4);
    compare("silu", got, want, (size_t)total, 1e-6, ms);
    /* add_inplace */
    for (int i = 0; i < total; i++) want[i] = y[i] + y[i] * (i % 3);
    float *y2 = malloc((size_t)total * 4);
    for (int i = 0; i < total; i++) y2[i] = y[i] * (i % 3);
    cl_mem d2 = up(y2, (size_t)total * 4);
    RUN("add_inplace", 1, &g, 3, VR_ARG(dy), VR_ARG(d2), VR_ARG(total));
    down(dy, got, (size_t)total * 4);
    compare("add_inplace", got, want, (size_t)total, 1e-7, ms);
    vm_free(&rt.mem, dy), vm_free(&rt.mem, db), vm_free(&rt.mem, dz), vm_free(&rt.mem, d2);
    free(y), free(b), free(want), free(got), free(y2);
}

/* residual_ln_modulate(_wg): the gated residual x += gamma (y + b) (gamma from a layer's six AdaLN vectors), then
 * the modulated LayerNorm of the new x with another set of rows (here the head's two vectors, stride 2C), as the
 * forward pass chains them. Both outputs checked; the _wg kernel at every work-group size, C not a multiple of
 * them. */
static void test_residual_ln(void)
{
    int R = 4, T = 5, C = tiny ? 40 : 200, rows = R * T, total = rows * C, gs = 6 * C, goff = C, ls = 2 * C;
    int so = 0, sho = C;
    float eps = 1e-6f, *x = randv((size_t)total, 1), *y = randv((size_t)total, 1), *b = randv((size_t)C, 1),
          *gm = randv((size_t)R * gs, 1), *lm = randv((size_t)R * ls, 0.5f);
    float *xw = malloc((size_t)total * 4), *aw = malloc((size_t)total * 4), *got = malloc((size_t)total * 4);
    for (int i = 0; i < total; i++) {
        int row = i / C, c = i % C;
        x[i] += 1.5f * (c % 2); /* the row's mean away from 0 */
        xw[i] = x[i] + gm[(size_t)(row / T) * gs + goff + c] * (y[i] + b[c]);
    }
    ref_layernorm(xw, aw, rows, C, eps);
    for (int r = 0; r < R; r++)
        ref_modulate(aw + (size_t)r * T * C, aw + (size_t)r * T * C, T, C, lm + (size_t)r * ls + so,
                     lm + (size_t)r * ls + sho);
    cl_mem dx = up(x, (size_t)total * 4), dy = up(y, (size_t)total * 4), db = up(b, (size_t)C * 4),
           dg = up(gm, (size_t)R * gs * 4), dl = up(lm, (size_t)R * ls * 4), da = dev((size_t)total * 4);
    const char *names[2] = {"residual_ln_modulate", "residual_ln_modulate_wg"};
    for (int wgk = 0; wgk < 2; wgk++) {
        cl_kernel k = vr_kernel(&rt, names[wgk]);
        size_t kmax = 1;
        if (wgk) clGetKernelWorkGroupInfo(k, rt.dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL);
        for (size_t l = 1; l <= 256 && l <= kmax; l *= tiny ? 4 : 2) {
            vr_write(&rt, dx, 0, (size_t)total * 4, x);
            size_t g = (size_t)rows * l;
            double t0 = now_ms();
            int st = vr_launch(&rt, k, names[wgk], 1, &g, wgk ? &l : NULL, 15, VR_ARG(dx), VR_ARG(dy), VR_ARG(db),
                               VR_ARG(dg), VR_ARG(gs), VR_ARG(goff), VR_ARG(da), VR_ARG(dl), VR_ARG(ls), VR_ARG(so),
                               VR_ARG(sho), VR_ARG(rows), VR_ARG(C), VR_ARG(T), VR_ARG(eps));
            CHECK(st == 0, "%s local %zu: %s", names[wgk], l, varcl_last_error());
            vr_finish(&rt);
            double ms = now_ms() - t0;
            char name[64];
            snprintf(name, sizeof name, "%s x%s%zu", names[wgk], wgk ? " local " : "", wgk ? l : (size_t)0);
            down(dx, got, (size_t)total * 4);
            compare(wgk ? name : "residual_ln_modulate x", got, xw, (size_t)total, 1e-7, ms);
            snprintf(name, sizeof name, "%s a%s%zu", names[wgk], wgk ? " local " : "", wgk ? l : (size_t)0);
            down(da, got, (size_t)total * 4);
            compare(wgk ? name : "residual_ln_modulate a", got, aw, (size_t)total, 1e-5, ms);
        }
    }
    vm_free(&rt.mem, dx), vm_free(&rt.mem, dy), vm_free(&rt.mem, db), vm_free(&rt.mem, dg), vm_free(&rt.mem, dl);
    vm_free(&rt.mem, da);
    free(x), free(y), free(b), free(gm), free(lm), free(xw), free(aw), free(got);
}

static void test_embed_scale(void)
{
    int B = 2, T = 9, C = 64, L = 30, begin = 5, si = 2, S = 10;
    float *y = randv((size_t)B * T * C, 1), *wb = randv((size_t)C, 1), *lvl = randv((size_t)S * C, 1),
          *pos = randv((size_t)L * C, 1);
    size_t n = (size_t)2 * B * T * C;
    float *want = malloc(n * 4), *got = malloc(n * 4);
    for (int r = 0; r < 2 * B; r++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                want[((size_t)r * T + t) * C + c] = (y[((size_t)(r % B) * T + t) * C + c] + wb[c]) +
                                                    (lvl[si * C + c] + pos[(size_t)(begin + t) * C + c]);
    cl_mem dy = up(y, (size_t)B * T * C * 4), dwb = up(wb, (size_t)C * 4), dl = up(lvl, (size_t)S * C * 4),
           dp = up(pos, (size_t)L * C * 4), dx = dev(n * 4);
    size_t g = n;
    double ms;
    RUN("embed_scale", 1, &g, 10, VR_ARG(dy), VR_ARG(dwb), VR_ARG(dl), VR_ARG(dp), VR_ARG(dx), VR_ARG(B), VR_ARG(T),
        VR_ARG(C), VR_ARG(begin), VR_ARG(si));
    down(dx, got, n * 4);
    compare("embed_scale", got, want, n, 1e-7, ms);
    vm_free(&rt.mem, dy), vm_free(&rt.mem, dwb), vm_free(&rt.mem, dl), vm_free(&rt.mem, dp), vm_free(&rt.mem, dx);
    free(y), free(wb), free(lvl), free(pos), free(want), free(got);
}

/* Paged attention: K/V written by qk_norm_store over two scales into pages assigned in a scrambled order,
 * then attention for the second scale's T2 queries over all keys. kind 0: the one-query kernel, for any page size;
 * 1: the blocked kernel (CPUs) for pages of 16 and 32 tokens, where the 25 keys end inside a 16-key block; 2: the
 * two-query kernel, T2 odd too (the last pair of each row one query); 3: attn_scores -> attn_softmax -> attn_values
 * (llvmpipe) over chunks of `chunk` CFG rows, tiles of 8 queries and 8 keys cut by T2 and L; 4: attention_tiled
 * (GPUs) in work-groups of `chunk` queries, 16-key tiles cut by L, query tiles cut by T2; f32 and f16 storage. */
static void paged_attention_case_chunk(int P, int f16, int kind, int T2, int chunk)
{
    int R = 2, H = 2, C = 128, T1 = 9, L = T1 + T2, maxp = (L + P - 1) / P, tab0 = maxp * R, blk = kind == 1;
    size_t es = f16 ? 2 : 4;
    /* table for "layer 1" (offset tab0), layer 0 slots unused: pages handed out back to front */
    int *tab = malloc((size_t)2 * R * maxp * sizeof *tab), next = 2 * R * maxp - 1;
    for (int i = 0; i < 2 * R * maxp; i++) tab[i] = -1;
    for (int r = 0; r < R; r++)
        for (int k = 0; k < maxp; k++) tab[tab0 + r * maxp + k] = next--;
    int pages = 2 * R * maxp;
    float *qkv1 = randv((size_t)R * T1 * 3 * C, 1), *qkv2 = randv((size_t)R * T2 * 3 * C, 1);
    float *qb = randv((size_t)C, 0.5f), *vb = randv((size_t)C, 0.5f), sm[2] = {logf(4.0f), 5.0f /* > ln 100 */};
    cl_mem dq1 = up(qkv1, (size_t)R * T1 * 3 * C * 4), dq2 = up(qkv2, (size_t)R * T2 * 3 * C * 4),
           dqb = up(qb, (size_t)C * 4), dvb = up(vb, (size_t)C * 4), dsm = up(sm, sizeof sm),
           dtab = up(tab, (size_t)2 * R * maxp * 4), kp = dev((size_t)pages * P * C * es),
           vp = dev((size_t)pages * P * C * es), q = dev((size_t)R * T2 * C * 4), o = dev((size_t)R * T2 * C * 4);
    double ms, total_ms = 0;
    int N1 = R * T1, N2 = R * T2, pos0 = 0, kvlen = L;
    size_t g1[2] = {(size_t)N1, (size_t)H}, g2[2] = {(size_t)N2, (size_t)H};
    size_t g3[3] = {(size_t)(T2 + 3) / 4, (size_t)H, (size_t)R}, gp[2] = {(size_t)R * ((T2 + 1) / 2), (size_t)H};
    const char *store = f16 ? "qk_norm_store_f16" : "qk_norm_store_f32";
    char attn[48];
    snprintf(attn, sizeof attn, "attention%s_%s", blk ? "_blk" : kind == 2 ? "2" : "", f16 ? "f16" : "f32");
    if (kind == 3) snprintf(attn, sizeof attn, "attn_split_%s chunk %d", f16 ? "f16" : "f32", chunk);
    if (kind == 4) snprintf(attn, sizeof attn, "attention_tiled_%s local %d", f16 ? "f16" : "f32", chunk);
    RUN(store, 2, g1, 15, VR_ARG(dq1), VR_ARG(dqb), VR_ARG(dvb), VR_ARG(dsm), VR_ARG(q), VR_ARG(kp), VR_ARG(vp),
        VR_ARG(dtab), VR_ARG(N1), VR_ARG(T1), VR_ARG(C), VR_ARG(pos0), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0));
    total_ms += ms;
    pos0 = T1;
    RUN(store, 2, g2, 15, VR_ARG(dq2), VR_ARG(dqb), VR_ARG(dvb), VR_ARG(dsm), VR_ARG(q), VR_ARG(kp), VR_ARG(vp),
        VR_ARG(dtab), VR_ARG(N2), VR_ARG(T2), VR_ARG(C), VR_ARG(pos0), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0));
    total_ms += ms;
    if (kind == 3) {
        cl_mem sc = dev((size_t)chunk * H * T2 * L * 4);
        char ks[24], kv[24];
        snprintf(ks, sizeof ks, "attn_scores_%s", f16 ? "f16" : "f32");
        snprintf(kv, sizeof kv, "attn_values_%s", f16 ? "f16" : "f32");
        double acc = 0;
        for (int r0 = 0; r0 < R; r0 += chunk) {
            int srows = chunk * H * T2;
            size_t gs[3] = {(size_t)(L + 7) / 8, (size_t)(T2 + 7) / 8, (size_t)chunk * H};
            size_t gv[3] = {64 / 8, (size_t)(T2 + 7) / 8, (size_t)chunk * H}, g1s = (size_t)srows;
            RUN(ks, 3, gs, 11, VR_ARG(q), VR_ARG(kp), VR_ARG(dtab), VR_ARG(sc), VR_ARG(T2), VR_ARG(C), VR_ARG(kvlen),
                VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0), VR_ARG(r0));
            acc += ms;
            RUN("attn_softmax", 1, &g1s, 3, VR_ARG(sc), VR_ARG(srows), VR_ARG(kvlen));
            acc += ms;
            RUN(kv, 3, gv, 11, VR_ARG(sc), VR_ARG(vp), VR_ARG(dtab), VR_ARG(o), VR_ARG(T2), VR_ARG(C), VR_ARG(kvlen),
                VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0), VR_ARG(r0));
            acc += ms;
        }
        ms = acc;
        vm_free(&rt.mem, sc);
    } else if (kind == 4) {
        char kt[32];
        snprintf(kt, sizeof kt, "attention_tiled_%s", f16 ? "f16" : "f32");
        size_t S = (size_t)chunk, gt[3] = {S * (((size_t)T2 + S - 1) / S), (size_t)H, (size_t)R}, lt[3] = {S, 1, 1};
        double t0 = now_ms();
        int st = vr_launch(&rt, vr_kernel(&rt, kt), kt, 3, gt, lt, 12, VR_ARG(q), VR_ARG(kp), VR_ARG(vp), VR_ARG(dtab),
                           VR_ARG(o), VR_ARG(N2), VR_ARG(T2), VR_ARG(C), VR_ARG(kvlen), VR_ARG(P), VR_ARG(maxp),
                           VR_ARG(tab0));
        CHECK(st == 0, "%s: %s", attn, varcl_last_error());
        vr_finish(&rt);
        ms = now_ms() - t0;
    } else {
        RUN(attn, blk ? 3 : 2, blk ? g3 : kind == 2 ? gp : g2, 12, VR_ARG(q), VR_ARG(kp), VR_ARG(vp), VR_ARG(dtab),
            VR_ARG(o), VR_ARG(N2), VR_ARG(T2), VR_ARG(C), VR_ARG(kvlen), VR_ARG(P), VR_ARG(maxp), VR_ARG(tab0));
    }
    /* reference: per row, keys = scale 1 then scale 2 tokens */
    float *K = malloc((size_t)L * C * 4), *Vv = malloc((size_t)L * C * 4), *Q = malloc((size_t)T2 * C * 4),
          *want = malloc((size_t)R * T2 * C * 4), *got = malloc((size_t)R * T2 * C * 4),
          *qgot = malloc((size_t)R * T2 * C * 4), *qwant = malloc((size_t)R * T2 * C * 4);
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < L; j++) {
            const float *src = j < T1 ? qkv1 + ((size_t)r * T1 + j) * 3 * C : qkv2 + ((size_t)r * T2 + j - T1) * 3 * C;
            for (int c = 0; c < C; c++) {
                K[(size_t)j * C + c] = src[C + c];
                Vv[(size_t)j * C + c] = src[2 * C + c] + vb[c];
            }
            ref_qk_l2norm(NULL, K + (size_t)j * C, H, 64, sm);
        }
        for (int i = 0; i < T2; i++) {
            const float *src = qkv2 + ((size_t)r * T2 + i) * 3 * C;
            for (int c = 0; c < C; c++) Q[(size_t)i * C + c] = src[c] + qb[c];
            ref_qk_l2norm(Q + (size_t)i * C, NULL, H, 64, sm);
        }
        memcpy(qwant + (size_t)r * T2 * C, Q, (size_t)T2 * C * 4);
        ref_attention(Q, C, K, C, Vv, C, want + (size_t)r * T2 * C, C, T2, L, H, 64, 1.0f);
    }
    down(o, got, (size_t)R * T2 * C * 4);
    down(q, qgot, (size_t)R * T2 * C * 4);
    char name[64];
    snprintf(name, sizeof name, "%s (q)", store);
    compare(name, qgot, qwant, (size_t)R * T2 * C, 1e-6, total_ms);
    snprintf(name, sizeof name, "%s P=%d T=%d", attn, P, T2);
    compare(name, got, want, (size_t)R * T2 * C, f16 ? 2e-3 : 1e-5, ms);
    cl_mem all[] = {dq1, dq2, dqb, dvb, dsm, dtab, kp, vp, q, o};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) vm_free(&rt.mem, all[i]);
    free(tab), free(qkv1), free(qkv2), free(qb), free(vb), free(K), free(Vv), free(Q), free(want), free(got),
        free(qgot), free(qwant);
}

static void paged_attention_case(int P, int f16, int kind, int T2)
{
    paged_attention_case_chunk(P, f16, kind, T2, 2);
}

static void test_paged_attention(void)
{
    for (int f16 = 0; f16 <= 1; f16++) {
        paged_attention_case(4, f16, 0, 16);
        paged_attention_case(16, f16, 0, 16);
        paged_attention_case(16, f16, 1, 16);
        paged_attention_case(32, f16, 1, 16);
        paged_attention_case(4, f16, 2, 16);
        paged_attention_case(16, f16, 2, 9); /* odd: each row's last pair is one query */
        paged_attention_case_chunk(4, f16, 3, 16, 2); /* 8-key tiles across pages of 4 */
        paged_attention_case_chunk(16, f16, 3, 9, 1); /* a partial query tile; one CFG row per chunk */
        paged_attention_case_chunk(3, f16, 3, 16, 1); /* pages of 3: every tile straddles them */
        for (int S = 1; S <= 32; S *= tiny ? 8 : 2) /* one tile of 16 and more; 9 queries: a part-empty tile */
            paged_attention_case_chunk(S == 4 ? 3 : 16, f16, 4, S == 8 ? 9 : 16, S);
    }
}

static void test_vq_ops(void)
{
    int B = 2, L = 16, Cv = 32, V = 50;
    double ms;
    /* codebook_lookup */
    int n = B * 9, *tok = malloc((size_t)n * sizeof *tok);
    for (int i = 0; i < n; i++) tok[i] = (i * 7) % V;
    float *cb = randv((size_t)V * Cv, 1), *want = malloc((size_t)B * L * L * Cv * 4), *got = malloc((size_t)B * L * L * Cv * 4);
    for (int i = 0; i < n; i++) memcpy(want + (size_t)i * Cv, cb + (size_t)tok[i] * Cv, (size_t)Cv * 4);
    cl_mem dt = up(tok, (size_t)n * 4), dcb = up(cb, (size_t)V * Cv * 4), dh = dev((size_t)B * L * L * Cv * 4),
           du = dev((size_t)B * L * L * Cv * 4);
    size_t g = (size_t)n * Cv;
    RUN("codebook_lookup", 1, &g, 5, VR_ARG(dt), VR_ARG(dcb), VR_ARG(dh), VR_ARG(n), VR_ARG(Cv));
    down(dh, got, (size_t)n * Cv * 4);
    compare("codebook_lookup", got, want, (size_t)n * Cv, 0, ms);
    /* bicubic_up and area_down at every pn of the 256 px list (and 512 px's 9, 18, 24 against L = 32) */
    const int pns[] = {1, 2, 3, 4, 5, 6, 8, 10, 13};
    for (size_t k = 0; k < sizeof pns / sizeof *pns; k++) {
        int pn = pns[k];
        float *h = randv((size_t)B * pn * pn * Cv, 1);
        vr_write(&rt, dh, 0, (size_t)B * pn * pn * Cv * 4, h);
        for (int b = 0; b < B; b++) ref_bicubic(h + (size_t)b * pn * pn * Cv, pn, want + (size_t)b * L * L * Cv, L, Cv);
        g = (size_t)B * L * L * Cv;
        RUN("bicubic_up", 1, &g, 6, VR_ARG(dh), VR_ARG(du), VR_ARG(B), VR_ARG(pn), VR_ARG(L), VR_ARG(Cv));
        down(du, got, g * 4);
        char name[48];
        snprintf(name, sizeof name, "bicubic_up %d->%d", pn, L);
        compare(name, got, want, g, 1e-6, ms);
        /* area: L -> pn */
        for (int b = 0; b < B; b++) ref_area(got + (size_t)b * L * L * Cv, L, want + (size_t)b * pn * pn * Cv, pn, Cv);
        g = (size_t)B * pn * pn * Cv;
        RUN("area_down", 1, &g, 6, VR_ARG(du), VR_ARG(dh), VR_ARG(B), VR_ARG(L), VR_ARG(pn), VR_ARG(Cv));
        float *got2 = malloc(g * 4);
        down(dh, got2, g * 4);
        snprintf(name, sizeof name, "area_down %d->%d", L, pn);
        compare(name, got2, want, g, 1e-5, ms); /* a mean of up to 256 floats */
        free(got2);
        free(h);
    }
    /* phi_accumulate */
    int total = B * L * L * Cv;
    float *f = randv((size_t)total, 1), *h = randv((size_t)total, 1), *cv = randv((size_t)total, 1), *bias = randv((size_t)Cv, 1);
    for (int i = 0; i < total; i++) want[i] = f[i] + (h[i] * 0.5f + (cv[i] + bias[i % Cv]) * 0.5f);
    cl_mem df = up(f, (size_t)total * 4), dhh = up(h, (size_t)total * 4), dcv = up(cv, (size_t)total * 4),
           dbias = up(bias, (size_t)Cv * 4);
    g = (size_t)total;
    RUN("phi_accumulate", 1, &g, 6, VR_ARG(df), VR_ARG(dhh), VR_ARG(dcv), VR_ARG(dbias), VR_ARG(total), VR_ARG(Cv));
    down(df, got, (size_t)total * 4);
    compare("phi_accumulate", got, want, (size_t)total, 1e-7, ms);
    cl_mem all[] = {dt, dcb, dh, du, df, dhh, dcv, dbias};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) vm_free(&rt.mem, all[i]);
    free(tok), free(cb), free(want), free(got), free(f), free(h), free(cv), free(bias);
}

/* GroupNorm through its three kernels (as group_norm in host/vae.c) against ref_groupnorm_hwc (+ ref_silu):
 * x = offset + 2 U(-1, 1), + 3 in the first 32 channels (group means differ), in the CPU shape (rows = 1:
 * gn_partial_rows, gn_apply_rows) or the GPU shape (gn_partial, gn_apply), with `chunks` pixel chunks. */
static void gn_case(int HW, int C, float offset, int silu, int rows, int chunks, double bound)
{
    int G = 32;
    float eps = 1e-6f;
    size_t n = (size_t)HW * C;
    float *x = randv(n, 2), *gm = randv((size_t)C, 1), *bt = randv((size_t)C, 1), *want = malloc(n * 4),
          *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] += offset + 3.0f * ((int)(i % C) < 32);
    ref_groupnorm_hwc(x, want, HW, C, G, eps, gm, bt);
    if (silu) ref_silu(want, n);
    cl_mem dx = up(x, n * 4), dy = dev(n * 4), dp = dev((size_t)chunks * 3 * C * 4), ds = dev((size_t)3 * C * 4),
           dg = up(gm, (size_t)C * 4), db = up(bt, (size_t)C * 4);
    double ms, t = 0;
    size_t gp[2] = {rows ? (size_t)chunks : (size_t)C / 4, (size_t)chunks}, lf = rows ? 1 : 64,
           gf = (size_t)G * lf, ga[2] = {rows ? (size_t)HW : (size_t)C / 4, (size_t)HW};
    RUN(rows ? "gn_partial_rows" : "gn_partial", rows ? 1 : 2, gp, 5, VR_ARG(dx), VR_ARG(dp), VR_ARG(HW), VR_ARG(C),
        VR_ARG(chunks));
    t += ms;
    { /* RUN without a local size */
        double t0 = now_ms();
        int st = vr_launch(&rt, vr_kernel(&rt, "gn_finalize"), "gn_finalize", 1, &gf, &lf, 9, VR_ARG(dp), VR_ARG(dg),
                           VR_ARG(db), VR_ARG(ds), VR_ARG(HW), VR_ARG(C), VR_ARG(G), VR_ARG(chunks), VR_ARG(eps));
        CHECK(st == 0, "gn_finalize launch: %s", varcl_last_error());
        vr_finish(&rt);
        t += now_ms() - t0;
    }
    RUN(rows ? "gn_apply_rows" : "gn_apply", rows ? 1 : 2, ga, 6, VR_ARG(dx), VR_ARG(dy), VR_ARG(ds), VR_ARG(HW),
        VR_ARG(C), VR_ARG(silu));
    down(dy, got, n * 4);
    char op[64];
    snprintf(op, sizeof op, "gn%s %dx%d%+g %s/%d", silu ? "+silu" : "", HW, C, offset, rows ? "rows" : "gpu", chunks);
    compare(op, got, want, n, bound, t + ms);
    cl_mem all[] = {dx, dy, dp, ds, dg, db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) vm_free(&rt.mem, all[i]);
    free(x), free(gm), free(bt), free(want), free(got);
}

static void test_groupnorm_softmax(void)
{
    /* GroupNorm: both shapes, odd pixel counts, 2..5 channels per group, chunks that do not divide HW */
    gn_case(120, 64, 0, 1, 1, 64, 1e-5);
    gn_case(120, 64, 0, 0, 0, 2, 1e-5);
    if (tiny) gn_case(37, 96, 1000, 1, 0, 5, 2e-6);
    if (!tiny) { /* more pixels, chunks and channel counts; large means */
        gn_case(1237, 160, 0, 1, 1, 64, 1e-5);
        gn_case(1237, 96, 0, 1, 0, 20, 1e-5);
        gn_case(1, 128, 0, 0, 1, 1, 1e-5);
        /* large means: sum / sum-of-squares statistics, or a float mean subtracted from x (2e-5 here), fail these */
        gn_case(1237, 160, 1000, 0, 1, 64, 2e-6);
        gn_case(1237, 160, 1000, 1, 0, 20, 2e-6);
        gn_case(1001, 96, -1000, 0, 1, 7, 2e-6);
        gn_case(4099, 96, 1000, 0, 0, 65, 2e-6);
    }
    /* softmax_rows */
    int rows = 20, N = 300;
    float *s = randv((size_t)rows * N, 8), *sw = malloc((size_t)rows * N * 4), *sg = malloc((size_t)rows * N * 4);
    for (int r = 0; r < rows; r++) {
        double m = -1e30, sum = 0;
        for (int j = 0; j < N; j++) m = fmax(m, s[r * N + j]);
        for (int j = 0; j < N; j++) sum += exp(s[r * N + j] - m);
        for (int j = 0; j < N; j++) sw[r * N + j] = (float)(exp(s[r * N + j] - m) / sum);
    }
    cl_mem dsm = up(s, (size_t)rows * N * 4);
    size_t gr = (size_t)rows;
    double ms;
    RUN("softmax_rows", 1, &gr, 3, VR_ARG(dsm), VR_ARG(rows), VR_ARG(N));
    down(dsm, sg, (size_t)rows * N * 4);
    compare("softmax_rows", sg, sw, (size_t)rows * N, 1e-6, ms);
    vm_free(&rt.mem, dsm);
    free(s), free(sw), free(sg);
}

/* One 3x3 convolution through conv.c against ref_conv3x3_hwc: B images of Hin x Win, nearest x2 first when up = 2,
 * by Winograd F(m x m, 3x3) (wino = m = 2 or 4, transforms with `cpw` float4s per work-item, 0: one channel per
 * work-item, the lane kernels) or im2col (wino = 0);
 * scratch_cap small forces chunks; bias = 0 runs vc_forward_nobias. wdt: the weights' stored dtype (16 bits: im2col
 * only, the reference with the same rounded values). */
static int last_conv_direct; /* whether the last conv3x3_case_dt took the direct path */
static void conv3x3_case_dt(vc_conv *cv, int B, int Hin, int Win, int Cin, int Cout, int up2, int wino, int cpw,
                            size_t scratch_cap, int bias, vt_dtype wdt)
{
    int Ho = Hin * up2, Wo = Win * up2;
    size_t out_n = (size_t)B * Ho * Wo * Cout, wn = (size_t)Cout * Cin * 9;
    size_t un = (size_t)(wino + 2) * (wino + 2) * Cin * Cout;
    float *x = randv((size_t)B * Hin * Win * Cin, 1), *w = randv(wn, 0.2f), *b = randv((size_t)Cout, 1);
    float *wt = malloc((wino ? un : wn) * 4), *want = malloc(out_n * 4), *got = malloc(out_n * 4),
          *xu = malloc((size_t)Ho * Wo * Cin * 4), *zero = calloc((size_t)Cout, 4);
    for (size_t i = 0; wdt != VT_F32 && i < wn; i++) /* values the 16-bit dtype holds */
        w[i] = wdt == VT_F16 ? vt_f16_to_f32(vt_f32_to_f16(w[i])) : vt_bf16_to_f32(vt_f32_to_bf16(w[i]));
    if (wino) vc_winograd_weights(w, Cin, Cout, wino, wt);
    else
        for (int o = 0; o < Cout; o++)
            for (int i = 0; i < Cin; i++)
                for (int k = 0; k < 9; k++) wt[((size_t)k * Cin + i) * Cout + o] = w[((size_t)o * Cin + i) * 9 + k];
    for (int bi = 0; bi < B; bi++) {
        const float *xi = x + (size_t)bi * Hin * Win * Cin;
        if (up2 == 2) ref_upsample2x_hwc(xi, Hin, Win, Cin, xu);
        ref_conv3x3_hwc(up2 == 2 ? xu : xi, Ho, Wo, Cin, w, bias ? b : zero, Cout, want + (size_t)bi * Ho * Wo * Cout);
    }
    vw_conv wc = {{NULL, wdt}, up(b, (size_t)Cout * 4), Cin, Cout, 3, wino};
    if (wdt == VT_F32) {
        wc.wt.buf = up_weights(cv->gemm, wt, wino ? (size_t)(wino + 2) * (wino + 2) : 1, (size_t)(wino ? 1 : 9) * Cin,
                               (size_t)Cout);
    } else { /* [9 Cin][Cout] as 16 bits: the [K][N] layout (the simt products and the direct path) */
        uint16_t *h = malloc(wn * 2);
        for (size_t i = 0; i < wn; i++) h[i] = wdt == VT_F16 ? vt_f32_to_f16(wt[i]) : vt_f32_to_bf16(wt[i]);
        wc.wt.buf = up(h, wn * 2);
        free(h);
    }
    cl_mem dx = up(x, (size_t)B * Hin * Win * Cin * 4), dy = dev(out_n * 4);
    int cpw_default = cv->wino_cpw;
    size_t cap_default = cv->scratch_cap;
    cv->wino_cpw = cpw;
    cv->scratch_cap = scratch_cap;
    double t0 = now_ms();
    int st = bias ? vc_forward(cv, &wc, dx, B, Hin, Win, up2, dy) : vc_forward_nobias(cv, &wc, dx, B, Hin, Win, up2, dy);
    vr_finish(&rt);
    double ms = now_ms() - t0;
    cv->wino_cpw = cpw_default;
    cv->scratch_cap = cap_default;
    char name[96];
    /* the direct path (conv3x3_simt8) needs no scratch, only its zero row; im2col and Winograd the scratch */
    int direct = cv->zero && !cv->scratch;
    last_conv_direct = direct;
    snprintf(name, sizeof name, "%s%s%s%s B%d %dx%d %d->%d", up2 == 2 ? "up2+" : "",
             wino == 4 ? "wino4" : wino ? "wino2" : direct ? "direct" : "im2col",
             wdt == VT_F16 ? " f16" : wdt == VT_BF16 ? " bf16" : "", bias ? "" : "(nobias)", B, Ho, Wo, Cin, Cout);
    CHECK(st == 0, "%s: %s", name, varcl_last_error());
    down(dy, got, out_n * 4);
    /* a wrong transform or tile index gives errors of order 1; float rounding of the transforms stays below 1e-6
     * (F(4x4, 3x3)'s larger constants: a few 1e-6) */
    compare(name, got, want, out_n, 1e-5, ms);
    vc_release(cv); /* each case starts from an empty scratch: the first-use growth path runs every time */
    vm_free(&rt.mem, wc.wt.buf), vm_free(&rt.mem, wc.b), vm_free(&rt.mem, dx), vm_free(&rt.mem, dy);
    free(x), free(w), free(b), free(wt), free(want), free(got), free(xu), free(zero);
}
static void conv3x3_case(vc_conv *cv, int B, int Hin, int Win, int Cin, int Cout, int up2, int wino, int cpw,
                         size_t scratch_cap, int bias)
{
    conv3x3_case_dt(cv, B, Hin, Win, Cin, Cout, up2, wino, cpw, scratch_cap, bias, VT_F32);
}

/* conv.c's direct path (cl/linear.cl conv3x3_simt8, policy.h conv_direct) forced on any device: products through
 * linear_simt8 on [K][N] weights; output rows not a multiple of 8, odd Cin, up-sampling, no bias, 16-bit weights,
 * and a 1 x 1 map (every tap but the centre outside). Each case checks that the direct path ran (no scratch). */
static void test_conv_direct(void)
{
    vg_gemm gemm;
    vc_conv cv;
    CHECK(vg_init(&gemm, &rt) == 0, "vg_init: %s", varcl_last_error());
    gemm.packed = 0, gemm.simt = 1, gemm.simt_cols = 8;
    int saved = rt.policy.conv_direct;
    rt.policy.conv_direct = 1;
    CHECK(vc_init(&cv, &rt, &gemm) == 0, "vc_init: %s", varcl_last_error());
    const struct {
        int B, Hin, Win, Cin, Cout, up2, bias;
        vt_dtype wdt;
    } cases[] = {{2, 7, 9, 32, 48, 1, 1, VT_F32}, {2, 7, 9, 32, 48, 2, 1, VT_F32}, {1, 5, 3, 7, 8, 2, 0, VT_F32},
                 {3, 3, 5, 13, 16, 1, 1, VT_F16}, {1, 4, 6, 9, 24, 2, 1, VT_BF16}, {2, 1, 1, 5, 8, 1, 1, VT_F32}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tiny && i % 2) continue;
        conv3x3_case_dt(&cv, cases[i].B, cases[i].Hin, cases[i].Win, cases[i].Cin, cases[i].Cout, cases[i].up2, 0,
                        cv.wino_cpw, cv.scratch_cap, cases[i].bias, cases[i].wdt);
        CHECK(last_conv_direct, "conv case %zu did not take the direct path (conv3x3_simt8)", i);
    }
    rt.policy.conv_direct = saved;
    vc_release(&cv);
    vg_release(&gemm);
}

/* conv.c: 3x3 by im2col + CLBlast and by Winograd F(2x2, 3x3) and F(4x4, 3x3) (plain, and through the nearest x2
 * up-sampling), 1x1, batched over images. */
static void test_conv(void)
{
    vg_gemm gemm;
    vc_conv cv;
    CHECK(vg_init(&gemm, &rt) == 0, "vg_init: %s", varcl_last_error());
    CHECK(vc_init(&cv, &rt, &gemm) == 0, "vc_init: %s", varcl_last_error());
    size_t big = cv.scratch_cap, small = 4096 * 4; /* small: several chunks (an odd last one) */
    int Cin = 32, Cout = 48, dflt = cv.wino_cpw;
    for (int up2 = 1; up2 <= 2; up2++) conv3x3_case(&cv, 2, 7, 9, Cin, Cout, up2, 0, dflt, small, 1);
    conv3x3_case(&cv, 1, 5, 4, 7, 5, 2, 0, dflt, small, 1); /* 7 channels: im2col3x3_simt's float4 and its tail */
    if (tiny) Cin = 13, Cout = 7; /* the 1x1 case below */
    for (int m = 2; tiny && m <= 4; m += 2) {
        conv3x3_case(&cv, 2, 5, 3, 9, 5, 1, m, dflt, big, 1);
        conv3x3_case(&cv, 1, 3, 2, 6, 3, 2, m, 1, big, 0);
        conv3x3_case(&cv, 1, 3, 5, 9, 6, 2, m, 0, small, 1); /* the lane kernels */
    }
    for (int m = 2; tiny && m <= 4; m += 2) conv3x3_case(&cv, 2, 1, 1, 5, 7, 1, m, 2, small, 1);
    /* Winograd: H and W that leave partial edge tiles (every remainder mod 2 and mod 4), channel counts that are
     * not multiples of 4 (float4 tails), batches, Cout = 3 (conv_out), chunked and whole, both work shapes
     * (cpw 1: GPUs; 2: blocks with a tail) */
    for (int m = 2; !tiny && m <= 4; m += 2) {
        for (int up2 = 1; up2 <= 2; up2++) {
            conv3x3_case(&cv, 2, 7, 9, Cin, Cout, up2, m, dflt, small, 1);
            conv3x3_case(&cv, 3, 5, 6, 37, 19, up2, m, dflt, small, 1);
            conv3x3_case(&cv, 1, 9, 4, 37, 19, up2, m, 1, big, 1);
            conv3x3_case(&cv, 2, 11, 3, 45, 3, up2, m, 2, small, 1);
            conv3x3_case(&cv, 3, 5, 6, 37, 19, up2, m, 0, small, 1); /* cpw 0: the lane kernels (SIMD-lane CPUs) */
            conv3x3_case(&cv, 1, 9, 4, 8, 3, up2, m, 0, big, 0);
        }
        conv3x3_case(&cv, 1, 16, 16, 64, 3, 1, m, dflt, big, 1);
        conv3x3_case(&cv, 2, 1, 1, 5, 7, 1, m, dflt, big, 1);   /* a map smaller than one tile */
        conv3x3_case(&cv, 2, 8, 8, 32, 32, 1, m, dflt, big, 0); /* the phi convolutions' call (no bias) */
        conv3x3_case(&cv, 1, 13, 12, 160, 160, 1, m, dflt, big, 1);
    }
    /* 1x1 */
    int HW = 50;
    float *x = randv((size_t)HW * Cin, 1), *w = randv((size_t)Cout * Cin, 0.3f), *b = randv((size_t)Cout, 1),
          *wt = malloc((size_t)Cout * Cin * 4), *want = malloc((size_t)HW * Cout * 4), *got = malloc((size_t)HW * Cout * 4);
    for (int o = 0; o < Cout; o++)
        for (int i = 0; i < Cin; i++) wt[(size_t)i * Cout + o] = w[(size_t)o * Cin + i];
    ref_conv1x1_hwc(x, HW, Cin, w, b, Cout, want);
    vw_conv wc = {{up_weights(&gemm, wt, 1, (size_t)Cin, (size_t)Cout), VT_F32}, up(b, (size_t)Cout * 4), Cin, Cout,
                  1, 0};
    cl_mem dx = up(x, (size_t)HW * Cin * 4), dy = dev((size_t)HW * Cout * 4);
    double t0 = now_ms();
    CHECK(vc_forward(&cv, &wc, dx, 1, 5, 10, 1, dy) == 0, "1x1 conv: %s", varcl_last_error());
    vr_finish(&rt);
    down(dy, got, (size_t)HW * Cout * 4);
    compare("conv1x1 (GEMM)", got, want, (size_t)HW * Cout, 1e-5, now_ms() - t0);
    vm_free(&rt.mem, wc.wt.buf), vm_free(&rt.mem, wc.b), vm_free(&rt.mem, dx), vm_free(&rt.mem, dy);
    free(x), free(w), free(b), free(wt), free(want), free(got);
    vc_release(&cv);
    vg_release(&gemm);
}

/* widen_f16 / widen_bf16 (cl/linear.cl), the copy CLBlast's products read 16-bit weights through, on their own: the
 * CLBlast path that calls them is left out under Oclgrind (VARCL_TEST_TINY), so they are checked here directly: n
 * elements from an odd offset, every value exact (each 16-bit value is an f32), nothing written past n. */
static void widen_case(void)
{
    enum { N = 67, OFF = 3, PAD = 5 };
    static const char *const names[2] = {"widen_f16", "widen_bf16"};
    for (int d = 0; d < 2; d++) {
        uint16_t h[OFF + N];
        float want[N + PAD], got[N + PAD];
        for (int i = 0; i < OFF + N; i++) {
            float v = frand() * (i % 7 == 0 ? 1000.0f : 1.0f);
            h[i] = d ? vt_f32_to_bf16(v) : vt_f32_to_f16(v);
        }
        for (int i = 0; i < N + PAD; i++) want[i] = i < N ? (d ? vt_bf16_to_f32(h[OFF + i]) : vt_f16_to_f32(h[OFF + i])) : -7.0f;
        for (int i = 0; i < N + PAD; i++) got[i] = -7.0f;
        cl_mem w = up(h, sizeof h), out = up(got, sizeof got);
        cl_kernel k = vr_kernel(&rt, names[d]);
        cl_ulong off = OFF, n = N;
        size_t gsz = N;
        CHECK(k && vr_launch(&rt, k, names[d], 1, &gsz, vr_elem_local(&rt), 4, VR_ARG(w), VR_ARG(off), VR_ARG(out),
                             VR_ARG(n)) == 0,
              "%s: %s", names[d], varcl_last_error());
        down(out, got, sizeof got);
        int bad = -1;
        for (int i = 0; i < N + PAD && bad < 0; i++)
            if (memcmp(&got[i], &want[i], sizeof got[i])) bad = i;
        CHECK(bad < 0, "%s: element %d is %g, want %g", names[d], bad, bad < 0 ? 0.0 : got[bad], bad < 0 ? 0.0 : want[bad]);
        vm_free(&rt.mem, w), vm_free(&rt.mem, out);
    }
}

/* The product kernels of gemm.c (host/policy.h VP_PRODUCT_*): path 0 CLBlast, 1 linear_packed, 2 linear_simt (4
 * columns per work-item), 3 linear_simt8 (8 columns, policy.h simt_cols), 4 CLBlast devices' products of few rows
 * through linear_splitk (policy.h few_splitk; every product with weights counts as few here, vg_sgemm's go to
 * linear_simt) */
enum { PATH_CLBLAST, PATH_PACKED, PATH_SIMT, PATH_SIMT8, PATH_SPLITK, PATHS };
static const char *const path_names[PATHS] = {"CLBlast", "packed", "simt", "simt8", "splitk"};

/* Points gemm at one path's kernel; *saved keeps what it was (restore with set_path(gemm, -1, saved)). */
static void set_path(vg_gemm *gemm, int path, int saved[5])
{
    if (path < 0) {
        gemm->packed = saved[0], gemm->simt = saved[1], gemm->simt_cols = saved[2];
        gemm->simt_rows = saved[3], gemm->few_splitk = saved[4];
        return;
    }
    saved[0] = gemm->packed, saved[1] = gemm->simt, saved[2] = gemm->simt_cols;
    saved[3] = gemm->simt_rows, saved[4] = gemm->few_splitk;
    gemm->packed = path == PATH_PACKED;
    gemm->simt = path == PATH_SIMT || path == PATH_SIMT8;
    gemm->simt_cols = path == PATH_SIMT8 ? 8 : 4;
    gemm->simt_rows = path == PATH_SPLITK ? 1 << 20 : path == PATH_CLBLAST ? 0 : saved[3];
    gemm->few_splitk = path == PATH_SPLITK;
}

/* gemm.c's vg_linear / vg_linear_batched through each product kernel (packed: linear_packed; [K][N]: CLBlast or
 * linear_simt) on this
 * device: products of few and many rows (the early and late scales; row blocks of 2, 4 and 8 and their tails), N
 * past the last full 32-column panel, odd K, x, W and y at offsets into larger buffers, rows split into chunks (one
 * panel, many rows), batches with gaps between the products, and the bias and bias + GELU epilogues (act).
 * wdt: the weights' storage (f16 and bf16: CLBlast after gemm.c's widen kernel); the reference takes the same 16-bit values
 * widened, so the tolerance stays that of f32 sums (a kernel that misread the 16-bit values would be off by far more). */
static void linear_case_dt(vg_gemm *gemm, int path, int batch, int M, int N, int K, int wo, int act, vt_dtype wdt)
{
    int packed = path == PATH_PACKED;
    /* odd offsets and batch strides with an odd wo, even ones with an even wo (linear_simt8w's 64-bit pairs) */
    int xo = wo % 2 ? 5 : 4, yo = 3, saved[5];
    size_t xs = (size_t)M * K + (wo % 2 ? 11 : 12), ys = (size_t)M * N + 7;
    size_t we = vg_weight_elems(packed, (size_t)K, (size_t)N), ws = we + (wo % 2 ? 13 : 14);
    float *Wl = randv((size_t)batch * N * K, 0.2f), *xl = randv(xo + batch * xs, 1), *wt = malloc((size_t)K * N * 4);
    float *wl = calloc(wo + batch * ws, 4), *yw = malloc((size_t)batch * M * N * 4);
    float *yg = malloc((yo + batch * ys) * 4);
    for (size_t i = 0; wdt != VT_F32 && i < (size_t)batch * N * K; i++) /* values the 16-bit dtype holds */
        Wl[i] = wdt == VT_F16 ? vt_f16_to_f32(vt_f32_to_f16(Wl[i])) : vt_bf16_to_f32(vt_f32_to_bf16(Wl[i]));
    for (int b = 0; b < batch; b++) {
        const float *W = Wl + (size_t)b * N * K;
        for (int o = 0; o < N; o++)
            for (int i = 0; i < K; i++) wt[(size_t)i * N + o] = W[(size_t)o * K + i];
        vg_weight_pack(packed, wt, (size_t)K, (size_t)N, wl + wo + b * ws);
        ref_linear(xl + xo + b * xs, W, NULL, yw + (size_t)b * M * N, M, K, N);
    }
    for (size_t i = 0; i < yo + batch * ys; i++) yg[i] = -7.0f; /* sentinel: what lies outside the products */
    float *bias = randv((size_t)N, 1);
    for (size_t i = 0; act && i < (size_t)M * N; i++) yw[i] += bias[i % N];
    if (act == VG_ACT_BIAS_GELU) ref_gelu_tanh(yw, (size_t)M * N);
    cl_mem dxl = up(xl, (xo + batch * xs) * 4), dwl;
    if (wdt == VT_F32) {
        dwl = up(wl, (wo + batch * ws) * 4);
    } else {
        uint16_t *h = malloc((wo + batch * ws) * 2);
        for (size_t i = 0; i < wo + batch * ws; i++)
            h[i] = wdt == VT_F16 ? vt_f32_to_f16(wl[i]) : vt_f32_to_bf16(wl[i]);
        dwl = up(h, (wo + batch * ws) * 2);
        free(h);
    }
    cl_mem dyl = up(yg, (yo + batch * ys) * 4);
    cl_mem db = up(bias, (size_t)N * 4);
    set_path(gemm, path, saved);
    double t0 = now_ms();
    vg_weight w = {dwl, wdt};
    int st = batch == 1 ? vg_linear_act(gemm, dxl, (size_t)xo, w, (size_t)wo, dyl, (size_t)yo, (size_t)M, (size_t)N,
                                        (size_t)K, db, act)
                        : vg_linear_batched(gemm, (size_t)batch, dxl, (size_t)xo, xs, w, (size_t)wo, ws, dyl,
                                            (size_t)yo, ys, (size_t)M, (size_t)N, (size_t)K);
    CHECK(st == 0, "vg_linear M=%d: %s", M, varcl_last_error());
    vr_finish(&rt);
    double ms_ = now_ms() - t0;
    set_path(gemm, -1, saved);
    down(dyl, yg, (yo + batch * ys) * 4);
    for (int b = 0; b < batch; b++) {
        char name[80];
        snprintf(name, sizeof name, "linear %d x %d -> %d (%s%s, %s, product %d of %d)", M, K, N,
                 path_names[path], wdt == VT_F16 ? " f16" : wdt == VT_BF16 ? " bf16" : "",
                 act == VG_ACT_BIAS_GELU ? "bias + GELU" : act ? "bias" : "no bias", b + 1, batch);
        compare(name, yg + yo + b * ys, yw + (size_t)b * M * N, (size_t)M * N, 1e-5, ms_);
    }
    size_t outside = 0; /* entries before, between and after the products that were written */
    for (size_t i = 0; i < yo + batch * ys; i++)
        outside += (i < (size_t)yo || (i - yo) % ys >= (size_t)M * N) && yg[i] != -7.0f;
    CHECK(outside == 0, "linear %d x %d -> %d: %zu entries outside the products written", M, K, N, outside);
    vm_free(&rt.mem, dxl), vm_free(&rt.mem, dwl), vm_free(&rt.mem, dyl), vm_free(&rt.mem, db);
    free(Wl), free(xl), free(wt), free(wl), free(yw), free(yg), free(bias);
}

static void linear_case(vg_gemm *gemm, int path, int batch, int M, int N, int K, int wo, int act)
{
    linear_case_dt(gemm, path, batch, M, N, K, wo, act, VT_F32);
}

/* vg_sgemm with operands inside larger buffers (lda, ldb), B as [K][N] or [N][K], alpha: the decoder's attention
 * products. Packed takes pack_panels + linear_packed, simt linear_simt, CLBlast the rest (and beta != 0). */
static void sgemm_case(vg_gemm *gemm, int path, int trans_b, int M, int N, int K, int lda, int ldb, float alpha,
                       float beta)
{
    size_t na = (size_t)M * lda + 3, nb = (size_t)(trans_b ? N : K) * ldb + 5, nc = (size_t)M * N + 2;
    float *a = randv(na, 1), *b = randv(nb, 1), *c0 = randv(nc, 1), *want = malloc(nc * 4), *got = malloc(nc * 4);
    memcpy(want, c0, nc * 4);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)a[3 + (size_t)i * lda + k] * b[5 + (trans_b ? (size_t)j * ldb + k : (size_t)k * ldb + j)];
            want[2 + (size_t)i * N + j] = (float)(alpha * s + beta * c0[2 + (size_t)i * N + j]);
        }
    cl_mem da = up(a, na * 4), db = up(b, nb * 4), dc = up(c0, nc * 4);
    int saved[5];
    set_path(gemm, path, saved);
    double t0 = now_ms();
    CHECK(vg_sgemm(gemm, 0, trans_b, (size_t)M, (size_t)N, (size_t)K, alpha, da, 3, (size_t)lda, db, 5, (size_t)ldb,
                   beta, dc, 2, (size_t)N) == 0,
          "vg_sgemm: %s", varcl_last_error());
    vr_finish(&rt);
    double ms_ = now_ms() - t0;
    set_path(gemm, -1, saved);
    down(dc, got, nc * 4);
    char name[96];
    snprintf(name, sizeof name, "sgemm %d x %d -> %d%s (%s, beta %g)", M, K, N, trans_b ? " B^T" : "",
             beta == 0 ? path_names[path] : "CLBlast", beta);
    compare(name, got + 2, want + 2, (size_t)M * N, 1e-5, ms_);
    CHECK(got[0] == c0[0] && got[1] == c0[1], "%s: wrote before C", name);
    vm_free(&rt.mem, da), vm_free(&rt.mem, db), vm_free(&rt.mem, dc);
    free(a), free(b), free(c0), free(want), free(got);
}

static void test_linear(void)
{
    vg_gemm gemm;
    CHECK(vg_init(&gemm, &rt) == 0, "vg_init: %s", varcl_last_error());
    const int ms[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 33, 64, 65, 130};
    if (tiny) { /* varcl's product kernels, rows in blocks of 2, 4, 8 with tails; full and partial panels */
        for (int path = PATH_PACKED; path < PATHS; path++) {
            const int tm[] = {1, 3, 9, 35};
            for (size_t t = 0; t < sizeof tm / sizeof *tm; t++) linear_case(&gemm, path, 1, tm[t], 40, 9, 3, VG_ACT_NONE);
            linear_case(&gemm, path, 2, 5, 33, 7, 1, VG_ACT_NONE);
            linear_case(&gemm, path, 1, 6, 37, 5, 0, VG_ACT_BIAS);
            linear_case(&gemm, path, 1, 10, 32, 6, 2, VG_ACT_BIAS_GELU);
            sgemm_case(&gemm, path, 1, 5, 9, 7, 21, 21, 0.3f, 0.0f);
            sgemm_case(&gemm, path, 0, 6, 7, 5, 5, 21, 1.0f, 0.0f);
            sgemm_case(&gemm, path, 0, 9, 16, 7, 8, 16, 1.0f, 0.0f); /* simt8w: even strides, odd K */
        }
        /* linear_splitk's reduction over 8 and 16 slices of K (the last one short or empty), two row blocks, two
         * work-groups of columns with a partial float4 */
        linear_case(&gemm, PATH_SPLITK, 1, 9, 37, 40, 1, VG_ACT_BIAS_GELU);
        linear_case(&gemm, PATH_SPLITK, 2, 11, 70, 77, 2, VG_ACT_NONE);
        linear_case_dt(&gemm, PATH_SPLITK, 1, 3, 33, 33, 1, VG_ACT_BIAS, VT_BF16);
        for (int path = PATH_PACKED; path < PATHS; path++) /* 16-bit weights: odd offset, partial panel, bias */
            for (vt_dtype d = VT_F16; d <= VT_BF16; d++)
                linear_case_dt(&gemm, path, 1, 9, 40, 7, 1, VG_ACT_BIAS, d);
        widen_case();
        vg_release(&gemm);
        return;
    }
    for (int path = 0; path < PATHS; path++) {
        for (size_t t = 0; t < sizeof ms / sizeof *ms; t++) {
            linear_case(&gemm, path, 1, ms[t], 200, 300, 7, VG_ACT_NONE); /* N = 6 panels + 8 columns */
            linear_case(&gemm, path, 1, ms[t], 96, 77, 0, VG_ACT_NONE);   /* 3 full panels, odd K */
        }
        linear_case(&gemm, path, 1, 130, 3, 50, 0, VG_ACT_NONE);    /* one partial panel: rows in chunks */
        linear_case(&gemm, path, 1, 1000, 40, 33, 5, VG_ACT_NONE);  /* two panels, many chunks */
        linear_case(&gemm, path, 4, 9, 70, 33, 2, VG_ACT_NONE);     /* a batch with gaps, as Winograd's products */
        linear_case(&gemm, path, 3, 300, 32, 160, 0, VG_ACT_NONE);
        sgemm_case(&gemm, path, 1, 37, 45, 70, 210, 210, 0.3f, 0.0f); /* scores = q k^T / sqrt(C), from qkv */
        sgemm_case(&gemm, path, 0, 64, 70, 37, 37, 210, 1.0f, 0.0f);  /* out = p v, v from qkv */
        sgemm_case(&gemm, path, 0, 9, 33, 20, 20, 33, 1.0f, 0.5f);   /* beta != 0: CLBlast */
        sgemm_case(&gemm, path, 0, 9, 16, 7, 8, 16, 1.0f, 0.0f);     /* simt8w: even strides, odd K */
        for (int act = VG_ACT_BIAS; act <= VG_ACT_BIAS_GELU; act++) { /* full and partial panels */
            linear_case(&gemm, path, 1, 7, 200, 77, 3, act);
            linear_case(&gemm, path, 1, 130, 200, 300, 0, act);
            linear_case(&gemm, path, 1, 33, 3, 50, 0, act);
        }
    }
    /* 16-bit weights (CLBlast through the widened copy, linear_packed, linear_simt, linear_simt8, linear_splitk):
     * every row block, partial panels and column blocks (N = 70: linear_simt's last 2 columns), offsets, batches,
     * epilogues */
    for (int path = PATH_CLBLAST; path < PATHS; path++)
        for (vt_dtype d = VT_F16; d <= VT_BF16; d++) {
            for (size_t t = 0; t < sizeof ms / sizeof *ms; t += 2)
                linear_case_dt(&gemm, path, 1, ms[t], 200, 300, 7, 0, d);
            linear_case_dt(&gemm, path, 1, 3, 96, 77, 1, 0, d); /* odd offset: 16-bit elements, not floats */
            linear_case_dt(&gemm, path, 1, 1000, 40, 33, 5, VG_ACT_NONE, d);
            linear_case_dt(&gemm, path, 4, 9, 70, 33, 3, VG_ACT_NONE, d);
            linear_case_dt(&gemm, path, 1, 7, 200, 77, 3, VG_ACT_BIAS, d);
            linear_case_dt(&gemm, path, 1, 130, 200, 300, 0, VG_ACT_BIAS_GELU, d);
        }
    /* the CLBlast cases above took the widened copy (its largest: 300 x 200 floats), not a 16-bit kernel */
    CHECK(gemm.wide_bytes == (size_t)300 * 200 * sizeof(float), "16-bit weights widened for CLBlast: %zu bytes",
          gemm.wide_bytes);
    vg_release(&gemm);
}

int main(void)
{
    tiny = getenv("VARCL_TEST_TINY") && !strcmp(getenv("VARCL_TEST_TINY"), "1");
    int st = vr_open(&rt, NULL, 0);
    CHECK(st == 0, "vr_open: %s", varcl_last_error());
    if (st) return check_done();
    printf("device: %s (%s)\n", rt.dev.name, rt.dev.platform_name);
    test_ln_modulate();
    test_elementwise();
    test_residual_ln();
    test_embed_scale();
    test_paged_attention();
    test_vq_ops();
    test_groupnorm_softmax();
    test_conv();
    test_conv_direct();
    test_linear();
    CHECK(rt.mem.stats.live_total == 0, "all test buffers released (%zu bytes live)", rt.mem.stats.live_total);
    vr_close(&rt);
    return check_done();
}
