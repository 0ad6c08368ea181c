/* vgen: the command line for generation (DESIGN.md "Command-line contracts").
 * Exit status: 0 success, 2 bad usage or input, 1 run-time failure. */
#include "builtin.h"
#include "config.h"
#include "generate.h"
#include "image.h"
#include "job.h"
#include "npz.h"
#include "outfile.h"
#include "pngq.h"
#include "runtime.h"
#include "team.h"
#include "varcl.h"

#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char s[160];
} times_txt;

/* "transformer N ms, sampling N ms, VQ N ms, decoder N ms"; with device sampling the first three are one figure
 * (varcl_images.split_merged) */
static times_txt part_times(const varcl_images *im)
{
    times_txt t;
    if (im->split_merged)
        snprintf(t.s, sizeof t.s, "transformer + sampling + VQ %.0f ms, decoder %.0f ms", im->ms_transformer,
                 im->ms_decode);
    else
        snprintf(t.s, sizeof t.s, "transformer %.0f ms, sampling %.0f ms, VQ %.0f ms, decoder %.0f ms",
                 im->ms_transformer, im->ms_sample, im->ms_vq, im->ms_decode);
    return t;
}

/* The flags that are not settings (the settings' own lines come from config.c's table). */
static const char usage_head[] =
    "usage: vgen [options]\n"
    "  --config F.ini             settings file (the [section] key of each setting below); flags override it\n"
    "  -o F.png                   one image, or a grid of min(n, --grid-columns) columns for several labels (default: out.png)\n"
    "  --out-dir DIR              one PNG per image instead: NNNNN_classL.png (DIR made if missing)\n"
    "  --tokens-out F.json        write the sampled token ids\n"
    "  --per-class N              a sampling job: N images of each --class (default: every class of the model) into\n"
    "                             --out-dir DIR as classCCCC_KKKKK.png, streamed pass by pass (--batch, default 8);\n"
    "                             a rerun makes only the images missing; DIR/vgen-job.json records the job\n"
    "  --shard I/N | env/N | env  with --per-class: only slice I (from 0) of N; env: I from SLURM_ARRAY_TASK_ID,\n"
    "                             JOB_COMPLETION_INDEX or PARALLEL_SEQ (and N from SLURM_ARRAY_TASK_COUNT)\n"
    "  --npz F.npz                with --per-class: pack the job's images into F.npz (arr_0 uint8 [n,H,W,3],\n"
    "                             class-major; arr_1 int64 [n] labels) once they are all made\n"
    "  --pack DIR --npz F.npz     pack a finished job folder (after all its shards) without generating\n"
    "  --info                     print the model's hyperparameters    --list-devices   list OpenCL devices\n"
    "  --stats                    device memory per tag                -q               no progress on stderr\n"
    "settings:\n";

static int fail_usage(const char *fmt, const char *a, const char *b)
{
    char msg[8192];
    snprintf(msg, sizeof msg, fmt, a, b);
    varcl_eprintf("vgen: %s\n", msg);
    return 2;
}

typedef struct {
    vcfg_settings s; /* the settings file, then flags on top */
    const char *out, *out_dir, *tokens_out, *config;
    int quiet, stats, list, info;
    int per_class;                  /* 0: a plain request */
    const char *shard, *npz, *pack; /* job flags */
    const char *setting_flag;       /* the first setting given as a flag (--cfg, --model, ...), NULL when none */
    const char *image_setting;      /* the first flag that shapes images only (sampling, subnet, grid), for --info */
    int grid_flag;                  /* --grid-columns given as a flag (not only in the settings file) */
    const char *config_device;      /* s.device as the settings file set it (a flag replaces the pointer) */
    int layers_flag, depth_flag;    /* --layers, --depth given as flags (both: refused) */
    unsigned char given[64];        /* [setting index]: 1 when the command line gave it (else the file, if any) */
} options;

/* Where setting `flag` came from, for messages: the flag itself, or "[section] key in FILE" (the settings file's
 * value, when no flag replaced it) */
static const char *setting_from(const options *o, const char *flag, char *buf, size_t n)
{
    const vcfg_setting *st = vcfg_find_flag(flag);
    int i = st ? (int)(st - VCFG_SETTINGS) : -1;
    if (!st || !o->config || (i < (int)sizeof o->given && o->given[i])) snprintf(buf, n, "%s", flag);
    else snprintf(buf, n, "[%s] %s in %s", st->section, st->key, o->config);
    return buf;
}

/* The flags with a value that are not settings. */
static const char *const OWN_FLAGS[] = {"-o",         "--out-dir", "--tokens-out", "--config",
                                        "--per-class", "--shard",   "--npz",        "--pack"};

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
        if (!o->setting_flag) o->setting_flag = st->flag;
        if (!o->image_setting && strcmp(st->section, "model") && strcmp(st->section, "runtime"))
            o->image_setting = st->flag;
        if (!strcmp(st->flag, "--grid-columns")) o->grid_flag = 1;
        /* --depth and --layers are two ways to give the subnet: a flag replaces the settings file's, whichever */
        if (!strcmp(st->flag, "--layers") && !o->depth_flag) o->s.has_depth = 0;
        if (!strcmp(st->flag, "--depth") && !o->layers_flag) {
            free(o->s.layers);
            o->s.layers = NULL, o->s.n_layers = 0;
        }
        if ((size_t)(st - VCFG_SETTINGS) < sizeof o->given) o->given[st - VCFG_SETTINGS] = 1;
        o->layers_flag |= !strcmp(st->flag, "--layers");
        o->depth_flag |= !strcmp(st->flag, "--depth");
        int r = vcfg_set(&o->s, st, val);
        if (r) varcl_eprintf("vgen: %s\n", varcl_last_error());
        return r == VARCL_E_INPUT ? 2 : r ? 1 : 0;
    }
    if (!*val && strcmp(flag, "--per-class") && strcmp(flag, "--shard"))
        return fail_usage("%s: empty path%s", flag, ""); /* every other flag of this list names a file or folder */
    if (!strcmp(flag, "-o")) o->out = val;
    else if (!strcmp(flag, "--out-dir")) o->out_dir = val;
    else if (!strcmp(flag, "--tokens-out")) o->tokens_out = val;
    else if (!strcmp(flag, "--shard")) o->shard = val;
    else if (!strcmp(flag, "--npz")) o->npz = val;
    else if (!strcmp(flag, "--pack")) o->pack = val;
    else if (!strcmp(flag, "--per-class")) {
        if (vcfg_parse_int(val, 1, INT_MAX, &o->per_class))
            return fail_usage("--per-class %s: expected a whole number from 1 to 2147483647%s", val, "");
    }
    else if (strcmp(flag, "--config")) return fail_usage("unknown option '%s'%s (see --help)", flag, "");
    return 0; /* --config is handled before the other flags */
}

