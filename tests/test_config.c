/* test_config: the settings file (every key, path resolution, each kind of bad value, unknown names, missing
 * files, nothing printed; comment characters inside values, a byte order mark, CRLF, long lines), the one settings
 * table (command line and file agree on every range) and the strict parsers the command line shares. Files live in a fresh mkdtemp
 * directory that is removed at the end. */
#include "check.h"
#include "config.h"
#include "error.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[512];

/* Writes text to tmpdir/name; returns the path (static buffer). */
static const char *write_ini(const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f) return path; /* the load will then fail and the check report it */
    fputs(text, f);
    fclose(f);
    return path;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static int is_empty(const vcfg_settings *s)
{
    vcfg_settings zero;
    memset(&zero, 0, sizeof zero);
    return !memcmp(s, &zero, sizeof zero);
}

static void test_full_file(void)
{
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/presets", tmpdir);
    CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);
    const char *path = write_ini("presets/full.ini",
                                 "; every key, with mixed case names and comments\n"
                                 "[Model]\n"
                                 "VAR = ckpt/var-d16.safetensors\n"
                                 "# an absolute path stays as it is; quotes are removed\n"
                                 "vae = \"/models/vae.safetensors\"\n"
                                 "[sample]\n"
                                 "seed = 18446744073709551615\n"
                                 "cfg = 4.5\n"
                                 "top_k = 042\n"
                                 "top_p = 0.96\n"
                                 "classes = 1, 2,3\n"
                                 "[VARIANT]\n"
                                 "depth = 16\n"
                                 "full_scales = 0\n"
                                 "layers = 0,4 , 8\n"
                                 "[runtime]\n"
                                 "device = NVIDIA H100\n"
                                 "kv_dtype = F16\n"
                                 "weights = BF16\n"
                                 "weight_cache = Off\n"
                                 "page_tokens = 32\n"
                                 "kv_pool_mb = 0\n"
                                 "Batch = 8\n");
    vcfg_settings s;
    int st = vcfg_load(path, &s);
    CHECK(st == VARCL_OK, "full file: %s", varcl_last_error());
    if (st) return;
    char want_model[4096];
    snprintf(want_model, sizeof want_model, "%s/presets/ckpt/var-d16.safetensors", tmpdir);
    CHECK(s.model && !strcmp(s.model, want_model), "model %s, want %s", s.model ? s.model : "(null)", want_model);
    CHECK(s.vae && !strcmp(s.vae, "/models/vae.safetensors"), "vae %s", s.vae ? s.vae : "(null)");
    CHECK(s.has_seed && s.seed == UINT64_MAX, "seed");
    CHECK(s.has_cfg && s.cfg == 4.5, "cfg %g", s.cfg);
    CHECK(s.has_top_k && s.top_k == 42, "top_k %d (\"042\" must be decimal)", s.top_k);
    CHECK(s.has_top_p && s.top_p == 0.96, "top_p %g", s.top_p);
    CHECK(s.n_classes == 3 && s.classes && s.classes[0] == 1 && s.classes[1] == 2 && s.classes[2] == 3, "classes");
    CHECK(s.has_depth && s.depth == 16, "depth %d", s.depth);
    CHECK(s.has_full_scales && s.full_scales == 0, "full_scales %d", s.full_scales);
    CHECK(s.n_layers == 3 && s.layers && s.layers[0] == 0 && s.layers[1] == 4 && s.layers[2] == 8, "layers");
    CHECK(s.device && !strcmp(s.device, "NVIDIA H100"), "device %s", s.device ? s.device : "(null)");
    CHECK(s.kv_dtype && !strcmp(s.kv_dtype, "f16"), "kv_dtype %s", s.kv_dtype ? s.kv_dtype : "(null)");
    CHECK(s.weights && !strcmp(s.weights, "bf16"), "weights %s", s.weights ? s.weights : "(null)");
    CHECK(s.weight_cache && !strcmp(s.weight_cache, "off"), "weight_cache %s",
          s.weight_cache ? s.weight_cache : "(null)");
    CHECK(s.has_page_tokens && s.page_tokens == 32, "page_tokens %d", s.page_tokens);
    CHECK(s.has_kv_pool_mb && s.kv_pool_mb == 0, "kv_pool_mb %d", s.kv_pool_mb);
    CHECK(s.has_batch && s.batch == 8, "batch %d", s.batch);
    vcfg_free(&s);
    CHECK(is_empty(&s), "vcfg_free leaves the struct zeroed");
    vcfg_free(&s); /* twice is harmless */
}

