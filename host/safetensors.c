/* safetensors: the reader (header read with pread, parsed with jansson; tensors read by vt_read_pages: see
 * safetensors.h).
 * Layout: u64 little-endian header size N, N bytes of JSON {name: {dtype, shape, data_offsets}, ...},
 * then the data block; offsets are relative to the data block. */
#include "safetensors.h"

#include "error.h"
#include "outfile.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The format's reference reader refuses headers over 100 MB: no real checkpoint comes near (a 200,000-tensor header
 * is 15 MB), and the bound keeps a damaged length field from making us parse gigabytes. */
#define ST_MAX_HEADER 100000000u
/* The most dimensions a header's shape may list (PyTorch's limit is 64; more than VT_MAX_DIMS are merged) */
#define ST_MAX_DIMS 64

typedef struct {
    int64_t begin, end;
    int index;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

/* A JSON array of at most cap non-negative integers into dst; the count, or -1 when it is not one. */
static int read_uints(const json_t *a, int64_t *dst, int cap)
{
    if (!json_is_array(a) || json_array_size(a) > (size_t)cap) return -1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
        dst[i] = (int64_t)json_integer_value(v);
    }
    return (int)json_array_size(a);
}

/* __metadata__: an object of strings, as the format defines it (its values are not used here). */
static int check_metadata(const char *path, const json_t *m)
{
    if (!json_is_object(m))
        return varcl_fail(VARCL_E_INPUT, "%s: __metadata__ must be an object of strings, got a %s", path,
                          json_is_array(m) ? "list" : json_is_string(m) ? "string" : json_is_null(m) ? "null" : "number or boolean");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
        if (!json_is_string(v)) return varcl_fail(VARCL_E_INPUT, "%s: __metadata__ '%s' is not a string", path, k);
    return VARCL_OK;
}

/* One header entry {dtype, shape, data_offsets} (other members are ignored) into the set. */
static int parse_entry(const char *path, vt_set *s, const char *name, const json_t *e, const uint8_t *data,
                       int64_t data_len)
{
    if (!json_is_object(e))
        return varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON (entry '%s' is not an object)", path,
                          name);
    const json_t *jd = json_object_get(e, "dtype"), *js = json_object_get(e, "shape"),
                 *jo = json_object_get(e, "data_offsets");
    if (!jd || !js || !jo)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' lacks %s", path, name,
                          !jd ? "dtype" : !js ? "shape" : "data_offsets");
    int dt = json_is_string(jd) ? vt_dtype_parse(json_string_value(jd)) : -1;
    if (dt < 0)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has dtype %.40s%s%s, which is not a safetensors dtype", path,
                          name, json_is_string(jd) ? "'" : "", json_is_string(jd) ? json_string_value(jd) : "(not a string)",
                          json_is_string(jd) ? "'" : "");
    /* Shapes of more dimensions than a set keeps (VT_MAX_DIMS; no model tensor has over 4) are kept with their
     * leading dimensions merged, the same elements in the same order: a tensor the model does not read (an
     * optimiser's, say) must not make the checkpoint unreadable. */
    int64_t shape[ST_MAX_DIMS], off[2];
    if (json_is_array(js) && json_array_size(js) > ST_MAX_DIMS)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has %zu dimensions (at most %d supported)", path, name,
                          json_array_size(js), ST_MAX_DIMS);
    int ndim = read_uints(js, shape, ST_MAX_DIMS);
    if (ndim < 0)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s': shape must be a list of whole numbers >= 0", path, name);
    if (read_uints(jo, off, 2) != 2)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s': data_offsets needs 2 whole numbers >= 0", path, name);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] > 0 && numel > INT64_MAX / 64 / shape[i])
            return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' is too large", path, name);
        numel *= shape[i];
    }
    if (ndim > VT_MAX_DIMS) {
        int merge = ndim - VT_MAX_DIMS + 1; /* into shape[0]: its product is at most numel, checked above */
        for (int i = 1; i < merge; i++) shape[0] *= shape[i];
        memmove(shape + 1, shape + merge, (size_t)(VT_MAX_DIMS - 1) * sizeof *shape);
        ndim = VT_MAX_DIMS;
    }
    int64_t bits = numel * vt_dtype_bits((vt_dtype)dt);
    if (off[0] > off[1])
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' data_offsets [%lld, %lld]: the begin is past the end", path,
                          name, (long long)off[0], (long long)off[1]);
    if (off[1] > data_len)
        return varcl_fail(VARCL_E_INPUT,
                          "%s: tensor '%s' data_offsets [%lld, %lld] out of range (data block is %lld bytes; file "
                          "truncated?)",
                          path, name, (long long)off[0], (long long)off[1], (long long)data_len);
    if (bits % 8 || off[1] - off[0] != bits / 8)
        return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' has %lld bytes for %lld elements of %s", path, name,
                          (long long)(off[1] - off[0]), (long long)numel, vt_dtype_name((vt_dtype)dt));
    return vt_add_raw(s, name, (vt_dtype)dt, ndim, shape, data + off[0]);
}

