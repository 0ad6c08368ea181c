/* config: the settings file and the strict number parsers (see config.h).
 * iniparser only splits the file into "section:key" = value strings; every value is parsed here, because
 * iniparser_getint reads "042" as octal and accepts trailing garbage, and because typos must be reported. */
#include "config.h"

#include "error.h"

#include <iniparser.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- strict parsers ---- */

/* Parses [b, e) as [-]digits into [min, max]; own digit loop so that length, leading zeros and overflow are
 * handled without strtol's white space, sign and errno rules. */
static int parse_int_range(const char *b, const char *e, long long min, long long max, long long *out)
{
    int neg = 0;
    if (b < e && *b == '-') {
        neg = 1;
        b++;
    }
    if (b == e) return -1;
    /* Accumulate as a negative number: its range covers LLONG_MIN, and min/max are far inside it anyway. */
    long long v = 0;
    for (; b < e; b++) {
        if (*b < '0' || *b > '9') return -1;
        int d = *b - '0';
        if (v < (LLONG_MIN + d) / 10) return -1;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == LLONG_MIN) return -1;
        v = -v;
    }
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

int vcfg_parse_int(const char *s, int min, int max, int *out)
{
    long long v;
    if (!s || parse_int_range(s, s + strlen(s), min, max, &v)) return -1;
    *out = (int)v;
    return 0;
}

int vcfg_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int vcfg_parse_double(const char *s, double *out)
{
    if (!s) return -1;
    /* Check the shape first: strtod alone would also take hex floats, "inf", "nan" and leading white space. */
    const char *p = s;
    if (*p == '-') p++;
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return -1;
    /* strtod follows LC_NUMERIC; under a locale with a decimal comma "0.5" stops early and is rejected below,
     * never misread. The tools do not call setlocale, so this is the "C" locale. */
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return -1; /* overflow gives HUGE_VAL; underflow to 0 or a denormal is kept */
    *out = v;
    return 0;
}

/* On running out of memory this also returns -1, with VARCL_E_RUNTIME recorded, so that a caller that cleared the
 * error first can tell it from a malformed list. */
int vcfg_parse_int_list(const char *s, int min, int max, int **out, int *n)
{
    if (!s) return -1;
    size_t count = 1;
    for (const char *p = s; *p; p++) count += *p == ',';
    if (count > INT_MAX) return -1;
    int *v = malloc(count * sizeof *v);
    if (!v) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory for a list of %zu numbers", count);
        return -1;
    }
    const char *item = s;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(item, ',');
        if (!end) end = item + strlen(item);
        const char *next = *end ? end + 1 : end;
        /* White space around items is allowed ("1, 2"), inside a number it is not. */
        while (item < end && (*item == ' ' || *item == '\t')) item++;
        while (end > item && (end[-1] == ' ' || end[-1] == '\t')) end--;
        long long x;
        if (parse_int_range(item, end, min, max, &x)) {
            free(v);
            return -1;
        }
        v[i] = (int)x;
        item = next;
    }
    *out = v;
    *n = (int)count;
    return 0;
}

/* ---- the settings file ---- */

enum value_kind { V_PATH, V_STRING, V_KV_DTYPE, V_WEIGHTS, V_U64, V_INT, V_CFG, V_TOP_P, V_INT_LIST };

/* One known key: where its value goes (value_off) and its "is set" flag or list length (has_off). */
struct setting {
    const char *section, *key;
    enum value_kind kind;
    int min;
    size_t value_off, has_off;
};

