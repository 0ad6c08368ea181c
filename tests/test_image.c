/* test_image: PNG round trip, PNG conversions on read, grid layout, and clean failures (no file, no temporary
 * left behind). All files live in a fresh mkdtemp directory that is removed at the end. */
#include "check.h"
#include "error.h"
#include "image.h"

#include <dirent.h>
#include <ftw.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[512];

static const char *in_tmp(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Entries in dir, "." and ".." aside; -1 if it cannot be listed. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

/* A pattern where every byte differs from its neighbours and 0 and 255 both occur. */
static uint8_t *pattern(int w, int h, unsigned salt)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) p[i] = (uint8_t)(i * 37u + salt * 101u + (i >> 5));
    return p;
}

static void test_round_trip(void)
{
    const int w = 37, h = 23;
    uint8_t *img = pattern(w, h, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s", in_tmp("round.png"));
    CHECK(vimg_write_png(path, img, w, h) == VARCL_OK, "write: %s", varcl_last_error());

    uint8_t *back = NULL;
    int bw = 0, bh = 0;
    CHECK(vimg_read_png(path, &back, &bw, &bh) == VARCL_OK, "read: %s", varcl_last_error());
    CHECK(bw == w && bh == h, "size %dx%d, want %dx%d", bw, bh, w, h);
    CHECK(back && !memcmp(back, img, (size_t)w * h * 3), "pixels differ after a round trip");
    free(back);

    /* Writing over an existing file replaces it. */
    uint8_t *img2 = pattern(w, h, 2);
    CHECK(vimg_write_png(path, img2, w, h) == VARCL_OK, "overwrite: %s", varcl_last_error());
    back = NULL;
    CHECK(vimg_read_png(path, &back, &bw, &bh) == VARCL_OK, "read: %s", varcl_last_error());
    CHECK(back && bw == w && bh == h && !memcmp(back, img2, (size_t)w * h * 3), "overwritten pixels differ");
    free(back);
    CHECK(count_entries(tmpdir) == 1, "a temporary file was left behind (%d entries)", count_entries(tmpdir));
    remove(path);
    free(img);
    free(img2);

    /* A 1x1 image is the smallest case. */
    uint8_t px[3] = {255, 0, 128};
    snprintf(path, sizeof path, "%s", in_tmp("one.png"));
    CHECK(vimg_write_png(path, px, 1, 1) == VARCL_OK, "1x1 write: %s", varcl_last_error());
    back = NULL;
    CHECK(vimg_read_png(path, &back, &bw, &bh) == VARCL_OK && bw == 1 && bh == 1 && !memcmp(back, px, 3),
          "1x1 round trip");
    free(back);
    remove(path);
}

/* Writes a PNG of another format with libpng directly, to check the conversions on read. */
static int write_raw_png(const char *path, png_uint_32 format, const void *pixels, int w, int h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = format;
    return png_image_write_to_file(&img, path, 0, pixels, 0, NULL);
}

static void test_read_conversions(void)
{
    char path[4096];
    uint8_t *rgb = NULL;
    int w = 0, h = 0;

    /* RGBA: transparent composites to black, opaque keeps its colour. */
    const uint8_t rgba[8] = {200, 100, 50, 0, 10, 20, 30, 255};
    snprintf(path, sizeof path, "%s", in_tmp("rgba.png"));
    CHECK(write_raw_png(path, PNG_FORMAT_RGBA, rgba, 2, 1), "writing the RGBA fixture");
    CHECK(vimg_read_png(path, &rgb, &w, &h) == VARCL_OK, "RGBA read: %s", varcl_last_error());
    const uint8_t rgba_want[6] = {0, 0, 0, 10, 20, 30};
    CHECK(rgb && w == 2 && h == 1 && !memcmp(rgb, rgba_want, 6), "RGBA converted wrong");
    free(rgb);
    remove(path);

    /* Grey: each value repeated in R, G and B. */
    const uint8_t grey[3] = {0, 77, 255};
    snprintf(path, sizeof path, "%s", in_tmp("grey.png"));
    CHECK(write_raw_png(path, PNG_FORMAT_GRAY, grey, 3, 1), "writing the grey fixture");
    rgb = NULL;
    CHECK(vimg_read_png(path, &rgb, &w, &h) == VARCL_OK, "grey read: %s", varcl_last_error());
    const uint8_t grey_want[9] = {0, 0, 0, 77, 77, 77, 255, 255, 255};
    CHECK(rgb && w == 3 && h == 1 && !memcmp(rgb, grey_want, 9), "grey converted wrong");
    free(rgb);
    remove(path);

    /* A reference image from the test data reads (it comes from a different writer). */
    rgb = NULL;
    int st = vimg_read_png(check_data("upstream-tiny/full.0.png"), &rgb, &w, &h);
    CHECK(st == VARCL_OK && rgb && w > 0 && h > 0, "reading the upstream fixture: %s", varcl_last_error());
    free(rgb);
}

static void test_grid(int n, int columns)
{
    const int w = 3, h = 2;
    uint8_t **imgs = malloc((size_t)n * sizeof *imgs);
    /* Pixel (x, y) of image i is (i + 1, x + 1, y + 1): never black, and says where it came from. */
    for (int i = 0; i < n; i++) {
        imgs[i] = malloc((size_t)w * h * 3);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = imgs[i] + ((size_t)y * w + x) * 3;
                p[0] = (uint8_t)(i + 1), p[1] = (uint8_t)(x + 1), p[2] = (uint8_t)(y + 1);
            }
    }
    int gw = -1, gh = -1;
    uint8_t *grid = vimg_grid((const uint8_t *const *)imgs, n, w, h, columns, &gw, &gh);
    int want_cols = columns > 0 ? columns : 8, cols = n < want_cols ? n : want_cols, rows = (n + cols - 1) / cols;
    CHECK(grid != NULL, "grid n=%d: %s", n, varcl_last_error());
    CHECK(gw == cols * w && gh == rows * h, "grid n=%d is %dx%d, want %dx%d", n, gw, gh, cols * w, rows * h);
    if (grid && gw == cols * w && gh == rows * h) {
        int bad = 0;
        for (int gy = 0; gy < gh; gy++)
            for (int gx = 0; gx < gw; gx++) {
                const uint8_t *p = grid + ((size_t)gy * gw + gx) * 3;
                int cell = (gy / h) * cols + gx / w;
                uint8_t want[3] = {0, 0, 0};
                if (cell < n) want[0] = (uint8_t)(cell + 1), want[1] = (uint8_t)(gx % w + 1), want[2] = (uint8_t)(gy % h + 1);
                if (memcmp(p, want, 3)) bad++;
            }
        CHECK(bad == 0, "grid n=%d: %d pixels in the wrong place or not black", n, bad);
    }
    free(grid);
    for (int i = 0; i < n; i++) free(imgs[i]);
    free(imgs);
}

