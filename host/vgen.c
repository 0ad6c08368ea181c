/* vgen: the command line for generation (DESIGN.md "Command-line contracts").
 * Exit status: 0 success, 2 bad usage or input, 1 run-time failure. */
#include "builtin.h"
#include "config.h"
#include "image.h"
#include "runtime.h"
#include "varcl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The flags that are not settings (the settings' own lines come from config.c's table). */
static const char usage_head[] =
    "usage: vgen [options]\n"
    "  --config F.ini             settings file (the [section] key of each setting below); flags override it\n"
    "  -o F.png                   one image, or a grid of min(n, 8) columns for several labels (default: out.png)\n"
    "  --out-dir DIR              one PNG per image instead: NNNNN_classL.png\n"
    "  --tokens-out F.json        write the sampled token ids\n"
    "  --info                     print the model's hyperparameters    --list-devices   list OpenCL devices\n"
    "  --stats                    device memory per tag                -q               no progress on stderr\n"
    "settings:\n";

static int fail_usage(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "vgen: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 2;
}

typedef struct {
    vcfg_settings s; /* the settings file, then flags on top */
    const char *out, *out_dir, *tokens_out, *config;
    int quiet, stats, list, info;
} options;

/* The flags with a value that are not settings. */
static const char *const OWN_FLAGS[] = {"-o", "--out-dir", "--tokens-out", "--config"};

static int takes_value(const char *flag)
{
    for (size_t i = 0; i < sizeof OWN_FLAGS / sizeof *OWN_FLAGS; i++)
        if (!strcmp(flag, OWN_FLAGS[i])) return 1;
    return vcfg_find_flag(flag) != NULL;
}

/* Parses one flag with its value (either "--flag value" or "--flag=value"). */
static int apply_flag(options *o, const char *flag, const char *val)
{
    const vcfg_setting *st = vcfg_find_flag(flag);
    if (st) {
        int r = vcfg_set(&o->s, st, val);
        if (r) fprintf(stderr, "vgen: %s\n", varcl_last_error());
        return r == VARCL_E_INPUT ? 2 : r ? 1 : 0;
    }
    if (!strcmp(flag, "-o")) o->out = val;
    else if (!strcmp(flag, "--out-dir")) o->out_dir = val;
    else if (!strcmp(flag, "--tokens-out")) o->tokens_out = val;
    else if (strcmp(flag, "--config")) return fail_usage("unknown option '%s'%s (see --help)", flag, "");
    return 0; /* --config is handled before the other flags */
}

/* Two passes over argv: find --config first (flags override the file), then apply every flag. */
static int parse_args(int argc, char **argv, options *o)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 1; i < argc; i++) {
            char flag[64];
            const char *a = argv[i], *val = NULL, *eq = strchr(a, '=');
            if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                if (pass) continue;
                fputs(usage_head, stdout);
                vcfg_print_help(stdout);
                exit(fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1);
            }
            if (!strcmp(a, "-q") || !strcmp(a, "--stats") || !strcmp(a, "--list-devices") || !strcmp(a, "--info")) {
                if (pass) {
                    if (a[1] == 'q') o->quiet = 1;
                    else if (!strcmp(a, "--stats")) o->stats = 1;
                    else if (!strcmp(a, "--list-devices")) o->list = 1;
                    else o->info = 1;
                }
                continue;
            }
            if (a[0] == '-' && a[1] == '-' && eq) {
                snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
                val = eq + 1;
            } else {
                snprintf(flag, sizeof flag, "%s", a);
                if (!takes_value(flag)) return fail_usage("unknown option '%s'%s (see --help)", a, "");
                if (i + 1 >= argc) return fail_usage("%s needs a value%s", flag, "");
                val = argv[++i];
            }
            if (!takes_value(flag)) return fail_usage("unknown option '%s'%s (see --help)", flag, "");
            if (pass == 0) {
                if (!strcmp(flag, "--config")) o->config = val;
                continue;
            }
            int st = apply_flag(o, flag, val);
            if (st) return st;
        }
        if (pass == 0 && o->config) {
            int st = vcfg_load(o->config, &o->s);
            if (st) {
                fprintf(stderr, "vgen: %s\n", varcl_last_error());
                return st == VARCL_E_INPUT ? 2 : 1;
            }
        }
    }
    return 0;
}