#define AT(field) offsetof(vcfg_settings, field)
static const struct setting SETTINGS[] = {
    {"model", "var", V_PATH, 0, AT(model), 0},
    {"model", "vae", V_PATH, 0, AT(vae), 0},
    {"sample", "seed", V_U64, 0, AT(seed), AT(has_seed)},
    {"sample", "cfg", V_CFG, 0, AT(cfg), AT(has_cfg)},
    {"sample", "top_k", V_INT, 0, AT(top_k), AT(has_top_k)},
    {"sample", "top_p", V_TOP_P, 0, AT(top_p), AT(has_top_p)},
    {"sample", "classes", V_INT_LIST, 0, AT(classes), AT(n_classes)},
    {"variant", "depth", V_INT, 1, AT(depth), AT(has_depth)},
    {"variant", "full_scales", V_INT, 0, AT(full_scales), AT(has_full_scales)},
    {"variant", "layers", V_INT_LIST, 0, AT(layers), AT(n_layers)},
    {"runtime", "device", V_STRING, 0, AT(device), 0},
    {"runtime", "kv_dtype", V_KV_DTYPE, 0, AT(kv_dtype), 0},
    {"runtime", "weights", V_WEIGHTS, 0, AT(weights), 0},
    {"runtime", "page_tokens", V_INT, 1, AT(page_tokens), AT(has_page_tokens)},
    {"runtime", "kv_pool_mb", V_INT, 0, AT(kv_pool_mb), AT(has_kv_pool_mb)},
    {"runtime", "batch", V_INT, 1, AT(batch), AT(has_batch)},
};
#undef AT
static const char *const SECTIONS[] = {"model", "sample", "variant", "runtime"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* iniparser reports syntax errors through a global callback that prints to stderr by default; the library must not
 * print, so the first message of the current load is kept here and put into varcl's error instead. */
static _Thread_local char ini_error[512];

static int capture_ini_error(const char *fmt, ...)
{
    if (ini_error[0]) return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ini_error, sizeof ini_error, fmt, ap);
    va_end(ap);
    return 0;
}

/* Makes "iniparser: syntax error in f.ini (3):\n-> foo\n" one line: "syntax error in f.ini (3): foo". */
static const char *ini_error_line(void)
{
    char *msg = ini_error;
    if (!strncmp(msg, "iniparser: ", 11)) msg += 11;
    char *w = msg;
    for (const char *r = msg; *r; r++) {
        if (*r == '\n') {
            if (r[1] == '-' && r[2] == '>' && r[3] == ' ') r += 3; /* "\n-> " becomes " " */
            if (r[1] && w > msg && w[-1] != ' ') *w++ = ' ';
            continue;
        }
        *w++ = *r;
    }
    *w = 0;
    return msg;
}

static char *resolve_path(const char *ini_path, const char *value)
{
    const char *slash = strrchr(ini_path, '/');
    if (value[0] == '/' || !slash) return strdup(value);
    size_t dir_len = (size_t)(slash - ini_path) + 1; /* keeps the '/' */
    size_t value_len = strlen(value);
    char *p = malloc(dir_len + value_len + 1);
    if (!p) return NULL;
    memcpy(p, ini_path, dir_len);
    memcpy(p + dir_len, value, value_len + 1);
    return p;
}

static const char *expected(const struct setting *st)
{
    switch (st->kind) {
    case V_PATH: return "a file path";
    case V_STRING: return "a non-empty string";
    case V_KV_DTYPE: return "f32 or f16";
    case V_WEIGHTS: return "keep, f32, f16 or bf16";
    case V_U64: return "a whole number from 0 to 18446744073709551615";
    case V_INT: return st->min ? "a whole number >= 1" : "a whole number >= 0";
    case V_CFG: return "a finite number >= 0";
    case V_TOP_P: return "a number in [0, 1]";
    case V_INT_LIST: return "a comma-separated list of whole numbers >= 0";
    }
    return "?";
}

/* Stores one value. Returns 0, -1 for a malformed value, or VARCL_E_RUNTIME (recorded) when memory runs out. */
static int store(const struct setting *st, const char *ini_path, const char *value, vcfg_settings *out)
{
    char *base = (char *)out;
    void *dst = base + st->value_off;
    int *has = (int *)(base + st->has_off);
    switch (st->kind) {
    case V_PATH:
    case V_STRING:
    case V_KV_DTYPE:
    case V_WEIGHTS: {
        char **slot = dst;
        if (!*value) return -1;
        const char *canonical = value;
        if (st->kind == V_KV_DTYPE) {
            if (!strcasecmp(value, "f32")) canonical = "f32";
            else if (!strcasecmp(value, "f16")) canonical = "f16";
            else return -1;
        } else if (st->kind == V_WEIGHTS) {
            static const char *const names[] = {"keep", "f32", "f16", "bf16"};
            canonical = NULL;
            for (int i = 0; i < 4; i++)
                if (!strcasecmp(value, names[i])) canonical = names[i];
            if (!canonical) return -1;
        }
        char *copy = st->kind == V_PATH ? resolve_path(ini_path, value) : strdup(canonical);
        if (!copy) return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory", ini_path);
        free(*slot); /* iniparser keeps only the last of repeated keys, but stay safe */
        *slot = copy;
        return 0;
    }
    case V_U64:
        if (vcfg_parse_u64(value, dst)) return -1;
        break;
    case V_INT:
        if (vcfg_parse_int(value, st->min, INT_MAX, dst)) return -1;
        break;
    case V_CFG:
    case V_TOP_P: {
        double v;
        if (vcfg_parse_double(value, &v) || v < 0 || (st->kind == V_TOP_P && v > 1)) return -1;
        *(double *)dst = v;
        break;
    }
    case V_INT_LIST: {
        int **slot = dst, *list, n;
        varcl_clear_error();
        if (vcfg_parse_int_list(value, st->min, INT_MAX, &list, &n))
            return varcl_last_status() == VARCL_E_RUNTIME ? VARCL_E_RUNTIME : -1;
        free(*slot);
        *slot = list;
        *has = n; /* the list length doubles as its "is set" flag */
        return 0;
    }
    }
    *has = 1;
    return 0;
}