static void test_grid_bad_args(void)
{
    int gw = 5, gh = 5;
    const uint8_t px[3] = {1, 2, 3};
    const uint8_t *one[1] = {px};
    varcl_clear_error();
    CHECK(vimg_grid(one, 0, 1, 1, 0, &gw, &gh) == NULL && varcl_last_status() == VARCL_E_INPUT, "n = 0 accepted");
    CHECK(vimg_grid(one, 1, 0, 1, 0, &gw, &gh) == NULL && varcl_last_status() == VARCL_E_INPUT, "width 0 accepted");
    CHECK(gw == 0 && gh == 0, "sizes not zeroed on failure");
}

static void test_write_failures(void)
{
    const uint8_t px[12] = {0};
    char path[4096];

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s", in_tmp("no-such-dir/out.png"));
    varcl_clear_error();
    CHECK(vimg_write_png(path, px, 2, 2) == VARCL_E_INPUT, "missing directory: status %d", varcl_last_status());
    CHECK(strstr(varcl_last_error(), path) != NULL, "message does not name the path: %s", varcl_last_error());
    CHECK(count_entries(tmpdir) == 0, "missing directory: %d entries left behind", count_entries(tmpdir));

    /* A path that is a directory: the temporary file is made beside it, and must go again. */
    char sub[1024]; /* shorter than path[], so that sub + "/out.png" always fits */
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);
    varcl_clear_error();
    CHECK(vimg_write_png(sub, px, 2, 2) == VARCL_E_INPUT, "directory path: status %d", varcl_last_status());
    CHECK(strstr(varcl_last_error(), sub) != NULL, "message does not name the path: %s", varcl_last_error());
    CHECK(count_entries(tmpdir) == 1, "directory path: %d entries left behind, want only sub/", count_entries(tmpdir));
    CHECK(count_entries(sub) == 0, "directory path: sub/ is not empty");

    /* The same with a trailing slash. */
    snprintf(path, sizeof path, "%s/", sub);
    CHECK(vimg_write_png(path, px, 2, 2) == VARCL_E_INPUT, "directory path with '/': status %d", varcl_last_status());
    CHECK(count_entries(tmpdir) == 1 && count_entries(sub) == 0, "directory path with '/': files left behind");

    /* A directory we may not write into (root ignores permissions, so only check when the bits bite). */
    CHECK(chmod(sub, 0500) == 0, "chmod %s", sub);
    snprintf(path, sizeof path, "%s/out.png", sub);
    if (access(sub, W_OK) != 0) {
        CHECK(vimg_write_png(path, px, 2, 2) == VARCL_E_INPUT, "read-only directory accepted");
        CHECK(count_entries(sub) == 0, "read-only directory: files left behind");
    }
    chmod(sub, 0700);
    rmdir(sub);

    /* Bad arguments never touch the file system. */
    snprintf(path, sizeof path, "%s", in_tmp("bad.png"));
    CHECK(vimg_write_png(path, px, 0, 2) == VARCL_E_INPUT, "width 0 accepted");
    CHECK(vimg_write_png(path, NULL, 2, 2) == VARCL_E_INPUT, "NULL pixels accepted");
    CHECK(vimg_write_png("", px, 2, 2) == VARCL_E_INPUT, "empty path accepted");
    CHECK(count_entries(tmpdir) == 0, "bad arguments: %d entries left behind", count_entries(tmpdir));
}

