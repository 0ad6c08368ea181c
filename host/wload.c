/* wload: checkpoint tensors into device buffers, converted and laid out in tiles on host threads (see wload.h). */
#include "wload.h"

#include "conv.h"
#include "error.h"
#include "team.h"
#include "wcache.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PANEL 32 /* columns per panel: gemm.c's PANEL, cl/linear.cl's PW */
#define TILE_K 64 /* rows of a tile: a tile of 64 x 32 f32 is 8 KiB, in L1 with the source run beside it */
#define TILE_ROWS (36 * 8) /* most tile rows: Winograd F(4x4) units (36 positions x 8 inputs); kernels to 16 x 16 */
/* columns of a unit in the [K][N] layout: each of its rows is written as one run of 512 B (16-bit) or 1 KiB (f32).
 * Units of one 32-column panel there wrote 64-128 B at a stride of N elements (11-23 KB on VAR-d30), which the
 * hardware prefetchers do not follow across pages: each write waited for its line (measured on the bf16 d30 file,
 * this VM: [K][N] 11.5-14.7 s against 4.4 s packed, memmove 40% of the samples). */
#define WIDE 256
#define WIDE_ROWS TILE_K /* tile rows of a wide unit (cb x taps <= TILE_K: not Winograd, which stays in panels) */
#define TENSOR_PER_THREAD (1u << 20) /* bytes: below this one more thread costs more than it saves (~50 us) */

static size_t elem_bytes(vt_dtype d) { return (size_t)vt_dtype_bits(d) / 8; }

/* The layout as matrices: nmat matrices of K x N from a tensor [N][I][kk] (kk = 1 for Linear). */
typedef struct {
    size_t nmat, K, N, I, kk;
    int wino; /* m of F(m x m, 3x3), or 0 */
} shape;

static shape shape_of(const vt_tensor *t, wl_layout layout)
{
    shape s = {1, (size_t)t->numel, 1, (size_t)t->numel, 1, 0};
    if (layout == WL_PLAIN) return s;
    s.N = (size_t)t->shape[0];
    s.I = (size_t)t->shape[1];
    s.kk = layout == WL_CONV ? (size_t)(t->shape[2] * t->shape[3]) : layout == WL_LINEAR ? 1 : 9;
    s.wino = layout == WL_WINO2 ? 2 : layout == WL_WINO4 ? 4 : 0;
    s.nmat = s.wino ? (size_t)(s.wino + 2) * (s.wino + 2) : 1;
    s.K = s.wino ? s.I : s.I * s.kk;
    return s;
}

static size_t matrix_elems(const shape *s, int packed)
{
    return packed ? s->K * PANEL * ((s->N + PANEL - 1) / PANEL) : s->K * s->N;
}

size_t wl_bytes(const vt_tensor *t, const wl_form *f)
{
    shape s = shape_of(t, f->layout);
    size_t elems = f->layout == WL_PLAIN ? (size_t)t->numel : s.nmat * matrix_elems(&s, f->packed);
    return elems * elem_bytes(f->store);
}

/* f16 to f32 by bits (vt_f16_to_f32 takes ldexpf per value: several times slower on a whole checkpoint) */
static inline float f16_bits_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 1023u, u;
    if (e == 0) {
        float f = (float)m * 0x1p-24f; /* zero or subnormal: exact */
        memcpy(&u, &f, 4);
        u |= sign;
    } else if (e == 31) {
        u = sign | 0x7f800000u | (m << 13);
    } else {
        u = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* out[0 .. n) = elements first .. first + n of t as f32 */
static void load_run(const vt_tensor *t, size_t first, size_t n, float *out)
{
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case VT_F32: memcpy(out, p + 4 * first, n * 4); break;
    case VT_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * (first + i), 2);
            out[i] = f16_bits_to_f32(h);
        }
        break;
    case VT_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * (first + i), 2);
            uint32_t u = (uint32_t)h << 16;
            memcpy(&out[i], &u, 4);
        }
        break;
    case VT_I64:
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, p + 8 * (first + i), 8);
            out[i] = (float)v;
        }
        break;
    default: /* not reached: vt_require admits F32, F16 and BF16 weights only */
        for (size_t i = 0; i < n; i++) out[i] = NAN;
        break;
    }
}

/* Non-finite values among v[0 .. n): counted on the values as they pass, so the check costs no pass of its own. */
static size_t count_nonfinite(const float *v, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(v[i]);
    return bad;
}

