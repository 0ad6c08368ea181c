/* mkmodel: writes random-weight VAR and VQ-VAE checkpoints of any shape, with the upstream key names (host/demo.h),
 * as safetensors files that vgen loads like the released ones. For benchmarks at the real sizes (d16 ... d36 with
 * the real VQ-VAE) without downloading anything, and for tests. Their images are noise.
 *
 *   mkmodel --preset d16 --seed 0 --dtype f32 --var var_d16.safetensors --vae vae_ch160v4096z32.safetensors
 *
 * Exit status: 0 success, 2 bad usage or an unwritable output, 1 out of memory or a failed write. */
#include "config.h"
#include "demo.h"
#include "error.h"
#include "model.h"
#include "outfile.h"
#include "safetensors.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: mkmodel --preset NAME [options] [--var OUT.safetensors] [--vae OUT.safetensors]\n"
    "  --preset d16|d20|d24|d30|d36|demo|tiny   shapes (d*: VAR_SPEC.md section 1 with the real ch-160 VQ-VAE;\n"
    "                          demo: VAR-d30's structure at width 128, the random-weight model built in when\n"
    "                          models/demo/ has no trained files; tiny: the shape of tests/data/upstream-tiny)\n"
    "  --seed S (0)            weights are a function of the seed and the shape\n"
    "  --dtype f32|f16|bf16    stored dtype (default f32, as the released checkpoints)\n"
    "  --var F / --vae F       files to write (at least one)\n"
    "  overrides: --depth N  --width C  --heads H (default C/64)  --vocab V (VAR and VQ-VAE)  --classes N\n"
    "             --tokens 680|2240 (256 or 512 px)  --shared-aln[=0|1]  --vae-ch N  --vae-ch-mult 1,1,2,2,4\n"
    "  -q                      print nothing on success\n";

static int bad(const char *fmt, const char *a, const char *b)
{
    char msg[8192];
    snprintf(msg, sizeof msg, fmt, a, b);
    varcl_eprintf("mkmodel: %s\n", msg);
    return 2;
}

static int parse_int(const char *s, long min, long max, int *out) { return vcfg_parse_int(s, (int)min, (int)max, out); }

static int preset(const char *name, demo_var_shape *v, demo_vae_shape *e)
{
    demo_vae_shape real_vae = {.ch = 160, .zch = 32, .vocab = 4096, .levels = 5, .blocks = 3,
                               .ch_mult = {1, 1, 2, 2, 4}, .attn_levels = 1};
    int d;
    if (!strcmp(name, "demo")) {
        *v = demo_var_default();
        *e = demo_vae_default();
    } else if (!strcmp(name, "tiny")) {
        *v = (demo_var_shape){.depth = 4, .width = 128, .heads = 2, .vocab = 512, .classes = 16, .cvae = 32,
                              .tokens = 680, .shared_aln = 0};
        *e = demo_vae_default();
        e->vocab = 512;
    } else if (name[0] == 'd' && !parse_int(name + 1, 16, 36, &d) && (d == 16 || d == 20 || d == 24 || d == 30 ||
                                                                   d == 36)) {
        *v = (demo_var_shape){.depth = d, .width = 64 * d, .heads = d, .vocab = 4096, .classes = 1000, .cvae = 32,
                              .tokens = d == 36 ? 2240 : 680, .shared_aln = d == 36};
        *e = real_vae;
    } else {
        return -1;
    }
    return 0;
}

/* Parameters as vgen's banner counts them (the elements it uploads): without the zero K-bias buffers, which upstream
 * registers as buffers, not parameters (VAR_SPEC.md, the checkpoint table), and varcl never reads. */
static size_t count_params(const vt_set *s)
{
    static const char buffer_suffix[] = ".zero_k_bias";
    const size_t ls = sizeof buffer_suffix - 1;
    size_t n = 0;
    for (int i = 0; i < vt_count(s); i++) {
        const vt_tensor *t = vt_at(s, i);
        const size_t ln = strlen(t->name);
        if (ln < ls || strcmp(t->name + ln - ls, buffer_suffix)) n += (size_t)t->numel;
    }
    return n;
}