/* Two passes over argv: find --config first (flags override the file), then apply every flag (each at most once). */
static int parse_args(int argc, char **argv, options *o)
{
    vcfg_once_set seen = {0};
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 1; i < argc; i++) {
            char flag[64];
            const char *a = argv[i], *val = NULL, *eq = strchr(a, '=');
            if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                if (pass) continue;
                fputs(usage_head, stdout);
                vcfg_print_help(stdout);
                if (fflush(stdout) == 0 && !ferror(stdout)) exit(0);
                varcl_eprintf("vgen: cannot write to standard output: %s\n", strerror(errno ? errno : EIO));
                exit(1);
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
                if (!strcmp(flag, "--stats") || !strcmp(flag, "--list-devices") || !strcmp(flag, "--info"))
                    return fail_usage("%s takes no value (got '%s')", flag, val);
            } else {
                snprintf(flag, sizeof flag, "%s", a);
                if (!takes_value(flag)) return fail_usage("unknown option '%s'%s (see --help)", a, "");
                if (i + 1 >= argc) return fail_usage("%s needs a value%s", flag, "");
                val = argv[++i];
                /* "-o -q": the value forgotten, the next flag taken as it (vgen wrote a file named -q) */
                if (takes_value(val) || !strcmp(val, "-q") || !strcmp(val, "--stats") || !strcmp(val, "--info") ||
                    !strcmp(val, "--list-devices") || !strcmp(val, "-h") || !strcmp(val, "--help"))
                {
                    const vcfg_setting *st = vcfg_find_flag(flag);
                    const int path = st ? st->kind == VCFG_PATH : strcmp(flag, "--per-class") && strcmp(flag, "--shard");
                    varcl_eprintf("vgen: %s needs a value, and %s is an option%s%s%s\n", flag, val,
                                  path ? " (a file of that name: ./" : "", path ? val : "", path ? ")" : "");
                    return 2;
                }
            }
            if (!takes_value(flag)) return fail_usage("unknown option '%s'%s (see --help)", flag, "");
            if (pass == 0) {
                if (!strcmp(flag, "--config")) o->config = val;
                continue;
            }
            int st = vcfg_once(&seen, flag, val) ? fail_usage("%s%s", varcl_last_error(), "") : 0;
            if (!st) st = apply_flag(o, flag, val);
            if (st) return st;
        }
        if (pass == 0 && o->config) {
            int st = vcfg_load(o->config, &o->s);
            if (st) {
                varcl_eprintf("vgen: %s\n", varcl_last_error());
                return st == VARCL_E_INPUT ? 2 : 1;
            }
            o->config_device = o->s.device;
        }
    }
    return 0;
}


static int list_devices(void)
{
    vr_device *d;
    int n;
    if (vr_list_devices(&d, &n)) {
        varcl_eprintf("vgen: %s\n", varcl_last_error());
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

/* --out-dir of a plain request: an existing folder must be writable; a missing one is made when the images are
 * written (images_main), so its parent must be a writable folder and its name within the file system's limit.
 * 0, or 2 after one line. */
static int check_writable_dir(const char *path, int is_dir);
static int check_out_dir(const char *path)
{
    struct stat sb;
    if (!*path || stat(path, &sb) == 0) return check_writable_dir(path, 1);
    char parent[4200];
    snprintf(parent, sizeof parent, "%s", path);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = 0; /* "new/" names the folder new */
    char *slash = strrchr(parent, '/');
    const size_t name_len = strlen(slash ? slash + 1 : parent);
    if (slash == parent) parent[1] = 0;
    else if (slash) *slash = 0;
    const char *dir = slash ? parent : ".";
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        varcl_eprintf("vgen: cannot make %s: %s %s\n", path, dir, stat(dir, &sb) != 0 ? "does not exist" : "is not a folder");
        return 2;
    }
    long max = pathconf(dir, _PC_NAME_MAX);
    if (max > 0 && (long)name_len > max) {
        varcl_eprintf("vgen: cannot make %s: the name is %zu bytes, over the folder's limit of %ld\n", path,
                      name_len, max);
        return 2;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        varcl_eprintf("vgen: cannot make %s: %s: %s\n", path, dir, strerror(errno));
        return 2;
    }
    return 0;
}

/* The output `path` (or, is_dir, the folder itself) must be writable: checked before generating, so a long run is
 * not lost (outfile.h vo_check). 0, or 2 after one line. */
static int check_writable_dir(const char *path, int is_dir)
{
    if (is_dir) {
        struct stat sb;
        if (!*path || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            varcl_eprintf("vgen: cannot write into %s: %s\n", *path ? path : "''",
                    !*path ? "empty path" : stat(path, &sb) != 0 ? "the folder does not exist" : "not a folder");
            return 2;
        }
        if (access(path, W_OK) != 0) {
            varcl_eprintf("vgen: cannot write into %s: the folder is not writable\n", path);
            return 2;
        }
        return 0;
    }
    if (vo_check(path)) {
        varcl_eprintf("vgen: %s\n", varcl_last_error());
        return 2;
    }
    return 0;
}

/* An output whose name says another format than the one written (-o x.jpg got PNG bytes): 1 after the message. */
static int wrong_format(const char *flag, const char *path, const char *want)
{
    const char *const wanted[] = {want, NULL}, *ext = vo_other_format(path, wanted);
    if (!ext) return 0;
    varcl_eprintf("vgen: %s %s: the file will hold %s, not %s; name it .%s\n", flag, path,
                  !strcmp(want, "png") ? "a PNG image" : !strcmp(want, "json") ? "JSON" : "an .npz archive", ext, want);
    return 1;
}

/* No output may be one of the run's inputs (--model, --vae, --config) or another of its outputs: refused before any
 * work (exit 2), not a checkpoint replaced by a PNG. Devices (/dev/null) may take several outputs (outfile.h). */
static int check_distinct(const options *o)
{
    const char *outs[3] = {o->out_dir ? NULL : o->out, o->tokens_out, o->npz};
    const char *out_flags[3] = {"-o", "--tokens-out", "--npz"};
    const char *ins[3] = {o->s.model, o->s.vae, o->config}, *in_flags[3] = {"--model", "--vae", "--config"};
    for (int i = 0; i < 3; i++) {
        if (!outs[i]) continue;
        for (int j = 0; j < 3; j++)
            if (ins[j] && vo_same_file(outs[i], ins[j])) {
                varcl_eprintf("vgen: %s %s is the %s file: writing it would destroy an input\n", out_flags[i],
                        outs[i], in_flags[j]);
                return 2;
            }
        for (int j = 0; j < i; j++)
            if (outs[j] && vo_same_file(outs[i], outs[j])) {
                varcl_eprintf("vgen: %s and %s name the same file, %s\n", out_flags[j], out_flags[i], outs[i]);
                return 2;
            }
    }
    return 0;
}

/* Each output's name must not say another format than the one written (wrong_format); checked after the identity
 * checks above, whose messages say more. */
static int check_formats(const options *o)
{
    const char *outs[3] = {o->out_dir ? NULL : o->out, o->tokens_out, o->npz};
    const char *out_flags[3] = {"-o", "--tokens-out", "--npz"}, *formats[3] = {"png", "json", "npz"};
    for (int i = 0; i < 3; i++)
        if (outs[i] && wrong_format(out_flags[i], outs[i], formats[i])) return 2;
    return 0;
}

/* The same for a plain request's --out-dir images (DIR/NNNNN_classC.png, one per class asked for): none may be an
 * input or the --tokens-out file. */
static int check_image_names(const options *o)
{
    const vcfg_settings *s = &o->s;
    const int n = s->n_classes ? s->n_classes : 1;
    const char *ins[4] = {s->model, s->vae, o->config, o->tokens_out};
    const char *in_flags[4] = {"--model", "--vae", "--config", "--tokens-out"};
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%05d_class%d.png", o->out_dir, i, s->n_classes ? s->classes[i] : 0);
        for (int j = 0; j < 4; j++)
            if (ins[j] && vo_same_file(path, ins[j])) {
                varcl_eprintf("vgen: --out-dir would write image %d as %s, which is the %s file\n", i, path,
                              in_flags[j]);
                return 2;
            }
    }
    return 0;
}