/* The same on 16-bit values moved as bits: all exponent bits set is inf or NaN (f16: 0x7c00, bf16: 0x7f80). */
static size_t count_nonfinite16(const uint16_t *v, size_t n, vt_dtype d)
{
    const uint16_t e = d == VT_F16 ? 0x7c00 : 0x7f80;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += (v[i] & e) == e;
    return bad;
}

/* dst (elements of dtype `store`) [at .. at + n) = v[0 .. n); the finite values that became infinite (f16 holds
 * magnitudes up to 65504, bf16 up to about 3.39e38) */
static size_t store_run(void *dst, vt_dtype store, size_t at, const float *v, size_t n)
{
    if (store == VT_F32) {
        memcpy((float *)dst + at, v, n * 4);
        return 0;
    }
    uint16_t *o = (uint16_t *)dst + at;
    size_t over = 0;
    if (store == VT_BF16)
        for (size_t i = 0; i < n; i++) {
            o[i] = vt_f32_to_bf16(v[i]);
            over += ((o[i] & 0x7f80) == 0x7f80) & (isfinite(v[i]) != 0);
        }
    else
        for (size_t i = 0; i < n; i++) {
            o[i] = vt_f32_to_f16(v[i]);
            over += ((o[i] & 0x7c00) == 0x7c00) & (isfinite(v[i]) != 0);
        }
    return over;
}

typedef struct {
    const vt_tensor *t;
    const wl_form *f;
    shape s;
    void *dst;
    size_t units, panels, cb; /* units = panels x input blocks of cb input features (plain: chunks of cb elements) */
    size_t cw;                /* columns per panel of units: PANEL (packed, Winograd) or WIDE ([K][N]) */
    size_t bad[HT_MAX_THREADS]; /* per thread: non-finite source values seen */
    size_t over[HT_MAX_THREADS]; /* per thread: finite values the stored dtype cannot hold */
} job;

/* Writes row k of matrix j, columns of panel p (jb->cw wide), from tile row v[cw] (zero past column N); the values
 * the stored dtype cannot hold. */
static size_t put_row(const job *jb, size_t j, size_t k, size_t p, const float *v)
{
    const shape *s = &jb->s;
    size_t base = j * matrix_elems(s, jb->f->packed), cw = jb->cw;
    if (jb->f->packed) return store_run(jb->dst, jb->f->store, base + (p * s->K + k) * PANEL, v, PANEL);
    size_t cols = s->N - p * cw < cw ? s->N - p * cw : cw;
    return store_run(jb->dst, jb->f->store, base + k * s->N + p * cw, v, cols);
}

/* One unit: the jb->cw columns of panel p and input features c0 .. c0 + cb of every tap (or Winograd position).
 * Source rows n are read as runs of cb * kk contiguous elements (t[n][c0 .. c0 + cb][kk]); tile[r][c] holds output
 * row r of the unit for column p * cw + c. */
static size_t do_unit(const job *jb, size_t u, float *run, float *tile, size_t *over)
{
    size_t bad = 0;
    const shape *s = &jb->s;
    size_t p = u / (jb->units / jb->panels), c0 = u % (jb->units / jb->panels) * jb->cb;
    size_t cb = s->I - c0 < jb->cb ? s->I - c0 : jb->cb;
    size_t a2 = s->nmat, per = s->wino ? a2 : s->kk, cw = jb->cw; /* per: tile rows per input feature */
    memset(tile, 0, per * cb * cw * sizeof *tile);
    for (size_t c = 0; c < cw && p * cw + c < s->N; c++) {
        size_t n = p * cw + c;
        load_run(jb->t, (n * s->I + c0) * s->kk, cb * s->kk, run);
        bad += count_nonfinite(run, cb * s->kk);
        for (size_t i = 0; i < cb; i++) {
            if (s->wino) {
                float uv[36];
                vc_winograd_pair(run + i * 9, s->wino, uv);
                for (size_t j = 0; j < a2; j++) tile[(j * cb + i) * cw + c] = uv[j];
            } else {
                for (size_t tap = 0; tap < s->kk; tap++) tile[(tap * cb + i) * cw + c] = run[i * s->kk + tap];
            }
        }
    }
    for (size_t r = 0; r < per; r++)
        for (size_t i = 0; i < cb; i++) {
            /* Winograd: matrix r, row c0 + i; convolution: row (tap r) * I + c0 + i of the one matrix */
            size_t j = s->wino ? r : 0, k = s->wino ? c0 + i : r * s->I + c0 + i;
            *over += put_row(jb, j, k, p, tile + (r * cb + i) * cw);
        }
    return bad;
}

