/* safetensors: mmap reader with a small JSON parser for the header (see safetensors.h).
 * Layout: u64 little-endian header size N, N bytes of JSON {name: {dtype, shape, data_offsets}, ...},
 * then the data block; offsets are relative to the data block. */
#include "safetensors.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *p, *start, *end;
    const char *path;
} json;

static void skip_ws(json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int expect(json *j, char c)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p != c)
        return varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON (expected '%c' at byte %ld)", j->path,
                          c, (long)(j->p - j->start) + 8);
    j->p++;
    return 0;
}

/* Parses a JSON string into buf (escapes other than \" \\ \/ are kept verbatim: tensor names are ASCII). */
static int parse_string(json *j, char *buf, size_t n)
{
    if (expect(j, '"')) return VARCL_E_INPUT;
    size_t k = 0;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\' && j->p < j->end) c = *j->p++;
        if (k + 1 >= n) return varcl_fail(VARCL_E_INPUT, "%s: header string too long", j->path);
        buf[k++] = c;
    }
    if (j->p >= j->end) return varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON (open string)", j->path);
    j->p++;
    buf[k] = 0;
    return 0;
}

static int parse_uint(json *j, int64_t *out)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON (expected a number)", j->path);
    uint64_t v = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (v > (UINT64_C(1) << 53)) return varcl_fail(VARCL_E_INPUT, "%s: number too large in header", j->path);
        v = v * 10 + (uint64_t)(*j->p++ - '0');
    }
    *out = (int64_t)v;
    return 0;
}

/* Skips any JSON value (used for __metadata__ and unknown fields). */
static int skip_value(json *j, int depth)
{
    skip_ws(j);
    if (depth > 32 || j->p >= j->end) return varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON", j->path);
    char c = *j->p;
    if (c == '"') {
        char tmp[4096];
        return parse_string(j, tmp, sizeof tmp);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                char key[4096];
                if (parse_string(j, key, sizeof key) || expect(j, ':')) return VARCL_E_INPUT;
            }
            if (skip_value(j, depth + 1)) return VARCL_E_INPUT;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            return expect(j, close);
        }
    }
    /* number, true, false, null */
    const char *start = j->p;
    while (j->p < j->end && strchr("0123456789+-.eEtruefalsn", *j->p)) j->p++;
    if (j->p == start) return varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON", j->path);
    return 0;
}

typedef struct {
    int64_t begin, end;
    int index;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static int parse_entry(json *j, vt_set *s, const char *name, const uint8_t *data, int64_t data_len)
{
    char dtype_s[32] = "";
    int64_t shape[VT_MAX_DIMS], off[2] = {-1, -1};
    int ndim = -1, have_off = 0;
    if (expect(j, '{')) return VARCL_E_INPUT;
    for (;;) {
        char key[64];
        if (parse_string(j, key, sizeof key) || expect(j, ':')) return VARCL_E_INPUT;
        if (strcmp(key, "dtype") == 0) {
            if (parse_string(j, dtype_s, sizeof dtype_s)) return VARCL_E_INPUT;
        } else if (strcmp(key, "shape") == 0 || strcmp(key, "data_offsets") == 0) {
            int is_shape = key[0] == 's', n = 0;
            int64_t *dst = is_shape ? shape : off;
            int cap = is_shape ? VT_MAX_DIMS : 2;
            if (expect(j, '[')) return VARCL_E_INPUT;
            skip_ws(j);
            if (j->p < j->end && *j->p == ']') {
                j->p++;
            } else {
                for (;;) {
                    if (n >= cap)
                        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s': too many entries in %s", j->path, name,
                                          key);
                    if (parse_uint(j, &dst[n++])) return VARCL_E_INPUT;
                    skip_ws(j);
                    if (j->p < j->end && *j->p == ',') {
                        j->p++;
                        continue;
                    }
                    if (expect(j, ']')) return VARCL_E_INPUT;
                    break;
                }
            }
            if (is_shape)
                ndim = n;
            else if (n == 2)
                have_off = 1;
            else
                return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s': data_offsets needs 2 numbers", j->path, name);
        } else if (skip_value(j, 0)) {
            return VARCL_E_INPUT;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (expect(j, '}')) return VARCL_E_INPUT;
        break;
    }
    vt_dtype dt;
    int64_t esize;
    if (strcmp(dtype_s, "F32") == 0) dt = VT_F32, esize = 4;
    else if (strcmp(dtype_s, "F16") == 0) dt = VT_F16, esize = 2;
    else if (strcmp(dtype_s, "BF16") == 0) dt = VT_BF16, esize = 2;
    else if (strcmp(dtype_s, "I64") == 0) dt = VT_I64, esize = 8;
    else
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has unsupported dtype '%s' (F32, F16, BF16, I64 are read)",
                          j->path, name, dtype_s);
    if (ndim < 0 || !have_off)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' lacks shape or data_offsets", j->path, name);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] > 0 && numel > INT64_MAX / 8 / shape[i])
            return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' is too large", j->path, name);
        numel *= shape[i];
    }
    if (off[0] > off[1] || off[1] > data_len)
        return varcl_fail(VARCL_E_INPUT,
                          "%s: tensor '%s' data_offsets [%lld, %lld] out of range (data block is %lld bytes; file "
                          "truncated?)",
                          j->path, name, (long long)off[0], (long long)off[1], (long long)data_len);
    if (off[1] - off[0] != numel * esize)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has %lld bytes for %lld elements of %s", j->path, name,
                          (long long)(off[1] - off[0]), (long long)numel, dtype_s);
    if (vt_find(s, name)) return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' appears twice", j->path, name);
    return vt_add_raw(s, name, dt, ndim, shape, data + off[0]);
}