/* The tokens JSON into *out, closed but not yet renamed (vo_commit). Exit status 1 (run-time) for a failed write: the
 * path was checked before generating (check_writable_dir), so what fails now is the disk or the system. */
static int stage_tokens(vo_file *out, const char *path, const varcl_images *im, const int *labels)
{
    if (vo_open(out, path)) {
        varcl_eprintf("vgen: %s\n", varcl_last_error());
        return 1;
    }
    FILE *f = out->fp;
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
    if (vo_close(out)) { /* a write error stays in the stream until the flush vo_close checks */
        varcl_eprintf("vgen: %s\n", varcl_last_error());
        return 1;
    }
    return 0;
}

/* What was printed to stdout must have reached it (a full disk, a closed pipe): otherwise exit status 1. */
static int stdout_ok(int st)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) return st;
    int err = errno ? errno : EIO;
    varcl_eprintf("vgen: cannot write to standard output: %s\n", strerror(err));
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
        varcl_eprintf("vgen: images %d-%d of the request\n", image0 + 1, image0 + images);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Opens the model the settings name (the built-in demo model when none). 0, or the exit status after one line. */
/* The settings the model decides (the subnet's layers and depth, the full scales, the classes) checked right after
 * the load, before any work, each named where it came from: a flag, or the settings file (the library's own checks
 * name the flag only) */
static int check_subnet(const options *o, const varcl_info *info)
{
    const vcfg_settings *s = &o->s;
    char from[4200];
    for (int i = 0; i < s->n_layers; i++)
        if (s->layers[i] >= info->depth) {
            varcl_eprintf("vgen: layer %d (%s) out of range 0..%d: the model has %d layers\n", s->layers[i],
                          setting_from(o, "--layers", from, sizeof from), info->depth - 1, info->depth);
            return 2;
        }
    if (s->has_depth && s->depth > info->depth) {
        varcl_eprintf("vgen: depth %d (%s) out of range: the model has %d layers\n", s->depth,
                      setting_from(o, "--depth", from, sizeof from), info->depth);
        return 2;
    }
    if (s->has_full_scales && s->full_scales > info->scales) {
        varcl_eprintf("vgen: full scales %d (%s) out of range 0..%d: the model has %d scales\n", s->full_scales,
                      setting_from(o, "--full-scales", from, sizeof from), info->scales, info->scales);
        return 2;
    }
    for (int i = 0; i < s->n_classes; i++)
        if (s->classes[i] >= info->classes) {
            varcl_eprintf("vgen: class %d (%s) out of range: the model has classes 0..%d\n", s->classes[i],
                          setting_from(o, "--class", from, sizeof from), info->classes - 1);
            return 2;
        }
    return 0;
}

static int open_model(const options *o, varcl **v)
{
    const vcfg_settings *s = &o->s;
    varcl_open_params op = VARCL_OPEN_DEFAULT;
    op.model_path = s->model;
    op.vae_path = s->vae;
    op.device = s->device;
    op.weights = !s->weights || !strcmp(s->weights, "keep") ? VARCL_WEIGHTS_KEEP
                 : !strcmp(s->weights, "f32")               ? VARCL_WEIGHTS_F32
                 : !strcmp(s->weights, "f16")               ? VARCL_WEIGHTS_F16
                                                            : VARCL_WEIGHTS_BF16;
    op.weight_cache = s->weight_cache && !strcmp(s->weight_cache, "off") ? VARCL_WCACHE_OFF : VARCL_WCACHE_AUTO;
    /* either may come from the settings file's [model] section: the message names both places */
    if (s->model && !s->vae) {
        varcl_eprintf("vgen: --model needs --vae (the VQ-VAE that decodes its tokens)%s%s%s\n",
                      o->config ? "; in a settings file, vae = in [model] (" : "", o->config ? o->config : "",
                      o->config ? ")" : "");
        return 2;
    }
    if (!s->model && s->vae) {
        varcl_eprintf("vgen: --vae needs --model (the built-in demo model has its own VQ-VAE)%s%s%s\n",
                      o->config ? "; in a settings file, var = in [model] (" : "", o->config ? o->config : "",
                      o->config ? ")" : "");
        return 2;
    }
    *v = varcl_open(&op);
    if (!*v) {
        /* a device spec the settings file gave is refused naming the file: the message names only the spec */
        const int from_file = s->device && s->device == o->config_device && !strncmp(varcl_last_error(), "device '", 8);
        varcl_eprintf("vgen: %s%s%s%s\n", varcl_last_error(), from_file ? " ([runtime] device in " : "",
                      from_file ? o->config : "", from_file ? ")" : "");
        return varcl_last_status() == VARCL_E_INPUT ? 2 : 1;
    }
    return 0;
}

/* The request's sampling and plan settings (everything but labels, n and batch). */
static void request_settings(const vcfg_settings *s, varcl_request *rq)
{
    if (s->has_seed) rq->seed = s->seed;
    if (s->has_cfg) rq->cfg = s->cfg;
    if (s->has_top_k) rq->top_k = s->top_k;
    if (s->has_top_p) rq->top_p = (float)s->top_p;
    if (s->has_depth) rq->depth = s->depth;
    if (s->has_full_scales) rq->full_scales = s->full_scales;
    rq->layers = s->layers;
    rq->n_layers = s->n_layers;
    if (s->has_page_tokens) rq->page_tokens = s->page_tokens;
    rq->kv_f16 = s->kv_dtype && !strcmp(s->kv_dtype, "f16");
    if (s->has_kv_pool_mb) rq->kv_pool_bytes = (size_t)s->kv_pool_mb << 20;
}

/* ---- vgen --per-class: a sampling job (host/job.h) ---- */

static int status_exit(int st) { return st == VARCL_E_INPUT ? 2 : st ? 1 : 0; }

