/* job: the layout, shards and manifest of a vgen --per-class job (see job.h). */
#include "job.h"

#include "config.h"
#include "error.h"
#include "image.h"
#include "outfile.h"
#include "tensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define JOB_FORMAT "varcl vgen --per-class job 1"

static int digits(int64_t v)
{
    int d = 1;
    while (v >= 10) v /= 10, d++;
    return d;
}

int job_layout_init(job_layout *j, const int *classes, int n_classes, int model_classes, int per_class)
{
    memset(j, 0, sizeof *j);
    if (per_class < 1) return varcl_fail(VARCL_E_INPUT, "--per-class must be >= 1");
    int n = classes ? n_classes : model_classes;
    if (n < 1) return varcl_fail(VARCL_E_INPUT, "no classes given");
    if (!(j->classes = malloc((size_t)n * sizeof *j->classes)))
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory for %d classes", n);
    /* seen: one byte per model class, to refuse a class listed twice (its files would collide) */
    unsigned char *seen = calloc((size_t)(model_classes > 0 ? model_classes : 1), 1);
    if (!seen) {
        job_layout_free(j);
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory for %d classes", model_classes);
    }
    for (int i = 0; i < n; i++) {
        int c = classes ? classes[i] : i;
        if (c < 0 || c >= model_classes) {
            free(seen);
            job_layout_free(j);
            return varcl_fail(VARCL_E_INPUT, "class %d out of range: the model has classes 0..%d", c, model_classes - 1);
        }
        if (seen[c]++) {
            free(seen);
            job_layout_free(j);
            return varcl_fail(VARCL_E_INPUT, "class %d is listed twice in --class (each class's images are its N)", c);
        }
        j->classes[i] = c;
    }
    free(seen);
    j->n_classes = n;
    j->per_class = per_class;
    j->total = (int64_t)n * per_class;
    if (j->total > (int64_t)UINT32_MAX + 1) {
        int64_t t = j->total;
        job_layout_free(j);
        return varcl_fail(VARCL_E_INPUT, "a job of %lld images is more than the 2^32 that the random streams count",
                          (long long)t);
    }
    /* at least 4 and 5 digits (class0207_00049.png), more when the model or N needs them */
    j->class_digits = digits(model_classes - 1) > 4 ? digits(model_classes - 1) : 4;
    j->index_digits = digits(per_class - 1) > 5 ? digits(per_class - 1) : 5;
    return VARCL_OK;
}

void job_layout_free(job_layout *j)
{
    free(j->classes);
    memset(j, 0, sizeof *j);
}

int job_image_class(const job_layout *j, int64_t g) { return j->classes[g / j->per_class]; }

void job_image_name(const job_layout *j, int64_t g, char *out, int cap)
{
    snprintf(out, (size_t)cap, "class%0*d_%0*lld.png", j->class_digits, job_image_class(j, g), j->index_digits,
             (long long)(g % j->per_class));
}

typedef struct {
    int cls, pos;
} class_pos;

static int class_pos_cmp(const void *a, const void *b)
{
    const class_pos *x = a, *y = b;
    return (x->cls > y->cls) - (x->cls < y->cls);
}

/* The job's classes sorted with their positions, for image_of_name (malloc'd; NULL when memory runs out). */
static class_pos *class_table(const job_layout *j)
{
    class_pos *cp = malloc((size_t)j->n_classes * sizeof *cp);
    if (!cp) return NULL;
    for (int i = 0; i < j->n_classes; i++) cp[i] = (class_pos){j->classes[i], i};
    qsort(cp, (size_t)j->n_classes, sizeof *cp, class_pos_cmp);
    return cp;
}

/* The image g that file name `name` holds (exactly as job_image_name spells it), or -1 when it is not one of the
 * job's images. cp: class_table(j). */
