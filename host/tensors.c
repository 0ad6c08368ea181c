/* tensors: named host tensors with dtype conversion (see tensors.h). */
#include "tensors.h"

#include "error.h"
#include "team.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    int bits;
} DTYPES[VT_DTYPE_COUNT] = {
    [VT_F32] = {"F32", 32},         [VT_F16] = {"F16", 16},         [VT_BF16] = {"BF16", 16},
    [VT_I64] = {"I64", 64},         [VT_F64] = {"F64", 64},         [VT_I32] = {"I32", 32},
    [VT_I16] = {"I16", 16},         [VT_I8] = {"I8", 8},            [VT_U8] = {"U8", 8},
    [VT_U16] = {"U16", 16},         [VT_U32] = {"U32", 32},         [VT_U64] = {"U64", 64},
    [VT_BOOL] = {"BOOL", 8},        [VT_F8_E4M3] = {"F8_E4M3", 8},  [VT_F8_E5M2] = {"F8_E5M2", 8},
    [VT_F8_E8M0] = {"F8_E8M0", 8},  [VT_F6_E2M3] = {"F6_E2M3", 6},  [VT_F6_E3M2] = {"F6_E3M2", 6},
    [VT_F4] = {"F4", 4},
};

const char *vt_dtype_name(vt_dtype d) { return (unsigned)d < VT_DTYPE_COUNT ? DTYPES[d].name : "?"; }
int vt_dtype_bits(vt_dtype d) { return (unsigned)d < VT_DTYPE_COUNT ? DTYPES[d].bits : 0; }

int vt_dtype_parse(const char *name)
{
    for (int d = 0; d < VT_DTYPE_COUNT; d++)
        if (!strcmp(name, DTYPES[d].name)) return d;
    return -1;
}

int vt_dtype_convertible(vt_dtype d) { return d <= VT_BOOL; }

struct vt_set {
    char *origin;
    vt_tensor *t;
    int n, cap;
    int *by_name;  /* [n_indexed] tensor indices sorted by name (vt_index), or NULL */
    int n_indexed; /* the n at which by_name was built: a later vt_add_raw makes vt_find scan again */
    void *map; /* safetensors mmap, or NULL */
    size_t map_len;
    int fd;                  /* the mapped file, kept open for vt_read_pages (-1: none) */
    struct timespec mtime;   /* its modification time when it was opened */
    const void **home;       /* [n_home]: a tensor's place in the map while vt_read_pages holds a copy of it */
    size_t *home_cap;        /* [n_home]: that copy's bytes of memory */
    int n_home;
    void *spare;             /* a released copy's memory, kept for the next (fresh pages cost a fault each) */
    size_t spare_bytes;
    int owns_data; /* 1: each tensor's data was malloc'd by us */
    char identity[160]; /* the file's identity (vt_set_identity), or "" */
};

static vt_set *set_alloc(const char *origin)
{
    vt_set *s = calloc(1, sizeof *s);
    if (!s || !(s->origin = strdup(origin ? origin : "?"))) {
        free(s);
        varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        return NULL;
    }
    s->fd = -1;
    return s;
}

void vt_set_identity(vt_set *s, const char *id) { snprintf(s->identity, sizeof s->identity, "%s", id); }
const char *vt_identity(const vt_set *s) { return s->identity; }
size_t vt_file_bytes(const vt_set *s) { return s->map_len; }

vt_set *vt_new(const char *origin)
{
    vt_set *s = set_alloc(origin);
    if (s) s->owns_data = 1;
    return s;
}

vt_set *vt_new_mapped(const char *origin, void *map, size_t map_len, int fd)
{
    vt_set *s = set_alloc(origin);
    if (!s) return NULL;
    s->map = map;
    s->map_len = map_len;
    s->fd = fd;
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0) s->mtime = sb.st_mtim;
    return s;
}

int vt_add_raw(vt_set *s, const char *name, vt_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    if (ndim < 0 || ndim > VT_MAX_DIMS)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has %d dimensions (at most %d supported)", s->origin,
                          name, ndim, VT_MAX_DIMS);
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        vt_tensor *t = realloc(s->t, (size_t)cap * sizeof *t);
        if (!t) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        s->t = t;
        s->cap = cap;
    }
    vt_tensor *t = &s->t[s->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= shape[i];
    }
    t->data = data;
    s->n++;
    return VARCL_OK;
}