static int fail_lib(int st)
{
    varcl_eprintf("vgen: %s\n", varcl_last_error());
    return status_exit(st);
}

/* Free bytes for an unprivileged writer in the folder of `path` (is_dir: path is the folder); -1 if unknown. An
 * existing file is asked itself (through links and /dev/fd/N, on the file system it lies on); a device or FIFO has no
 * room to speak of (-1). */
static long long free_bytes(const char *path, int is_dir)
{
    struct stat sb;
    struct statvfs fs;
    if (!is_dir && stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode) || statvfs(path, &fs) != 0) return -1;
        return (long long)fs.f_bavail * (long long)fs.f_frsize;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = is_dir ? NULL : strrchr(dir, '/');
    if (!is_dir) {
        if (slash == dir) dir[1] = 0;
        else if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    if (statvfs(dir, &fs) != 0) return -1;
    return (long long)fs.f_bavail * (long long)fs.f_frsize;
}

/* The .npz of a job: refused before any work when its folder lacks the room (the size is known exactly). */
static int check_npz_room(const char *npz, const job_layout *j, int size)
{
    uint64_t need = vz_archive_bound(2, (uint64_t)j->total * size * size * 3 + (uint64_t)j->total * 8);
    long long have = free_bytes(npz, 0);
    if (have >= 0 && (uint64_t)have < need) {
        varcl_eprintf("vgen: cannot write %s: it needs %llu bytes (%lld images of %d px) but %lld are free there\n",
                npz, (unsigned long long)need, (long long)j->total, size, have);
        return 2;
    }
    return 0;
}

/* Packs every image of the job in `dir` into `npz`: arr_0 uint8 [n][size][size][3] and arr_1 int64 [n] (the
 * labels), class-major, read back from the PNGs one at a time. Every image must be there. */
static int pack_job(const char *dir, const job_layout *j, int size, const char *npz, int quiet)
{
    char path[4400], name[64];
    /* the images there, from one pass over the folder (a job of millions of images is not probed name by name);
     * one that is not a whole PNG counts as missing */
    int64_t *done = NULL, n_done = 0, damaged = 0, first_missing = 0;
    int st = job_scan_done(dir, j, 0, j->total, &done, &n_done, &damaged);
    if (st) return fail_lib(st);
    while (first_missing < n_done && done[first_missing] == first_missing) first_missing++;
    free(done);
    int64_t missing = j->total - n_done;
    if (missing) {
        job_image_name(j, first_missing, name, sizeof name);
        char damaged_s[96] = "";
        if (damaged) /* there, but cut short or with bytes after their end: a rerun makes them again */
            snprintf(damaged_s, sizeof damaged_s, ", %lld of them there but not whole PNGs", (long long)damaged);
        varcl_eprintf(
                "vgen: cannot pack %s: %lld of its %lld images are missing%s (the first: %s); run the job's missing "
                "shards first (a rerun makes only what is missing)\n",
                dir, (long long)missing, (long long)j->total, damaged_s, name);
        return 2;
    }
    if ((st = check_npz_room(npz, j, size))) return st;
    double t0 = now_s();
    vz_writer *w = NULL;
    int64_t shape[4] = {j->total, size, size, 3};
    if ((st = vz_open(&w, npz)) || (st = vz_begin(w, "arr_0", "|u1", 4, shape))) {
        vz_abort(w);
        return fail_lib(st);
    }
    for (int64_t g = 0; g < j->total && !st; g++) {
        uint8_t *rgb = NULL;
        int wd, ht;
        job_image_name(j, g, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (!(st = vimg_read_png(path, &rgb, &wd, &ht)) && (wd != size || ht != size))
            st = varcl_fail(VARCL_E_INPUT, "%s: %dx%d pixels, but the job's images are %dx%d", path, wd, ht, size, size);
        /* damaged in place (a resumed job checks only each image's ends: reading them all would cost as much as
         * the pack): the way out named */
        if (st == VARCL_E_INPUT)
            st = varcl_fail(st, "%s; remove it and run the job again, which makes the missing images",
                            varcl_last_error());
        if (!st) st = vz_write(w, rgb, (size_t)size * size * 3);
        free(rgb);
    }
    if (!st && !(st = vz_end(w))) {
        int64_t n = j->total;
        if (!(st = vz_begin(w, "arr_1", "<i8", 1, &n)))
            for (int64_t g = 0; g < j->total && !st; g++) {
                uint8_t le[8];
                int64_t c = job_image_class(j, g);
                for (int k = 0; k < 8; k++) le[k] = (uint8_t)((uint64_t)c >> (8 * k));
                st = vz_write(w, le, 8);
            }
        if (!st) st = vz_end(w);
    }
    if (st) {
        vz_abort(w);
        return fail_lib(st);
    }
    if ((st = vz_close(w))) return fail_lib(st);
    if (!quiet)
        varcl_eprintf("vgen: packed %lld images of %s into %s (arr_0 uint8 [%lld, %d, %d, 3], arr_1 labels) in %.1f s\n",
                (long long)j->total, dir, npz, (long long)j->total, size, size, now_s() - t0);
    return 0;
}

/* --npz: writable, and a file the archive's CRCs can be written back into (vz_check), before any work (exit 2) */
static int check_npz_target(const char *npz)
{
    if (vz_check(npz)) {
        varcl_eprintf("vgen: --npz %s\n", varcl_last_error());
        return 2;
    }
    return 0;
}

/* Whether a file's base name is one a job names its images by: classCCCC_KKKKK.png (host/job.h). */
static int is_job_image_name(const char *base)
{
    int c, tail = 0;
    long long k;
    return sscanf(base, "class%d_%lld.png%n", &c, &k, &tail) == 2 && !base[tail];
}

/* --npz must not be one of the job folder's own files, its manifest or an image (a name the job uses): it would
 * destroy the job it packs. Refused before any work (exit 2). A .npz elsewhere in the folder is fine. */
static int check_npz_outside_job(const char *npz, const char *dir)
{
    /* the name that counts is the one written: a link's target (l.npz -> job/class0000_00000.png) */
    char *target = vo_link_target(npz);
    const char *written = target ? target : npz, *slash = strrchr(written, '/'), *base = slash ? slash + 1 : written;
    char manifest[4200], same_name[4200];
    snprintf(manifest, sizeof manifest, "%s/%s", dir, JOB_MANIFEST);
    snprintf(same_name, sizeof same_name, "%s/%s", dir, base);
    int image_name = is_job_image_name(base);
    free(target);
    if (vo_same_file(npz, manifest) || (image_name && vo_same_file(npz, same_name))) {
        varcl_eprintf("vgen: --npz %s is one of the job's own files in %s: writing it would destroy the job\n", npz,
                dir);
        return 2;
    }
    return 0;
}

/* No input (--model, --vae, --config) may lie in the job folder under a name the job writes or cleans up: its images
 * (classCCCC_KKKKK.png), its manifest, their temporaries (".<name>.<pid>.<n>.tmp"). The job would replace it (a VQ-VAE
 * named class0003_00000.png became that image) or delete it. Refused before any work (exit 2). */
static int check_inputs_outside_job(const options *o)
{
    const char *ins[3] = {o->s.model, o->s.vae, o->config}, *in_flags[3] = {"--model", "--vae", "--config"};
    struct stat job_dir, in_dir;
    if (stat(o->out_dir, &job_dir) != 0) return 0;
    for (int i = 0; i < 3; i++) {
        if (!ins[i]) continue;
        char *target = vo_link_target(ins[i]); /* the file read: a link's target */
        if (!target) continue;
        char *slash = strrchr(target, '/'), *base = slash ? slash + 1 : target;
        size_t bl = strlen(base);
        const int job_name = !strcmp(base, JOB_MANIFEST) || is_job_image_name(base) ||
                             (base[0] == '.' && bl > 4 && !strcmp(base + bl - 4, ".tmp") &&
                              (!strncmp(base + 1, "class", 5) || !strncmp(base + 1, JOB_MANIFEST, strlen(JOB_MANIFEST))));
        if (slash == target) slash[1] = 0; /* in "/" */
        else if (slash) *slash = 0;
        const int same_dir = job_name && stat(slash ? target : ".", &in_dir) == 0 && in_dir.st_dev == job_dir.st_dev &&
                             in_dir.st_ino == job_dir.st_ino;
        free(target);
        if (same_dir) {
            varcl_eprintf("vgen: %s %s lies in %s under a name the job writes or cleans up (its images, %s and "
                          "their temporaries): move it or choose another --out-dir\n",
                          in_flags[i], ins[i], o->out_dir, JOB_MANIFEST);
            return 2;
        }
    }
    return 0;
}

static int pack_main(const options *o)
{
    if (!o->npz) {
        varcl_eprintf("vgen: --pack %s needs --npz F.npz (the file to write)\n", o->pack);
        return 2;
    }
    /* every setting was the job's, recorded in its manifest: one given here would be ignored, so it is refused */
    const char *other = o->per_class ? "--per-class" : o->shard ? "--shard" : o->out ? "-o" : o->out_dir ? "--out-dir"
                        : o->tokens_out ? "--tokens-out" : o->config ? "--config" : o->info ? "--info"
                        : o->stats ? "--stats" : o->setting_flag;
    if (other) {
        varcl_eprintf("vgen: --pack DIR --npz F.npz packs a finished job: it takes no generation flags (%s)\n",
                other);
        return 2;
    }
    struct stat sb; /* the job's folder (a file named here gave "job.json/vgen-job.json: ... Not a directory") */
    int found = stat(o->pack, &sb) == 0, err = errno;
    if (!found || !S_ISDIR(sb.st_mode)) {
        varcl_eprintf("vgen: --pack %s: %s (the job's folder, as given to --out-dir)\n", varcl_shown(o->pack),
                      found ? "not a folder" : strerror(err));
        return 2;
    }
    int st = check_npz_target(o->npz);
    if (st || (st = check_distinct(o)) || (st = check_npz_outside_job(o->npz, o->pack)) || (st = check_formats(o)))
        return st;
    job_layout j;
    int size;
    if ((st = job_manifest_read(o->pack, &j, &size))) return fail_lib(st);
    st = pack_job(o->pack, &j, size, o->npz, o->quiet);
    job_layout_free(&j);
    return st;
}

/* What the pass callback needs: where the files go, which images the passes hold, the writers, the progress. */
typedef struct {
    const char *dir;
    const job_layout *j;
    const uint32_t *ids;   /* the current request's images: their g */
    pngq *q;
    int64_t todo, done_before, slice;
    int64_t made_before; /* images of the earlier requests (chunks) of this run */
    double t0;
    int tty, quiet;
    char shard[64];
} job_run;

/* s seconds as 5s, 3m07s, 2h05m, or 123d for 100 days and more (a job of hundreds of millions of images on one
 * device runs for years: the estimate must not wrap or read 0s); "unknown" before anything was measured. */
static void fmt_duration(double s, char *out, size_t cap)
{
    if (!(s >= 0)) {
        snprintf(out, cap, "unknown");
        return;
    }
    if (s >= 100 * 86400.0) {
        snprintf(out, cap, "%.0fd", s / 86400);
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, cap, "%lds", t);
}

static void job_progress(const job_run *r, int64_t made)
{
    double el = now_s() - r->t0, rate = el > 0 ? made / el : 0;
    char eta[32];
    fmt_duration(rate > 0 ? (double)(r->todo - made) / rate : -1, eta, sizeof eta);
    int64_t have = r->done_before + made;
    if (r->tty) { /* one line rewritten in place: a bar of 30 cells */
        char bar[31];
        int cells = r->slice ? (int)(30 * have / r->slice) : 30;
        for (int i = 0; i < 30; i++) bar[i] = i < cells ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\rvgen: [%s] %lld/%lld images%s, %.2f images/s, ETA %s   ", bar, (long long)have,
                (long long)r->slice, r->shard, rate, eta);
    } else {
        varcl_eprintf("vgen: %lld/%lld images%s, %.2f images/s, ETA %s\n", (long long)have, (long long)r->slice,
                r->shard, rate, eta);
    }
}