static void skip_ws(const char *h, size_t n, size_t *p)
{
    while (*p < n && (h[*p] == ' ' || h[*p] == '\t' || h[*p] == '\n' || h[*p] == '\r')) (*p)++;
}

/* The JSON value at h[*p] (a name or an entry), parsed by jansson; *p moves past it. NULL with an input error
 * naming the byte (the header starts at byte 8 of the file). */
static json_t *next_value(const char *path, const char *h, size_t n, size_t *p)
{
    skip_ws(h, n, p);
    json_error_t err;
    json_t *v = json_loadb(h + *p, n - *p, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &err);
    if (!v) {
        if (json_error_code(&err) == json_error_out_of_memory)
            varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory reading the header", path);
        else
            varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON at byte %zu: %.200s", path,
                       *p + (size_t)(err.position > 0 ? err.position : 0) + 8,
                       /* jansson names its own flag for this one */
                       strstr(err.text, "JSON_ALLOW_NUL") ? "a NUL character (\\u0000) in a string" : err.text);
        return NULL;
    }
    *p += (size_t)err.position; /* with JSON_DISABLE_EOF_CHECK: the bytes the value took */
    return v;
}

static vt_set *parse(vt_set *s, const char *path, const void *bytes, size_t len, const uint8_t *head);