/* A set is generated in f32 in host memory, then written: a shape that cannot fit in this machine's memory is
 * refused before the work (it failed with "out of host memory" part-way, or the machine swapped for minutes). */
static int check_memory(const char *what, int64_t elems)
{
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const double need = (double)elems * sizeof(float), have = pages > 0 && page > 0 ? (double)pages * page : 0;
    if (have > 0 && need > have) {
        varcl_eprintf("mkmodel: %s: %.3g elements need %.1f GiB of host memory (made in f32), more than this "
                      "machine's %.1f GiB\n", what, (double)elems, need / 1073741824.0, have / 1073741824.0);
        return 2;
    }
    return 0;
}

/* Checks that `path` can be created before minutes of generation are spent (a temporary made and removed next to
 * it, or a device opened: outfile.h). */
static int check_writable(const char *flag, const char *path)
{
    /* the name must not say another format (--var model.pth, --vae x.txt got safetensors bytes) */
    static const char *const safetensors[] = {"safetensors", NULL};
    const char *ext = vo_other_format(path, safetensors);
    if (ext) {
        varcl_eprintf("mkmodel: %s %s: the file will hold safetensors, not %s\n", flag, path, ext);
        return 2;
    }
    if (vo_check(path)) {
        varcl_eprintf("mkmodel: %s\n", varcl_last_error());
        return 2;
    }
    return 0;
}

/* Generates one set, writes it under its temporary name (st_stage), frees it: at most one copy of the weights (f32)
 * is held. The rename comes once both files are whole (main). */