static int job_pass(void *user, int first, const varcl_images *pass)
{
    job_run *r = user;
    char name[64], *paths[1024];
    const char *cpaths[1024] = {0};
    int st = 0, n = pass->n;
    if (n > 1024) return varcl_fail(VARCL_E_RUNTIME, "a pass of %d images is over the 1024 of --batch", n);
    for (int i = 0; i < n; i++) {
        job_image_name(r->j, r->ids[first + i], name, sizeof name);
        if (asprintf(&paths[i], "%s/%s", r->dir, name) < 0) {
            for (int k = 0; k < i; k++) free(paths[k]);
            return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        }
        cpaths[i] = paths[i];
    }
    st = pngq_put(r->q, pass->rgb, n, cpaths);
    for (int i = 0; i < n; i++) free(paths[i]);
    if (!st && !r->quiet) job_progress(r, r->made_before + first + n);
    return st;
}

/* Adds the timings and counts of one request (a chunk of a job) to the run's totals; the layout fields are the
 * same for every chunk, the KV bytes the largest. */
static void add_times(varcl_images *t, const varcl_images *p)
{
    int n = t->n;
    double ms[4] = {t->ms_transformer + p->ms_transformer, t->ms_sample + p->ms_sample, t->ms_vq + p->ms_vq,
                    t->ms_decode + p->ms_decode};
    double scale[16];
    for (int i = 0; i < 16; i++) scale[i] = t->ms_scale[i] + p->ms_scale[i];
    unsigned long long launches = t->launches + p->launches, syncs = t->syncs + p->syncs;
    size_t kv = t->kv_bytes > p->kv_bytes ? t->kv_bytes : p->kv_bytes;
    *t = *p;
    t->n = n + p->n;
    t->ms_transformer = ms[0], t->ms_sample = ms[1], t->ms_vq = ms[2], t->ms_decode = ms[3];
    memcpy(t->ms_scale, scale, sizeof scale);
    t->launches = launches, t->syncs = syncs, t->kv_bytes = kv;
}