static int by_name_cmp(const void *a, const void *b, void *set)
{
    const vt_set *s = set;
    return strcmp(s->t[*(const int *)a].name, s->t[*(const int *)b].name);
}

int vt_index(vt_set *s)
{
    free(s->by_name);
    s->by_name = NULL;
    s->n_indexed = 0;
    if (!(s->by_name = malloc((size_t)(s->n ? s->n : 1) * sizeof *s->by_name)))
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    for (int i = 0; i < s->n; i++) s->by_name[i] = i;
    qsort_r(s->by_name, (size_t)s->n, sizeof *s->by_name, by_name_cmp, s); /* glibc's qsort_r (_GNU_SOURCE) */
    for (int i = 1; i < s->n; i++)
        if (!strcmp(s->t[s->by_name[i - 1]].name, s->t[s->by_name[i]].name)) {
            const char *name = s->t[s->by_name[i]].name;
            free(s->by_name);
            s->by_name = NULL;
            return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' appears twice", s->origin, name);
        }
    s->n_indexed = s->n;
    return VARCL_OK;
}

int vt_add_f32(vt_set *s, const char *name, int ndim, const int64_t *shape, float *data)
{
    int st = vt_add_raw(s, name, VT_F32, ndim, shape, data);
    if (st) free(data);
    return st;
}

void vt_free(vt_set *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        free(s->t[i].name);
        if (s->owns_data || (i < s->n_home && s->home[i])) free((void *)s->t[i].data); /* a copy vt_read_pages made */
    }
    free(s->home);
    free(s->home_cap);
    free(s->spare);
    if (s->fd >= 0) close(s->fd);
    free(s->t);
    free(s->by_name);
    if (s->map) munmap(s->map, s->map_len);
    free(s->origin);
    free(s);
}

typedef struct {
    int fd;
    size_t off, n, got[HT_MAX_THREADS];
    uint8_t *dst;
    int err[HT_MAX_THREADS];
} read_job;

/* piece id of n of a read_job: as much of it as the file gives (got), or the error */
static void read_piece(void *arg, int id, int n)
{
    read_job *r = arg;
    size_t a = r->n * (size_t)id / (size_t)n, b = r->n * (size_t)(id + 1) / (size_t)n, got = 0;
    while (a + got < b) {
        ssize_t k = pread(r->fd, r->dst + a + got, b - a - got, (off_t)(r->off + a + got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) r->err[id] = errno;
        if (k <= 0) break;
        got += (size_t)k;
    }
    r->got[id] = got;
}

int vt_read_at(const vt_set *s, size_t off, size_t n, void *dst)
{
    /* large tensors read by several threads: one copy out of the page cache runs at a core's memory bandwidth */
    read_job r = {s->fd, off, n, {0}, dst, {0}};
    int threads = n < ((size_t)16 << 20) ? 1 : ht_threads();
    if (threads < 1) threads = 1; /* a bad VARCL_HOST_THREADS is reported where threads are chosen for the work */
    ht_run(threads, read_piece, &r);
    size_t got = 0;
    int err = 0;
    for (int i = 0; i < threads; i++) {
        size_t want = n * (size_t)(i + 1) / (size_t)threads - n * (size_t)i / (size_t)threads;
        got += r.got[i] < want ? 0 : want;
        if (!err) err = r.err[i];
    }
    if (err) return varcl_fail(VARCL_E_RUNTIME, "%s: cannot read: %s", s->origin, strerror(err));
    /* Cut short, or written again in place (cp and most download tools truncate the file first): what was read
     * may mix two files, and a page of the map past a new end would stop the process with SIGBUS, hence the copies */
    struct stat sb;
    if (got < n || fstat(s->fd, &sb) != 0 || (size_t)sb.st_size != s->map_len ||
        sb.st_mtim.tv_sec != s->mtime.tv_sec || sb.st_mtim.tv_nsec != s->mtime.tv_nsec)
        return varcl_fail(VARCL_E_INPUT,
                          "%s: the file changed while it was read (cut short or written again in place, e.g. by cp or "
                          "a download): run again once it is complete",
                          s->origin);
    return VARCL_OK;
}

int vt_read_pages(const vt_set *cs, const vt_tensor *ct)
{
    vt_set *s = (vt_set *)cs; /* the set's own tensor, whose data pointer moves to the copy until vt_release_pages */
    if (!s->map || !ct->data || ct < s->t || ct >= s->t + s->n) return VARCL_OK;
    size_t i = (size_t)(ct - s->t);
    vt_tensor *t = &s->t[i];
    size_t bytes = ((size_t)t->numel * (size_t)vt_dtype_bits(t->dtype) + 7) / 8;
    if (!bytes) return VARCL_OK;
    if (!s->home) {
        s->home = calloc((size_t)s->n, sizeof *s->home);
        s->home_cap = calloc((size_t)s->n, sizeof *s->home_cap);
        if (!s->home || !s->home_cap) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        s->n_home = s->n;
    }
    if ((int)i >= s->n_home || s->home[i]) return VARCL_OK; /* held already */
    void *copy = NULL;
    size_t cap = bytes;
    if (s->spare && s->spare_bytes >= bytes) {
        copy = s->spare, cap = s->spare_bytes;
        s->spare = NULL, s->spare_bytes = 0;
    } else if (!(copy = malloc(bytes)) && s->spare) { /* the smaller spare given back, and one more try */
        free(s->spare);
        s->spare = NULL, s->spare_bytes = 0;
        copy = malloc(bytes);
    }
    if (!copy)
        return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory for tensor '%s' (%zu bytes)", s->origin, t->name,
                          bytes);
    int st = vt_read_at(s, (size_t)((const uint8_t *)t->data - (const uint8_t *)s->map), bytes, copy);
    if (st) {
        free(copy);
        return st;
    }
    s->home[i] = t->data;
    s->home_cap[i] = cap;
    t->data = copy;
    return VARCL_OK;
}