static int list_devices(void)
{
    vr_device *d;
    int n;
    if (vr_list_devices(&d, &n)) {
        fprintf(stderr, "vgen: %s\n", varcl_last_error());
        return 1;
    }
    printf("%-5s %-4s %-28s %-40s %-24s %-22s %4s %12s\n", "index", "type", "platform", "device", "vendor", "driver",
           "CUs", "memory MiB");
    for (int i = 0; i < n; i++) {
        cl_device_type t = d[i].type;
        const char *type = (t & CL_DEVICE_TYPE_GPU) ? "GPU" : (t & CL_DEVICE_TYPE_CPU) ? "CPU" : "ACC";
        printf("%-5d %-4s %-28.28s %-40.40s %-24.24s %-22.22s %4u %12llu\n", d[i].index, type, d[i].platform_name,
               d[i].name, d[i].vendor, d[i].driver, d[i].compute_units, (unsigned long long)(d[i].global_mem >> 20));
    }
    if (n == 0) printf("(no OpenCL device found)\n");
    free(d);
    return 0;
}

/* The directory of `path` must exist and be writable: checked before generating, so a long run is not lost. */
static int check_writable_dir(const char *path, int is_dir)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    if (!is_dir) {
        char *slash = strrchr(dir, '/');
        if (slash == dir) dir[1] = 0;
        else if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "vgen: cannot write %s: directory %s does not exist\n", path, dir);
        return 2;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "vgen: cannot write %s: directory %s is not writable\n", path, dir);
        return 2;
    }
    if (!is_dir && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "vgen: cannot write %s: it is a directory\n", path);
        return 2;
    }
    return 0;
}

/* Exit status 1 (run-time) for a failed write: the path was checked before generating (check_writable_dir), so
 * what fails now is the disk or the system. */
static int write_tokens(const char *path, const varcl_images *im, const int *labels)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "vgen: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(f, "{\"labels\":[");
    for (int i = 0; i < im->n; i++) fprintf(f, i ? ",%d" : "%d", labels[i]);
    fprintf(f, "],\"tokens\":[");
    for (int i = 0; i < im->n; i++) {
        fprintf(f, i ? ",[" : "[");
        int at = 0;
        for (int si = 0; si < im->scales; si++) {
            fprintf(f, si ? ",[" : "[");
            int T = im->patch[si] * im->patch[si];
            for (int k = 0; k < T; k++) fprintf(f, k ? ",%d" : "%d", im->tokens[(size_t)i * im->tokens_per_image + at + k]);
            at += T;
            fprintf(f, "]");
        }
        fprintf(f, "]");
    }
    fprintf(f, "]}\n");
    int ok = !ferror(f) && fflush(f) == 0;
    int err = errno;
    if (fclose(f) != 0 && ok) ok = 0, err = errno;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) err = errno;
        unlink(tmp);
        fprintf(stderr, "vgen: cannot write %s: %s\n", path, strerror(err ? err : EIO));
        return 1;
    }
    return 0;
}

/* What was printed to stdout must have reached it (a full disk, a closed pipe): otherwise exit status 1. */
static int stdout_ok(int st)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) return st;
    int err = errno ? errno : EIO;
    fprintf(stderr, "vgen: cannot write to standard output: %s\n", strerror(err));
    return st ? st : 1;
}

/* user: the banner line, printed when generation starts, i.e. only once the request has passed validation, so that
 * a bad class or depth gives one line on stderr (DESIGN.md "Errors"), not the banner and then the error. */