static int64_t image_of_name(const job_layout *j, const class_pos *cp, const char *name)
{
    int c, tail = 0;
    long long k;
    if (sscanf(name, "class%d_%lld.png%n", &c, &k, &tail) != 2 || name[tail] || k < 0 || k >= j->per_class) return -1;
    class_pos key = {c, 0}, *hit = bsearch(&key, cp, (size_t)j->n_classes, sizeof *cp, class_pos_cmp);
    if (!hit) return -1;
    int64_t g = (int64_t)hit->pos * j->per_class + k;
    char spelled[64];
    job_image_name(j, g, spelled, sizeof spelled);
    return strcmp(spelled, name) ? -1 : g; /* "class5_0.png" or "class+0005_..." are not the job's */
}

static int g_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int job_remove_stale(const char *dir, const job_layout *j, int64_t first, int64_t end)
{
    class_pos *cp = class_table(j);
    DIR *d = cp ? opendir(dir) : NULL;
    if (!d) {
        free(cp);
        return 0;
    }
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        /* vimg_write_png's temporaries: ".<image name>.<pid>.<n>.tmp" */
        int name_end = 0, tail = 0;
        long long pid;
        unsigned n;
        if (sscanf(e->d_name, ".%*[^.].png%n.%lld.%u.tmp%n", &name_end, &pid, &n, &tail) != 2 || e->d_name[tail] ||
            name_end > 64)
            continue;
        char name[64], want[300];
        snprintf(name, sizeof name, "%.*s", name_end - 1, e->d_name + 1);
        int64_t g = image_of_name(j, cp, name);
        if (g < first || g >= end) continue; /* -1: not the job's; else another slice's, which may be writing it */
        snprintf(want, sizeof want, ".%s.%lld.%u.tmp", name, pid, n);
        if (!strcmp(want, e->d_name) && unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
    }
    closedir(d);
    free(cp);
    return removed;
}

int job_scan_done(const char *dir, const job_layout *j, int64_t first, int64_t end, int64_t **done, int64_t *n_done,
                  int64_t *damaged)
{
    *done = NULL;
    *n_done = *damaged = 0;
    class_pos *cp = class_table(j);
    if (!cp) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    DIR *d = opendir(dir);
    if (!d) {
        int err = errno;
        free(cp);
        return varcl_fail(VARCL_E_INPUT, "%s: cannot list the folder: %s", dir, strerror(err));
    }
    int64_t *list = NULL, n = 0, cap = 0;
    int st = VARCL_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        int64_t g = image_of_name(j, cp, e->d_name);
        if (g < first || g >= end) continue; /* -1: not the job's image; else another slice's */
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!vimg_png_complete(path)) {
            struct stat sb; /* a folder cannot be replaced by the image: refused now, not after the work */
            if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
                st = varcl_fail(VARCL_E_INPUT, "%s: a folder where the job's image belongs: move it away", path);
                break;
            }
            (*damaged)++;
            continue;
        }
        if (n == cap) {
            int64_t *grown = realloc(list, (size_t)(cap = cap ? 2 * cap : 1024) * sizeof *list);
            if (!grown) {
                st = varcl_fail(VARCL_E_RUNTIME, "out of host memory for the list of images in %s", dir);
                break;
            }
            list = grown;
        }
        list[n++] = g;
    }
    closedir(d);
    free(cp);
    if (st) {
        free(list);
        *damaged = 0;
        return st;
    }
    if (n > 1) qsort(list, (size_t)n, sizeof *list, g_cmp);
    *done = list;
    *n_done = n;
    return VARCL_OK;
}

/* ---- shards ---- */

/* A non-negative decimal environment variable: 1 and its value, 0 when unset, -1 (error recorded) when malformed. */
static int env_int(const char *name, long long *v)
{
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    int x;
    if (vcfg_parse_int(s, 0, INT_MAX, &x)) { /* digits only, as every number varcl reads (config.h) */
        varcl_fail(VARCL_E_INPUT, "--shard env: %s=%s is not a non-negative number", name, varcl_shown(s));
        return -1;
    }
    *v = x;
    return 1;
}

