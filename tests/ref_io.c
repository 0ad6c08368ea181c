/* ref_io: small readers for the golden test data (.npy arrays, tokens JSON). */
#include "ref.h"

#include "error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, NUL-terminated; NULL + error. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        varcl_fail(VARCL_E_INPUT, "%s: cannot open", path);
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? 2 * cap : 65536 * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                varcl_fail(VARCL_E_RUNTIME, "out of host memory");
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, 65536, f);
        n += got;
        if (got < 65536) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        varcl_fail(VARCL_E_INPUT, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

float *ref_read_npy(const char *path, int *ndim, long long *shape)
{
    size_t len;
    unsigned char *buf = (unsigned char *)read_all(path, &len);
    if (!buf) return NULL;
    float *out = NULL;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        varcl_fail(VARCL_E_INPUT, "%s: not a .npy file", path);
        goto done;
    }
    size_t hlen, hoff;
    if (buf[6] == 1) {
        hlen = buf[8] | (size_t)buf[9] << 8;
        hoff = 10;
    } else if (len >= 12) {
        hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hoff = 12;
    } else {
        varcl_fail(VARCL_E_INPUT, "%s: truncated .npy header", path);
        goto done;
    }
    if (hoff + hlen > len) {
        varcl_fail(VARCL_E_INPUT, "%s: truncated .npy header", path);
        goto done;
    }
    char hdr[4096];
    if (hlen >= sizeof hdr) {
        varcl_fail(VARCL_E_INPUT, "%s: .npy header too long", path);
        goto done;
    }
    memcpy(hdr, buf + hoff, hlen);
    hdr[hlen] = '\0';
    int esize;
    char *d = strstr(hdr, "'descr'");
    if (d && strstr(d, "'<f4'") == strchr(d + 7, '\''))
        esize = 4;
    else if (d && strstr(d, "'<f2'") == strchr(d + 7, '\''))
        esize = 2;
    else {
        varcl_fail(VARCL_E_INPUT, "%s: .npy dtype is not <f4 or <f2 (header %s)", path, hdr);
        goto done;
    }
    if (!strstr(hdr, "'fortran_order': False")) {
        varcl_fail(VARCL_E_INPUT, "%s: .npy is not C-ordered", path);
        goto done;
    }
    char *s = strstr(hdr, "'shape'");
    s = s ? strchr(s, '(') : NULL;
    if (!s) {
        varcl_fail(VARCL_E_INPUT, "%s: .npy header has no shape", path);
        goto done;
    }
    s++;
    int nd = 0;
    long long numel = 1;
    for (;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || nd == 8) {
            varcl_fail(VARCL_E_INPUT, "%s: bad .npy shape", path);
            goto done;
        }
        shape[nd++] = v;
        numel *= v;
        s = end;
    }
    *ndim = nd;
    size_t doff = hoff + hlen;
    if ((size_t)numel * esize > len - doff) {
        varcl_fail(VARCL_E_INPUT, "%s: .npy data truncated", path);
        goto done;
    }
    out = malloc((size_t)(numel ? numel : 1) * sizeof *out);
    if (!out) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        goto done;
    }
    const unsigned char *p = buf + doff;
    for (long long i = 0; i < numel; i++) {
        if (esize == 4) {
            uint32_t u = p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &u, 4);
        } else {
            out[i] = vt_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        }
    }
done:
    free(buf);
    return out;
}

/* Appends every integer inside the JSON value at *pp (numbers or nested arrays) to ids; advances *pp. */
static int flatten_ints(const char **pp, int **ids, int *n, int *cap)
{
    const char *p = *pp;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '[') {
        p++;
        for (;;) {
            while (isspace((unsigned char)*p)) p++;
            if (*p == ']') {
                p++;
                break;
            }
            if (flatten_ints(&p, ids, n, cap)) return -1;
            while (isspace((unsigned char)*p)) p++;
            if (*p == ',') p++;
            else if (*p != ']') return -1;
        }
    } else {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) return -1;
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 1024;
            int *ni = realloc(*ids, (size_t)*cap * sizeof *ni);
            if (!ni) return -1;
            *ids = ni;
        }
        (*ids)[(*n)++] = (int)v;
        p = end;
    }
    *pp = p;
    return 0;
}

int *ref_read_tokens_json(const char *path, int *n_images, int *n_per_image)
{
    size_t len;
    char *buf = read_all(path, &len);
    if (!buf) return NULL;
    int *ids = NULL, n = 0, cap = 0, images = 0, per = -1;
    const char *p = strstr(buf, "\"tokens\"");
    if (!p) goto bad;
    p += 8;
    while (isspace((unsigned char)*p)) p++;
    if (*p++ != ':') goto bad;
    while (isspace((unsigned char)*p)) p++;
    if (*p++ != '[') goto bad;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == ']') break;
        int before = n;
        if (flatten_ints(&p, &ids, &n, &cap)) goto bad;
        if (per < 0) per = n - before;
        if (n - before != per) {
            varcl_fail(VARCL_E_INPUT, "%s: images have different token counts (%d, %d)", path, per, n - before);
            goto fail;
        }
        images++;
        while (isspace((unsigned char)*p)) p++;
        if (*p == ',') p++;
        else if (*p != ']') goto bad;
    }
    if (images == 0) goto bad;
    free(buf);
    *n_images = images;
    *n_per_image = per;
    return ids;
bad:
    varcl_fail(VARCL_E_INPUT, "%s: not a {\"tokens\": [[[ids]]]} JSON file", path);
fail:
    free(ids);
    free(buf);
    return NULL;
}