vt_set *st_load(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* O_NONBLOCK: a FIFO would block a plain open */
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
    if (map == MAP_FAILED) {
        int err = errno;
        close(fd);
        varcl_fail(VARCL_E_RUNTIME, "%s: mmap failed: %s", path, strerror(err));
        return NULL;
    }
    vt_set *s = vt_new_mapped(path, map, len, fd);
    if (!s) {
        munmap(map, len);
        close(fd);
        return NULL;
    }
    char id[160];
    snprintf(id, sizeof id, "dev %llu ino %llu size %zu mtime %lld.%09ld ctime %lld.%09ld", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino, len, (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec,
             (long long)sb.st_ctim.tv_sec, (long)sb.st_ctim.tv_nsec);
    vt_set_identity(s, id);
    /* the header is read, not touched through the map (vt_read_pages says why); the tensors' data stays mapped */
    uint8_t len8[8];
    if (vt_read_at(s, 0, 8, len8)) {
        vt_free(s);
        return NULL;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | len8[i];
    size_t head_len = hlen <= len - 8 && hlen <= ST_MAX_HEADER ? 8 + (size_t)hlen : 8; /* else parse refuses it */
    uint8_t *head = malloc(head_len);
    if (!head) {
        vt_free(s);
        varcl_fail(VARCL_E_RUNTIME, "out of host memory for the header of %s", path);
        return NULL;
    }
    if (vt_read_at(s, 0, head_len, head)) {
        free(head);
        vt_free(s);
        return NULL;
    }
    s = parse(s, path, map, len, head);
    free(head);
    return s;
}

vt_set *st_load_memory(const char *origin, const void *bytes, size_t len)
{
    if (len < 8) {
        varcl_fail(VARCL_E_INPUT, "%s: too short for a safetensors file (%zu bytes)", origin, len);
        return NULL;
    }
    vt_set *s = vt_new_mapped(origin, NULL, 0, -1); /* nothing to unmap: the caller owns the bytes */
    return s ? parse(s, origin, bytes, len, bytes) : NULL;
}

/* What a file that is not safetensors is, from its first bytes: the formats people pass by mistake, or NULL. */
static const char *other_format(const uint8_t *b)
{
    if (!memcmp(b, "PK\3\4", 4))
        return "a zip archive (a PyTorch .pth/.pt checkpoint or a .npz), not safetensors: convert a PyTorch "
               "checkpoint with models/convert.py";
    if (b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
        return "a Python pickle (a PyTorch checkpoint of the old format), not safetensors: convert it with "
               "models/convert.py";
    size_t i = 0;
    while (i < 7 && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) i++;
    if (b[i] == '{' || b[i] == '[')
        return "a JSON file (a sharded checkpoint's index?), not safetensors: varcl reads one safetensors file per "
               "model";
    if (!memcmp(b, "GGUF", 4)) return "a GGUF file, not safetensors";
    if (!memcmp(b, "version ", 8)) /* "version https://git-lfs...": a clone without git-lfs */
        return "a Git LFS pointer, not the checkpoint itself: fetch it (git lfs pull)";
    if (b[i] == '<') return "an HTML or XML page (a failed download?), not safetensors";
    if (b[0] == 0x1f && b[1] == 0x8b) return "gzip-compressed: decompress it first (gunzip)";
    if (!memcmp(b, "\xfd" "7zXZ", 6)) return "xz-compressed: decompress it first (unxz)";
    if (!memcmp(b, "\x28\xb5\x2f\xfd", 4)) return "zstd-compressed: decompress it first (unzstd)";
    return NULL;
}

/* Parses the header of the `len` bytes at `bytes` into `s` (freed on failure); head: a copy of the file's first
 * 8 + header-length bytes (only the first 8 when that length is refused). */
static vt_set *parse(vt_set *s, const char *path, const void *bytes, size_t len, const uint8_t *head)
{
    const uint8_t *b = head;
    span *sp = NULL;
    json_t *meta = NULL; /* __metadata__'s value */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];
    if ((hlen > len - 8 || hlen > ST_MAX_HEADER) && other_format(b)) {
        varcl_fail(VARCL_E_INPUT, "%s: %s", path, other_format(b));
        goto fail;
    }
    if (hlen > len - 8) {
        varcl_fail(VARCL_E_INPUT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                   (unsigned long long)hlen, len);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER) {
        varcl_fail(VARCL_E_INPUT, "%s: header length %llu is over the format's limit of %u bytes", path,
                   (unsigned long long)hlen, ST_MAX_HEADER);
        goto fail;
    }
    const uint8_t *data = (const uint8_t *)bytes + 8 + hlen;
    int64_t data_len = (int64_t)(len - 8 - hlen);
    /* The top-level object is walked here and each name and entry is parsed by jansson on its own: a DOM of
     * 200,000 entries would cost 300 MB and five times the time (measured), and the names' uniqueness is checked
     * by vt_index's sort anyway. jansson reads every string and value: no length limit, escapes, valid UTF-8;
     * values we do not read (__metadata__, unknown members) cost no buffer of ours. */
    const char *h = (const char *)b + 8;
    size_t p = 0, n_h = (size_t)hlen;
    /* the header starts with '{' itself, as the format's own library requires (padding goes at the end) */
    if (p >= n_h || h[p] != '{') {
        if (other_format(b)) /* a length that happened to fit (gzip -n's first bytes) */
            varcl_fail(VARCL_E_INPUT, "%s: %s", path, other_format(b));
        else
            varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON at byte %zu: expected '{'", path, p + 8);
        goto fail;
    }
    p++;
    skip_ws(h, n_h, &p);
    if (p < n_h && h[p] == '}') p++;
    else
        for (;;) {
            json_t *key = next_value(path, h, n_h, &p), *e = NULL;
            if (!key) goto fail;
            if (!json_is_string(key)) {
                json_decref(key);
                varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON at byte %zu: expected a name", path,
                           p + 8);
                goto fail;
            }
            skip_ws(h, n_h, &p);
            int st = p < n_h && h[p] == ':' ? (p++, 0) : varcl_fail(VARCL_E_INPUT,
                                                                     "%s: invalid safetensors header JSON at byte "
                                                                     "%zu: expected ':'",
                                                                     path, p + 8);
            if (!st && !(e = next_value(path, h, n_h, &p))) st = VARCL_E_INPUT;
            const char *name = json_string_value(key);
            if (!st && strcmp(name, "__metadata__")) st = parse_entry(path, s, name, e, data, data_len);
            else if (!st && !meta) meta = json_incref(e); /* checked once the whole header is known to be JSON */
            else if (!st) /* a second one: which of the two counts is a reader's guess (tensor names: vt_index) */
                st = varcl_fail(VARCL_E_INPUT, "%s: __metadata__ appears twice in the header", path);
            json_decref(key);
            json_decref(e);
            if (st) goto fail;
            skip_ws(h, n_h, &p);
            if (p < n_h && h[p] == ',') {
                p++;
                continue;
            }
            if (p < n_h && h[p] == '}') {
                p++;
                break;
            }
            varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON at byte %zu: expected ',' or '}'", path,
                       p + 8);
            goto fail;
        }
    skip_ws(h, n_h, &p);
    if (p != n_h) {
        varcl_fail(VARCL_E_INPUT, "%s: invalid safetensors header JSON at byte %zu: trailing bytes", path, p + 8);
        goto fail;
    }
    if (meta && check_metadata(path, meta)) goto fail;
    if (vt_index(s)) goto fail;
    /* Overlap check: sort spans by begin; each non-empty span must start at or after the furthest end of the
     * non-empty spans before it (comparing with the previous span only would let an empty one hide an overlap). */
    int n = vt_count(s);
    if (!(sp = malloc((size_t)(n ? n : 1) * sizeof *sp))) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const vt_tensor *t = vt_at(s, i);
        int64_t begin = (const uint8_t *)t->data - data;
        sp[i] = (span){begin, begin + t->numel * vt_dtype_bits(t->dtype) / 8, i};
    }
    if (n > 1) qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    int last = -1; /* the non-empty span seen so far with the furthest end */
    for (int i = 0; i < n; i++) {
        if (sp[i].end <= sp[i].begin) continue;
        if (last >= 0 && sp[i].begin < sp[last].end) {
            varcl_fail(VARCL_E_INPUT, "%s: tensors '%s' and '%s' have overlapping data_offsets", path,
                       vt_at(s, sp[last].index)->name, vt_at(s, sp[i].index)->name);
            goto fail;
        }
        if (last < 0 || sp[i].end > sp[last].end) last = i;
    }
    /* The tensors must fill the data block exactly, as the format's own library requires: a gap or bytes after the
     * last tensor mean a file cut or joined wrongly, not padding (empty tensors take no bytes, anywhere). */
    int64_t covered = 0;
    const char *prev = NULL;
    for (int i = 0; i < n; i++) {
        if (sp[i].end <= sp[i].begin) continue;
        if (sp[i].begin != covered) {
            varcl_fail(VARCL_E_INPUT,
                       "%s: bytes %lld..%lld of the data block belong to no tensor (%s '%s'): not a whole "
                       "safetensors file",
                       path, (long long)covered, (long long)sp[i].begin - 1, prev ? "after" : "before",
                       prev ? prev : vt_at(s, sp[i].index)->name);
            goto fail;
        }
        covered = sp[i].end;
        prev = vt_at(s, sp[i].index)->name;
    }
    if (covered != data_len) {
        varcl_fail(VARCL_E_INPUT,
                   "%s: %lld bytes after the last tensor's data (the header's data_offsets end at %lld of %lld): not a "
                   "whole safetensors file",
                   path, (long long)(data_len - covered), (long long)covered, (long long)data_len);
        goto fail;
    }
    free(sp);
    json_decref(meta);
    return s;