int job_shard_parse(const char *spec, job_shard *s)
{
    memset(s, 0, sizeof *s);
    const char *slash = strchr(spec, '/');
    int from_env = !strncmp(spec, "env", 3) && (spec[3] == 0 || spec[3] == '/');
    long long count = -1;
    if (slash) {
        int n;
        if (vcfg_parse_int(slash + 1, 1, INT_MAX, &n))
            return varcl_fail(VARCL_E_INPUT, "--shard %s: N must be a whole number from 1 to 2147483647 (I/N, env/N or env)", spec);
        count = n;
    }
    if (!from_env) {
        char head[32];
        int i = -1;
        if (slash && slash - spec < (long)sizeof head) snprintf(head, sizeof head, "%.*s", (int)(slash - spec), spec);
        if (!slash || slash - spec >= (long)sizeof head || vcfg_parse_int(head, 0, INT_MAX, &i))
            return varcl_fail(VARCL_E_INPUT,
                              "--shard %s: expected I/N (shard I of N, from 0), env/N or env (I, and N, from the job "
                              "runner's environment)",
                              spec);
        if (i >= count)
            return varcl_fail(VARCL_E_INPUT, "--shard %s: I must be in 0..%lld (shards count from 0)", spec,
                              count - 1);
        s->index = (int)i;
        s->count = (int)count;
        snprintf(s->from, sizeof s->from, "--shard");
        return VARCL_OK;
    }
    /* the job runners' variables: exactly one runner must be found, so that a stray variable cannot pick a shard */
    long long id = 0, min = 0, step = 1, n_env = -1, k8s = 0, seq = 0;
    int slurm = env_int("SLURM_ARRAY_TASK_ID", &id), kube = env_int("JOB_COMPLETION_INDEX", &k8s),
        par = env_int("PARALLEL_SEQ", &seq);
    if (slurm < 0 || kube < 0 || par < 0) return VARCL_E_INPUT;
    if (slurm + kube + par > 1)
        return varcl_fail(VARCL_E_INPUT,
                          "--shard %s: more than one job runner's index is set (%s%s%s): give the shard as I/N", spec,
                          slurm ? "SLURM_ARRAY_TASK_ID " : "", kube ? "JOB_COMPLETION_INDEX " : "",
                          par ? "PARALLEL_SEQ" : "");
    if (slurm + kube + par == 0)
        return varcl_fail(VARCL_E_INPUT,
                          "--shard %s: none of SLURM_ARRAY_TASK_ID (Slurm array job), JOB_COMPLETION_INDEX (Kubernetes "
                          "indexed Job) or PARALLEL_SEQ (GNU parallel) is set",
                          spec);
    long long index;
    if (slurm) {
        if (env_int("SLURM_ARRAY_TASK_MIN", &min) < 0 || env_int("SLURM_ARRAY_TASK_STEP", &step) < 0 ||
            env_int("SLURM_ARRAY_TASK_COUNT", &n_env) < 0)
            return VARCL_E_INPUT;
        if (step < 1) step = 1;
        if (id < min || (id - min) % step)
            return varcl_fail(VARCL_E_INPUT, "--shard %s: SLURM_ARRAY_TASK_ID=%lld is not on the array's grid (min %lld, "
                              "step %lld)", spec, id, min, step);
        index = (id - min) / step;
        snprintf(s->from, sizeof s->from, "SLURM_ARRAY_TASK_ID");
    } else if (kube) {
        index = k8s;
        snprintf(s->from, sizeof s->from, "JOB_COMPLETION_INDEX");
    } else {
        if (seq < 1) return varcl_fail(VARCL_E_INPUT, "--shard %s: PARALLEL_SEQ=0 (GNU parallel counts from 1)", spec);
        index = seq - 1;
        snprintf(s->from, sizeof s->from, "PARALLEL_SEQ");
    }
    if (count < 0) {
        if (n_env < 1)
            return varcl_fail(VARCL_E_INPUT, "--shard env: the number of shards is not in the environment (only Slurm's "
                              "SLURM_ARRAY_TASK_COUNT gives it): use --shard env/N");
        count = n_env;
    } else if (n_env >= 1 && n_env != count) {
        return varcl_fail(VARCL_E_INPUT, "--shard %s: the Slurm array has %lld tasks (SLURM_ARRAY_TASK_COUNT), not %lld",
                          spec, n_env, count);
    }
    if (index >= count)
        return varcl_fail(VARCL_E_INPUT, "--shard %s: %s gives shard %lld, but there are %lld shards (0..%lld)", spec,
                          s->from, index, count, count - 1);
    s->index = (int)index;
    s->count = (int)count;
    return VARCL_OK;
}

