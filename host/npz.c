/* npz: a streaming .npz writer (see npz.h). The zip layout (PKWARE APPNOTE 6.3): per entry a local header with a
 * zip64 extra field, the .npy bytes, then the central directory, the zip64 end record, its locator and the classic
 * end record. The CRC-32 and sizes of an entry are known only once it is written: they are patched into its local
 * header afterwards (the file is seekable: it is our own temporary file). */
#include "npz.h"

#include "error.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define VZ_MAX_ENTRIES 16
#define VZ_NAME_MAX 64
#define VZ_VERSION 45 /* zip64 */
#define VZ_DOS_DATE 0x21 /* 1980-01-01; time 00:00:00 */

typedef struct {
    char name[VZ_NAME_MAX + 5]; /* "arr_0.npy" */
    uint64_t offset;            /* of the local header */
    uint64_t size;              /* .npy bytes: header + data */
    uint32_t crc;
} vz_entry;

struct vz_writer {
    vo_file out; /* written under a temporary name, renamed at vz_close (outfile.h) */
    vz_entry e[VZ_MAX_ENTRIES];
    int n;           /* entries started */
    int open;        /* an entry is being written */
    uint64_t at;     /* bytes written so far */
    uint64_t data_left;
};

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The .npy version 1.0 header: magic, version, header length, the dict padded with spaces and ended by '\n' so that
 * the data starts at a multiple of 64 bytes (numpy's alignment). Returns its length (0 if it does not fit). */
static size_t npy_header(char *out, size_t cap, const char *descr, int ndim, const int64_t *shape)
{
    char dict[512], dims[256] = "";
    size_t dl = 0;
    for (int i = 0; i < ndim && dl < sizeof dims; i++)
        dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%lld%s", (long long)shape[i],
                               ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    if (len < 0 || (size_t)len >= sizeof dict || dl >= sizeof dims) return 0;
    size_t total = 10 + (size_t)len + 1, padded = (total + 63) / 64 * 64;
    if (padded > cap || padded - 10 > 0xFFFF) return 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    put16((uint8_t *)out + 8, (unsigned)(padded - 10));
    memcpy(out + 10, dict, (size_t)len);
    memset(out + 10 + len, ' ', padded - 10 - (size_t)len - 1);
    out[padded - 1] = '\n';
    return padded;
}

uint64_t vz_archive_bound(int arrays, uint64_t data_bytes)
{
    /* per array: local header + zip64 field, .npy header (at most 256 bytes for a shape of 8 dimensions), central
     * header + zip64 field, each with the name; then the three end records */
    return data_bytes + (uint64_t)arrays * (30 + 20 + 256 + 46 + 28 + 2 * (VZ_NAME_MAX + 4)) + 56 + 20 + 22;
}

static int werr(vz_writer *w, int err)
{
    return varcl_fail(VARCL_E_RUNTIME, "%s: cannot write: %s", w->out.path, strerror(err ? err : EIO));
}

static int put(vz_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->out.fp) != n) return werr(w, errno);
    w->at += n;
    return VARCL_OK;
}

/* each array's CRC is written back at its offset from the file's start (vz_end): a stream in append mode, one
 * already written into, or a pipe would get the patches elsewhere, a corrupt archive with exit 0 */
static int not_seekable(const char *path)
{
    return varcl_fail(VARCL_E_INPUT, "%s: an .npz is written from the start of a file it can seek in (not a pipe, "
                                     "nor >> or a stream already written to)", path);
}

static int seekable_from_start(int fd)
{
    const int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && !(fl & O_APPEND) && lseek(fd, 0, SEEK_CUR) == 0;
}

int vz_check(const char *path)
{
    int st = vo_check(path);
    if (st) return st;
    const int fd = vo_stream_fd(path);
    struct stat sb;
    if (fd >= 0 ? !seekable_from_start(fd) : stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode)) return not_seekable(path);
    return VARCL_OK;
}

int vz_open(vz_writer **out, const char *path)
{
    *out = NULL;
    vz_writer *w = calloc(1, sizeof *w);
    if (!w) return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory", path);
    int st = vo_open(&w->out, path);
    if (st) {
        free(w);
        return st;
    }
    if (!seekable_from_start(fileno(w->out.fp))) {
        vo_abort(&w->out);
        free(w);
        return not_seekable(path);
    }
    *out = w;
    return VARCL_OK;
}