static int job_main(const options *o)
{
    const vcfg_settings *s = &o->s;
    if (o->stats) {
        varcl_eprintf("vgen: --stats reports a plain request's device memory; --per-class takes no --stats\n");
        return 2;
    }
    if (!o->out_dir || o->out || o->tokens_out) {
        varcl_eprintf("vgen: --per-class writes into --out-dir DIR%s\n",
                o->out_dir ? " (-o and --tokens-out go with plain requests)" : "");
        return 2;
    }
    if (o->grid_flag) {
        varcl_eprintf("vgen: --grid-columns shapes the one grid PNG of -o; --per-class writes one PNG per image\n");
        return 2;
    }
    if (o->npz && o->shard) {
        varcl_eprintf("vgen: --npz with --shard: pack once every shard is done, with vgen --pack %s --npz %s\n",
                o->out_dir, o->npz);
        return 2;
    }
#ifdef M_MMAP_THRESHOLD
    /* glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), after which blocks of
     * a pass's size come from the heap, which fragments and grew 14-42 MB over 48 images of the demo model (peak RSS,
     * measured): a fixed threshold keeps every large block mapped and returned on free, so memory stays flat */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    job_shard shard = {0, 1, ""};
    int st;
    if (o->shard && (st = job_shard_parse(o->shard, &shard))) return fail_lib(st);
    /* the folder: made if missing (shards started together all try; one wins), then it must be writable */
    if (!*o->out_dir) {
        varcl_eprintf("vgen: --out-dir: empty path\n");
        return 2;
    }
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
        varcl_eprintf("vgen: cannot make %s: %s\n", o->out_dir, strerror(errno));
        return 2;
    }
    if ((st = check_writable_dir(o->out_dir, 1)) || (o->npz && (st = check_npz_target(o->npz))) ||
        (st = check_distinct(o)) || (o->npz && (st = check_npz_outside_job(o->npz, o->out_dir))) ||
        (st = check_inputs_outside_job(o)) || (st = check_formats(o)))
        return st;
    if (strlen(o->out_dir) > 4000) {
        varcl_eprintf("vgen: --out-dir %.40s...: the path is too long\n", o->out_dir);
        return 2;
    }
    /* the model's identity for the manifest: its files' CRC-32, or the built-in tensors' */
    job_settings js;
    memset(&js, 0, sizeof js);
    if (s->model && s->vae) {
        if ((st = job_file_crc32(s->model, js.var_crc32, &js.var_bytes)) ||
            (st = job_file_crc32(s->vae, js.vae_crc32, &js.vae_bytes)))
            return fail_lib(st);
        const char *base = strrchr(s->model, '/');
        js.model = base ? base + 1 : s->model;
    } else if (!s->model && !s->vae) {
        vt_set *var = NULL, *vae = NULL;
        if ((st = builtin_demo_sets(&var, &vae))) return fail_lib(st);
        job_set_crc32(var, js.var_crc32, &js.var_bytes);
        job_set_crc32(vae, js.vae_crc32, &js.vae_bytes);
        vt_free(var);
        vt_free(vae);
        js.model = builtin_demo_name();
    }
    double t_open = now_s();
    varcl *v = NULL;
    if ((st = open_model(o, &v))) return st;
    varcl_info info;
    varcl_get_info(v, &info);
    if (info.driver_note[0]) varcl_eprintf("vgen: %s\n", info.driver_note);
    if ((st = check_subnet(o, &info))) {
        varcl_close(v);
        return st;
    }
    job_layout j;
    if ((st = job_layout_init(&j, s->classes, s->n_classes, info.classes, o->per_class))) {
        varcl_close(v);
        return fail_lib(st);
    }
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    request_settings(s, &rq);
    rq.batch = s->has_batch ? s->batch : 8;
    rq.pad_passes = 1;
    int layers[256], n_layers = varcl_plan_layers(v, &rq, layers);
    uint32_t *ids = NULL;
    int *labels = NULL;
    int64_t *done_ids = NULL; /* the slice's images already on disk, sorted */
    pngq *q = NULL;
    json_t *m = NULL;
    if (n_layers < 0 || (s->has_depth && s->depth > info.depth)) {
        st = n_layers < 0 ? fail_lib(varcl_last_status())
                          : (varcl_eprintf("vgen: depth %d out of range: the model has %d layers\n", s->depth,
                                     info.depth), 2);
        goto done;
    }
    js.image_size = info.image_size;
    js.seed = rq.seed;
    js.cfg = rq.cfg;
    js.top_k = rq.top_k;
    js.top_p = s->has_top_p ? s->top_p : 0.96;
    js.model_depth = info.depth;
    js.depth = n_layers;
    js.full_scales = rq.full_scales;
    js.layers = layers;
    js.n_layers = n_layers;
    js.weights = s->weights ? s->weights : "keep";
    js.kv_dtype = s->kv_dtype ? s->kv_dtype : "f32";
    if (o->npz && (st = check_npz_room(o->npz, &j, info.image_size))) goto done;
    if (!(m = job_manifest(&j, &js)) || (st = job_manifest_claim(o->out_dir, m))) {
        st = fail_lib(st ? st : VARCL_E_RUNTIME);
        goto done;
    }
    /* this process's slice, less the images already on disk (a resumed job or a finished shard), found in one pass
     * over the folder; then generated in requests of at most JOB_CHUNK images, so that host memory and the time
     * before the first image do not grow with the job (a job may have up to 2^32 images). The images do not depend
     * on the split (host/job.h). */
    const int JOB_CHUNK = rq.batch * 8; /* passes per request: its set-up (host buffers) is small beside 8 passes */
    int64_t first, end;
    job_shard_slice(&j, &shard, &first, &end);
    ids = malloc((size_t)JOB_CHUNK * sizeof *ids);
    labels = malloc((size_t)JOB_CHUNK * sizeof *labels);
    if (!ids || !labels) {
        varcl_eprintf("vgen: out of host memory\n");
        st = 1;
        goto done;
    }
    int stale = job_remove_stale(o->out_dir, &j, first, end);
    if (stale && !o->quiet) varcl_eprintf("vgen: removed %d unfinished files of an interrupted run\n", stale);
    int64_t n_done = 0, damaged = 0;
    if ((st = job_scan_done(o->out_dir, &j, first, end, &done_ids, &n_done, &damaged))) {
        st = fail_lib(st);
        goto done;
    }
    int64_t todo = (end - first) - n_done;
    if (damaged && !o->quiet)
        varcl_eprintf("vgen: %lld images in %s are not whole PNGs (cut short or emptied): made again\n",
                (long long)damaged, o->out_dir);
    job_run r = {o->out_dir, &j, ids, NULL, todo, n_done, end - first, 0, 0, isatty(STDERR_FILENO), o->quiet, ""};
    if (shard.count > 1) snprintf(r.shard, sizeof r.shard, " of shard %d/%d", shard.index, shard.count);
    char range[64];
    if (end > first) snprintf(range, sizeof range, "images %lld..%lld", (long long)first, (long long)end - 1);
    else snprintf(range, sizeof range, "no images (more shards than images)"); /* 1..0 read as a range */
    if (!o->quiet)
        varcl_eprintf(
                "vgen: %s on %s (%s, policy %s), %d px: %lld classes x %d = %lld images; this process: %s "
                "(%s%s), %lld already in %s, %lld to make in passes of %d\n",
                js.model, info.device, info.platform, info.policy, info.image_size, (long long)j.n_classes,
                j.per_class, (long long)j.total, range, shard.count > 1 ? "shard from " : "the whole job",
                shard.count > 1 ? shard.from : "", (long long)r.done_before, o->out_dir, (long long)todo, rq.batch);
    if (todo) {
        int threads = ht_threads();
        threads = threads < 0 ? 1 : threads / 4 < 1 ? 1 : threads / 4 > 4 ? 4 : threads / 4;
        if (!(q = pngq_new(threads, rq.batch, info.image_size, info.image_size))) {
            st = fail_lib(varcl_last_status());
            goto done;
        }
        r.q = q;
        r.t0 = now_s();
        varcl_images totals, part;
        memset(&totals, 0, sizeof totals);
        int gst = 0;
        int64_t g = first, di = 0;
        while (!gst && g < end) {
            int n = 0; /* the next chunk: up to JOB_CHUNK images not on disk, in job order */
            for (; g < end && n < JOB_CHUNK; g++) {
                while (di < n_done && done_ids[di] < g) di++;
                if (di < n_done && done_ids[di] == g) continue;
                ids[n] = (uint32_t)g;
                labels[n++] = job_image_class(&j, g);
            }
            if (!n) break;
            rq.labels = labels;
            rq.image_ids = ids;
            rq.n = n;
            gst = varcl_generate_passes(v, &rq, job_pass, &r, &part);
            if (!gst) add_times(&totals, &part);
            r.made_before += n;
        }
        char msg[1024] = "";
        if (gst) snprintf(msg, sizeof msg, "%s", varcl_last_error());
        int wst = pngq_finish(q); /* the passes already handed over are written even when a later one failed */
        if (r.tty && !o->quiet) fputc('\n', stderr);
        if (gst) {
            varcl_eprintf("vgen: %s\n", msg);
            st = status_exit(gst);
            goto done;
        }
        if (wst) {
            st = fail_lib(wst);
            goto done;
        }
        double el = now_s() - r.t0;
        if (!o->quiet)
            varcl_eprintf("vgen: wrote %lld images to %s in %.1f s (%.2f images/s; model load %.1f s; %s)\n",
                    (long long)todo, o->out_dir, el, el > 0 ? todo / el : 0.0, r.t0 - t_open, part_times(&totals).s);
    }
    if (o->npz) st = pack_job(o->out_dir, &j, info.image_size, o->npz, o->quiet);