void job_shard_slice(const job_layout *j, const job_shard *s, int64_t *first, int64_t *end)
{
    int count = s->count > 0 ? s->count : 1;
    /* total < 2^33 and count < 2^31: the products fit in 64 bits */
    *first = j->total * s->index / count;
    *end = j->total * (s->index + 1) / count;
}

/* ---- manifest ---- */

int job_file_crc32(const char *path, char hex[9], uint64_t *bytes)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return varcl_fail(VARCL_E_INPUT, "%s: cannot read: %s", path, strerror(errno));
    enum { PIECE = 1 << 20 };
    unsigned char *buf = malloc(PIECE);
    if (!buf) {
        close(fd);
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf, PIECE)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) crc = crc32(crc, buf, (uInt)r), n += (uint64_t)r;
    int err = r < 0 ? errno : 0;
    free(buf);
    close(fd);
    if (err) return varcl_fail(VARCL_E_INPUT, "%s: cannot read: %s", path, strerror(err));
    snprintf(hex, 9, "%08lx", (unsigned long)crc);
    *bytes = n;
    return VARCL_OK;
}

int job_set_crc32(const vt_set *set, char hex[9], uint64_t *bytes)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t n = 0;
    for (int i = 0; i < vt_count(set); i++) {
        const vt_tensor *t = vt_at(set, i);
        const char *dt = vt_dtype_name(t->dtype);
        uint64_t b = ((uint64_t)t->numel * (uint64_t)vt_dtype_bits(t->dtype) + 7) / 8;
        crc = crc32(crc, (const Bytef *)t->name, (uInt)strlen(t->name) + 1);
        crc = crc32(crc, (const Bytef *)dt, (uInt)strlen(dt) + 1);
        for (int d = 0; d < t->ndim; d++) {
            unsigned char le[8];
            for (int k = 0; k < 8; k++) le[k] = (unsigned char)((uint64_t)t->shape[d] >> (8 * k));
            crc = crc32(crc, le, 8);
        }
        int st = vt_read_pages(set, t);
        if (st) return st;
        for (uint64_t at = 0; at < b;) {
            uInt piece = b - at > (1u << 30) ? (1u << 30) : (uInt)(b - at);
            crc = crc32(crc, (const Bytef *)t->data + at, piece);
            at += piece;
        }
        vt_release_pages(set, t);
        n += b;
    }
    snprintf(hex, 9, "%08lx", (unsigned long)crc);
    *bytes = n;
    return VARCL_OK;
}

