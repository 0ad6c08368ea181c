/* outfile: a user's output file written whole or not at all (see outfile.h). */
#include "outfile.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Distinguishes temporary names of concurrent writes from one process (the pid covers other processes). */
static atomic_uint temp_counter;

/* ---- tracked temporaries (outfile.h) ---- */

#define VO_SLOTS 64
enum { SLOT_FREE, SLOT_FILLING, SLOT_SET };
/* A fixed table, not a list: the signal handler must read it without locks or allocation. A name is copied into
 * its slot between FREE and SET, so the handler only ever sees a slot in state SET with a whole name. */
static struct {
    atomic_int state;
    char path[PATH_MAX];
} slots[VO_SLOTS];

int vo_track(const char *path)
{
    if (!path || strlen(path) >= PATH_MAX) return 0;
    for (int i = 0; i < VO_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expect, SLOT_FILLING)) continue;
        strcpy(slots[i].path, path);
        atomic_store(&slots[i].state, SLOT_SET);
        return i + 1;
    }
    return 0;
}

void vo_untrack(int track)
{
    if (track >= 1 && track <= VO_SLOTS) atomic_store(&slots[track - 1].state, SLOT_FREE);
}

static void remove_temps(int sig)
{
    int saved = errno;
    for (int i = 0; i < VO_SLOTS; i++)
        if (atomic_load(&slots[i].state) == SLOT_SET) unlink(slots[i].path);
    errno = saved;
    /* SA_RESETHAND restored the default action on entry; the signal, blocked while this runs, is delivered again
     * when the handler returns and ends the process the usual way */
    raise(sig);
}

void vo_remove_temps_on_signal(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = remove_temps;
        sigfillset(&sa.sa_mask); /* no second signal inside the handler */
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* The descriptor a standard stream's name stands for (/dev/stdout, /dev/stderr, /dev/stdin, /dev/fd/N,
 * /proc/self/fd/N, /proc/thread-self/fd/N, /proc/<this process>/fd/N), or -1 for any other path. */
static int stream_fd(const char *path)
{
    if (!strcmp(path, "/dev/stdout")) return 1;
    if (!strcmp(path, "/dev/stderr")) return 2;
    if (!strcmp(path, "/dev/stdin")) return 0;
    char own[48];
    snprintf(own, sizeof own, "/proc/%ld/fd/", (long)getpid());
    const char *num = !strncmp(path, "/dev/fd/", 8)              ? path + 8
                      : !strncmp(path, "/proc/self/fd/", 14)        ? path + 14
                      : !strncmp(path, "/proc/thread-self/fd/", 21) ? path + 21
                      : !strncmp(path, own, strlen(own))            ? path + strlen(own)
                                                                    : NULL;
    if (!num || !*num || strspn(num, "0123456789") != strlen(num) || strlen(num) > 6) return -1;
    return atoi(num);
}

/* The path a chain of symbolic links at path leads to, made if it is missing (a link to a file not yet there is
 * written as open() would: the file it names), or a copy of path where it is no link. NULL with errno set: ELOOP
 * past 40 links, ENOMEM. */
static char *follow_links(const char *path)
{
    char *cur = strdup(path);
    for (int hops = 0; cur && hops <= 40; hops++) {
        struct stat sb;
        /* a standard stream's name is where the links end: what it leads to is the descriptor's business; so is
         * any other /proc path (its links read "pipe:[N]" or "/x (deleted)", no path to write beside) */
        if (stream_fd(cur) >= 0 || !strncmp(cur, "/proc/", 6) || lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode))
            return cur;
        char target[PATH_MAX];
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n < 0) return cur; /* gone meanwhile: the path as it is */
        target[n] = 0;
        const char *slash = strrchr(cur, '/');
        char *next = NULL;
        if (target[0] == '/' || !slash) next = strdup(target);
        else if (asprintf(&next, "%.*s%s", (int)(slash - cur + 1), cur, target) < 0) next = NULL;
        free(cur);
        cur = next;
    }
    if (cur) {
        free(cur);
        errno = ELOOP;
    } else {
        errno = ENOMEM;
    }
    return NULL;
}

