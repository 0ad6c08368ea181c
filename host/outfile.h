/* outfile: a user's output file (PNG, npz, safetensors, tokens JSON, reports), written whole or not at all.
 *
 * A regular file, or a path not there yet, is written under a temporary name in the same folder,
 * "<dir>/.<base>.<pid>.<n>.tmp" (base cut at 64 bytes), and renamed over the path only once everything reached the
 * disk: an interrupted or failed run leaves the old file or none, never half of a new one (DESIGN.md, error policy).
 * An existing path that is neither a regular file nor a folder (/dev/null, /dev/stdout, a FIFO, a terminal) is
 * written in place: renaming over it would replace the device node with a file, and `-o /dev/null` is how users
 * throw an output away. The standard streams by name (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N) are the
 * process's own descriptors, written where they stand whatever they lead to (`--tokens-out /dev/stdout > f.json`
 * fills f.json; renaming over the name would replace the /dev/stdout link itself). A symbolic link is followed: the
 * temporary is made beside the file it leads to (made if missing) and renamed over that file, so the link stays.
 * Errors of such a write (/dev/full: no space left) are reported like any other. */
#ifndef VARCL_OUTFILE_H
#define VARCL_OUTFILE_H

#include <stdio.h>

typedef struct vo_file {
    char *path; /* the output's name */
    char *dest; /* what the rename replaces: path, or the file its symbolic links lead to */
    char *tmp;  /* the temporary written, NULL when writing in place */
    FILE *fp;   /* open for writing between vo_open and vo_commit / vo_abort */
    int track;  /* vo_track's slot + 1 for tmp; 0: not tracked */
} vo_file;

/* Opens path for writing. Errors (recorded, see error.h): an empty path, a folder, a missing folder, one not
 * writable or on a read-only file system: VARCL_E_INPUT (the user's to fix); no memory, no free temporary name, other
 * system errors: VARCL_E_RUNTIME. On error o is left zeroed and nothing is created. */
int vo_open(vo_file *o, const char *path);

/* vo_open for a file varcl names itself (a cache file, a --per-class job's image): whatever is at the path, a FIFO or
 * a device included, is replaced by the rename, never opened (a FIFO nobody reads would block the run forever). */
int vo_open_own(vo_file *o, const char *path);

/* Flushes and closes without renaming yet: for several outputs made whole or not at all together (vgen's image and
 * tokens), each closed, then all committed. Errors as vo_commit's; on error the temporary is removed and o zeroed.
 * vo_commit after it only renames. */
int vo_close(vo_file *o);

/* Whether vo_open(path) can be expected to succeed, checked before a long run so that its result is not lost (the
 * temporary vo_open would make is made and removed; nothing else is touched): VARCL_OK for an existing device or FIFO (written in place) or a path whose folder exists
 * and is writable; else VARCL_E_INPUT, recorded as "<path>: cannot write: " and one of "standard error goes to the
 * same file|pipe|place ..." (a stream, FIFO or device other than a terminal or /dev/null that is also descriptor 2:
 * messages would land inside the output), "empty path", "is a
 * directory", "folder <dir> does not exist", "folder <dir> is not writable" (a read-only file system included), a file name over the folder's limit (255 bytes
 * on most file systems), or the system's reason the temporary could not
 * be made. */
int vo_check(const char *path);

/* An output's name that says another format than the one written (-o x.jpg getting PNG bytes): the extension
 * (after the last '.' of the base name) where it is a format's varcl knows (png, jpg, json, npz, md, html, ...) and
 * none of `wanted` (a NULL-terminated list, compared ignoring case); NULL otherwise: a name without an extension,
 * or with one no format uses (/dev/stdout, run.2), is the user's choice. */
const char *vo_other_format(const char *path, const char *const *wanted);

/* The path vo_open(path) writes: where the chain of symbolic links at path leads (a dangling link: the file it
 * names), path itself where it is no link. Malloc'd (the caller frees); NULL with errno set (ELOOP, ENOMEM). */
char *vo_link_target(const char *path);

/* The descriptor vo_open(path) would write to in place when path names a standard stream (/dev/stdout, /dev/fd/N,
 * /proc/self/fd/N, or a link to one of them), else -1: for a caller that needs to know what the stream is (seekable,
 * append mode) before a long run. */
int vo_stream_fd(const char *path);

/* Flushes and closes (unless vo_close did), then renames the temporary over the path. A failed write, flush or close (a full disk shows at
 * flush or close) or rename: VARCL_E_RUNTIME "<path>: cannot write: <reason>", the temporary removed. o is zeroed
 * either way. */
int vo_commit(vo_file *o);

/* Closes and removes the temporary (the caller gave up after an error of its own). Harmless on a zeroed o. */
void vo_abort(vo_file *o);

/* 1 when a and b name the same file: the same device and inode where both exist, else the same folder (resolved)
 * and the same last component; 0 otherwise. For refusing an output that would overwrite an input or another
 * output of the same run. NULL or empty, or an existing file that is not regular (/dev/null twice): 0. */
int vo_same_file(const char *a, const char *b);

/* ---- temporaries removed when a signal stops the process ----
 * A temporary is removed by vo_commit / vo_abort, but a process stopped by Ctrl-C, `kill` or a batch system's
 * SIGTERM never gets there and would leave a hidden ".NAME.PID.N.tmp" beside the output. Every temporary of vo_open
 * is tracked; other writers of temporaries (the weight cache) track theirs with vo_track. */

/* Tracks path (copied; at most PATH_MAX - 1 bytes) until vo_untrack. Returns the slot + 1, or 0 when the path is
 * too long or all 64 slots are taken (the temporary is then simply not removed on a signal). Thread-safe. */
int vo_track(const char *path);
/* Stops tracking (track: vo_track's return; 0 is ignored). Call it after the temporary was renamed or removed. */
void vo_untrack(int track);

/* For the tools' main(), never the library (a library does not take over a process's signals): on SIGINT, SIGTERM
 * or SIGHUP every tracked temporary is removed (unlink only: async-signal-safe) and the signal then ends the process
 * as it would have (exit status 128 + signal in a shell). A signal the process was started ignoring (nohup) stays
 * ignored. SIGKILL cannot be caught: a --per-class job removes what such a run left when it is resumed. */
void vo_remove_temps_on_signal(void);

#endif
