/* test_outfile: the writer every output goes through (host/outfile.h): whole or nothing, devices written in place,
 * the same-file test, and the temporaries a signal leaves behind. Each signal case runs in a child process that
 * stops itself with the signal while its output is half written; the parent then looks at the folder. */
#include "check.h"
#include "error.h"
#include "outfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[512];

static const char *in_tmp(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Entries in tmpdir whose names start with '.' other than "." and "..": the writer's temporaries. */
static int hidden_entries(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static void test_whole_or_nothing(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", in_tmp("a.txt"));
    vo_file o;
    CHECK(vo_open(&o, path) == VARCL_OK, "vo_open: %s", varcl_last_error());
    CHECK(o.track != 0, "the temporary is not tracked");
    fputs("hello\n", o.fp);
    CHECK(access(path, F_OK) != 0, "the output exists before vo_commit");
    CHECK(hidden_entries() == 1, "%d temporaries while writing, want 1", hidden_entries());
    CHECK(vo_commit(&o) == VARCL_OK, "vo_commit: %s", varcl_last_error());
    CHECK(access(path, F_OK) == 0 && hidden_entries() == 0, "after vo_commit: output missing or temporary left");

    CHECK(vo_open(&o, path) == VARCL_OK, "vo_open over an existing file");
    fputs("half", o.fp);
    vo_abort(&o);
    FILE *f = fopen(path, "r");
    char line[16] = "";
    CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "hello\n"), "vo_abort changed the old file: '%s'", line);
    if (f) fclose(f);
    CHECK(hidden_entries() == 0, "vo_abort left a temporary");
    unlink(path);

    /* the same-file test on outputs that are and are not there yet */
    char x[1024], x2[1024], y[1024];
    snprintf(x, sizeof x, "%s", in_tmp("x"));
    snprintf(x2, sizeof x2, "%s", in_tmp("./x"));
    snprintf(y, sizeof y, "%s", in_tmp("y"));
    CHECK(vo_same_file(x, x2) == 1, "x and ./x differ");
    CHECK(vo_same_file(x, y) == 0, "x and y are the same");
    CHECK(vo_same_file("/dev/null", "/dev/null") == 0, "a device is refused as the same file twice");
}

/* vo_check: the answers vo_open would give, before any work, with nothing left behind */
static void test_check(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", in_tmp("fine.png"));
    CHECK(vo_check(path) == VARCL_OK, "a new file in a writable folder: %s", varcl_last_error());
    CHECK(access(path, F_OK) != 0 && hidden_entries() == 0, "vo_check left a file");
    CHECK(vo_check("/dev/null") == VARCL_OK, "/dev/null refused: %s", varcl_last_error());
    snprintf(path, sizeof path, "%s", in_tmp("no-such-folder/x.png"));
    CHECK(vo_check(path) == VARCL_E_INPUT && strstr(varcl_last_error(), "does not exist"), "missing folder: %s",
          varcl_last_error());
    CHECK(vo_check(tmpdir) == VARCL_E_INPUT && strstr(varcl_last_error(), "is a directory"), "a folder: %s",
          varcl_last_error());
    snprintf(path, sizeof path, "%s", in_tmp("not-yet/"));
    CHECK(vo_check(path) == VARCL_E_INPUT && strstr(varcl_last_error(), "ends with '/', a folder's"), "a trailing '/': %s",
          varcl_last_error());
    CHECK(vo_check("") == VARCL_E_INPUT && strstr(varcl_last_error(), "empty path"), "empty: %s", varcl_last_error());
    /* /proc takes no new files even from root, whom access() lets through: the probe finds it */
    if (access("/proc/self", F_OK) == 0)
        CHECK(vo_check("/proc/varcl-test.png") == VARCL_E_INPUT &&
                  strstr(varcl_last_error(), "/proc/varcl-test.png: cannot write"),
              "/proc accepted as a folder to write in, or the message does not name the path: %s",
              varcl_last_error());
    CHECK(hidden_entries() == 0, "vo_check left a temporary");
}