/* A folder that is not there or not ours is the caller's to fix; a full disk or no memory is a run-time failure. */
static int open_status(int err)
{
    return err == ENOENT || err == ENOTDIR || err == EACCES || err == EROFS || err == EISDIR ? VARCL_E_INPUT
                                                                                               : VARCL_E_RUNTIME;
}

static int check_at(const char *path);

int vo_check(const char *given)
{
    if (!given || !*given) return varcl_fail(VARCL_E_INPUT, "output: cannot write: empty path");
    char *path = follow_links(given);
    if (!path) return varcl_fail(VARCL_E_INPUT, "%s: cannot write: %s", given, strerror(errno));
    const int sfd = stream_fd(path);
    struct stat out, err;
    if (sfd >= 0) {
        free(path);
        const int fl = fcntl(sfd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
            return varcl_fail(VARCL_E_INPUT, "%s: cannot write: descriptor %d is %s", given, sfd,
                              fl < 0 ? "not open" : "open for reading only");
        if (fstat(sfd, &out) != 0) return VARCL_OK;
    } else if (stat(path, &out) != 0 || S_ISREG(out.st_mode) || S_ISDIR(out.st_mode)) {
        /* a file is written beside and renamed over: standard error's messages go to the file replaced */
        const int st = check_at(path);
        free(path);
        return st;
    } else {
        free(path);
    }
    /* written in place: where standard error goes too (-o /dev/stdout > f 2>&1), its messages would land inside
     * the output; a terminal or /dev/null takes both */
    if (!S_ISCHR(out.st_mode) && fstat(2, &err) == 0 && out.st_dev == err.st_dev && out.st_ino == err.st_ino)
        return varcl_fail(VARCL_E_INPUT, "%s: cannot write: standard error goes to the same %s, and messages would "
                                         "land inside the output (send one of them elsewhere)", given,
                          S_ISREG(out.st_mode) ? "file" : S_ISFIFO(out.st_mode) ? "pipe" : "place");
    return VARCL_OK;
}

const char *vo_other_format(const char *path, const char *const *wanted)
{
    /* models/convert.py keeps the same list (OTHER_FORMATS) */
    static const char *const formats[] = {"png",  "jpg", "jpeg", "webp", "gif", "bmp",  "tif",         "tiff",
                                          "ppm",  "pgm", "avif", "heic", "json", "npz", "npy",         "safetensors",
                                          "pth",  "pt",  "ckpt", "bin",  "onnx", "gguf", "h5",         "ini",
                                          "csv",  "txt", "md",   "html", "htm",  "svg",  "zip"};
    const char *base = strrchr(path, '/'), *dot;
    base = base ? base + 1 : path;
    if (!(dot = strrchr(base, '.')) || dot == base) return NULL;
    for (size_t i = 0; wanted[i]; i++)
        if (!strcasecmp(dot + 1, wanted[i])) return NULL;
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcasecmp(dot + 1, formats[i])) return dot + 1;
    return NULL;
}

char *vo_link_target(const char *path) { return path && *path ? follow_links(path) : NULL; }

int vo_stream_fd(const char *given)
{
    char *path = given && *given ? follow_links(given) : NULL;
    const int fd = path ? stream_fd(path) : -1;
    free(path);
    return fd;
}

/* vo_check for the path the user's links lead to (messages name it) */
static int check_at(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return varcl_fail(VARCL_E_INPUT, "%s: cannot write: is a directory", path);
        if (!S_ISREG(sb.st_mode)) return VARCL_OK; /* a device or FIFO: written in place */
        /* the rename would replace a file the user may not write (read-only, another's in a shared folder), or, in
         * a sticky folder such as /tmp, fail after the work: the shell's > refuses both, so does this */
        if (access(path, W_OK) != 0)
            return varcl_fail(VARCL_E_INPUT, "%s: cannot write: %s", path, strerror(errno));
    } else if (path[strlen(path) - 1] == '/') {
        return varcl_fail(VARCL_E_INPUT, "%s: cannot write: the name ends with '/', a folder's", path);
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory", path);
    int st = VARCL_OK;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        st = varcl_fail(VARCL_E_INPUT, "%s: cannot write: folder %s does not exist", path, dir);
    else if (access(dir, W_OK) != 0) /* EROFS too: a read-only file system */
        st = varcl_fail(VARCL_E_INPUT, "%s: cannot write: folder %s is not writable", path, dir);
    else {
        /* the temporary's name is cut short (vo_open), so the probe below would pass a name the rename refuses */
        long name_max = pathconf(dir, _PC_NAME_MAX);
        size_t base = strlen(slash ? slash + 1 : path);
        if (base > (size_t)(name_max > 0 ? name_max : NAME_MAX))
            st = varcl_fail(VARCL_E_INPUT, "%.80s...: cannot write: the file name is %zu bytes, over the %ld of %s",
                            path, base, name_max > 0 ? name_max : (long)NAME_MAX, dir);
    }
    free(dir);
    if (st) return st;
    /* access() says yes to root everywhere but on read-only mounts, and /proc takes no new files: the temporary
     * vo_open would make is made and removed, so that the answer is the write's own */
    vo_file probe;
    if ((st = vo_open(&probe, path)))
        return st == VARCL_E_RUNTIME ? varcl_fail(VARCL_E_INPUT, "%s", varcl_last_error()) : st;
    vo_abort(&probe);
    return VARCL_OK;
}