fail:
    free(sp);
    json_decref(meta);
    vt_free(s);
    return NULL;
}

static int dtype_bytes(vt_dtype d) { return vt_dtype_bits(d) / 8; }

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

/* The dtype tensor t is written as: the float weights (F32, F16, BF16, F64) in `dtype`; the other types as they
 * are (keep_other) or converted by value (st_save_f32). */
static vt_dtype out_dtype(const vt_tensor *t, vt_dtype dtype, int keep_other)
{
    int is_float = t->dtype == VT_F32 || t->dtype == VT_F16 || t->dtype == VT_BF16 || t->dtype == VT_F64;
    return keep_other && !is_float ? t->dtype : dtype;
}

static int stage(vo_file *out, const char *path, const vt_set *s, vt_dtype dtype, int keep_other)
{
    if (dtype != VT_F32 && dtype != VT_F16 && dtype != VT_BF16)
        return varcl_fail(VARCL_E_INPUT, "%s: safetensors are written as F32, F16 or BF16", path);
    for (int i = 0; i < vt_count(s); i++) {
        const vt_tensor *t = vt_at(s, i);
        if (out_dtype(t, dtype, keep_other) != t->dtype && !vt_dtype_convertible(t->dtype))
            return varcl_fail(VARCL_E_INPUT, "%s: tensor '%s' is %s, which is not converted to %s", path, t->name,
                              vt_dtype_name(t->dtype), vt_dtype_name(dtype));
    }
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
        vt_dtype out = out_dtype(t, dtype, keep_other);
        int64_t bytes = t->numel * vt_dtype_bits(out) / 8;
        k += (size_t)snprintf(hdr + k, cap - k, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name,
                              vt_dtype_name(out));
        for (int d = 0; d < t->ndim; d++)
            k += (size_t)snprintf(hdr + k, cap - k, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        k += (size_t)snprintf(hdr + k, cap - k, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                              (long long)(off + bytes));
        off += bytes;
    }
    k += (size_t)snprintf(hdr + k, cap - k, "}");
    while (k % 8) hdr[k++] = ' ';
    int st = vo_open(out, path); /* a temporary renamed over path by vo_commit (outfile.h) */
    if (st) {
        free(hdr);
        return st;
    }
    FILE *f = out->fp;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)k >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, k, f) == k;
    free(hdr);
    for (int i = 0; ok && i < vt_count(s); i++) {
        const vt_tensor *t = vt_at(s, i);
        vt_dtype out_t = out_dtype(t, dtype, keep_other);
        size_t bytes = (size_t)(t->numel * vt_dtype_bits(out_t) / 8);
        if ((st = vt_read_pages(s, t))) { /* a set read from a file: its data read again (vt_read_pages) */
            vo_abort(out);
            return st;
        }
        if (t->dtype == out_t)
            ok = fwrite(t->data, 1, bytes, f) == bytes;
        else
            ok = write_converted(f, t, out_t) == 0;
        vt_release_pages(s, t);
    }
    if (!ok) { /* disk full, I/O error */
        int err = errno;
        vo_abort(out);
        return varcl_fail(VARCL_E_RUNTIME, "%s: write failed: %s", path, strerror(err ? err : EIO));
    }
    return vo_close(out);
}

static int save(const char *path, const vt_set *s, vt_dtype dtype, int keep_other)
{
    vo_file out;
    int st = stage(&out, path, s, dtype, keep_other);
    return st ? st : vo_commit(&out);
}

int st_stage(vo_file *out, const char *path, const vt_set *s, vt_dtype dtype) { return stage(out, path, s, dtype, 1); }

int st_save(const char *path, const vt_set *s, vt_dtype dtype) { return save(path, s, dtype, 1); }

int st_save_f32(const char *path, const vt_set *s) { return save(path, s, VT_F32, 0); }
