/* wcache: the weight cache (see wcache.h). */
#include "wcache.h"

#include "cachefile.h"
#include "error.h"
#include "outfile.h"
#include "runtime.h"
#include "team.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define WC_MAGIC "varcl-weights"
#define WC_VERSION 1
#define WC_TRAILER 64 /* "varcl-weights-end <offset 20> <length 12> <crc 8>", padded with spaces, '\n' */
#define WC_MAX_INDEX (64u << 20)
#define WC_TMP_STALE_S 3600 /* temporaries older than this are left by a killed process: removed */
#define WC_TMP_GRACE_S 5     /* an unlocked temporary this old has lost its writer (a writer locks it at once) */

typedef struct {
    char *name;
    int layout, packed, store;
    long long numel;
    size_t off, bytes;
    uint32_t crc;
} entry;

typedef struct {
    void *p;
    size_t len;
} mapping;

struct wc_cache {
    int writing;     /* 1: a new file under tmp; 0: path is mapped for reading */
    char path[1024], tmp[1100];
    int track; /* vo_track's slot for tmp: removed if a signal stops the tool (outfile.h) */
    char key[512];
    int fd;
    size_t page;
    int threads;
    entry *e;
    int n, cap;
    int next;        /* reading: where the next lookup starts (tensors come in the order they were written) */
    int stale;       /* reading: a tensor was not held: the file is removed at wc_finish */
    int stopped;     /* writing: the file cannot grow or hold a tensor: dropped at wc_finish */
    char why[200];   /* why the file is not kept (stale, stopped, or wc_finish's failure), for wc_why */
    size_t end;      /* writing: bytes of tensor data so far (a multiple of page) */
    size_t pending;  /* writing: offset of the last wc_reserve */
    mapping *maps;   /* writing: one per tensor; reading: maps[0] is the whole file */
    int n_maps, cap_maps;
};

/* ---- crc32 of several regions on the host threads ---- */

typedef struct {
    const uint8_t *const *p;
    const size_t *len;
    int n;
    size_t total;
    uint32_t *part; /* [n][threads]: crc of the piece of region i thread t took (0 bytes: crc32 of nothing) */
    size_t *part_len;
    int threads;
} crc_job;

static void crc_work(void *arg, int id, int nt)
{
    crc_job *j = arg;
    size_t lo = j->total * (size_t)id / (size_t)nt, hi = j->total * (size_t)(id + 1) / (size_t)nt, at = 0;
    for (int i = 0; i < j->n; at += j->len[i], i++) {
        size_t a = lo > at ? lo : at, b = hi < at + j->len[i] ? hi : at + j->len[i];
        size_t k = (size_t)i * (size_t)j->threads + (size_t)id;
        j->part[k] = (uint32_t)crc32(0L, Z_NULL, 0);
        j->part_len[k] = 0;
        if (b <= a) continue;
        j->part[k] = (uint32_t)crc32_z(j->part[k], j->p[i] + (a - at), b - a);
        j->part_len[k] = b - a;
    }
}

/* crc[i] = crc32 of len[i] bytes at p[i], for i < n, on up to `threads` threads (one piece of the whole each).
 * 0, or -1 when out of host memory. */
static int crc_regions(const uint8_t *const *p, const size_t *len, int n, int threads, uint32_t *crc)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) total += len[i];
    int nt = threads < 1 ? 1 : threads;
    if ((size_t)nt > total / (1u << 20) + 1) nt = (int)(total / (1u << 20)) + 1; /* a thread per MiB at least */
    crc_job j = {p, len, n, total, calloc((size_t)n * (size_t)nt, sizeof(uint32_t)),
                 calloc((size_t)n * (size_t)nt, sizeof(size_t)), nt};
    if (!j.part || !j.part_len) {
        free(j.part);
        free(j.part_len);
        return -1;
    }
    ht_run(nt, crc_work, &j);
    for (int i = 0; i < n; i++) {
        uLong c = crc32(0L, Z_NULL, 0);
        for (int t = 0; t < nt; t++) {
            size_t k = (size_t)i * (size_t)nt + (size_t)t;
            if (j.part_len[k]) c = crc32_combine(c, j.part[k], (z_off_t)j.part_len[k]);
        }
        crc[i] = (uint32_t)c;
    }
    free(j.part);
    free(j.part_len);
    return 0;
}