static void test_read_failures(void)
{
    char path[4096];
    uint8_t *rgb = (uint8_t *)&rgb; /* not NULL, to see it reset */
    int w = 7, h = 7;

    snprintf(path, sizeof path, "%s", in_tmp("not-a.png"));
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "creating %s", path);
    if (f) {
        fputs("this is not a PNG file\n", f);
        fclose(f);
    }
    varcl_clear_error();
    CHECK(vimg_read_png(path, &rgb, &w, &h) == VARCL_E_INPUT, "non-PNG: status %d", varcl_last_status());
    CHECK(strstr(varcl_last_error(), path) != NULL, "message does not name the path: %s", varcl_last_error());
    CHECK(rgb == NULL && w == 0 && h == 0, "outputs not cleared on failure");
    remove(path);

    /* A PNG cut short: the header reads, the pixels do not. */
    const int tw = 64, th = 64;
    uint8_t *img = pattern(tw, th, 3);
    snprintf(path, sizeof path, "%s", in_tmp("cut.png"));
    CHECK(vimg_write_png(path, img, tw, th) == VARCL_OK, "write: %s", varcl_last_error());
    free(img);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && truncate(path, sb.st_size / 2) == 0, "truncating %s", path);
    rgb = NULL;
    CHECK(vimg_read_png(path, &rgb, &w, &h) == VARCL_E_INPUT, "truncated PNG: status %d", varcl_last_status());
    CHECK(rgb == NULL, "truncated PNG: buffer returned");
    free(rgb);
    remove(path);

    snprintf(path, sizeof path, "%s", in_tmp("missing.png"));
    varcl_clear_error();
    CHECK(vimg_read_png(path, &rgb, &w, &h) == VARCL_E_INPUT, "missing file: status %d", varcl_last_status());
    CHECK(strstr(varcl_last_error(), path) != NULL, "message does not name the path: %s", varcl_last_error());
}

int main(void)
{
    if (!check_mkdtemp(tmpdir, sizeof tmpdir, "test-image")) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_read_conversions();
    const int grid_ns[] = {1, 3, 8, 9, 17};
    for (size_t i = 0; i < sizeof grid_ns / sizeof grid_ns[0]; i++) test_grid(grid_ns[i], 0);
    test_grid(10, 10); /* one row of ten: the README's class grids */
    test_grid(10, 5);
    test_grid(3, 1);
    test_grid_bad_args();
    test_write_failures();
    test_read_failures();
    nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    CHECK(access(tmpdir, F_OK) != 0, "temporary directory %s not removed", tmpdir);
    return check_done();
}