void vt_release_pages(const vt_set *cs, const vt_tensor *ct)
{
    vt_set *s = (vt_set *)cs;
    if (!s->home || ct < s->t || ct >= s->t + s->n_home) return;
    size_t i = (size_t)(ct - s->t);
    if (!s->home[i]) return;
    void *copy = (void *)s->t[i].data;
    if (s->home_cap[i] > s->spare_bytes) { /* the larger kept: loading reads tensors of a few sizes over and over */
        free(s->spare);
        s->spare = copy, s->spare_bytes = s->home_cap[i];
    } else {
        free(copy);
    }
    s->t[i].data = s->home[i];
    s->home[i] = NULL;
}

const char *vt_origin(const vt_set *s) { return s->origin; }
int vt_count(const vt_set *s) { return s->n; }
const vt_tensor *vt_at(const vt_set *s, int i) { return (i >= 0 && i < s->n) ? &s->t[i] : NULL; }

const vt_tensor *vt_find(const vt_set *s, const char *name)
{
    if (s->by_name && s->n_indexed == s->n) {
        int lo = 0, hi = s->n - 1;
        while (lo <= hi) {
            int mid = lo + (hi - lo) / 2, c = strcmp(name, s->t[s->by_name[mid]].name);
            if (!c) return &s->t[s->by_name[mid]];
            if (c < 0) hi = mid - 1;
            else lo = mid + 1;
        }
        return NULL;
    }
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

int vt_family(const vt_set *s, const char *prefix, int max, int *count)
{
    *count = 0;
    unsigned char *seen = calloc((size_t)max, 1);
    if (!seen) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    size_t plen = strlen(prefix);
    int top = -1;
    for (int i = 0; i < s->n; i++) {
        const char *name = s->t[i].name;
        if (strncmp(name, prefix, plen)) continue;
        const char *p = name + plen;
        long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 10) v = v * 10 + (*p++ - '0'), digits++;
        /* "blocks.03" or "blocks.x": not a name upstream writes, so not silently skipped */
        if (!digits || *p != '.' || (digits > 1 && name[plen] == '0') || v >= max) {
            free(seen);
            if (digits && *p == '.' && v >= max)
                return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s': index %ld of %s* is over the limit of %d", s->origin,
                                  name, v, prefix, max - 1);
            return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' is not numbered like the rest of %s* (%s0., %s1., ...)",
                              s->origin, name, prefix, prefix, prefix);
        }
        seen[v] = 1;
        if (v > top) top = (int)v;
    }
    for (int k = 0; k <= top; k++)
        if (!seen[k]) {
            free(seen);
            return varcl_fail(VARCL_E_INPUT,
                              "%s: %s%d is missing while %s%d is present: the numbered %s* must run from 0 without a "
                              "gap",
                              s->origin, prefix, k, prefix, top, prefix);
        }
    free(seen);
    *count = top + 1;
    return VARCL_OK;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