/* ---- the file ---- */


static int add_entry(wc_cache *c, const entry *e)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        entry *ne = realloc(c->e, (size_t)cap * sizeof *ne);
        if (!ne) return -1;
        c->e = ne;
        c->cap = cap;
    }
    c->e[c->n] = *e;
    if (!(c->e[c->n].name = strdup(e->name))) return -1;
    c->n++;
    return 0;
}

static int add_mapping(wc_cache *c, void *p, size_t len)
{
    if (c->n_maps == c->cap_maps) {
        int cap = c->cap_maps ? 2 * c->cap_maps : 256;
        mapping *nm = realloc(c->maps, (size_t)cap * sizeof *nm);
        if (!nm) return -1;
        c->maps = nm;
        c->cap_maps = cap;
    }
    c->maps[c->n_maps++] = (mapping){p, len};
    return 0;
}

static void drop_entries(wc_cache *c)
{
    for (int i = 0; i < c->n; i++) free(c->e[i].name);
    c->n = 0;
}

/* Maps `path` and checks trailer, index, key and every tensor's crc32. 1: valid (c->maps[0], c->e filled);
 * 0: absent; -1: present but not valid (the caller removes it). */
static int read_file(wc_cache *c)
{
    int fd = open(c->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO under the name would block a plain open */
    if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -1; /* unreadable: replaced, where it can be */
    struct stat sb;
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > WC_TRAILER;
    size_t size = ok ? (size_t)sb.st_size : 0;
    /* the trailer first: a file that is no cache file is refused before its pages are mapped in (a 2 GB file of
     * garbage cost 3.6 s of MAP_POPULATE) */
    char trailer[WC_TRAILER + 1], *index = NULL;
    ok = ok && pread(fd, trailer, WC_TRAILER, (off_t)(size - WC_TRAILER)) == WC_TRAILER &&
         !strncmp(trailer, WC_MAGIC "-end ", strlen(WC_MAGIC "-end "));
    uint8_t *map = ok ? mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED) return -1;
    memcpy(trailer, map + size - WC_TRAILER, WC_TRAILER); /* what is mapped is what is checked */
    trailer[WC_TRAILER] = 0;
    unsigned long long ioff = 0, ilen = 0;
    unsigned icrc = 0;
    int used = 0;
    ok = sscanf(trailer, WC_MAGIC "-end %20llu %12llu %8x%n", &ioff, &ilen, &icrc, &used) == 3 &&
         ilen <= WC_MAX_INDEX && ioff <= size - WC_TRAILER && ilen == size - WC_TRAILER - ioff && /* no wrap */
         ioff % c->page == 0;
    ok = ok && (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), map + ioff, (size_t)ilen) == icrc;
    ok = ok && (index = malloc((size_t)ilen + 1)) != NULL;
    if (ok) {
        memcpy(index, map + ioff, (size_t)ilen);
        index[ilen] = 0;
        char *save = NULL, *line = strtok_r(index, "\n", &save);
        char head[64];
        snprintf(head, sizeof head, WC_MAGIC " %d", WC_VERSION);
        ok = line && !strcmp(line, head);
        line = ok ? strtok_r(NULL, "\n", &save) : NULL;
        ok = ok && line && !strncmp(line, "key ", 4) && !strcmp(line + 4, c->key);
        while (ok && (line = strtok_r(NULL, "\n", &save))) {
            char name[512];
            entry e = {name, 0, 0, 0, 0, 0, 0, 0};
            unsigned long long off = 0, bytes = 0;
            unsigned crc = 0;
            ok = sscanf(line, "t %511s %d %d %d %lld %llu %llu %8x", name, &e.layout, &e.packed, &e.store, &e.numel,
                        &off, &bytes, &crc) == 8 &&
                 off % c->page == 0 && off <= ioff && bytes <= ioff - off &&
                 (c->n == 0 || off >= c->e[c->n - 1].off + c->e[c->n - 1].bytes); /* in order, none overlapping */
            e.off = (size_t)off;
            e.bytes = (size_t)bytes;
            e.crc = crc;
            ok = ok && add_entry(c, &e) == 0;
        }
    }
    free(index);
    if (ok) {
        const uint8_t **p = malloc((size_t)c->n * sizeof *p + 1);
        size_t *len = malloc((size_t)c->n * sizeof *len + 1);
        uint32_t *crc = malloc((size_t)c->n * sizeof *crc + 1);
        ok = p && len && crc;
        for (int i = 0; ok && i < c->n; i++) {
            p[i] = map + c->e[i].off;
            len[i] = c->e[i].bytes;
        }
        ok = ok && crc_regions(p, len, c->n, c->threads, crc) == 0;
        for (int i = 0; ok && i < c->n; i++) ok = crc[i] == c->e[i].crc;
        free(p);
        free(len);
        free(crc);
    }
    if (!ok || add_mapping(c, map, size)) {
        munmap(map, size);
        drop_entries(c);
        return -1;
    }
    utimensat(AT_FDCWD, c->path, NULL, 0); /* used now: the last to be evicted */
    return 1;
}