done:
    pngq_free(q);
    json_decref(m);
    free(done_ids);
    free(ids);
    free(labels);
    job_layout_free(&j);
    varcl_close(v);
    return st;
}

/* One request's images (-o or --out-dir) and tokens; the settings are freed on return. */
static int images_main(options *o)
{
    vcfg_settings *s = &o->s;
    int st;
    if (o->out && o->out_dir) {
        varcl_eprintf("vgen: -o %s and --out-dir %s: one image file or a folder of images, not both\n", o->out,
                o->out_dir);
        vcfg_free(s);
        return 2;
    }
    if (o->out_dir && o->grid_flag) {
        varcl_eprintf("vgen: --grid-columns shapes the one grid PNG of -o; --out-dir writes one PNG per image\n");
        vcfg_free(s);
        return 2;
    }
    if (!o->out) o->out = "out.png";
    if (!o->info && ((st = o->out_dir ? check_out_dir(o->out_dir) : check_writable_dir(o->out, 0)) ||
                    (o->tokens_out && (st = check_writable_dir(o->tokens_out, 0))) || (st = check_distinct(o)) ||
                    (o->out_dir && (st = check_image_names(o))) || (st = check_formats(o)))) {
        vcfg_free(s);
        return st;
    }
    double t0 = now_s();
    varcl *v = NULL;
    if ((st = open_model(o, &v))) {
        vcfg_free(s);
        return st;
    }
    varcl_info info;
    varcl_get_info(v, &info);
    if (info.driver_note[0]) varcl_eprintf("vgen: %s\n", info.driver_note);
    char banner[5000];
    snprintf(banner, sizeof banner,
             "vgen: %.4096s on %s (%s, policy %s): depth %d, width %d, heads %d, vocabulary %d, classes %d, %zu "
             "parameters, %d px\n",
             s->model ? s->model : builtin_demo_name(), info.device, info.platform, info.policy,
             info.depth,
             info.width, info.heads, info.vocab, info.classes, info.params, info.image_size);
    if (o->info) {
        fputs(banner, stdout);
        printf("scales:");
        for (int i = 0; i < info.scales; i++) printf(" %d", info.patch[i]);
        printf("\ntokens: %d\nffn: %d\nlatent channels: %d\nshared AdaLN: %s\nVQ-VAE: ch %d, %d levels\n",
               info.tokens, info.ffn, info.cvae, info.shared_aln ? "yes" : "no", info.vae_ch, info.vae_levels);
        printf("weights: %s, %zu bytes on the device (VQ-VAE %zu)\n", info.weights, info.weights_bytes, info.vae_bytes);
        printf("load: %.2f s for %zu bytes of checkpoint (%.2f GB/s)\n", info.load_ms / 1e3, info.file_bytes,
               info.load_ms > 0 ? info.file_bytes / (info.load_ms * 1e6) : 0.0);
        printf("weight cache: %s\n", info.weight_cache);
        varcl_close(v);
        vcfg_free(s);
        return 0;
    }
    if ((st = check_subnet(o, &info))) {
        varcl_close(v);
        vcfg_free(s);
        return st;
    }
    /* An output that is known to fail is refused now, not after the whole run: one grid PNG within libpng's limits
     * (a grid of min(n, --grid-columns) columns). */
    if (!o->out_dir) {
        long long n = s->n_classes ? s->n_classes : 1, want = s->has_grid_columns ? s->grid_columns : 8;
        long long cols = n < want ? n : want, rows = (n + cols - 1) / cols;
        long long gw = cols * info.image_size, gh = rows * info.image_size;
        if (!vimg_png_fits(gw, gh)) {
            varcl_eprintf(
                    "vgen: cannot write %s: a grid of %lld images of %d px is %lldx%lld pixels, over what a PNG file "
                    "can hold (libpng: 1,000,000 rows, 4 GiB of pixels); use --out-dir DIR for one PNG per image\n",
                    o->out, n, info.image_size, gw, gh);
            varcl_close(v);
            vcfg_free(s);
            return 2;
        }
    }
    int default_class = 0;
    varcl_request rq = VARCL_REQUEST_DEFAULT;
    rq.labels = s->n_classes ? s->classes : &default_class;
    rq.n = s->n_classes ? s->n_classes : 1;
    request_settings(s, &rq);
    if (s->has_batch) rq.batch = s->batch;
    if (!o->quiet) {
        rq.progress = progress;
        rq.user = banner;
    }
    varcl_images im;
    st = varcl_generate(v, &rq, &im);
    if (st) {
        varcl_eprintf("vgen: %s\n", varcl_last_error());
        varcl_close(v);
        vcfg_free(s);
        return st == VARCL_E_INPUT ? 2 : 1;
    }
    /* Every output is written and closed under its temporary name first, and renamed only once all of them are
     * whole: a failed write (a full disk, /dev/full as --tokens-out) leaves none of the request's outputs behind. */
    size_t img_bytes = (size_t)im.size * im.size * 3;
    int n_files = (o->out_dir ? im.n : 1) + (o->tokens_out ? 1 : 0), staged = 0;
    vo_file *files = calloc((size_t)n_files, sizeof *files);
    if (!files) {
        varcl_eprintf("vgen: out of host memory\n");
        st = 1;
    }
    /* a missing --out-dir is made only now, with the images to put in it: a refused, failed or interrupted run
     * leaves none behind, and no run removes a folder that another run, started meanwhile, writes into */
    int made_dir = 0;
    if (!st && o->out_dir && mkdir(o->out_dir, 0777) == 0) made_dir = 1;
    else if (!st && o->out_dir && errno != EEXIST) {
        varcl_eprintf("vgen: cannot make %s: %s\n", o->out_dir, strerror(errno));
        st = 1;
    }
    if (!st && o->out_dir) {
        for (int i = 0; i < im.n && !st; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%05d_class%d.png", o->out_dir, i, rq.labels[i]);
            if ((st = vimg_png_stage(&files[staged], path, im.rgb + i * img_bytes, im.size, im.size, 0)))
                varcl_eprintf("vgen: %s\n", varcl_last_error());
            else
                staged++;
        }
    } else if (!st) {
        const uint8_t **cells = malloc((size_t)im.n * sizeof *cells);
        int gw = 0, gh = 0;
        uint8_t *grid = NULL;
        if (cells) {
            for (int i = 0; i < im.n; i++) cells[i] = im.rgb + i * img_bytes;
            grid = vimg_grid(cells, im.n, im.size, im.size, s->has_grid_columns ? s->grid_columns : 0, &gw, &gh);
        }
        if (!grid || (st = vimg_png_stage(&files[staged], o->out, grid, gw, gh, 0))) {
            varcl_eprintf("vgen: %s\n", varcl_last_error());
            if (!st) st = 1;
        } else {
            staged++;
        }
        free(grid);
        free(cells);
    }
    if (!st && o->tokens_out && !(st = stage_tokens(&files[staged], o->tokens_out, &im, rq.labels))) staged++;
    /* --stats before the outputs are renamed into place: standard output that fails (a full disk) fails the run
     * with none of them, not with all of them and exit 1 (main's stdout_ok says why, once) */
    if (!st && o->stats) {
        varcl_mem_stats ms;
        varcl_get_mem_stats(v, &ms);
        printf("request kv_bytes %zu\n", im.kv_bytes);
        for (int t = 0; t < ms.ntags; t++)
            printf("%-12s live %12zu bytes  peak %12zu bytes\n", ms.tag[t], ms.live[t], ms.peak[t]);
        printf("%-12s live %12zu bytes  peak %12zu bytes\n", "total", ms.live_total, ms.peak_total);
        if (fflush(stdout) != 0 || ferror(stdout)) st = 1;
    }
    for (int i = 0; i < staged; i++) {
        if (!st && (st = vo_commit(&files[i]))) varcl_eprintf("vgen: %s\n", varcl_last_error());
        vo_abort(&files[i]); /* after a failure: the temporaries not yet renamed are removed */
    }
    if (st && made_dir) rmdir(o->out_dir); /* empty again: nothing was renamed into it */
    free(files);
    if (!st && !o->quiet)
        varcl_eprintf("vgen: wrote %s (%d image%s, %dx%d) in %.1f s (%s)\n", o->out_dir ? o->out_dir : o->out, im.n,
                im.n > 1 ? "s" : "", im.size, im.size, now_s() - t0, part_times(&im).s);
    varcl_images_free(&im);
    varcl_close(v);
    vcfg_free(s);
    return st;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    vo_remove_temps_on_signal(); /* Ctrl-C or a batch system's SIGTERM leaves no hidden temporaries (outfile.h) */
    int st = parse_args(argc, argv, &o);
    if (st) {
        vcfg_free(&o.s);
        return st;
    }
    /* --list-devices and --info print and stop: a flag that asks for images with them would be ignored */
    const char *wants_images = o.out ? "-o" : o.out_dir ? "--out-dir" : o.tokens_out ? "--tokens-out"
                               : o.per_class ? "--per-class" : o.pack ? "--pack" : o.npz ? "--npz"
                               : o.shard ? "--shard" : o.stats ? "--stats" : o.image_setting; /* --info reads the model and device flags */
    if ((o.list || o.info) && (wants_images || (o.list && (o.setting_flag || o.config || o.info)))) {
        varcl_eprintf("vgen: %s prints and stops: it takes no %s\n", o.list ? "--list-devices" : "--info",
                wants_images ? wants_images : o.setting_flag ? o.setting_flag : o.config ? "--config" : "--info");
        vcfg_free(&o.s);
        return 2;
    }
    if (o.list) {
        vcfg_free(&o.s);
        return stdout_ok(list_devices());
    }
    vcfg_settings *s = &o.s;
    if (s->has_depth && s->n_layers) {
        char fd[4200], fl[4200];
        varcl_eprintf("vgen: give either --depth or --layers, not both (%s, %s)\n",
                      setting_from(&o, "--depth", fd, sizeof fd), setting_from(&o, "--layers", fl, sizeof fl));
        vcfg_free(s);
        return 2;
    }
    if (o.pack || o.per_class) {
        struct stat sb;
        int had_dir = o.out_dir && stat(o.out_dir, &sb) == 0;
        st = o.pack ? pack_main(&o) : job_main(&o);
        /* a refused or failed job leaves no empty folder of its own making (rmdir keeps one that holds anything) */
        if (st && !o.pack && o.out_dir && !had_dir) rmdir(o.out_dir);
        vcfg_free(s);
        return stdout_ok(st);
    }
    if (o.shard || o.npz) {
        varcl_eprintf("vgen: %s goes with --per-class N (or --npz with --pack DIR)\n", o.shard ? "--shard" : "--npz");
        vcfg_free(s);
        return 2;
    }
    return stdout_ok(images_main(&o));
}