static int write_set(vt_set *set, vo_file *out, const char *path, vt_dtype dtype, size_t *params)
{
    if (!set) {
        varcl_eprintf("mkmodel: %s\n", varcl_last_error());
        return varcl_last_status() == VARCL_E_INPUT ? 2 : 1;
    }
    *params = count_params(set);
    int st = st_stage(out, path, set, dtype);
    vt_free(set);
    if (st) {
        varcl_eprintf("mkmodel: %s\n", varcl_last_error());
        return st == VARCL_E_INPUT ? 2 : 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *preset_name = NULL, *var_out = NULL, *vae_out = NULL;
    unsigned long long seed = 0;
    vt_dtype dtype = VT_F32;
    int quiet = 0;
    /* overrides: -1 = from the preset */
    int depth = -1, width = -1, heads = -1, vocab = -1, classes = -1, tokens = -1, shared = -1, vae_ch = -1;
    int mult[8], n_mult = 0;
    vo_remove_temps_on_signal(); /* a model of gigabytes takes a while: Ctrl-C leaves no temporaries */
    vcfg_once_set seen = {0}; /* a flag given twice is refused, not the last value taken silently */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char flag[64];
        const char *eq = strchr(a, '=');
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
            varcl_eprintf("mkmodel: cannot write to standard output: %s\n", strerror(errno));
            return 1;
        }
        if (!strcmp(a, "-q")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--shared-aln")) {
            shared = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) return bad("unexpected argument '%s'%s (see mkmodel --help)", a, "");
        if (eq) {
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a < 63 ? eq - a : 63), a);
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
            if (i + 1 >= argc) {
                /* the last argument: a flag of ours without its value, or one we do not know */
                static const char *const known[] = {"--preset", "--var",    "--vae",     "--seed",       "--dtype",
                                                    "--depth",  "--width",  "--heads",   "--vocab",      "--classes",
                                                    "--vae-ch", "--tokens", "--vae-ch-mult"};
                for (size_t k = 0; k < sizeof known / sizeof *known; k++)
                    if (!strcmp(a, known[k])) return bad("%s needs a value%s", a, "");
                return bad("unknown option '%s'%s (see mkmodel --help)", a, "");
            }
            val = argv[++i];
        }
        if (vcfg_once(&seen, flag, val)) {
            varcl_eprintf("mkmodel: %s\n", varcl_last_error());
            return 2;
        }
        int *target = NULL;
        long lo = 1, hi = 1 << 20;
        if (!strcmp(flag, "--preset")) preset_name = val;
        else if (!strcmp(flag, "--var")) var_out = val;
        else if (!strcmp(flag, "--vae")) vae_out = val;
        else if (!strcmp(flag, "--seed")) {
            uint64_t s64;
            if (vcfg_parse_u64(val, &s64)) /* digits only: " -5" is not 2^64 - 5 */
                return bad("--seed: expected an unsigned integer, got '%s'%s", val, "");
            seed = s64;
        } else if (!strcmp(flag, "--dtype")) {
            if (!strcmp(val, "f32")) dtype = VT_F32;
            else if (!strcmp(val, "f16")) dtype = VT_F16;
            else if (!strcmp(val, "bf16")) dtype = VT_BF16;
            else return bad("--dtype: expected f32, f16 or bf16, got '%s'%s", val, "");
        } else if (!strcmp(flag, "--depth")) target = &depth, hi = VAR_MAX_DEPTH; /* what the loader takes */
        else if (!strcmp(flag, "--width")) target = &width, hi = 65536;
        else if (!strcmp(flag, "--heads")) target = &heads, hi = 1024;
        else if (!strcmp(flag, "--vocab")) target = &vocab, lo = 2;
        else if (!strcmp(flag, "--classes")) target = &classes, hi = 1 << 24;
        else if (!strcmp(flag, "--vae-ch")) target = &vae_ch, hi = 4096;
        else if (!strcmp(flag, "--shared-aln")) target = &shared, lo = 0, hi = 1;
        else if (!strcmp(flag, "--tokens")) {
            if (parse_int(val, 1, INT_MAX, &tokens) || (tokens != 680 && tokens != 2240))
                return bad("--tokens: expected 680 (256 px) or 2240 (512 px), got '%s'%s", val, "");
        } else if (!strcmp(flag, "--vae-ch-mult")) {
            int *list = NULL, n_list = 0;
            if (vcfg_parse_int_list(val, 1, 64, &list, &n_list) || n_list > 8) {
                free(list);
                return bad("--vae-ch-mult: expected 1 to 8 multipliers like 1,1,2,2,4, got '%s'%s", val, "");
            }
            memcpy(mult, list, (size_t)n_list * sizeof *list);
            n_mult = n_list;
            free(list);
        } else {
            return bad("unknown option '%s'%s (see mkmodel --help)", flag, "");
        }
        if (target && parse_int(val, lo, hi, target)) {
            varcl_eprintf("mkmodel: %s: expected a whole number from %ld to %ld, got '%s'\n", flag, lo, hi, val);
            return 2;
        }
    }
    if (!preset_name) return bad("--preset is required (d16, d20, d24, d30, d36, demo or tiny)%s%s", "", "");
    if (!var_out && !vae_out) return bad("nothing to write: give --var and/or --vae%s%s", "", "");
    demo_var_shape v;
    demo_vae_shape e;
    if (preset(preset_name, &v, &e))
        return bad("--preset: unknown preset '%s'%s (d16, d20, d24, d30, d36, demo, tiny)", preset_name, "");
    /* an override of the file not written would change nothing: refused, not taken silently (--vocab shapes both) */
    if (!var_out && (depth > 0 || width > 0 || heads > 0 || classes > 0 || tokens > 0 || shared >= 0))
        return bad("%s shapes the VAR, and no --var file is written%s",
                   depth > 0 ? "--depth" : width > 0 ? "--width" : heads > 0 ? "--heads" : classes > 0 ? "--classes"
                   : tokens > 0 ? "--tokens" : "--shared-aln", "");
    if (!vae_out && (vae_ch > 0 || n_mult))
        return bad("%s shapes the VQ-VAE, and no --vae file is written%s", vae_ch > 0 ? "--vae-ch" : "--vae-ch-mult",
                   "");
    if (depth > 0) v.depth = depth;
    if (width > 0) v.width = width, v.heads = width / 64;
    if (heads > 0) v.heads = heads;
    if (vocab > 0) v.vocab = e.vocab = vocab;
    if (classes > 0) v.classes = classes;
    if (tokens > 0) v.tokens = tokens;
    if (shared >= 0) v.shared_aln = shared;
    if (vae_ch > 0) e.ch = vae_ch;
    if (n_mult) {
        e.levels = n_mult;
        for (int i = 0; i < 8; i++) e.ch_mult[i] = i < n_mult ? mult[i] : 0;
    }
    char num[32];
    if (v.heads < 1 || v.heads * 64 != v.width) {
        snprintf(num, sizeof num, "%d", v.width);
        return bad("width %s with these heads: VAR uses head size 64 (heads = width / 64)%s", num, "");
    }
    for (int i = 0; i < e.levels; i++)
        if ((e.ch * e.ch_mult[i]) % 32) {
            snprintf(num, sizeof num, "%d", e.ch * e.ch_mult[i]);
            return bad("VQ-VAE channels %s: every level needs a multiple of 32 (GroupNorm with 32 groups)%s", num,
                       "");
        }
    if (var_out && vae_out && vo_same_file(var_out, vae_out))
        return bad("--var and --vae name the same file, %s: the second would replace the first%s", var_out, "");
    char var_what[256], vae_what[256];
    snprintf(var_what, sizeof var_what, "VAR depth %d, width %d, heads %d, vocabulary %d, classes %d, %d tokens%s",
             v.depth, v.width, v.heads, v.vocab, v.classes, v.tokens, v.shared_aln ? ", shared AdaLN" : "");
    int k = snprintf(vae_what, sizeof vae_what, "VQ-VAE ch %d, ch_mult ", e.ch);
    for (int i = 0; i < e.levels; i++)
        k += snprintf(vae_what + k, sizeof vae_what - (size_t)k, i ? ",%d" : "%d", e.ch_mult[i]);
    snprintf(vae_what + k, sizeof vae_what - (size_t)k, ", vocabulary %d, z %d", e.vocab, e.zch);
    if ((var_out && check_memory(var_what, demo_var_elems(&v))) ||
        (vae_out && check_memory(vae_what, demo_vae_elems(&e))))
        return 2;
    if ((var_out && check_writable("--var", var_out)) || (vae_out && check_writable("--vae", vae_out))) return 2;

    /* both files or neither: the VAR's is renamed into place only once the VQ-VAE's is whole too (a full disk on
     * the second kept the first, exit 1) */
    vo_file out[2];
    const char *paths[2], *whats[2];
    size_t params[2];
    int st = 0, staged = 0;
    if (var_out && !(st = write_set(demo_var(&v, seed), &out[staged], var_out, dtype, &params[staged])))
        paths[staged] = var_out, whats[staged++] = var_what;
    if (!st && vae_out && !(st = write_set(demo_vae(&e, seed), &out[staged], vae_out, dtype, &params[staged])))
        paths[staged] = vae_out, whats[staged++] = vae_what;
    for (int i = 0; i < staged; i++) {
        if (!st && vo_commit(&out[i])) {
            varcl_eprintf("mkmodel: %s\n", varcl_last_error());
            st = 1;
        }
        vo_abort(&out[i]); /* after a failure: the temporaries not yet renamed are removed */
    }
    /* on stderr, as vgen's "wrote" line: a model written to standard output (--var /dev/stdout) stays whole */
    for (int i = 0; !st && !quiet && i < staged; i++)
        varcl_eprintf("mkmodel: wrote %s: %s, %zu parameters, %s\n", paths[i], whats[i], params[i],
                      dtype == VT_F32 ? "F32" : dtype == VT_F16 ? "F16" : "BF16");
    return st;
}