typedef struct {
    char path[1300];
    struct timespec mtime;
} old_file;

static int by_mtime(const void *a, const void *b)
{
    const struct timespec *x = &((const old_file *)a)->mtime, *y = &((const old_file *)b)->mtime;
    return x->tv_sec != y->tv_sec ? (x->tv_sec < y->tv_sec ? -1 : 1)
                                  : (x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec);
}

/* Removes the least recently used weight files beyond WC_KEEP - 1 (room for the one about to be written), and
 * temporaries a killed process left. Races with other processes are harmless (a file already gone is skipped;
 * one in use stays mapped there until it is unmapped). */
/* 1: a file name wc_open makes, "weights-<16 hex digits>.bin"; 2: its temporary (".tmp" and mkstemp's 6
 * characters after it); 0: another file, never removed (the directory may hold the user's own weights-*.bin). */
static int our_name(const char *name)
{
    if (strncmp(name, "weights-", 8)) return 0;
    for (int i = 8; i < 24; i++)
        if (!strchr("0123456789abcdef", name[i]) || !name[i]) return 0;
    if (strncmp(name + 24, ".bin", 4)) return 0;
    if (!name[28]) return 1;
    return !strncmp(name + 28, ".tmp", 4) && strlen(name + 32) == 6 ? 2 : 0;
}

static void evict(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d) return;
    old_file *f = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        int ours = our_name(de->d_name);
        if (!ours) continue;
        char p[1300];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (ours == 2) {
            /* its writer holds it locked while it lives: a temporary that can be locked was left by a killed
             * process (Ctrl-C during a first load), and would hold up to a checkpoint's bytes for the hour */
            int fd = now - sb.st_mtime > WC_TMP_GRACE_S ? open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : -1;
            int orphan = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
            if (fd >= 0) close(fd);
            if (orphan || now - sb.st_mtime > WC_TMP_STALE_S) unlink(p);
            continue;
        }
        if (!strcmp(p, keep)) continue;
        if (n == cap) {
            old_file *nf = realloc(f, (size_t)(cap = cap ? 2 * cap : 8) * sizeof *nf);
            if (!nf) break;
            f = nf;
        }
        snprintf(f[n].path, sizeof f[n].path, "%s", p);
        f[n++].mtime = sb.st_mtim;
    }
    closedir(d);
    if (n > 1) qsort(f, (size_t)n, sizeof *f, by_mtime); /* f is NULL when n is 0, which qsort may not take */
    for (int i = 0; i + (WC_KEEP - 1) < n; i++) unlink(f[i].path);
    free(f);
}

