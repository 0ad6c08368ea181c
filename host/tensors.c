/* tensors: named host tensors with dtype conversion (see tensors.h). */
#include "tensors.h"

#include "error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct vt_set {
    char *origin;
    vt_tensor *t;
    int n, cap;
    void *map; /* safetensors mmap, or NULL */
    size_t map_len;
    int owns_data; /* 1: each tensor's data was malloc'd by us */
};

static vt_set *set_alloc(const char *origin)
{
    vt_set *s = calloc(1, sizeof *s);
    if (!s || !(s->origin = strdup(origin ? origin : "?"))) {
        free(s);
        varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        return NULL;
    }
    return s;
}

vt_set *vt_new(const char *origin)
{
    vt_set *s = set_alloc(origin);
    if (s) s->owns_data = 1;
    return s;
}

vt_set *vt_new_mapped(const char *origin, void *map, size_t map_len)
{
    vt_set *s = set_alloc(origin);
    if (s) {
        s->map = map;
        s->map_len = map_len;
    }
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
        if (s->owns_data) free((void *)s->t[i].data);
    }
    free(s->t);
    if (s->map) munmap(s->map, s->map_len);
    free(s->origin);
    free(s);
}

/* The whole pages of t's data inside the mapped file: [*a, *b); 0 when there are none (or the set is in memory). */
static int tensor_pages(const vt_set *s, const vt_tensor *t, uintptr_t *a, uintptr_t *b)
{
    static const size_t esize[] = {4, 2, 2, 8}; /* by vt_dtype */
    if (!s->map || !t->data) return 0;
    uintptr_t map0 = (uintptr_t)s->map, lo = (uintptr_t)t->data, hi = lo + (size_t)t->numel * esize[t->dtype];
    if (lo < map0 || hi > map0 + s->map_len) return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    *a = (lo + page - 1) / page * page; /* whole pages inside the tensor: its neighbours' pages are not touched */
    *b = hi / page * page;
    return *b > *a;
}

void vt_map_pages(const vt_set *s, const vt_tensor *t)
{
    uintptr_t a, b;
    /* advice: where the kernel lacks MADV_POPULATE_READ (before 5.14) the pages come in by faults as they are read */
    if (tensor_pages(s, t, &a, &b)) madvise((void *)a, b - a, MADV_POPULATE_READ);
}

void vt_release_pages(const vt_set *s, const vt_tensor *t)
{
    uintptr_t a, b;
    if (tensor_pages(s, t, &a, &b)) madvise((void *)a, b - a, MADV_DONTNEED); /* a failure leaves them mapped */
}

const char *vt_origin(const vt_set *s) { return s->origin; }
int vt_count(const vt_set *s) { return s->n; }
const vt_tensor *vt_at(const vt_set *s, int i) { return (i >= 0 && i < s->n) ? &s->t[i] : NULL; }

const vt_tensor *vt_find(const vt_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
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
    int ok = t->ndim == ndim && t->dtype != VT_I64;
    for (int i = 0; ok && i < ndim; i++)
        if (shape[i] >= 0 && shape[i] != t->shape[i]) ok = 0;
    if (!ok) {
        char want[128], got[128];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has shape %s%s, expected %s", s->origin, name, got,
                   t->dtype == VT_I64 ? " (I64)" : "", want);
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
        case VT_F16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = vt_f16_to_f32(h);
            break;
        }
        case VT_BF16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = vt_bf16_to_f32(h);
            break;
        }
        case VT_I64: {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
            break;
        }
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