/* do_unit for 16-bit values stored in their own dtype (not Winograd): the file's bits are moved, not converted (the
 * conversion's round trip would give the same bits at several times the cost). */
static size_t do_unit_raw16(const job *jb, size_t u, uint16_t *run, uint16_t *tile)
{
    size_t bad = 0;
    const shape *s = &jb->s;
    size_t p = u / (jb->units / jb->panels), c0 = u % (jb->units / jb->panels) * jb->cb;
    size_t cb = s->I - c0 < jb->cb ? s->I - c0 : jb->cb, kk = s->kk, cw = jb->cw;
    const uint8_t *src = jb->t->data; /* 2-byte elements, alignment not assumed */
    memset(tile, 0, kk * cb * cw * sizeof *tile);
    for (size_t c = 0; c < cw && p * cw + c < s->N; c++) {
        memcpy(run, src + 2 * (((p * cw + c) * s->I + c0) * kk), 2 * cb * kk);
        bad += count_nonfinite16(run, cb * kk, jb->t->dtype);
        for (size_t i = 0; i < cb; i++)
            for (size_t tap = 0; tap < kk; tap++) tile[(tap * cb + i) * cw + c] = run[i * kk + tap];
    }
    uint16_t *dst = jb->dst;
    size_t cols = jb->f->packed ? PANEL : s->N - p * cw < cw ? s->N - p * cw : cw;
    for (size_t tap = 0; tap < kk; tap++)
        for (size_t i = 0; i < cb; i++) {
            size_t k = tap * s->I + c0 + i, at = jb->f->packed ? (p * s->K + k) * PANEL : k * s->N + p * cw;
            memcpy(dst + at, tile + (tap * cb + i) * cw, 2 * cols);
        }
    return bad;
}

static void work(void *arg, int id, int n)
{
    job *jb = arg;
    size_t *bad = &jb->bad[id], *over = &jb->over[id];
    size_t u0 = jb->units * (size_t)id / (size_t)n, u1 = jb->units * (size_t)(id + 1) / (size_t)n;
    /* run: cb * kk source elements (<= 576); tile: TILE_ROWS x PANEL or WIDE_ROWS x WIDE (36 or 64 KiB in f32) */
    float run[TILE_ROWS * 2], tile[TILE_ROWS * PANEL > WIDE_ROWS * WIDE ? TILE_ROWS * PANEL : WIDE_ROWS * WIDE];
    if (jb->f->layout != WL_PLAIN && !jb->s.wino && jb->f->store != VT_F32 && jb->f->store == jb->t->dtype) {
        uint16_t run16[TILE_ROWS * 2], tile16[WIDE_ROWS * WIDE];
        for (size_t u = u0; u < u1; u++) *bad += do_unit_raw16(jb, u, run16, tile16);
        return;
    }
    if (jb->f->layout == WL_PLAIN) {
        for (size_t u = u0; u < u1; u++) {
            size_t first = u * jb->cb, left = (size_t)jb->t->numel - first, cnt = left < jb->cb ? left : jb->cb;
            load_run(jb->t, first, cnt, run);
            *bad += count_nonfinite(run, cnt);
            *over += store_run(jb->dst, jb->f->store, first, run, cnt);
        }
        return;
    }
    for (size_t u = u0; u < u1; u++) *bad += do_unit(jb, u, run, tile, over);
}

size_t wl_write(const vt_tensor *t, const wl_form *f, void *dst, int threads, size_t *beyond)
{
    job jb = {t, f, shape_of(t, f->layout), dst, 0, 1, 0, PANEL, {0}, {0}};
    if (f->layout == WL_PLAIN) {
        jb.cb = TILE_K * 9;
        jb.units = ((size_t)t->numel + jb.cb - 1) / jb.cb;
    } else {
        /* input features per unit: tile rows (cb x taps, or cb x (m+2)^2 Winograd rows) within the tile */
        jb.cb = jb.s.wino ? 8 : jb.s.kk >= TILE_K ? 1 : TILE_K / jb.s.kk;
        jb.cw = f->packed || jb.s.wino || jb.s.kk * jb.cb > WIDE_ROWS ? PANEL : WIDE;
        jb.panels = (jb.s.N + jb.cw - 1) / jb.cw;
        jb.units = jb.panels * ((jb.s.I + jb.cb - 1) / jb.cb);
    }
    size_t bytes = (size_t)t->numel * elem_bytes(t->dtype), by_size = bytes / TENSOR_PER_THREAD + 1;
    size_t n = threads < 1 ? 1 : (size_t)threads;
    if (n > by_size) n = by_size;
    if (n > jb.units) n = jb.units ? jb.units : 1;
    ht_run((int)n, work, &jb);
    size_t bad = 0, over = 0;
    for (size_t i = 0; i < n; i++) bad += jb.bad[i], over += jb.over[i];
    if (beyond) *beyond = over;
    return bad;
}