/* Checks one dictionary entry (a section, or "section:key" = value) and stores its value. */
static int load_entry(const char *path, const char *key, const char *value, vcfg_settings *out)
{
    if (!value) { /* iniparser stores each [section] as a key with a NULL value */
        for (size_t i = 0; i < COUNT(SECTIONS); i++)
            if (!strcmp(key, SECTIONS[i])) return VARCL_OK;
        return varcl_fail(VARCL_E_INPUT, "%s: unknown section [%s] (known: model, sample, variant, runtime)", path,
                          key);
    }
    const char *colon = strchr(key, ':');
    if (!colon || colon == key)
        return varcl_fail(VARCL_E_INPUT, "%s: key \"%s\" is outside any section", path, colon ? colon + 1 : key);
    size_t section_len = (size_t)(colon - key);
    const char *name = colon + 1;
    for (size_t i = 0; i < COUNT(SETTINGS); i++) {
        const struct setting *st = &SETTINGS[i];
        if (strlen(st->section) != section_len || strncmp(key, st->section, section_len) || strcmp(name, st->key))
            continue;
        int r = store(st, path, value, out);
        if (r == -1)
            return varcl_fail(VARCL_E_INPUT, "%s: [%s] %s = \"%.80s%s\": expected %s", path, st->section, st->key,
                              value, strlen(value) > 80 ? "..." : "", expected(st));
        return r;
    }
    /* Listing the section's keys turns a typo into a one-look fix. */
    char known[160] = "";
    for (size_t i = 0; i < COUNT(SETTINGS); i++)
        if (strlen(SETTINGS[i].section) == section_len && !strncmp(key, SETTINGS[i].section, section_len))
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "",
                     SETTINGS[i].key);
    return varcl_fail(VARCL_E_INPUT, "%s: unknown key \"%s\" in [%.*s] (known: %s)", path, name, (int)section_len,
                      key, known);
}

int vcfg_load(const char *path, vcfg_settings *out)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path) return varcl_fail(VARCL_E_INPUT, "settings file: empty path");

    /* Open it ourselves first: errno gives a better line than iniparser's "cannot open", and a directory would
     * otherwise load as an empty, valid file. */
    FILE *fp = fopen(path, "r");
    if (!fp) return varcl_fail(VARCL_E_INPUT, "%s: cannot open settings file: %s", path, strerror(errno));
    struct stat sb;
    int is_dir = fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode);
    fclose(fp);
    if (is_dir) return varcl_fail(VARCL_E_INPUT, "%s: cannot open settings file: is a directory", path);

    ini_error[0] = 0;
    iniparser_set_error_callback(capture_ini_error);
    dictionary *d = iniparser_load(path);
    if (!d) {
        if (ini_error[0]) return varcl_fail(VARCL_E_INPUT, "%s: bad settings file: %s", path, ini_error_line());
        return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory reading settings file", path);
    }
    int status = VARCL_OK;
    /* Walk the entries in file order (iniparser 4.1 appends), so the first mistake in the file is the one named. */
    for (ssize_t i = 0; i < d->size && !status; i++)
        if (d->key[i]) status = load_entry(path, d->key[i], d->val[i], out);
    iniparser_freedict(d);
    if (status) vcfg_free(out);
    return status;
}

void vcfg_free(vcfg_settings *s)
{
    if (!s) return;
    free(s->model);
    free(s->vae);
    free(s->classes);
    free(s->layers);
    free(s->device);
    free(s->kv_dtype);
    free(s->weights);
    memset(s, 0, sizeof *s);
}