const vt_tensor *vt_require(const vt_set *s, const char *name, int ndim, const int64_t *shape)
{
    const vt_tensor *t = vt_find(s, name);
    if (!t) {
        varcl_fail(VARCL_E_INPUT, "%s: missing tensor '%s'", s->origin, name);
        return NULL;
    }
    if (t->dtype != VT_F32 && t->dtype != VT_F16 && t->dtype != VT_BF16) {
        /* the way out depends on the type: F64 converts, FP8 and smaller need the original, integers mean the
         * tensor is not this model's weight at all */
        const char *remedy = t->dtype == VT_F64 ? "convert the checkpoint with models/convert.py --dtype f32"
                             : vt_dtype_bits(t->dtype) <= 8 && !vt_dtype_convertible(t->dtype)
                                 ? "export the weights from the original checkpoint as F32, F16 or BF16 "
                                   "(models/convert.py --dtype f32)"
                                 : "weights are floating point: is this the checkpoint of another model? "
                                   "(models/convert.py converts float checkpoints)";
        varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' is %s, which varcl cannot use as a weight (F32, F16, BF16): %s",
                   s->origin, name, vt_dtype_name(t->dtype), remedy);
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        if (shape[i] >= 0 && shape[i] != t->shape[i]) ok = 0;
    if (!ok) {
        char want[128], got[128];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has shape %s, expected %s", s->origin, name, got, want);
        return NULL;
    }
    return t;
}

float vt_f16_to_f32(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0)
        v = ldexpf((float)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexpf((float)(m | 1024), e - 25);
    return sign ? -v : v;
}

float vt_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t vt_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u) return (uint16_t)(sign | (absu > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (absu < 0x38800000u) {                                  /* subnormal or zero in f16 */
        float a;
        memcpy(&a, &absu, 4);
        float q = a * 16777216.0f; /* units of 2^-24; exact, then round to nearest even */
        return (uint16_t)(sign | (uint32_t)lrintf(q));
    }
    uint32_t mant = absu & 0x7fffffu, exp = (absu >> 23) - 112u;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

uint16_t vt_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16); /* no overflow: NaNs are out, inf stays inf */
}

void vt_to_f32(const vt_tensor *t, float *dst)
{
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case VT_F32: memcpy(&dst[i], p + 4 * i, 4); break;
        case VT_F16:
        case VT_BF16:
        case VT_U16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = t->dtype == VT_F16 ? vt_f16_to_f32(h) : t->dtype == VT_BF16 ? vt_bf16_to_f32(h) : (float)h;
            break;
        }
        case VT_I64: {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
            break;
        }
        case VT_U64: {
            uint64_t v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
            break;
        }
        case VT_F64: {
            double v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
            break;
        }
        case VT_I32: {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            dst[i] = (float)v;
            break;
        }
        case VT_U32: {
            uint32_t v;
            memcpy(&v, p + 4 * i, 4);
            dst[i] = (float)v;
            break;
        }
        case VT_I16: {
            int16_t v;
            memcpy(&v, p + 2 * i, 2);
            dst[i] = (float)v;
            break;
        }
        case VT_I8: dst[i] = (float)(int8_t)p[i]; break;
        case VT_U8:
        case VT_BOOL: dst[i] = (float)p[i]; break;
        default: dst[i] = NAN; break; /* FP8/FP6/FP4: not converted (vt_dtype_convertible) */
        }
    }
}

float *vt_dup_f32(const vt_tensor *t)
{
    float *d = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!d) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory for tensor '%s' (%lld elements)", t->name,
                   (long long)t->numel);
        return NULL;
    }
    vt_to_f32(t, d);
    return d;
}

int vt_check_finite(const vt_set *s, const vt_tensor *t, const float *f)
{
    int64_t nan = 0, inf = 0, first = -1;
    for (int64_t i = 0; i < t->numel; i++) {
        if (isfinite(f[i])) continue;
        if (first < 0) first = i;
        if (isnan(f[i])) nan++;
        else inf++;
    }
    if (first < 0) return VARCL_OK;
    return varcl_fail(VARCL_E_INPUT,
                      "%s: tensor '%s' has non-finite values (%lld NaN, %lld infinite of %lld; first at index %lld): "
                      "the checkpoint is damaged or diverged in training",
                      s->origin, t->name, (long long)nan, (long long)inf, (long long)t->numel, (long long)first);
}