/* vo_track's table: full after 64 slots (the rest simply untracked), reusable after vo_untrack. */
/* Writes "text\n" to path through vo_open / vo_commit; VARCL_OK or the error. */
static int write_text(const char *path, const char *text)
{
    vo_file o;
    int st = vo_open(&o, path);
    if (st) return st;
    fprintf(o.fp, "%s\n", text);
    return vo_commit(&o);
}

static int file_is(const char *path, const char *text)
{
    char line[64] = "", want[64];
    snprintf(want, sizeof want, "%s\n", text);
    FILE *f = fopen(path, "r");
    int ok = f && fgets(line, sizeof line, f) && !strcmp(line, want);
    if (f) fclose(f);
    return ok;
}

/* A user's symbolic link is followed, not replaced: the file it leads to is written (made if missing), the link
 * stays; a loop is refused. The standard streams by name are the process's descriptors, written where they stand
 * (renaming over /dev/stdout replaced the system's link as root). */
static void test_links_and_streams(void)
{
    char link[1024], target[1024];
    snprintf(target, sizeof target, "%s", in_tmp("target.txt"));
    snprintf(link, sizeof link, "%s", in_tmp("link.txt"));
    CHECK(write_text(target, "old") == VARCL_OK && symlink("target.txt", link) == 0, "set-up: %s", varcl_last_error());
    CHECK(write_text(link, "new") == VARCL_OK, "through a link: %s", varcl_last_error());
    struct stat sb;
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode), "the link was replaced by a file");
    CHECK(file_is(target, "new"), "the link's file was not written");
    CHECK(hidden_entries() == 0, "a temporary was left");
    unlink(link), unlink(target);
    /* a link to a file not there yet: the file is made */
    CHECK(symlink("made.txt", link) == 0 && write_text(link, "made") == VARCL_OK, "a dangling link: %s",
          varcl_last_error());
    CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode) && file_is(in_tmp("made.txt"), "made"),
          "a dangling link: the link replaced or its file not made");
    unlink(link), unlink(in_tmp("made.txt"));
    CHECK(symlink("loop.b", in_tmp("loop.a")) == 0 && symlink("loop.a", in_tmp("loop.b")) == 0, "set-up: loop");
    CHECK(vo_check(in_tmp("loop.a")) == VARCL_E_INPUT && write_text(in_tmp("loop.a"), "x") == VARCL_E_INPUT &&
              strstr(varcl_last_error(), "symbolic links"),
          "a loop of links: %s", varcl_last_error());
    unlink(in_tmp("loop.a")), unlink(in_tmp("loop.b"));
    /* /dev/fd/N on a file descriptor: the text lands in that open file, at its offset; nothing is renamed */
    int fd = open(in_tmp("stream.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char name[64];
    snprintf(name, sizeof name, "/dev/fd/%d", fd);
    CHECK(fd >= 0 && write(fd, "a\n", 2) == 2, "set-up: stream file");
    CHECK(vo_check(name) == VARCL_OK && write_text(name, "b") == VARCL_OK, "%s: %s", name, varcl_last_error());
    close(fd);
    FILE *f = fopen(in_tmp("stream.txt"), "r");
    char all[16] = "";
    size_t got = f ? fread(all, 1, sizeof all - 1, f) : 0;
    if (f) fclose(f);
    CHECK(got == 4 && !memcmp(all, "a\nb\n", 4), "%s: the file holds '%.*s', want 'a\\nb\\n'", name, (int)got, all);
    CHECK(hidden_entries() == 0, "a stream left a temporary");
    unlink(in_tmp("stream.txt"));
    /* a link to the stream's name: the stream, not the file behind /proc/self/fd/N (that file was replaced) */
    fd = open(in_tmp("stream.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    snprintf(name, sizeof name, "/dev/fd/%d", fd);
    CHECK(fd >= 0 && write(fd, "a\n", 2) == 2 && symlink(name, in_tmp("to-stream")) == 0, "set-up: link to stream");
    CHECK(write_text(in_tmp("to-stream"), "b") == VARCL_OK, "a link to %s: %s", name, varcl_last_error());
    close(fd);
    f = fopen(in_tmp("stream.txt"), "r");
    got = f ? fread(all, 1, sizeof all - 1, f) : 0;
    if (f) fclose(f);
    CHECK(got == 4 && !memcmp(all, "a\nb\n", 4), "a link to %s: the file holds '%.*s'", name, (int)got, all);
    CHECK(lstat(in_tmp("to-stream"), &sb) == 0 && S_ISLNK(sb.st_mode), "the link to a stream was replaced");
    unlink(in_tmp("stream.txt")), unlink(in_tmp("to-stream"));
    /* a descriptor opened without truncating (1<>f) on a longer file: the output ends where it ends */
    fd = open(in_tmp("stream.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10 && lseek(fd, 0, SEEK_SET) == 0, "set-up: a longer file");
    snprintf(name, sizeof name, "/dev/fd/%d", fd);
    CHECK(write_text(name, "b") == VARCL_OK, "%s over a longer file: %s", name, varcl_last_error());
    close(fd);
    CHECK(file_is(in_tmp("stream.txt"), "b") && stat(in_tmp("stream.txt"), &sb) == 0 && sb.st_size == 2,
          "%s over a longer file: its old tail was kept (%lld bytes)", name, (long long)sb.st_size);
    unlink(in_tmp("stream.txt"));
    /* written in place where standard error goes too: refused, since messages would land inside the output */
    fd = open(in_tmp("stream.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int saved = dup(2);
    snprintf(name, sizeof name, "/dev/fd/%d", fd);
    CHECK(fd >= 0 && saved >= 0 && dup2(fd, 2) == 2, "set-up: standard error to a file");
    int st = vo_check(name), st_dev_null = vo_check("/dev/null");
    dup2(saved, 2), close(saved), close(fd);
    CHECK(st == VARCL_E_INPUT && strstr(varcl_last_error(), "standard error goes to the same file"),
          "%s, also standard error: %d %s", name, st, varcl_last_error());
    CHECK(st_dev_null == VARCL_OK, "/dev/null, with standard error elsewhere, refused");
    fd = open("/dev/null", O_WRONLY);
    saved = dup(2);
    CHECK(fd >= 0 && saved >= 0 && dup2(fd, 2) == 2, "set-up: standard error to /dev/null");
    st = vo_check("/dev/null");
    dup2(saved, 2), close(saved), close(fd);
    CHECK(st == VARCL_OK, "/dev/null, also standard error, refused: %s", varcl_last_error());
    unlink(in_tmp("stream.txt"));
    /* a file replaced keeps its permissions (the rename put a 0644 temporary over a private 0600 file) */
    CHECK(write_text(in_tmp("private.txt"), "a") == VARCL_OK && chmod(in_tmp("private.txt"), 0600) == 0 &&
              write_text(in_tmp("private.txt"), "b") == VARCL_OK && stat(in_tmp("private.txt"), &sb) == 0 &&
              (sb.st_mode & 07777) == 0600 && file_is(in_tmp("private.txt"), "b"),
          "a 0600 file replaced: mode %o", (unsigned)(sb.st_mode & 07777));
    unlink(in_tmp("private.txt"));
    /* two links to one file not there yet are one output */
    CHECK(symlink("new.txt", in_tmp("l1")) == 0 && symlink("new.txt", in_tmp("l2")) == 0, "set-up: two links");
    CHECK(vo_same_file(in_tmp("l1"), in_tmp("l2")) == 1 && vo_same_file(in_tmp("l1"), in_tmp("new.txt")) == 1,
          "two dangling links to one file are not the same output");
    unlink(in_tmp("l1")), unlink(in_tmp("l2"));
    /* a closed descriptor: refused, nothing made */
    CHECK(vo_check(name) == VARCL_E_INPUT && strstr(varcl_last_error(), "not open"), "closed %s: %s", name,
          varcl_last_error());
    CHECK(write_text(name, "x") == VARCL_E_INPUT, "closed %s written", name);
    snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    CHECK(vo_check(name) == VARCL_E_INPUT, "closed %s accepted", name);
}

static void test_track_table(void)
{
    int t[70], taken = 0;
    for (int i = 0; i < 70; i++) taken += (t[i] = vo_track("/nonexistent/x")) != 0;
    CHECK(taken == 64, "%d slots taken, want 64", taken);
    for (int i = 0; i < 70; i++) vo_untrack(t[i]);
    int again = vo_track("/nonexistent/y");
    CHECK(again != 0, "no slot free after vo_untrack");
    vo_untrack(again);
    char long_path[5000];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = 0;
    CHECK(vo_track(long_path) == 0, "a path over PATH_MAX was tracked");
}

/* A child that installs the handler (or not), opens two outputs, commits one, and stops itself with sig while the
 * other is half written. Returns the child's wait status. */
static int child_stopped_by(int sig, int install, int ignore_first)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (ignore_first) signal(sig, SIG_IGN); /* as nohup does for SIGHUP */
        if (install) vo_remove_temps_on_signal();
        vo_file done, half;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s", in_tmp("done.txt"));
        snprintf(b, sizeof b, "%s", in_tmp("half.txt"));
        if (vo_open(&done, a) || vo_open(&half, b)) _exit(3);
        fputs("whole\n", done.fp);
        if (vo_commit(&done)) _exit(3);
        fputs("half", half.fp);
        fflush(half.fp);
        raise(sig);
        _exit(ignore_first ? 0 : 4); /* reached only when the signal is ignored */
    }
    int ws = 0;
    if (pid < 0 || waitpid(pid, &ws, 0) != pid) return -1;
    return ws;
}

static void test_signals(void)
{
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    const char *names[] = {"SIGINT", "SIGTERM", "SIGHUP"};
    for (int i = 0; i < 3; i++) {
        int ws = child_stopped_by(sigs[i], 1, 0);
        CHECK(ws != -1 && WIFSIGNALED(ws) && WTERMSIG(ws) == sigs[i], "%s: the child did not end by the signal (%#x)",
              names[i], ws);
        CHECK(hidden_entries() == 0, "%s: %d temporaries left", names[i], hidden_entries());
        CHECK(access(in_tmp("done.txt"), F_OK) == 0, "%s: the committed output was removed", names[i]);
        CHECK(access(in_tmp("half.txt"), F_OK) != 0, "%s: the half-written output appeared", names[i]);
        unlink(in_tmp("done.txt"));
    }
    /* without the handler the temporary stays: the case above is the handler's doing, not the writer's */
    int ws = child_stopped_by(SIGTERM, 0, 0);
    CHECK(ws != -1 && WIFSIGNALED(ws), "no handler: the child did not end by SIGTERM");
    CHECK(hidden_entries() == 1, "no handler: %d temporaries, want the 1 a killed writer leaves", hidden_entries());
    /* a signal ignored at start stays ignored (nohup): the child goes on and exits 0 */
    ws = child_stopped_by(SIGHUP, 1, 1);
    CHECK(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "an ignored SIGHUP ended the child (%#x)", ws);
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
    if (d) closedir(d);
}

int main(void)
{
    if (!check_mkdtemp(tmpdir, sizeof tmpdir, "test-outfile")) {
        perror("mkdtemp");
        return 1;
    }
    test_whole_or_nothing();
    test_check();
    test_links_and_streams();
    test_track_table();
    test_signals();
    nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    CHECK(access(tmpdir, F_OK) != 0, "temporary directory %s not removed", tmpdir);
    return check_done();
}