static json_t *int_array(const int *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

json_t *job_manifest(const job_layout *j, const job_settings *s)
{
    char names[64];
    snprintf(names, sizeof names, "class{class:0%d}_{index:0%d}.png", j->class_digits, j->index_digits);
    /* a seed above the JSON integers that every reader keeps exactly (2^53) is written as a string */
    json_t *seed = s->seed <= (1ull << 53) ? json_integer((json_int_t)s->seed) : NULL;
    if (!seed) {
        char d[24];
        snprintf(d, sizeof d, "%llu", (unsigned long long)s->seed);
        seed = json_string(d);
    }
    json_t *m = json_pack("{s:s, s:{s:s, s:{s:s, s:I}, s:{s:s, s:I}}, s:i, s:o, s:i, s:I, s:s, "
                          "s:{s:o, s:f, s:i, s:f}, s:{s:i, s:i, s:i, s:o}, s:{s:s, s:s}}",
                          "format", JOB_FORMAT,
                          "model", "name", s->model, "var", "crc32", s->var_crc32, "bytes", (json_int_t)s->var_bytes,
                          "vae", "crc32", s->vae_crc32, "bytes", (json_int_t)s->vae_bytes,
                          "image_size", s->image_size,
                          "classes", int_array(j->classes, j->n_classes),
                          "per_class", j->per_class,
                          "images", (json_int_t)j->total,
                          "names", names,
                          "sampling", "seed", seed, "cfg", s->cfg, "top_k", s->top_k, "top_p", s->top_p,
                          "plan", "model_depth", s->model_depth, "depth", s->depth, "full_scales", s->full_scales,
                          "late_layers", int_array(s->layers, s->n_layers),
                          "numerics", "weights", s->weights, "kv_dtype", s->kv_dtype);
    if (!m) varcl_fail(VARCL_E_RUNTIME, "out of host memory for the job manifest");
    return m;
}

/* The first place where a and b differ, as a dotted path into `path`, and both values (compact JSON). */
static int first_difference(const json_t *a, const json_t *b, char *path, size_t cap, char **va, char **vb)
{
    if (json_equal((json_t *)a, (json_t *)b)) return 0;
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)a, key, x) {
            json_t *y = json_object_get(b, key);
            size_t l = strlen(path);
            snprintf(path + l, cap - l, "%s%s", l ? "." : "", key);
            if (!y) {
                *va = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
                *vb = strdup("(missing)");
                return 1;
            }
            if (first_difference(x, y, path, cap, va, vb)) return 1;
            path[l] = 0;
        }
        json_object_foreach((json_t *)b, key, x) if (!json_object_get(a, key)) {
            size_t l = strlen(path);
            snprintf(path + l, cap - l, "%s%s", l ? "." : "", key);
            *va = strdup("(missing)");
            *vb = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            return 1;
        }
    }
    *va = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
    *vb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    return 1;
}

/* A value shown in an error line: cut to a readable length (a class list can hold 1000 numbers). */
static const char *shorten(char *s)
{
    if (!s) return "?";
    if (strlen(s) > 80) strcpy(s + 72, "...");
    return s;
}

/* The manifest file, which must be a regular file: a folder of that name is said to be one (jansson would say "'['
 * or '{' expected"), and a FIFO would block the read forever. NULL with e->text on failure. */
static json_t *load_manifest(const char *path, json_error_t *e)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        snprintf(e->text, sizeof e->text, "%s", S_ISDIR(sb.st_mode) ? "it is a folder, not a file" : "not a regular file");
        e->line = 0;
        return NULL;
    }
    return json_load_file(path, 0, e);
}