static void test_sparse_files(void)
{
    vcfg_settings s;
    /* An empty file is valid: every key is optional. */
    const char *path = write_ini("empty.ini", "");
    CHECK(vcfg_load(path, &s) == VARCL_OK && is_empty(&s), "empty file: %s", varcl_last_error());
    vcfg_free(&s);

    /* Only sections, and edge values inside the ranges. */
    path = write_ini("edges.ini", "[model]\n[sample]\nseed = 0\ncfg = 0\ntop_p = 1\ntop_k = 0\n[variant]\n[runtime]\n"
                                  "kv_dtype = f32\n");
    CHECK(vcfg_load(path, &s) == VARCL_OK, "edge values: %s", varcl_last_error());
    CHECK(s.has_seed && s.seed == 0 && s.has_cfg && s.cfg == 0 && s.has_top_p && s.top_p == 1 && s.has_top_k &&
              s.top_k == 0 && !s.has_depth && !s.model && s.kv_dtype && !strcmp(s.kv_dtype, "f32"),
          "edge values parsed wrong");
    vcfg_free(&s);
    /* a value that is not 0 but below a float's range stays above 0 (top_p 0 means off) */
    path = write_ini("tiny.ini", "[sample]\ntop_p = 1e-50\ncfg = 1e-400\n");
    CHECK(vcfg_load(path, &s) == VARCL_OK && s.top_p > 0 && (float)s.top_p > 0 && (float)s.cfg > 0,
          "top_p 1e-50 read as %g (float %g), cfg 1e-400 as %g", s.top_p, (double)(float)s.top_p, s.cfg);
    vcfg_free(&s);
    path = write_ini("zeros.ini", "[sample]\ntop_p = 0e-400\ncfg = 0.000e5\n");
    CHECK(vcfg_load(path, &s) == VARCL_OK && s.top_p == 0 && s.cfg == 0, "0e-400 read as %g, 0.000e5 as %g", s.top_p,
          s.cfg);
    vcfg_free(&s);

    /* An ini path without a directory: relative model paths stay relative (to the same working directory). */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    write_ini("here.ini", "[model]\nvar = w.safetensors\nvae = sub/v.safetensors\n");
    CHECK(chdir(tmpdir) == 0, "chdir");
    CHECK(vcfg_load("here.ini", &s) == VARCL_OK, "here.ini: %s", varcl_last_error());
    CHECK(s.model && !strcmp(s.model, "w.safetensors") && s.vae && !strcmp(s.vae, "sub/v.safetensors"),
          "paths beside a bare ini name: %s, %s", s.model ? s.model : "(null)", s.vae ? s.vae : "(null)");
    vcfg_free(&s);
    CHECK(chdir(cwd) == 0, "chdir back");
}

struct bad_case {
    const char *text, *name; /* file contents, and the name the message must contain */
};

