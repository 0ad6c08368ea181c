/* cachefile: framed cache files (see cachefile.h). */
#include "cachefile.h"

#include "error.h"
#include "outfile.h"
#include "runtime.h"

#include <zlib.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VCF_TAG "# varcl-cache"
#define VCF_MAX_LINE 128

/* zlib's crc32 takes uInt lengths: feed large payloads in parts. */
static uint32_t crc_of(const void *data, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef *p = data;
    while (len) {
        uInt part = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, part);
        p += part;
        len -= part;
    }
    return (uint32_t)crc;
}

int vcf_read(const char *path, const char *kind, void **data, size_t *len, char *why, size_t why_len)
{
    *data = NULL;
    *len = 0;
    /* only a regular file: opening a FIFO (or a device) at the path would block or read forever */
    struct stat pre;
    if (stat(path, &pre) == 0 && !S_ISREG(pre.st_mode)) {
        snprintf(why, why_len, "not a regular file");
        return VCF_DAMAGED;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return VCF_ABSENT;
        snprintf(why, why_len, "cannot open: %s", strerror(errno));
        return VCF_DAMAGED;
    }
    struct stat sb;
    char line[VCF_MAX_LINE + 1];
    int st = VCF_DAMAGED;
    unsigned version = 0;
    char got_kind[64] = "";
    uint64_t want_len = 0;
    uint32_t want_crc = 0;
    unsigned char *buf = NULL;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(why, why_len, "not a regular file");
        goto out;
    }
    if (!fgets(line, sizeof line, f) || !strchr(line, '\n')) {
        snprintf(why, why_len, "no frame line (an old or foreign file)");
        goto out;
    }
    if (sscanf(line, VCF_TAG " %u %63s %" SCNu64 " %" SCNx32, &version, got_kind, &want_len, &want_crc) != 4) {
        snprintf(why, why_len, "no frame line (an old or foreign file)");
        goto out;
    }
    if (version != VCF_VERSION || strcmp(got_kind, kind)) {
        snprintf(why, why_len, "frame version %u kind %s, not %d %s", version, got_kind, VCF_VERSION, kind);
        goto out;
    }
    uint64_t have = (uint64_t)sb.st_size - (uint64_t)strlen(line);
    if (have != want_len) {
        snprintf(why, why_len, "%s: %" PRIu64 " of %" PRIu64 " payload bytes",
                 have < want_len ? "cut short" : "too long", have, want_len);
        goto out;
    }
    if (!(buf = malloc((size_t)want_len + 1))) {
        snprintf(why, why_len, "out of host memory for %" PRIu64 " bytes", want_len);
        goto out;
    }
    if (fread(buf, 1, (size_t)want_len, f) != (size_t)want_len) {
        snprintf(why, why_len, "read error");
        goto out;
    }
    if (crc_of(buf, (size_t)want_len) != want_crc) {
        snprintf(why, why_len, "checksum mismatch (damaged)");
        goto out;
    }
    buf[want_len] = 0;
    *data = buf;
    *len = (size_t)want_len;
    buf = NULL;
    st = VCF_OK;
out:
    free(buf);
    fclose(f);
    return st;
}

int vcf_write(const char *path, const char *kind, const void *data, size_t len)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        vr_mkdirs(dir);
    }
    /* whole or not at all, like a user's output: concurrent writers each rename a whole file over the path */
    vo_file out;
    if (vo_open_own(&out, path)) /* a FIFO or device at a cache path is replaced, never written to */
        return varcl_fail(VARCL_E_RUNTIME, "cannot write the cache file %s: %s", path, varcl_last_error());
    int ok = fprintf(out.fp, VCF_TAG " %d %s %zu %08" PRIx32 "\n", VCF_VERSION, kind, len, crc_of(data, len)) > 0;
    ok = ok && fwrite(data, 1, len, out.fp) == len;
    if (!ok) {
        int err = errno ? errno : EIO;
        vo_abort(&out);
        return varcl_fail(VARCL_E_RUNTIME, "cannot write the cache file %s: %s", path, strerror(err));
    }
    if (vo_commit(&out))
        return varcl_fail(VARCL_E_RUNTIME, "cannot write the cache file %s: %s", path, varcl_last_error());
    return 0;
}