int job_manifest_claim(const char *dir, const json_t *m)
{
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/%s", dir, JOB_MANIFEST) < 0) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    if (asprintf(&tmp, "%s/.%s.%ld.tmp", dir, JOB_MANIFEST, (long)getpid()) < 0) {
        free(path);
        return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    }
    int st = VARCL_OK;
    if (access(path, F_OK) != 0) {
        /* write a temporary file, then link it to the name: link fails if another process got there first (link,
         * not vo_commit's rename, which would replace the winner's); tracked like vo_open's (outfile.h) */
        int track = vo_track(tmp);
        if (json_dump_file(m, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            st = varcl_fail(VARCL_E_RUNTIME, "%s: cannot write the job manifest", path);
        else if (link(tmp, path) != 0 && errno != EEXIST)
            st = varcl_fail(VARCL_E_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        vo_untrack(track);
    }
    if (!st) {
        json_error_t e;
        json_t *have = load_manifest(path, &e);
        char where[256] = "", *va = NULL, *vb = NULL;
        if (!have)
            st = e.line > 0 ? varcl_fail(VARCL_E_INPUT,
                                         "%s: not a job manifest (%s, line %d): move it away or use another folder",
                                         path, e.text, e.line)
                            : varcl_fail(VARCL_E_INPUT,
                                         "%s: not a job manifest (%s): move it away or use another folder", path,
                                         e.text);
        else if (first_difference(have, m, where, sizeof where, &va, &vb))
            st = varcl_fail(VARCL_E_INPUT,
                            "%s holds another job: %s is %s there but %s here; rerun with the job's settings or use "
                            "another --out-dir",
                            dir, where, shorten(va), shorten(vb));
        free(va);
        free(vb);
        json_decref(have);
    }
    free(path);
    free(tmp);
    return st;
}

int job_manifest_read(const char *dir, job_layout *j, int *image_size)
{
    memset(j, 0, sizeof *j);
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, JOB_MANIFEST) < 0) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    json_error_t e;
    json_t *m = load_manifest(path, &e), *classes = NULL;
    const char *format = NULL;
    json_int_t per_class = 0, size = 0; /* "I", not "i": jansson's "i" casts to int without a range check */
    int st;
    if (!m) {
        st = varcl_fail(VARCL_E_INPUT, "%s: cannot read the job manifest: %s", path, e.text);
    } else if (json_unpack(m, "{s:s, s:o, s:I, s:I}", "format", &format, "classes", &classes, "per_class", &per_class,
                           "image_size", &size) ||
               strcmp(format, JOB_FORMAT) || !json_is_array(classes) || json_array_size(classes) < 1 ||
               json_array_size(classes) > INT_MAX) {
        st = varcl_fail(VARCL_E_INPUT, "%s: not a vgen job manifest (format, classes, per_class, image_size)", path);
    } else if (size < 1 || size > 65536) {
        st = varcl_fail(VARCL_E_INPUT, "%s: image_size %lld is out of range (1..65536)", path, (long long)size);
    } else if (per_class < 1 || per_class > INT_MAX) {
        st = varcl_fail(VARCL_E_INPUT, "%s: per_class %lld is out of range (1..2147483647)", path,
                        (long long)per_class);
    } else {
        int n = (int)json_array_size(classes), *c = malloc((size_t)n * sizeof *c), max = 0;
        st = c ? VARCL_OK : varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        for (int i = 0; i < n && !st; i++) {
            json_t *x = json_array_get(classes, (size_t)i);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= INT_MAX)
                st = varcl_fail(VARCL_E_INPUT, "%s: classes[%d] is not a class id", path, i);
            else if ((c[i] = (int)json_integer_value(x)) > max)
                max = c[i];
        }
        /* the names' padding came from the model's class count, which the manifest does not hold: it is
         * recovered from the "names" pattern */
        const char *names = json_string_value(json_object_get(m, "names"));
        int cd = 0, id = 0;
        char again[64] = "";
        if (!st && names && sscanf(names, "class{class:0%d}_{index:0%d}.png", &cd, &id) == 2)
            snprintf(again, sizeof again, "class{class:0%d}_{index:0%d}.png", cd, id);
        /* written back and compared whole: sscanf alone would take any text after the last number ("...jpg") */
        if (!st && (!names || strcmp(again, names) || cd < 1 || id < 1 || cd > 10 || id > 10))
            st = varcl_fail(VARCL_E_INPUT, "%s: \"names\" is not a vgen name pattern", path);
        /* the count the job was made for: an edited per_class or class list would pack another set of images
         * (per_class 3 -> 2 packed 4 of 6 without a word) */
        json_t *images = json_object_get(m, "images");
        if (!st && (!json_is_integer(images) || json_integer_value(images) != (json_int_t)n * per_class))
            st = varcl_fail(VARCL_E_INPUT, "%s: \"images\" is not %d classes x per_class %lld = %lld: the manifest "
                            "was edited", path, n, (long long)per_class, (long long)n * per_class);
        if (!st && (st = job_layout_init(j, c, n, max + 1, (int)per_class))) {
            char why[256];
            snprintf(why, sizeof why, "%s", varcl_last_error());
            const int cut = strstr(why, " in --class") ? (int)(strstr(why, " in --class") - why) : (int)strlen(why);
            st = varcl_fail(st, "%s: %.*s in \"classes\"", path, cut, why); /* not a --class the user gave */
        }
        if (!st) {
            j->class_digits = cd;
            j->index_digits = id;
            *image_size = size;
        }
        free(c);
    }
    json_decref(m);
    free(path);
    return st;
}