/* bad: non-finite values of t; beyond: finite ones its stored dtype cannot hold */
static cl_mem refuse_values(const vt_set *s, const vt_tensor *t, const wl_form *f, size_t bad, size_t beyond)
{
    /* upstream stops at sampling on such weights (NaN logits); we stop at load, naming the tensor */
    if (bad)
        varcl_fail(VARCL_E_INPUT,
                   "%s: tensor '%s' has %zu non-finite values (NaN or infinite) of %lld: the checkpoint is damaged or "
                   "diverged in training",
                   vt_origin(s), t->name, bad, (long long)t->numel);
    else /* a 16-bit store chosen by the caller (vgen --weights f16): an image of NaNs or a black one otherwise */
        varcl_fail(VARCL_E_INPUT,
                   "%s: tensor '%s' (%lld values): %zu values as stored (a convolution's Winograd transform included) "
                   "are beyond %s's range (largest magnitude %s): keep the checkpoint's dtype or store the weights as "
                   "%s (vgen --weights keep or %s)",
                   vt_origin(s), t->name, (long long)t->numel, beyond, f->store == VT_F16 ? "f16" : "bf16",
                   f->store == VT_F16 ? "65504" : "3.39e38", f->store == VT_F16 ? "bf16" : "f32",
                   f->store == VT_F16 ? "bf16" : "f32");
    return NULL;
}

/* t (its data read: vt_read_pages) in form f into bytes of mapped host memory; the values refused (non-finite, or
 * beyond the stored dtype's range: refuse_values) */
static size_t convert_into(const vt_tensor *t, const wl_form *f, void *host, size_t bytes, int threads, size_t *beyond)
{
    vm_host_prepare(host, bytes, threads, 0);
    return wl_write(t, f, host, threads, beyond);
}

static cl_mem convert_upload(vm_pool *p, vm_tag tag, const vt_set *s, const vt_tensor *t, const wl_form *f,
                             int threads, wc_cache *cache, const char *what, size_t bytes);

cl_mem wl_upload(vm_pool *p, vm_tag tag, const vt_set *s, const vt_tensor *t, const wl_form *f, int threads,
                 wc_cache *cache, const char *what)
{
    size_t bytes = wl_bytes(t, f);
    cl_mem buf = NULL;
    if (cache && wc_take(cache, p, tag, t, f, bytes, what, &buf)) return NULL;
    if (buf) return buf;
    if (vt_read_pages(s, t)) return NULL; /* t's data, read from the file (a copy until vt_release_pages) */
    buf = convert_upload(p, tag, s, t, f, threads, cache, what, bytes);
    vt_release_pages(s, t);
    return buf;
}

/* wl_upload once t's data is read: converted into the weight cache's new file, or into a mapped buffer */
static cl_mem convert_upload(vm_pool *p, vm_tag tag, const vt_set *s, const vt_tensor *t, const wl_form *f,
                             int threads, wc_cache *cache, const char *what, size_t bytes)
{
    size_t bad, beyond = 0;
    cl_mem buf = NULL;
    void *host = cache ? wc_reserve(cache, bytes) : NULL;
    if (host) { /* converted into the new cache file, whose pages become the buffer */
        if ((bad = convert_into(t, f, host, bytes, threads, &beyond)) || beyond)
            return refuse_values(s, t, f, bad, beyond); /* the file is dropped when the load fails */
        if (!(buf = vm_alloc_in_place(p, tag, bytes, host, what))) return NULL;
        wc_keep(cache, t, f, host, bytes);
    } else {
        if (!(buf = vm_alloc_mapped(p, tag, bytes, what, &host))) return NULL;
        bad = convert_into(t, f, host, bytes, threads, &beyond);
        if (vm_unmap(p, buf, host) || bad || beyond) {
            vm_free(p, buf);
            return bad || beyond ? refuse_values(s, t, f, bad, beyond) : NULL;
        }
    }
    return buf;
}
