/* image: PNG write and read, image grids (see image.h).
 * libpng's simplified API reports errors through png_image.message, so no setjmp is needed here. */
#include "image.h"

#include "error.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GRID_MAX_COLS 8 /* the default number of columns */

int vimg_png_fits(long long width, long long height)
{
    const long long user_max = 1000000; /* PNG_USER_WIDTH_MAX, PNG_USER_HEIGHT_MAX */
    if (width < 1 || height < 1 || width > user_max || height > user_max) return 0;
    return height <= 0xFFFFFFFFLL / (width * 3);
}

int vimg_png_stage(vo_file *out, const char *path, const uint8_t *rgb, int width, int height, int own)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path) return varcl_fail(VARCL_E_INPUT, "PNG output: empty path");
    /* The row stride is a png_int_32 in the simplified API. */
    if (!rgb || !vimg_png_fits(width, height))
        return varcl_fail(VARCL_E_INPUT, "%s: cannot write a %dx%d image as PNG (over libpng's limits)", path, width,
                          height);
    int status = own ? vo_open_own(out, path) : vo_open(out, path);
    if (status) return status;

    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = PNG_FORMAT_RGB;
    int ok = png_image_write_to_stdio(&img, out->fp, 0, rgb, 0, NULL);
    char png_msg[sizeof img.message];
    memcpy(png_msg, img.message, sizeof png_msg);
    png_image_free(&img);
    if (!ok) { /* the size is checked above: what fails here is the write itself (run-time) */
        int err = ferror(out->fp) ? errno : 0; /* the system's reason (a full disk) says more than libpng's */
        vo_abort(out);
        return varcl_fail(VARCL_E_RUNTIME, "%s: cannot write PNG: %s", path, err ? strerror(err) : png_msg);
    }
    return vo_close(out); /* a full disk may only show at flush or close: vo_close reports it */
}

int vimg_write_png(const char *path, const uint8_t *rgb, int width, int height)
{
    vo_file out;
    int st = vimg_png_stage(&out, path, rgb, width, height, 0);
    return st ? st : vo_commit(&out);
}

int vimg_png_complete(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat sb;
    unsigned char head[8], tail[12];
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 8 + 25 + 12 &&
             pread(fd, head, 8, 0) == 8 && pread(fd, tail, 12, sb.st_size - 12) == 12 && !memcmp(head, sig, 8) &&
             !memcmp(tail, iend, 12);
    close(fd);
    return ok;
}

int vimg_read_png(const char *path, uint8_t **rgb, int *width, int *height)
{
    *rgb = NULL;
    *width = *height = 0;
    if (!path || !*path) return varcl_fail(VARCL_E_INPUT, "PNG input: empty path");

    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        /* begin_read leaves nothing allocated when it fails, but png_image_free is harmless either way. */
        int status = varcl_fail(VARCL_E_INPUT, "%s: cannot read PNG: %s", path, img.message);
        png_image_free(&img);
        return status;
    }
    if (img.width > (png_uint_32)(INT_MAX / 3) || img.height > (png_uint_32)INT_MAX ||
        (size_t)img.width * 3 > SIZE_MAX / img.height) {
        png_image_free(&img);
        return varcl_fail(VARCL_E_INPUT, "%s: PNG of %ux%u pixels is too large", path, (unsigned)img.width,
                          (unsigned)img.height);
    }
    img.format = PNG_FORMAT_RGB;
    size_t bytes = (size_t)img.width * 3 * img.height;
    uint8_t *buf = malloc(bytes);
    if (!buf) {
        png_image_free(&img);
        return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory for a %ux%u image", path, (unsigned)img.width,
                          (unsigned)img.height);
    }
    /* Explicit black so that images with alpha read the same as the grid's empty cells look. */
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&img, &black, buf, 0, NULL)) {
        int status = varcl_fail(VARCL_E_INPUT, "%s: cannot read PNG: %s", path, img.message);
        png_image_free(&img);
        free(buf);
        return status;
    }
    *rgb = buf;
    *width = (int)img.width;
    *height = (int)img.height;
    return VARCL_OK;
}

uint8_t *vimg_grid(const uint8_t *const *images, int n, int width, int height, int columns, int *grid_w,
                   int *grid_h)
{
    *grid_w = *grid_h = 0;
    if (!images || n < 1 || width < 1 || height < 1) {
        varcl_fail(VARCL_E_INPUT, "image grid: %d images of %dx%d", n, width, height);
        return NULL;
    }
    if (columns <= 0) columns = GRID_MAX_COLS;
    int cols = n < columns ? n : columns;
    int rows = (n + cols - 1) / cols;
    if (width > INT_MAX / 3 / cols || height > INT_MAX / rows) {
        varcl_fail(VARCL_E_INPUT, "image grid: %d images of %dx%d are too large", n, width, height);
        return NULL;
    }
    int gw = cols * width, gh = rows * height;
    size_t row_bytes = (size_t)width * 3, grid_row_bytes = (size_t)gw * 3;
    /* calloc: the cells after the last image stay black. */
    uint8_t *grid = calloc((size_t)gh, grid_row_bytes);
    if (!grid) {
        varcl_fail(VARCL_E_RUNTIME, "image grid: out of host memory for %dx%d pixels", gw, gh);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        uint8_t *cell = grid + (size_t)(i / cols) * height * grid_row_bytes + (size_t)(i % cols) * row_bytes;
        for (int y = 0; y < height; y++)
            memcpy(cell + (size_t)y * grid_row_bytes, images[i] + (size_t)y * row_bytes, row_bytes);
    }
    *grid_w = gw;
    *grid_h = gh;
    return grid;
}