wc_cache *wc_open(const vt_set *s, const char *signature, int threads, char *why, size_t why_len)
{
    char dir[VR_CACHE_DIR_MAX + 1];
    why[0] = 0;
    if (!vt_identity(s)[0]) {
        snprintf(why, why_len, "not read from a file");
        return NULL;
    }
    if (vr_cache_dir(dir, sizeof dir)) {
        snprintf(why, why_len, "the cache directory's path is over %d bytes", VR_CACHE_DIR_MAX);
        return NULL;
    }
    if (!dir[0]) {
        const char *e = getenv("VARCL_CACHE_DIR");
        snprintf(why, why_len, "%s", e && !strcmp(e, "off") ? "VARCL_CACHE_DIR=off"
                                     : "no cache directory (HOME is unset or not a folder, XDG_CACHE_HOME's parent missing: set "
                                       "VARCL_CACHE_DIR)");
        return NULL;
    }
    wc_cache *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, why_len, "out of host memory");
        return NULL;
    }
    c->fd = -1;
    c->page = (size_t)sysconf(_SC_PAGESIZE);
    c->threads = threads;
    snprintf(c->key, sizeof c->key, "%s | %s", vt_identity(s), signature);
    for (char *k = c->key; *k; k++)
        if (*k == '\n') *k = ' ';
    uint64_t h = vcf_fnv1a(VCF_FNV_SEED, c->key, strlen(c->key));
    snprintf(c->path, sizeof c->path, "%s/weights-%016" PRIx64 ".bin", dir, h);
    int r = read_file(c);
    if (r == 1) return c;
    /* damaged or for another key with the same hash: written again; what cannot be removed cannot be replaced */
    if (r < 0 && unlink(c->path) != 0 && errno != ENOENT) {
        snprintf(why, why_len, "cannot replace an unreadable or invalid file (%s): %s", strerror(errno), c->path);
        free(c);
        return NULL;
    }

    /* The key holds the file's times: on a file system with whole-second times (ext4 with 128-byte inodes, ext3,
     * FAT, some NFS) a file rewritten within the second of this load would keep the key of what is written now.
     * Such a file is not cached until its change is 2 s old (git's "racy" rule). */
    struct stat cs;
    if (stat(vt_origin(s), &cs) == 0 && cs.st_ctim.tv_nsec == 0 && time(NULL) - cs.st_ctim.tv_sec < 2) {
        snprintf(why, why_len, "the checkpoint changed less than 2 s ago on a file system with whole-second times");
        free(c);
        return NULL;
    }
    vr_mkdirs(dir);
    if (access(dir, W_OK | X_OK) != 0) { /* a read-only mount reads as "0 bytes free" below: the reason named */
        snprintf(why, why_len, "cannot write in %s: %s", dir, strerror(errno));
        free(c);
        return NULL;
    }
    struct statvfs fs;
    unsigned long long want = 2ull * vt_file_bytes(s) + (1ull << 30);
    if (statvfs(dir, &fs) != 0 || (unsigned long long)fs.f_bavail * fs.f_frsize < want) {
        snprintf(why, why_len, "less than %.1f GB free in %s", want / 1e9, dir);
        free(c);
        return NULL;
    }
    evict(dir, c->path);
    snprintf(c->tmp, sizeof c->tmp, "%s.tmpXXXXXX", c->path);
    c->fd = mkstemp(c->tmp);
    if (c->fd >= 0) flock(c->fd, LOCK_EX | LOCK_NB); /* held until wc_close: evict's sign that the writer lives */
    if (c->fd < 0) {
        snprintf(why, why_len, "cannot create a file in %s: %s", dir, strerror(errno));
        free(c);
        return NULL;
    }
    c->writing = 1;
    c->track = vo_track(c->tmp);
    return c;
}

int wc_take(wc_cache *c, vm_pool *p, vm_tag tag, const vt_tensor *t, const wl_form *f, size_t bytes,
            const char *what, cl_mem *out)
{
    *out = NULL;
    if (c->writing || c->stale) return 0;
    for (int k = 0; k < c->n; k++) {
        const entry *e = &c->e[(c->next + k) % c->n];
        if (strcmp(e->name, t->name)) continue;
        if (e->layout != (int)f->layout || e->packed != f->packed || e->store != (int)f->store ||
            e->numel != t->numel || e->bytes != bytes)
            break;
        c->next = (c->next + k + 1) % c->n;
        *out = vm_alloc_in_place(p, tag, bytes, (const uint8_t *)c->maps[0].p + e->off, what);
        return *out ? 0 : -1;
    }
    c->stale = 1; /* this load needs what the file lacks: converted as without a cache, the file written again next */
    snprintf(c->why, sizeof c->why, "the file lacked '%.100s' in this load's form: removed, written at the next load",
             t->name);
    return 0;
}