static int open_as(vo_file *o, const char *given, int own)
{
    memset(o, 0, sizeof *o);
    if (!given || !*given) return varcl_fail(VARCL_E_INPUT, "output: empty path");
    /* a user's symbolic link is followed (the rename replaces the file it leads to); varcl's own names are not */
    char *path = own ? strdup(given) : follow_links(given);
    if (!path) return varcl_fail(errno == ENOMEM ? VARCL_E_RUNTIME : VARCL_E_INPUT, "%s: cannot write: %s", given,
                                 strerror(errno));
    o->dest = path;
    const int sfd = own ? -1 : stream_fd(path);
    if (sfd >= 0) { /* a standard stream by name (or a link to one): its descriptor, where it stands (outfile.h) */
        int fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0 || !(o->path = strdup(given)) || !(o->fp = fdopen(fd, "wb"))) {
            int err = errno;
            if (fd >= 0 && !o->fp) close(fd);
            vo_abort(o);
            /* a descriptor not open is the caller's to fix; out of descriptors or memory is the system's */
            return varcl_fail(err == EBADF ? VARCL_E_INPUT : VARCL_E_RUNTIME, "%s: cannot write: %s", given,
                              strerror(err));
        }
        return VARCL_OK;
    }
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (path[strlen(path) - 1] == '/' || (exists && S_ISDIR(sb.st_mode))) {
        vo_abort(o);
        return varcl_fail(VARCL_E_INPUT, "%s: cannot write: is a directory", given);
    }
    if (!(o->path = strdup(given))) {
        vo_abort(o);
        return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory", given);
    }
    if (exists && !S_ISREG(sb.st_mode) && !own) { /* a device, FIFO or terminal: in place (see outfile.h) */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || !(o->fp = fdopen(fd, "wb"))) {
            int err = errno;
            if (fd >= 0) close(fd);
            vo_abort(o);
            return varcl_fail(open_status(err), "%s: cannot write: %s", given, strerror(err));
        }
        return VARCL_OK;
    }
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0; /* keeps the '/' */
    for (int attempt = 0; attempt < 100; attempt++) {
        /* The base is cut at 64 bytes so that a long output name cannot push the temporary past NAME_MAX. */
        if (asprintf(&o->tmp, "%.*s.%.64s.%ld.%u.tmp", dir_len, path, path + dir_len, (long)getpid(),
                     atomic_fetch_add(&temp_counter, 1u)) < 0) {
            o->tmp = NULL;
            vo_abort(o);
            return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory", given);
        }
        /* O_EXCL: never another's file; mode 0666: the umask's usual permissions, not mkstemp's 0600 */
        int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            int err = errno;
            free(o->tmp);
            o->tmp = NULL;
            if (err == EEXIST) continue;
            vo_abort(o);
            return varcl_fail(open_status(err), "%s: cannot write: %s", given, strerror(err));
        }
        o->track = vo_track(o->tmp);
        /* a file replaced keeps its permissions (and, for root, its owner), as the shell's > leaves them: a private
         * 0600 output must not come back 0644 */
        if (exists && S_ISREG(sb.st_mode)) {
            /* best effort: the write itself is what counts */
            int kept = fchmod(fd, sb.st_mode & 07777) == 0;
            if (geteuid() == 0) kept &= fchown(fd, sb.st_uid, sb.st_gid) == 0;
            (void)kept;
        }
        if (!(o->fp = fdopen(fd, "wb"))) {
            int err = errno;
            close(fd);
            vo_abort(o);
            return varcl_fail(VARCL_E_RUNTIME, "%s: cannot write: %s", given, strerror(err));
        }
        return VARCL_OK;
    }
    vo_abort(o);
    return varcl_fail(VARCL_E_INPUT, "%s: cannot write: no free temporary name in its directory", given);
}