vt_set *st_load(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        varcl_fail(VARCL_E_INPUT, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        varcl_fail(VARCL_E_INPUT, "%s: not a regular file", path);
        return NULL;
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) {
        close(fd);
        varcl_fail(VARCL_E_INPUT, "%s: too short for a safetensors file (%zu bytes)", path, len);
        return NULL;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        varcl_fail(VARCL_E_RUNTIME, "%s: mmap failed: %s", path, strerror(errno));
        return NULL;
    }
    const uint8_t *b = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];
    vt_set *s = vt_new_mapped(path, map, len);
    if (!s) {
        munmap(map, len);
        return NULL;
    }
    if (hlen > len - 8) {
        varcl_fail(VARCL_E_INPUT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                   (unsigned long long)hlen, len);
        goto fail;
    }
    json j = {(const char *)b + 8, (const char *)b + 8, (const char *)b + 8 + hlen, path};
    const uint8_t *data = b + 8 + hlen;
    int64_t data_len = (int64_t)(len - 8 - hlen);
    if (expect(&j, '{')) goto fail;
    skip_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            char name[1024];
            if (parse_string(&j, name, sizeof name) || expect(&j, ':')) goto fail;
            if (strcmp(name, "__metadata__") == 0) {
                if (skip_value(&j, 0)) goto fail;
            } else if (parse_entry(&j, s, name, data, data_len)) {
                goto fail;
            }
            skip_ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                continue;
            }
            if (expect(&j, '}')) goto fail;
            break;
        }
    }
    skip_ws(&j);
    if (j.p != j.end) {
        varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON (trailing bytes)", path);
        goto fail;
    }
    /* Overlap check: sort spans by begin; each non-empty span must start at or after the furthest end of the
     * non-empty spans before it (comparing with the previous span only would let an empty one hide an overlap). */
    int n = vt_count(s);
    span *sp = malloc((size_t)(n ? n : 1) * sizeof *sp);
    if (!sp) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const vt_tensor *t = vt_at(s, i);
        int64_t begin = (const uint8_t *)t->data - data;
        int64_t bytes = t->numel * (t->dtype == VT_I64 ? 8 : t->dtype == VT_F32 ? 4 : 2);
        sp[i] = (span){begin, begin + bytes, i};
    }
    qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    int last = -1; /* the non-empty span seen so far with the furthest end */
    for (int i = 0; i < n; i++) {
        if (sp[i].end <= sp[i].begin) continue;
        if (last >= 0 && sp[i].begin < sp[last].end) {
            varcl_fail(VARCL_E_INPUT, "%s: tensors '%s' and '%s' have overlapping data_offsets", path,
                       vt_at(s, sp[last].index)->name, vt_at(s, sp[i].index)->name);
            free(sp);
            goto fail;
        }
        if (last < 0 || sp[i].end > sp[last].end) last = i;
    }
    free(sp);
    return s;