void *wc_reserve(wc_cache *c, size_t bytes)
{
    if (!c->writing || c->stopped) return NULL;
    size_t len = (bytes + c->page - 1) / c->page * c->page;
    if (!len) len = c->page;
    void *p = MAP_FAILED;
    int err = posix_fallocate(c->fd, (off_t)c->end, (off_t)len); /* an error number, not errno */
    if (!err) {
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, (off_t)c->end);
        err = p == MAP_FAILED ? errno : 0;
    }
    if (p == MAP_FAILED || add_mapping(c, p, len)) {
        if (p != MAP_FAILED) munmap(p, len);
        c->stopped = 1;
        snprintf(c->why, sizeof c->why, "writing stopped at %.1f MB: %s", (double)c->end / 1e6,
                 err ? strerror(err) : "out of host memory");
        return NULL;
    }
    c->pending = c->end;
    c->end += len;
    return p;
}

void wc_keep(wc_cache *c, const vt_tensor *t, const wl_form *f, const void *host, size_t bytes)
{
    if (!c->writing || c->stopped) return;
    const uint8_t *p = host;
    uint32_t crc = 0;
    int plain = strlen(t->name) < 512 && !strpbrk(t->name, " \t\r\n");
    entry e = {t->name, (int)f->layout, f->packed, (int)f->store, (long long)t->numel, c->pending, bytes, 0};
    if (!plain || crc_regions(&p, &bytes, 1, c->threads, &crc) || (e.crc = crc, add_entry(c, &e))) {
        c->stopped = 1; /* a name the index cannot hold, or no memory: this load's file is not kept */
        snprintf(c->why, sizeof c->why, "%s", plain ? "out of host memory" : "a tensor name with spaces");
    }
}

int wc_finish(wc_cache *c, int ok)
{
    if (!c) return WC_NONE;
    if (!c->writing) {
        if (c->stale) unlink(c->path);
        return c->stale ? WC_NONE : WC_HIT;
    }
    int kept = ok && !c->stopped && c->n > 0;
    if (!ok) snprintf(c->why, sizeof c->why, "the load failed");
    else if (!c->stopped && !c->n) snprintf(c->why, sizeof c->why, "no tensor to keep");
    char *index = NULL;
    size_t cap = 0, len = 0;
    FILE *m = kept ? open_memstream(&index, &cap) : NULL;
    if (m) {
        fprintf(m, WC_MAGIC " %d\nkey %s\n", WC_VERSION, c->key);
        for (int i = 0; i < c->n; i++) {
            const entry *e = &c->e[i];
            fprintf(m, "t %s %d %d %d %lld %zu %zu %08" PRIx32 "\n", e->name, e->layout, e->packed, e->store, e->numel,
                    e->off, e->bytes, e->crc);
        }
        kept = fclose(m) == 0 && index;
        len = kept ? strlen(index) : 0;
    } else {
        kept = 0;
    }
    if (!kept && !c->why[0]) snprintf(c->why, sizeof c->why, "out of host memory");
    char trailer[WC_TRAILER + 1];
    if (kept) {
        int w = snprintf(trailer, sizeof trailer, WC_MAGIC "-end %020zu %012zu %08" PRIx32, c->end, len,
                         (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), (const uint8_t *)index, len));
        memset(trailer + w, ' ', (size_t)(WC_TRAILER - w));
        trailer[WC_TRAILER - 1] = '\n';
        kept = len <= WC_MAX_INDEX && pwrite(c->fd, index, len, (off_t)c->end) == (ssize_t)len &&
               pwrite(c->fd, trailer, WC_TRAILER, (off_t)(c->end + len)) == WC_TRAILER &&
               ftruncate(c->fd, (off_t)(c->end + len + WC_TRAILER)) == 0 && rename(c->tmp, c->path) == 0;
        if (!kept) snprintf(c->why, sizeof c->why, "cannot finish the file: %s", strerror(errno));
    }
    free(index);
    if (!kept) unlink(c->tmp);
    vo_untrack(c->track);
    c->track = 0;
    c->tmp[0] = 0;
    return kept ? WC_WRITTEN : WC_NONE;
}

const char *wc_why(const wc_cache *c) { return c && c->why[0] ? c->why : "this load differed"; }

void wc_close(wc_cache *c)
{
    if (!c) return;
    if (c->writing && c->tmp[0]) unlink(c->tmp); /* never finished */
    vo_untrack(c->track);
    for (int i = 0; i < c->n_maps; i++) munmap(c->maps[i].p, c->maps[i].len);
    if (c->fd >= 0) close(c->fd);
    drop_entries(c);
    free(c->e);
    free(c->maps);
    free(c);
}