int vz_begin(vz_writer *w, const char *name, const char *descr, int ndim, const int64_t *shape)
{
    if (w->open || w->n >= VZ_MAX_ENTRIES || strlen(name) > VZ_NAME_MAX || ndim < 1 || ndim > 8)
        return varcl_fail(VARCL_E_RUNTIME, "%s: array %s cannot be added", w->out.path, name);
    char hdr[1024];
    size_t hl = npy_header(hdr, sizeof hdr, descr, ndim, shape);
    int item = descr[2] ? atoi(descr + 2) : 0;
    uint64_t data = item > 0 ? (uint64_t)item : 0;
    for (int i = 0; i < ndim; i++) data *= (uint64_t)shape[i];
    if (!hl || item <= 0) return varcl_fail(VARCL_E_RUNTIME, "%s: array %s: bad shape or dtype", w->out.path, name);
    vz_entry *e = &w->e[w->n++];
    snprintf(e->name, sizeof e->name, "%s.npy", name);
    e->offset = w->at;
    e->size = hl + data;
    e->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    size_t nl = strlen(e->name);
    uint8_t lh[30 + VZ_NAME_MAX + 5 + 20];
    memset(lh, 0, sizeof lh);
    put32(lh, 0x04034b50);
    put16(lh + 4, VZ_VERSION);
    put16(lh + 12, VZ_DOS_DATE);
    put32(lh + 18, 0xFFFFFFFFu); /* sizes in the zip64 field */
    put32(lh + 22, 0xFFFFFFFFu);
    put16(lh + 26, (unsigned)nl);
    put16(lh + 28, 20);
    memcpy(lh + 30, e->name, nl);
    put16(lh + 30 + nl, 0x0001);
    put16(lh + 32 + nl, 16);
    put64(lh + 34 + nl, e->size);
    put64(lh + 42 + nl, e->size);
    int st = put(w, lh, 30 + nl + 20);
    if (st) return st;
    w->open = 1;
    w->data_left = e->size;
    return vz_write(w, hdr, hl);
}

int vz_write(vz_writer *w, const void *data, size_t bytes)
{
    if (!w->open || bytes > w->data_left)
        return varcl_fail(VARCL_E_RUNTIME, "%s: more data than the array's shape holds", w->out.path);
    vz_entry *e = &w->e[w->n - 1];
    const uint8_t *p = data;
    for (size_t left = bytes; left;) { /* zlib's crc32 takes a uInt length */
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        e->crc = (uint32_t)crc32(e->crc, p, chunk);
        p += chunk;
        left -= chunk;
    }
    w->data_left -= bytes;
    return put(w, data, bytes);
}

int vz_end(vz_writer *w)
{
    if (!w->open || w->data_left)
        return varcl_fail(VARCL_E_RUNTIME, "%s: array ended %llu bytes short of its shape", w->out.path,
                          (unsigned long long)w->data_left);
    w->open = 0;
    vz_entry *e = &w->e[w->n - 1];
    uint8_t crc[4];
    put32(crc, e->crc);
    /* the CRC at offset 14 of the local header, then back to the end */
    if (fseeko(w->out.fp, (off_t)(e->offset + 14), SEEK_SET) || fwrite(crc, 1, 4, w->out.fp) != 4 ||
        fseeko(w->out.fp, (off_t)w->at, SEEK_SET))
        return werr(w, errno);
    return VARCL_OK;
}

int vz_close(vz_writer *w)
{
    int st = w->open ? varcl_fail(VARCL_E_RUNTIME, "%s: an array was not ended", w->out.path) : VARCL_OK;
    uint64_t cd = w->at;
    for (int i = 0; i < w->n && !st; i++) {
        const vz_entry *e = &w->e[i];
        size_t nl = strlen(e->name);
        uint8_t ch[46 + VZ_NAME_MAX + 5 + 28];
        memset(ch, 0, sizeof ch);
        put32(ch, 0x02014b50);
        put16(ch + 4, (3u << 8) | VZ_VERSION); /* made by: unix */
        put16(ch + 6, VZ_VERSION);
        put16(ch + 14, VZ_DOS_DATE);
        put32(ch + 16, e->crc);
        put32(ch + 20, 0xFFFFFFFFu);
        put32(ch + 24, 0xFFFFFFFFu);
        put16(ch + 28, (unsigned)nl);
        put16(ch + 30, 28);
        put32(ch + 38, 0100644u << 16); /* external attributes: a regular file, rw-r--r-- */
        put32(ch + 42, 0xFFFFFFFFu);
        memcpy(ch + 46, e->name, nl);
        put16(ch + 46 + nl, 0x0001);
        put16(ch + 48 + nl, 24);
        put64(ch + 50 + nl, e->size);
        put64(ch + 58 + nl, e->size);
        put64(ch + 66 + nl, e->offset);
        st = put(w, ch, 46 + nl + 28);
    }
    uint64_t cd_size = w->at - cd, z64 = w->at;
    uint8_t end[56 + 20 + 22];
    memset(end, 0, sizeof end);
    put32(end, 0x06064b50); /* zip64 end of central directory record */
    put64(end + 4, 44);
    put16(end + 12, (3u << 8) | VZ_VERSION);
    put16(end + 14, VZ_VERSION);
    put64(end + 24, (uint64_t)w->n);
    put64(end + 32, (uint64_t)w->n);
    put64(end + 40, cd_size);
    put64(end + 48, cd);
    put32(end + 56, 0x07064b50); /* its locator */
    put64(end + 64, z64);
    put32(end + 72, 1);
    put32(end + 76, 0x06054b50); /* end of central directory record */
    put16(end + 84, (unsigned)w->n);
    put16(end + 86, (unsigned)w->n);
    put32(end + 88, cd_size > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)cd_size);
    put32(end + 92, cd > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)cd);
    if (!st) st = put(w, end, sizeof end);
    if (!st) st = vo_commit(&w->out); /* a full disk may only show at flush or close */
    vz_abort(w);
    return st;
}

void vz_abort(vz_writer *w)
{
    if (!w) return;
    vo_abort(&w->out);
    free(w);
}