static void test_bad_values(void)
{
    static const struct bad_case cases[] = {
        {"[sample]\nseed = 12abc\n", "seed"},
        {"[sample]\nseed =\n", "seed"},
        {"[sample]\nseed = -1\n", "seed"},
        {"[sample]\nseed = 18446744073709551616\n", "seed"},
        {"[sample]\nseed = 0x10\n", "seed"},
        {"[sample]\ncfg = nan\n", "cfg"},
        {"[sample]\ncfg = inf\n", "cfg"},
        {"[sample]\ncfg = -inf\n", "cfg"},
        {"[sample]\ncfg = 1e999\n", "cfg"},
        {"[sample]\ncfg = -0.5\n", "cfg"},
        {"[sample]\ncfg = 0x1p3\n", "cfg"},
        {"[sample]\ncfg = 1.5x\n", "cfg"},
        {"[sample]\ntop_k = -1\n", "top_k"},
        {"[sample]\ntop_k = 2147483648\n", "top_k"},
        {"[sample]\ntop_k = 4.0\n", "top_k"},
        {"[sample]\ntop_k = 12abc\n", "top_k"},
        {"[sample]\ntop_p = 1.5\n", "top_p"},
        {"[sample]\ntop_p = -0.1\n", "top_p"},
        {"[sample]\ntop_p = -1e-400\n", "top_p"}, /* below a double's range, and negative */
        {"[sample]\ntop_p = nan\n", "top_p"},
        {"[sample]\ntop_p = inf\n", "top_p"},
        {"[sample]\nclasses =\n", "classes"},
        {"[sample]\nclasses = 1,,2\n", "classes"},
        {"[sample]\nclasses = 1,2,\n", "classes"},
        {"[sample]\nclasses = 1,-2\n", "classes"},
        {"[sample]\nclasses = 1 2\n", "classes"},
        {"[sample]\nclasses = 1,99999999999\n", "classes"},
        {"[variant]\ndepth = 0\n", "depth"},
        {"[variant]\ndepth = 16abc\n", "depth"},
        {"[variant]\nfull_scales = -1\n", "full_scales"},
        {"[variant]\nlayers =\n", "layers"},
        {"[variant]\nlayers = 0,x\n", "layers"},
        {"[runtime]\ndevice =\n", "device"},
        {"[runtime]\nkv_dtype = f64\n", "kv_dtype"},
        {"[runtime]\nkv_dtype =\n", "kv_dtype"},
        {"[runtime]\nweights = f8\n", "weights"},
        {"[runtime]\nweights =\n", "weights"},
        {"[runtime]\nweight_cache = on\n", "weight_cache"},
        {"[runtime]\nweight_cache =\n", "weight_cache"},
        {"[runtime]\nweight_cache = auto\nweight_cache = off\n", "weight_cache"}, /* given twice */
        {"[runtime]\npage_tokens = 0\n", "page_tokens"},
        {"[runtime]\nkv_pool_mb = -5\n", "kv_pool_mb"},
        {"[runtime]\nbatch = 0\n", "batch"},
        {"[runtime]\nbatch = 99999999999999999999\n", "batch"},
        {"[model]\nvar =\n", "var"},
        {"[sample]\ntopk = 5\n", "topk"},          /* unknown key */
        {"[sample]\nvar = a.safetensors\n", "var"}, /* a known key in the wrong section */
        {"[sampel]\ncfg = 1\n", "sampel"},          /* unknown section */
        {"cfg = 1\n[sample]\n", "cfg"},             /* key before any section */
        /* A valid key before the bad one: what was already filled in must be freed and zeroed. */
        {"[model]\nvar = a.safetensors\n[sample]\nclasses = 1\ncfg = nan\n", "cfg"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = write_ini("bad.ini", cases[i].text);
        vcfg_settings s;
        memset(&s, 0x5a, sizeof s); /* vcfg_load must zero it itself */
        varcl_clear_error();
        int st = vcfg_load(path, &s);
        const char *msg = varcl_last_error();
        CHECK(st == VARCL_E_INPUT, "case %zu (%s): status %d", i, cases[i].text, st);
        CHECK(strstr(msg, cases[i].name) != NULL, "case %zu: message does not name \"%s\": %s", i, cases[i].name, msg);
        CHECK(strstr(msg, path) != NULL, "case %zu: message does not name the file: %s", i, msg);
        CHECK(!strchr(msg, '\n'), "case %zu: message is not one line: %s", i, msg);
        CHECK(is_empty(&s), "case %zu: settings not left empty", i);
        vcfg_free(&s);
    }
}

/* Runs vcfg_load with stderr sent to a file, and says whether anything was printed there. */
static int load_quietly(const char *path, vcfg_settings *s, int *printed)
{
    char capture[4096];
    snprintf(capture, sizeof capture, "%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int st = vcfg_load(path, s);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat sb;
    *printed = stat(capture, &sb) != 0 || sb.st_size != 0;
    remove(capture);
    return st;
}

static void test_bad_files(void)
{
    vcfg_settings s;
    int printed;

    char path[4096];
    snprintf(path, sizeof path, "%s/no-such.ini", tmpdir);
    varcl_clear_error();
    CHECK(load_quietly(path, &s, &printed) == VARCL_E_INPUT, "missing file: status %d", varcl_last_status());
    CHECK(strstr(varcl_last_error(), path) != NULL, "missing file: message does not name it: %s", varcl_last_error());
    CHECK(!printed, "missing file: something was printed to stderr");
    CHECK(is_empty(&s), "missing file: settings not empty");

    /* A directory is not a settings file. */
    varcl_clear_error();
    CHECK(vcfg_load(tmpdir, &s) == VARCL_E_INPUT, "directory: status %d", varcl_last_status());
    CHECK(strstr(varcl_last_error(), tmpdir) != NULL, "directory: message does not name it: %s", varcl_last_error());

    /* A line that is not a section, key = value or comment: one line quoting it, nothing on stderr. */
    const char *bad = write_ini("syntax.ini", "[sample]\ncfg = 1\njust some words\n");
    varcl_clear_error();
    CHECK(load_quietly(bad, &s, &printed) == VARCL_E_INPUT, "syntax error: status %d", varcl_last_status());
    CHECK(strstr(varcl_last_error(), bad) != NULL, "syntax error: message does not name the file: %s",
          varcl_last_error());
    CHECK(strstr(varcl_last_error(), "just some words") != NULL, "syntax error: message does not quote the line: %s",
          varcl_last_error());
    CHECK(!strchr(varcl_last_error(), '\n'), "syntax error: message is not one line: %s", varcl_last_error());
    CHECK(!printed, "syntax error: something was printed to stderr");
    CHECK(is_empty(&s), "syntax error: settings not empty");
}

static void test_parse_int(void)
{
    int v = 0;
    CHECK(vcfg_parse_int("0", 0, 10, &v) == 0 && v == 0, "\"0\"");
    CHECK(vcfg_parse_int("042", 0, 100, &v) == 0 && v == 42, "\"042\" is decimal 42");
    CHECK(vcfg_parse_int("00000000000000000000000042", 0, 100, &v) == 0 && v == 42, "long leading zeros");
    CHECK(vcfg_parse_int("-5", -10, 10, &v) == 0 && v == -5, "\"-5\"");
    CHECK(vcfg_parse_int("2147483647", 0, INT_MAX, &v) == 0 && v == INT_MAX, "INT_MAX");
    CHECK(vcfg_parse_int("-2147483648", INT_MIN, 0, &v) == 0 && v == INT_MIN, "INT_MIN");
    CHECK(vcfg_parse_int("10", 0, 10, &v) == 0 && v == 10, "max is inclusive");
    v = 7;
    const char *bad[] = {"", "-", " 1", "1 ", "+1", "0x1", "1e3", "1.0", "12abc", "2147483648", "-2147483649",
                         "99999999999999999999999", "-1", "11", "--1", "1-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(vcfg_parse_int(bad[i], 0, 10, &v) == -1, "parse_int accepted \"%s\" in [0, 10]", bad[i]);
    CHECK(vcfg_parse_int("2147483648", INT_MIN, INT_MAX, &v) == -1, "INT_MAX + 1");
    CHECK(vcfg_parse_int("-2147483649", INT_MIN, INT_MAX, &v) == -1, "INT_MIN - 1");
    CHECK(vcfg_parse_int(NULL, 0, 10, &v) == -1, "NULL");
    CHECK(v == 7, "output changed by failed parses");
}

static void test_parse_u64(void)
{
    uint64_t v = 0;
    CHECK(vcfg_parse_u64("0", &v) == 0 && v == 0, "\"0\"");
    CHECK(vcfg_parse_u64("042", &v) == 0 && v == 42, "\"042\"");
    CHECK(vcfg_parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX, "UINT64_MAX");
    CHECK(vcfg_parse_u64("9007199254740993", &v) == 0 && v == 9007199254740993ull, "beyond double precision");
    v = 7;
    const char *bad[] = {"", "-1", "-0", "+1", " 1", "1 ", "1.0", "0x10", "18446744073709551616",
                         "99999999999999999999", "12abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(vcfg_parse_u64(bad[i], &v) == -1, "parse_u64 accepted \"%s\"", bad[i]);
    CHECK(vcfg_parse_u64(NULL, &v) == -1, "NULL");
    CHECK(v == 7, "output changed by failed parses");
}

static void test_parse_double(void)
{
    double v = 0;
    CHECK(vcfg_parse_double("1.5", &v) == 0 && v == 1.5, "\"1.5\"");
    CHECK(vcfg_parse_double("-2", &v) == 0 && v == -2, "\"-2\"");
    CHECK(vcfg_parse_double(".5", &v) == 0 && v == 0.5, "\".5\"");
    CHECK(vcfg_parse_double("5.", &v) == 0 && v == 5, "\"5.\"");
    CHECK(vcfg_parse_double("1e-3", &v) == 0 && v == 1e-3, "\"1e-3\"");
    CHECK(vcfg_parse_double("1E+2", &v) == 0 && v == 100, "\"1E+2\"");
    CHECK(vcfg_parse_double("010", &v) == 0 && v == 10, "\"010\"");
    CHECK(vcfg_parse_double("1e-400", &v) == 0 && v >= 0 && v < 1e-300, "underflow is kept as (almost) 0");
    v = 7;
    const char *bad[] = {"", ".", "-", "nan", "NaN", "inf", "-inf", "infinity", "0x1p3", "0x10", " 1", "1 ",
                         "+1", "1e", "1e+", "1.5.2", "1e400", "-1e400", "1,5", "1.5x", "e5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(vcfg_parse_double(bad[i], &v) == -1, "parse_double accepted \"%s\"", bad[i]);
    CHECK(vcfg_parse_double(NULL, &v) == -1, "NULL");
    CHECK(v == 7, "output changed by failed parses");
}

static void test_parse_int_list(void)
{
    int *list = NULL, n = 0;
    CHECK(vcfg_parse_int_list("1,2, 3", 0, INT_MAX, &list, &n) == 0 && n == 3 && list[0] == 1 && list[1] == 2 &&
              list[2] == 3,
          "\"1,2, 3\"");
    free(list);
    list = NULL;
    CHECK(vcfg_parse_int_list("7", 0, INT_MAX, &list, &n) == 0 && n == 1 && list[0] == 7, "\"7\"");
    free(list);
    list = NULL;
    CHECK(vcfg_parse_int_list("4 ,\t05", 0, INT_MAX, &list, &n) == 0 && n == 2 && list[0] == 4 && list[1] == 5,
          "white space next to a comma, leading zero");
    free(list);
    list = NULL;
    CHECK(vcfg_parse_int_list("5,5,5", 0, 5, &list, &n) == 0 && n == 3, "repeats and max inclusive");
    free(list);

    int sentinel = 0, *keep = &sentinel;
    n = 99;
    const char *bad[] = {"", " ", ",", "1,,2", "1,2,", ",1", "1,-2", "1 2", " 3", "3 ", " 4 ,5", "4, 5 ", "\t4", "a", "1,6", "1;2", "0x1", "1,2147483648"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        list = keep;
        CHECK(vcfg_parse_int_list(bad[i], 0, 5, &list, &n) == -1, "parse_int_list accepted \"%s\"", bad[i]);
        CHECK(list == keep && n == 99, "outputs changed by a failed parse of \"%s\"", bad[i]);
    }
    CHECK(vcfg_parse_int_list(NULL, 0, 5, &list, &n) == -1, "NULL");
}


/* Comment characters inside values (issue 11, case 11): '#' and ';' that do not follow white space are part of the
 * value, never a cut that could open another file; after white space the value is refused, showing it whole. */
static void test_comment_chars(void)
{
    vcfg_settings s;
    const char *path = write_ini("hash.ini", "[model]\nvar = run#2/var.safetensors\nvae = a;b/vae#1.safetensors\n"
                                             "[runtime]\ndevice = gpu#1\n");
    CHECK(vcfg_load(path, &s) == VARCL_OK, "'#' inside values: %s", varcl_last_error());
    char want[4096];
    snprintf(want, sizeof want, "%s/run#2/var.safetensors", tmpdir);
    CHECK(s.model && !strcmp(s.model, want), "var read whole: %s", s.model ? s.model : "(null)");
    snprintf(want, sizeof want, "%s/a;b/vae#1.safetensors", tmpdir);
    CHECK(s.vae && !strcmp(s.vae, want), "vae read whole: %s", s.vae ? s.vae : "(null)");
    CHECK(s.device && !strcmp(s.device, "gpu#1"), "device read whole: %s", s.device ? s.device : "(null)");
    vcfg_free(&s);
    /* quoted: kept whole, the quotes removed */
    path = write_ini("quoted.ini", "[model]\nvar = \"my run #2/var.safetensors\"\nvae = 'x ;y'\n");
    CHECK(vcfg_load(path, &s) == VARCL_OK, "quoted values: %s", varcl_last_error());
    snprintf(want, sizeof want, "%s/my run #2/var.safetensors", tmpdir);
    CHECK(s.model && !strcmp(s.model, want), "quoted var: %s", s.model ? s.model : "(null)");
    vcfg_free(&s);
    static const struct bad_case cases[] = {
        {"[model]\nvar = run #2/var.safetensors\n", "run #2/var.safetensors"},
        {"[model]\nvar = v.safetensors ; best\n", "v.safetensors ; best"},
        {"[sample]\nseed = 7 # lucky\n", "7 # lucky"},
        {"[sample]\nseed = 7#\n", "7#"}, /* read whole: not a number, and the message shows it */
        {"[sample]\nclasses = 1,2\t;3\n", "1,2\t;3"},
        {"[model]\nvar = \"unclosed\n", "var"},
        {"[sample]\nseed = 1\nseed = 2\n", "second time"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        path = write_ini("bad-comment.ini", cases[i].text);
        varcl_clear_error();
        CHECK(vcfg_load(path, &s) == VARCL_E_INPUT, "comment case %zu: status %d", i, varcl_last_status());
        CHECK(strstr(varcl_last_error(), cases[i].name) && strstr(varcl_last_error(), path) &&
                  !strchr(varcl_last_error(), '\n'),
              "comment case %zu: the one line must show '%s': %s", i, cases[i].name, varcl_last_error());
        CHECK(is_empty(&s), "comment case %zu: settings not left empty", i);
    }
}

/* A UTF-8 byte order mark and CRLF line ends (issue 11, case 12): the same settings as without them. */
static void test_bom_crlf(void)
{
    vcfg_settings s;
    const char *path = write_ini("bom.ini", "\xEF\xBB\xBF[model]\nvar = var.safetensors\n[sample]\nseed = 7\n");
    CHECK(vcfg_load(path, &s) == VARCL_OK, "BOM: %s", varcl_last_error());
    CHECK(s.has_seed && s.seed == 7 && s.model, "BOM file read");
    vcfg_free(&s);
    path = write_ini("bom-crlf.ini", "\xEF\xBB\xBF; comment first\r\n[sample]\r\ncfg = 2.5\r\ntop_k = 3\r\n");
    CHECK(vcfg_load(path, &s) == VARCL_OK, "BOM + CRLF: %s", varcl_last_error());
    CHECK(s.has_cfg && s.cfg == 2.5 && s.has_top_k && s.top_k == 3, "BOM + CRLF values");
    vcfg_free(&s);
    /* a mark anywhere else is not skipped: an error showing where */
    path = write_ini("bom-late.ini", "[sample]\n\xEF\xBB\xBFseed = 7\n");
    CHECK(vcfg_load(path, &s) == VARCL_E_INPUT && strstr(varcl_last_error(), ":2:"), "BOM on line 2: %s",
          varcl_last_error());
}

/* Long lines (issue 11, case 13): all 1000 ImageNet labels on one line, and a 100,000-character path. */
static void test_long_lines(void)
{
    size_t cap = 1 << 18;
    char *text = malloc(cap), *p = text;
    p += sprintf(p, "[sample]\nclasses = ");
    for (int i = 0; i < 1000; i++) p += sprintf(p, i ? ",%d" : "%d", i);
    p += sprintf(p, ",5000\n[model]\nvar = ");
    for (int i = 0; i < 100000; i++) *p++ = 'a' + i % 26;
    p += sprintf(p, "\n");
    vcfg_settings s;
    const char *path = write_ini("long.ini", text);
    CHECK(vcfg_load(path, &s) == VARCL_OK, "long lines: %s", varcl_last_error());
    CHECK(s.n_classes == 1001 && s.classes && s.classes[999] == 999 && s.classes[1000] == 5000,
          "1001 classes read, the last 5000: %d", s.n_classes);
    CHECK(s.model && strlen(s.model) == strlen(tmpdir) + 1 + 100000, "100,000-character path read whole");
    vcfg_free(&s);
    free(text);
}

/* The one table: every setting has a flag and a key, the command line refuses what the file refuses and accepts
 * what it accepts, with the same range (the ranges had drifted: --batch 1..1024 vs batch >= 1). */
static void test_table(void)
{
    static const struct {
        const char *flag, *ok, *bad;
    } probes[] = {{"--batch", "1024", "1025"},       {"--batch", "1", "0"},         {"--page-tokens", "1048576", "1048577"},
                  {"--kv-pool-mb", "16777216", "16777217"}, {"--top-p", "1", "1.01"}, {"--cfg", "0", "-1"},
                  {"--top-k", "0", "-1"},            {"--full-scales", "64", "65"}, {"--depth", "128", "129"},
                  {"--class", "0,7", "0,-7"},        {"--kv-dtype", "F16", "f64"},  {"--seed", "0", "-1"},
                  {"--weight-cache", "AUTO", "on"},  {"--weight-cache", "off", "of"}};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const vcfg_setting *st = vcfg_find_flag(probes[i].flag);
        CHECK(st != NULL, "%s is in the table", probes[i].flag);
        if (!st) continue;
        for (int good = 0; good < 2; good++) {
            const char *v = good ? probes[i].ok : probes[i].bad;
            vcfg_settings a, b;
            memset(&a, 0, sizeof a);
            varcl_clear_error();
            int cli = vcfg_set(&a, st, v);
            CHECK(cli == (good ? 0 : VARCL_E_INPUT), "%s %s: status %d (%s)", st->flag, v, cli, varcl_last_error());
            if (!good)
                CHECK(strstr(varcl_last_error(), st->flag) && strstr(varcl_last_error(), v),
                      "%s %s: message names flag and value: %s", st->flag, v, varcl_last_error());
            char text[256];
            snprintf(text, sizeof text, "[%s]\n%s = %s\n", st->section, st->key, v);
            int file = vcfg_load(write_ini("probe.ini", text), &b);
            CHECK(file == (good ? 0 : VARCL_E_INPUT), "[%s] %s = %s: status %d", st->section, st->key, v, file);
            vcfg_free(&a);
            vcfg_free(&b);
        }
    }
    for (int i = 0; i < VCFG_N_SETTINGS; i++)
        CHECK(VCFG_SETTINGS[i].flag && VCFG_SETTINGS[i].key && VCFG_SETTINGS[i].help && VCFG_SETTINGS[i].def,
              "setting %d is complete", i);
    /* --help comes from the table: every flag and key appears in it */
    char path[4096];
    snprintf(path, sizeof path, "%s/help.txt", tmpdir);
    FILE *f = fopen(path, "w+");
    CHECK(f != NULL, "open %s", path);
    if (!f) return;
    vcfg_print_help(f);
    long n = ftell(f);
    char *help = calloc((size_t)n + 1, 1);
    rewind(f);
    CHECK(fread(help, 1, (size_t)n, f) == (size_t)n, "read help");
    fclose(f);
    for (int i = 0; i < VCFG_N_SETTINGS; i++) {
        char key[64];
        snprintf(key, sizeof key, "] %s = ", VCFG_SETTINGS[i].key);
        CHECK(strstr(help, VCFG_SETTINGS[i].flag) && strstr(help, key), "--help shows %s and its key",
              VCFG_SETTINGS[i].flag);
    }
    CHECK(strstr(help, "from 1 to 1024"), "--help shows the batch range");
    free(help);
}

int main(void)
{
    if (!check_mkdtemp(tmpdir, sizeof tmpdir, "test-config")) {
        perror("mkdtemp");
        return 1;
    }
    test_full_file();
    test_sparse_files();
    test_bad_values();
    test_bad_files();
    test_comment_chars();
    test_bom_crlf();
    test_long_lines();
    test_table();
    test_parse_int();
    test_parse_u64();
    test_parse_double();
    test_parse_int_list();
    nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    CHECK(access(tmpdir, F_OK) != 0, "temporary directory %s not removed", tmpdir);
    return check_done();
}