static void progress(void *user, int image0, int images, int scale, int scales)
{
    if (user && image0 == 0 && scale == 0) fputs(user, stderr);
    if (isatty(STDERR_FILENO)) { /* one line rewritten in place */
        fprintf(stderr, "\rvgen: images %d-%d, scale %d/%d ", image0 + 1, image0 + images, scale + 1, scales);
        if (scale + 1 == scales) fputc('\n', stderr);
    } else if (scale == 0) { /* a log file gets one line per pass */
        fprintf(stderr, "vgen: images %d-%d of the request\n", image0 + 1, image0 + images);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    int st = parse_args(argc, argv, &o);
    if (st) {
        vcfg_free(&o.s);
        return st;
    }
    if (o.list) {
        vcfg_free(&o.s);
        return stdout_ok(list_devices());
    }
    vcfg_settings *s = &o.s;
    if (s->has_depth && s->n_layers) {
        fprintf(stderr, "vgen: give either --depth or --layers, not both\n");
        vcfg_free(s);
        return 2;
    }
    if (!o.out) o.out = "out.png";
    if (!o.info && ((st = o.out_dir ? check_writable_dir(o.out_dir, 1) : check_writable_dir(o.out, 0)) ||
                    (o.tokens_out && (st = check_writable_dir(o.tokens_out, 0))))) {
        vcfg_free(s);
        return st;
    }
    double t0 = now_s();
    varcl_open_params op = VARCL_OPEN_DEFAULT;
    op.model_path = s->model;
    op.vae_path = s->vae;
    op.device = s->device;
    op.weights = !s->weights || !strcmp(s->weights, "keep") ? VARCL_WEIGHTS_KEEP
                 : !strcmp(s->weights, "f32")               ? VARCL_WEIGHTS_F32
                 : !strcmp(s->weights, "f16")               ? VARCL_WEIGHTS_F16
                                                            : VARCL_WEIGHTS_BF16;
    if (s->model && !s->vae) {
        fprintf(stderr, "vgen: --model needs --vae (the VQ-VAE that decodes its tokens)\n");
        vcfg_free(s);
        return 2;
    }
    if (!s->model && s->vae) {
        fprintf(stderr, "vgen: --vae needs --model (the built-in demo model has its own VQ-VAE)\n");
        vcfg_free(s);
        return 2;
    }
    varcl *v = varcl_open(&op);
    if (!v) {
        fprintf(stderr, "vgen: %s\n", varcl_last_error());
        vcfg_free(s);
        return varcl_last_status() == VARCL_E_INPUT ? 2 : 1;
    }
    varcl_info info;
    varcl_get_info(v, &info);
    if (info.weights_note[0]) fprintf(stderr, "vgen: %s\n", info.weights_note);
    char banner[5000];
    snprintf(banner, sizeof banner,
             "vgen: %.4096s on %s (%s, policy %s): depth %d, width %d, heads %d, vocabulary %d, classes %d, %zu "
             "parameters, %d px\n",
             s->model ? s->model : builtin_demo_name(), info.device, info.platform, info.policy,
             info.depth,
             info.width, info.heads, info.vocab, info.classes, info.params, info.image_size);
    if (o.info) {
        fputs(banner, stdout);
        printf("scales:");
        for (int i = 0; i < info.scales; i++) printf(" %d", info.patch[i]);
        printf("\ntokens: %d\nffn: %d\nlatent channels: %d\nshared AdaLN: %s\nVQ-VAE: ch %d, %d levels\n",
               info.tokens, info.ffn, info.cvae, info.shared_aln ? "yes" : "no", info.vae_ch, info.vae_levels);
        printf("weights: %s, %zu bytes on the device (VQ-VAE %zu)\n", info.weights, info.weights_bytes, info.vae_bytes);
        printf("load: %.2f s for %zu bytes of checkpoint (%.2f GB/s)\n", info.load_ms / 1e3, info.file_bytes,
               info.load_ms > 0 ? info.file_bytes / (info.load_ms * 1e6) : 0.0);
        varcl_close(v);
        vcfg_free(s);
        return stdout_ok(0);
    }
    /* An output that is known to fail is refused now, not after the whole run: one grid PNG within libpng's limits
     * (a grid of min(n, 8) columns). */
    if (!o.out_dir) {
        long long n = s->n_classes ? s->n_classes : 1, cols = n < 8 ? n : 8, rows = (n + 7) / 8;
        long long gw = cols * info.image_size, gh = rows * info.image_size;
        if (!vimg_png_fits(gw, gh)) {
            fprintf(stderr,
                    "vgen: cannot write %s: a grid of %lld images of %d px is %lldx%lld pixels, over what a PNG file "
                    "can hold (libpng: 1,000,000 rows, 4 GiB of pixels); use --out-dir DIR for one PNG per image\n",
                    o.out, n, info.image_size, gw, gh);
            varcl_close(v);
            vcfg_free(s);
            return 2;
        }
    }
    int default_class = 0;
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = s->n_classes ? s->classes : &default_class;
    rq.n = s->n_classes ? s->n_classes : 1;
    if (s->has_seed) rq.seed = s->seed;
    if (s->has_cfg) rq.cfg = s->cfg;
    if (s->has_top_k) rq.top_k = s->top_k;
    if (s->has_top_p) rq.top_p = (float)s->top_p;
    if (s->has_batch) rq.batch = s->batch;
    if (s->has_depth) rq.depth = s->depth;
    if (s->has_full_scales) rq.full_scales = s->full_scales;
    rq.layers = s->layers;
    rq.n_layers = s->n_layers;
    if (s->has_page_tokens) rq.page_tokens = s->page_tokens;
    rq.kv_f16 = s->kv_dtype && !strcmp(s->kv_dtype, "f16");
    if (s->has_kv_pool_mb) rq.kv_pool_bytes = (size_t)s->kv_pool_mb << 20;
    if (!o.quiet) {
        rq.progress = progress;
        rq.user = banner;
    }
    varcl_images im;
    st = varcl_generate(v, &rq, &im);
    if (st) {
        fprintf(stderr, "vgen: %s\n", varcl_last_error());
        varcl_close(v);
        vcfg_free(s);
        return st == VARCL_E_INPUT ? 2 : 1;
    }
    size_t img_bytes = (size_t)im.size * im.size * 3;
    if (o.out_dir) {
        for (int i = 0; i < im.n && !st; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%05d_class%d.png", o.out_dir, i, rq.labels[i]);
            if ((st = vimg_write_png(path, im.rgb + i * img_bytes, im.size, im.size)))
                fprintf(stderr, "vgen: %s\n", varcl_last_error());
        }
    } else {
        const uint8_t **cells = malloc((size_t)im.n * sizeof *cells);
        int gw = 0, gh = 0;
        uint8_t *grid = NULL;
        if (cells) {
            for (int i = 0; i < im.n; i++) cells[i] = im.rgb + i * img_bytes;
            grid = vimg_grid(cells, im.n, im.size, im.size, &gw, &gh);
        }
        if (!grid || (st = vimg_write_png(o.out, grid, gw, gh))) {
            fprintf(stderr, "vgen: %s\n", varcl_last_error());
            if (!st) st = 1;
        }
        free(grid);
        free(cells);
    }
    if (!st && o.tokens_out) st = write_tokens(o.tokens_out, &im, rq.labels);
    if (!st && !o.quiet)
        fprintf(stderr, "vgen: wrote %s (%d image%s, %dx%d) in %.1f s (transformer %.0f ms, sampling %.0f ms, VQ %.0f ms, "
                        "decoder %.0f ms)\n",
                o.out_dir ? o.out_dir : o.out, im.n, im.n > 1 ? "s" : "", im.size, im.size, now_s() - t0,
                im.ms_transformer, im.ms_sample, im.ms_vq, im.ms_decode);
    if (!st && o.stats) {
        varcl_mem_stats ms;
        varcl_get_mem_stats(v, &ms);
        printf("request kv_bytes %zu\n", im.kv_bytes);
        for (int t = 0; t < ms.ntags; t++)
            printf("%-12s live %12zu bytes  peak %12zu bytes\n", ms.tag[t], ms.live[t], ms.peak[t]);
        printf("%-12s live %12zu bytes  peak %12zu bytes\n", "total", ms.live_total, ms.peak_total);
    }
    varcl_images_free(&im);
    varcl_close(v);
    vcfg_free(s);
    return stdout_ok(st);
}