int vo_open(vo_file *o, const char *path) { return open_as(o, path, 0); }
int vo_open_own(vo_file *o, const char *path) { return open_as(o, path, 1); }

/* Flush and close; 0 or the errno of the first failure (a full disk shows at flush or close). */
static int flush_close(vo_file *o)
{
    if (!o->fp) return 0;
    int err = 0;
    if (fflush(o->fp) != 0 || ferror(o->fp)) err = errno ? errno : EIO;
    /* a file written in place through a descriptor that did not truncate it (1<>f, exec 7<>f) ends where the output
     * does: bytes of an older, longer file after it would make a corrupt image or archive */
    struct stat sb;
    const int fd = fileno(o->fp), fl = fcntl(fd, F_GETFL);
    const off_t end = lseek(fd, 0, SEEK_CUR);
    if (!err && !o->tmp && fl >= 0 && !(fl & O_APPEND) && end >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        sb.st_size > end && ftruncate(fd, end) != 0)
        err = errno;
    if (fclose(o->fp) != 0 && !err) err = errno ? errno : EIO;
    o->fp = NULL;
    return err;
}

int vo_close(vo_file *o)
{
    int err = flush_close(o);
    if (!err) return VARCL_OK;
    int st = varcl_fail(VARCL_E_RUNTIME, "%s: cannot write: %s", o->path, strerror(err));
    vo_abort(o);
    return st;
}

int vo_commit(vo_file *o)
{
    int err = flush_close(o);
    if (!err && o->tmp && rename(o->tmp, o->dest) != 0) err = errno;
    /* No fsync: the rename guards against an interrupted process, which is the case the design names. */
    int st = err ? varcl_fail(VARCL_E_RUNTIME, "%s: cannot write: %s", o->path, strerror(err)) : VARCL_OK;
    if (!err) {
        free(o->tmp);
        o->tmp = NULL;
    }
    vo_abort(o); /* removes the temporary after a failure, and untracks it either way */
    return st;
}

void vo_abort(vo_file *o)
{
    if (!o) return;
    if (o->fp) fclose(o->fp);
    if (o->tmp) unlink(o->tmp);
    vo_untrack(o->track);
    free(o->tmp);
    free(o->path);
    free(o->dest);
    memset(o, 0, sizeof *o);
}

/* The folder of p resolved (realpath) followed by its last component, or NULL. */
static char *resolved(const char *p)
{
    const char *slash = strrchr(p, '/');
    char *dir = slash ? strndup(p, slash == p ? 1 : (size_t)(slash - p)) : strdup(".");
    char *real = dir ? realpath(dir, NULL) : NULL;
    char *out = NULL;
    if (real && asprintf(&out, "%s/%s", real, slash ? slash + 1 : p) < 0) out = NULL;
    free(dir);
    free(real);
    return out;
}

static int same_resolved(const char *a, const char *b);

int vo_same_file(const char *a, const char *b)
{
    if (!a || !b || !*a || !*b) return 0;
    /* through the links an output would be written through (two dangling links to one new file are one output) */
    char *fa = follow_links(a), *fb = follow_links(b);
    int same = same_resolved(fa ? fa : a, fb ? fb : b);
    free(fa);
    free(fb);
    return same;
}

static int same_resolved(const char *a, const char *b)
{
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    /* a device or FIFO may take several outputs (-o /dev/null --tokens-out /dev/null) */
    if (ea && eb) return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea != eb) return 0;
    char *ra = resolved(a), *rb = resolved(b);
    int same = ra && rb && strcmp(ra, rb) == 0;
    free(ra);
    free(rb);
    return same;
}