uint64_t vcf_fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* s and a separator: ("ab", "c") differs from ("a", "bc") */
static uint64_t fnv1a(uint64_t h, const char *s) { return vcf_fnv1a(vcf_fnv1a(h, s, strlen(s)), "\n", 1); }

void vcf_device_path(const vr_device *dev, const char *prefix, char *buf, size_t n)
{
    char dir[VR_CACHE_DIR_MAX + 1];
    vr_cache_dir(dir, sizeof dir);
    buf[0] = 0;
    if (!dir[0]) return;
    uint64_t h = VCF_FNV_SEED;
    h = fnv1a(fnv1a(fnv1a(h, dev->name), dev->driver), dev->platform_version);
    snprintf(buf, n, "%s/%s-%016llx.ini", dir, prefix, (unsigned long long)h);
}

char *vcf_trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int vcf_device_line(const char *key, const char *val, const vr_device *dev, int seen[3], char *why, size_t n)
{
    static const char *const keys[3] = {"device", "driver", "platform"};
    int i = 0;
    while (i < 3 && strcmp(key, keys[i])) i++;
    if (i == 3) return -1;
    const char *actual = i == 0 ? dev->name : i == 1 ? dev->driver : dev->platform_version;
    char a[300];
    snprintf(a, sizeof a, "%s", actual);
    if (seen[i]) {
        snprintf(why, n, "%s is given twice", keys[i]);
        return 1;
    }
    if (strcmp(val, vcf_trim(a))) {
        snprintf(why, n, "written for %s '%.80s', not '%.80s'", keys[i], val, a);
        return 1;
    }
    seen[i] = 1;
    return 0;
}

int vcf_parse_text(const char *path, const char *kind, const char *what,
                   int (*parse)(FILE *f, void *ctx, char *why, size_t n), void *ctx, int *found)
{
    *found = 0;
    void *text = NULL;
    size_t len = 0;
    char why[600];
    if (vcf_read(path, kind, &text, &len, why, sizeof why) != VCF_OK) return 0;
    /* the frame is intact, so the body is what was written: one the parser cannot see whole is refused like any
     * other malformed body (a NUL byte ends a line's string early; an empty body has none of the required lines) */
    const char *nul = len ? memchr(text, 0, len) : NULL;
    if (!len || nul) {
        int line = 1;
        for (const char *c = text; nul && c < nul; c++) line += *c == '\n';
        free(text);
        if (!len) return varcl_fail(VARCL_E_INPUT, "%s %s: empty; delete the file or rerun `vbench --tune`", what, path);
        return varcl_fail(VARCL_E_INPUT, "%s %s: line %d: a NUL byte; delete the file or rerun `vbench --tune`", what,
                          path, line);
    }
    FILE *f = fmemopen(text, len, "r");
    if (!f) {
        free(text);
        return varcl_fail(VARCL_E_RUNTIME, "%s %s: out of host memory", what, path);
    }
    int bad = parse(f, ctx, why, sizeof why);
    fclose(f);
    free(text);
    if (bad) return varcl_fail(VARCL_E_INPUT, "%s %s: %s; delete the file or rerun `vbench --tune`", what, path, why);
    *found = 1;
    return 0;
}

int vcf_next_line(FILE *f, char *buf, size_t size, int *line_no, char **s, char *why, size_t n)
{
    while (fgets(buf, (int)size, f)) {
        ++*line_no;
        size_t len = strlen(buf);
        if (len == size - 1 && buf[len - 1] != '\n')
            return snprintf(why, n, "line %d: longer than %zu characters", *line_no, size - 2), -1;
        *s = vcf_trim(buf);
        if (**s && **s != '#' && **s != ';') return 1;
    }
    return 0;
}