fail:
    vt_free(s);
    return NULL;
}

static int dtype_bytes(vt_dtype d) { return d == VT_I64 ? 8 : d == VT_F32 ? 4 : 2; }

static const char *dtype_name(vt_dtype d)
{
    return d == VT_F32 ? "F32" : d == VT_F16 ? "F16" : d == VT_BF16 ? "BF16" : "I64";
}

/* Writes t's elements converted to `out` (a float dtype), 4096 at a time. */
static int write_converted(FILE *f, const vt_tensor *t, vt_dtype out)
{
    float buf[4096];
    uint16_t half[4096];
    vt_tensor part = *t;
    for (int64_t at = 0; at < t->numel; at += 4096) {
        size_t n = (size_t)(t->numel - at < 4096 ? t->numel - at : 4096);
        part.numel = (int64_t)n;
        part.data = (const uint8_t *)t->data + at * dtype_bytes(t->dtype);
        vt_to_f32(&part, buf);
        if (out == VT_F32) {
            if (fwrite(buf, 4, n, f) != n) return -1;
            continue;
        }
        for (size_t i = 0; i < n; i++) half[i] = out == VT_F16 ? vt_f32_to_f16(buf[i]) : vt_f32_to_bf16(buf[i]);
        if (fwrite(half, 2, n, f) != n) return -1;
    }
    return 0;
}

/* keep_i64 = 0 converts I64 tensors to `dtype` as well (st_save_f32). */
static int save(const char *path, const vt_set *s, vt_dtype dtype, int keep_i64)
{
    if (dtype != VT_F32 && dtype != VT_F16 && dtype != VT_BF16)
        return varcl_fail(VARCL_E_INPUT, "%s: safetensors are written as F32, F16 or BF16", path);
    /* Header first (JSON), padded with spaces to a multiple of 8 as the format recommends. */
    size_t cap = 256 + (size_t)vt_count(s) * 256, k = 0;
    char *hdr = malloc(cap);
    if (!hdr) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    int64_t off = 0;
    k += (size_t)snprintf(hdr + k, cap - k, "{");
    for (int i = 0; i < vt_count(s); i++) {
        const vt_tensor *t = vt_at(s, i);
        if (cap - k < 256 + strlen(t->name)) {
            cap = 2 * cap + strlen(t->name);
            char *h2 = realloc(hdr, cap);
            if (!h2) {
                free(hdr);
                return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
            }
            hdr = h2;
        }
        vt_dtype out = keep_i64 && t->dtype == VT_I64 ? VT_I64 : dtype;
        int64_t bytes = t->numel * dtype_bytes(out);
        k += (size_t)snprintf(hdr + k, cap - k, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name,
                              dtype_name(out));
        for (int d = 0; d < t->ndim; d++)
            k += (size_t)snprintf(hdr + k, cap - k, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        k += (size_t)snprintf(hdr + k, cap - k, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                              (long long)(off + bytes));
        off += bytes;
    }
    k += (size_t)snprintf(hdr + k, cap - k, "}");
    while (k % 8) hdr[k++] = ' ';
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(hdr);
        return varcl_fail(VARCL_E_INPUT, "%s: cannot write: %s", path, strerror(errno));
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)k >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, k, f) == k;
    free(hdr);
    for (int i = 0; ok && i < vt_count(s); i++) {
        const vt_tensor *t = vt_at(s, i);
        vt_dtype out = keep_i64 && t->dtype == VT_I64 ? VT_I64 : dtype;
        if (t->dtype == out)
            ok = fwrite(t->data, (size_t)dtype_bytes(out), (size_t)t->numel, f) == (size_t)t->numel;
        else
            ok = write_converted(f, t, out) == 0;
    }
    int err = errno;
    if (fclose(f) != 0 && ok) ok = 0, err = errno;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) err = errno;
        unlink(tmp);
        return varcl_fail(VARCL_E_INPUT, "%s: write failed: %s", path, strerror(err));
    }
    return 0;
}

int st_save(const char *path, const vt_set *s, vt_dtype dtype) { return save(path, s, dtype, 1); }

int st_save_f32(const char *path, const vt_set *s) { return save(path, s, VT_F32, 0); }
