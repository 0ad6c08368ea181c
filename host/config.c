/* config: the settings table, the settings-file reader and the strict number parsers (see config.h).
 * The reader is our own (about 80 lines) rather than iniparser 4.1: iniparser cut values at '#' and ';' (silently
 * opening another file), failed on a UTF-8 byte order mark and on lines over 1024 bytes, printed to stderr and read
 * "042" as octal; wrapping it would have meant re-reading the file ourselves anyway. */
#include "config.h"

#include "error.h"
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
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
#include <unistd.h>

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
        /* White space next to a comma is allowed ("1, 2"); inside a number, or before or after the whole value, it
         * is not, as for a single number (" 3" is refused by both, whether the setting takes one or a list). */
        if (i > 0)
            while (item < end && (*item == ' ' || *item == '\t')) item++;
        if (i + 1 < count)
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

int vcfg_once(vcfg_once_set *s, const char *flag, const char *val)
{
    for (int k = 0; k < s->n; k++)
        if (!strcmp(s->given[k].flag, flag))
            return varcl_fail(VARCL_E_INPUT, "%s is given twice ('%s', then '%s'): give it once", flag,
                              s->given[k].val, val);
    if (s->n < (int)(sizeof s->given / sizeof *s->given)) {
        snprintf(s->given[s->n].flag, sizeof s->given[s->n].flag, "%s", flag);
        s->given[s->n++].val = val;
    }
    return VARCL_OK;
}

/* ---- the settings table ---- */

#define AT(field) offsetof(vcfg_settings, field)
#define NO_HAS ((size_t)-1)
const vcfg_setting VCFG_SETTINGS[] = {
    {"--model", "model", "var", VCFG_PATH, 0, 0, NULL, "F.safetensors", "built-in demo model",
     "VAR model (needs --vae)", AT(model), NO_HAS},
    {"--vae", "model", "vae", VCFG_PATH, 0, 0, NULL, "F.safetensors", "the demo model's", "its VQ-VAE", AT(vae),
     NO_HAS},
    {"--class", "sample", "classes", VCFG_INT_LIST, 0, INT_MAX, NULL, "N[,N...]", "0", "class labels, one image each",
     AT(classes), AT(n_classes)},
    {"--seed", "sample", "seed", VCFG_U64, 0, 0, NULL, "S", "0", "random seed", AT(seed), AT(has_seed)},
    /* the request's cfg is a float: 1e39 became inf and failed at the first scale, exit 1 */
    {"--cfg", "sample", "cfg", VCFG_DOUBLE, 0, FLT_MAX, NULL, "F", "1.5", "classifier-free guidance", AT(cfg),
     AT(has_cfg)},
    {"--top-k", "sample", "top_k", VCFG_INT, 0, INT_MAX, NULL, "K", "900", "top-k sampling (0 = off)", AT(top_k),
     AT(has_top_k)},
    {"--top-p", "sample", "top_p", VCFG_DOUBLE, 0, 1, NULL, "P", "0.96", "top-p sampling (0 = off)", AT(top_p),
     AT(has_top_p)},
    {"--depth", "variant", "depth", VCFG_INT, 1, VAR_MAX_DEPTH, NULL, "D", "the model's depth",
     "VARiant subnet depth for the late scales", AT(depth), AT(has_depth)},
    {"--full-scales", "variant", "full_scales", VCFG_INT, 0, 64, NULL, "N", "6", "scales run by every layer",
     AT(full_scales), AT(has_full_scales)},
    {"--layers", "variant", "layers", VCFG_INT_LIST, 0, VAR_MAX_DEPTH - 1, VCFG_ASCENDING, "i,j,...", "none",
     "explicit subnet (instead of --depth)", AT(layers), AT(n_layers)},
    {"--device", "runtime", "device", VCFG_STRING, 0, 0, NULL, "SPEC",
     "VARCL_DEVICE, else the first GPU, else the device with the most compute units",
     "index or substring of platform/device/vendor", AT(device), NO_HAS},
    {"--kv-dtype", "runtime", "kv_dtype", VCFG_CHOICE, 0, 0, "f32|f16", "T", "f32", "KV cache storage", AT(kv_dtype),
     NO_HAS},
    {"--weights", "runtime", "weights", VCFG_CHOICE, 0, 0, "keep|f32|f16|bf16", "W", "keep",
     "weight matrices on the device: keep = as the checkpoint stores them", AT(weights), NO_HAS},
    {"--weight-cache", "runtime", "weight_cache", VCFG_CHOICE, 0, 0, "auto|off", "C", "auto",
     "where device buffers are host memory (CPU devices), keep the converted weights in varcl's cache dir and read "
     "them in place next time; off: never",
     AT(weight_cache), NO_HAS},
    {"--page-tokens", "runtime", "page_tokens", VCFG_INT, 1, 1 << 20, NULL, "P", "16", "KV page size in tokens",
     AT(page_tokens), AT(has_page_tokens)},
    {"--kv-pool-mb", "runtime", "kv_pool_mb", VCFG_INT, 0, 1 << 24, NULL, "N", "0 = sized per request",
     "fixed KV pool in MiB", AT(kv_pool_mb), AT(has_kv_pool_mb)},
    {"--batch", "runtime", "batch", VCFG_INT, 1, 1024, NULL, "B", "all", "images per device pass", AT(batch),
     AT(has_batch)},
    {"--grid-columns", "output", "grid_columns", VCFG_INT, 1, 4096, NULL, "N", "8", "columns of the -o grid",
     AT(grid_columns), AT(has_grid_columns)},
};
const int VCFG_N_SETTINGS = (int)(sizeof VCFG_SETTINGS / sizeof VCFG_SETTINGS[0]);
#undef AT
static const char *const SECTIONS[] = {"model", "sample", "variant", "runtime", "output"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const vcfg_setting *vcfg_find_flag(const char *flag)
{
    for (int i = 0; i < VCFG_N_SETTINGS; i++)
        if (!strcmp(flag, VCFG_SETTINGS[i].flag)) return &VCFG_SETTINGS[i];
    return NULL;
}

/* "a whole number from 1 to 1024": what a value of st must be, for messages and --help alike. */
static void expected(const vcfg_setting *st, char *buf, size_t n)
{
    char lo[32], hi[64];
    snprintf(lo, sizeof lo, "%.17g", st->min);
    if (st->kind == VCFG_DOUBLE && st->max == FLT_MAX) snprintf(hi, sizeof hi, "3.4028234e38 (about a float's largest)");
    else if (st->max >= INT_MAX) snprintf(hi, sizeof hi, "%s", st->kind == VCFG_DOUBLE ? "" : "2147483647");
    else snprintf(hi, sizeof hi, "%.17g", st->max);
    switch (st->kind) {
    case VCFG_PATH: snprintf(buf, n, "a file path"); return;
    case VCFG_STRING: snprintf(buf, n, "a non-empty string"); return;
    case VCFG_CHOICE: snprintf(buf, n, "one of %s", st->choices); return;
    case VCFG_U64: snprintf(buf, n, "a whole number from 0 to 18446744073709551615"); return;
    case VCFG_INT: snprintf(buf, n, "a whole number from %s to %s", lo, hi); return;
    case VCFG_DOUBLE:
        if (isinf(st->max)) snprintf(buf, n, "a finite number >= %s", lo);
        else snprintf(buf, n, "a number from %s to %s", lo, hi);
        return;
    case VCFG_INT_LIST:
        snprintf(buf, n, "a comma-separated list of %swhole numbers from %s to %s",
                 st->choices && !strcmp(st->choices, VCFG_ASCENDING) ? "distinct ascending " : "", lo, hi);
        return;
    }
    snprintf(buf, n, "?");
}

void vcfg_print_help(FILE *f)
{
    for (int i = 0; i < VCFG_N_SETTINGS; i++) {
        const vcfg_setting *st = &VCFG_SETTINGS[i];
        char head[64], range[256];
        snprintf(head, sizeof head, "%s %s", st->flag, st->kind == VCFG_CHOICE ? st->choices : st->metavar);
        expected(st, range, sizeof range);
        fprintf(f, "  %-26s %s (default: %s)\n  %-26s   [%s] %s = %s\n", head, st->help, st->def, "", st->section,
                st->key, range);
    }
}

/* ---- storing one value ---- */

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

/* Stores one value (ini_path: paths are relative to it; NULL from the command line). Returns 0, -1 for a malformed
 * or out-of-range value, or VARCL_E_RUNTIME (recorded) when memory runs out. */
static int store(const vcfg_setting *st, const char *ini_path, const char *value, vcfg_settings *out)
{
    char *base = (char *)out;
    void *dst = base + st->value_off;
    int *has = st->has_off == NO_HAS ? NULL : (int *)(base + st->has_off);
    switch (st->kind) {
    case VCFG_PATH:
    case VCFG_STRING:
    case VCFG_CHOICE: {
        char **slot = dst;
        if (!*value) return -1;
        char canonical[32] = "";
        if (st->kind == VCFG_CHOICE) { /* case-insensitive match against "a|b|c" */
            size_t vlen = strlen(value);
            for (const char *c = st->choices; *c;) {
                const char *bar = strchr(c, '|');
                size_t clen = bar ? (size_t)(bar - c) : strlen(c);
                if (clen == vlen && clen < sizeof canonical && !strncasecmp(c, value, clen)) {
                    memcpy(canonical, c, clen);
                    canonical[clen] = 0;
                    break;
                }
                c += clen + (bar != NULL);
            }
            if (!canonical[0]) return -1;
        }
        char *copy = st->kind == VCFG_PATH && ini_path ? resolve_path(ini_path, value)
                                                       : strdup(st->kind == VCFG_CHOICE ? canonical : value);
        if (!copy) return varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        free(*slot);
        *slot = copy;
        return 0;
    }
    case VCFG_U64:
        if (vcfg_parse_u64(value, dst)) return -1;
        break;
    case VCFG_INT:
        if (vcfg_parse_int(value, (int)st->min, (int)st->max, dst)) return -1;
        break;
    case VCFG_DOUBLE: {
        double v;
        if (vcfg_parse_double(value, &v)) return -1;
        /* the engine holds these as floats (varcl.h): a value that is not 0 but would round to 0 there becomes the
         * smallest normal float, not 0 (--top-p 1e-50 keeps the top token; 0 turns top-p off); 1e-400 is not 0
         * either, though strtod gives 0 for it: a nonzero digit before the exponent. Before the range check, so
         * that -1e-400 is refused as -1e-50 is. */
        const size_t mant = strcspn(value, "eE");
        if (v == 0 && strcspn(value, "123456789") < mant) v = value[strspn(value, " ")] == '-' ? -FLT_MIN : FLT_MIN;
        if (v != 0 && fabs(v) < FLT_MIN) v = copysign(FLT_MIN, v);
        if (v < st->min || v > st->max) return -1;
        *(double *)dst = v;
        break;
    }
    case VCFG_INT_LIST: {
        int **slot = dst, *list, n;
        varcl_clear_error();
        if (vcfg_parse_int_list(value, (int)st->min, (int)st->max, &list, &n))
            return varcl_last_status() == VARCL_E_RUNTIME ? VARCL_E_RUNTIME : -1;
        /* the subnet's layers: checked here, where the message can name the flag or the file and line */
        for (int i = 1; st->choices && !strcmp(st->choices, VCFG_ASCENDING) && i < n; i++)
            if (list[i] <= list[i - 1]) {
                free(list);
                return -1;
            }
        free(*slot);
        *slot = list;
        *has = n; /* the list length doubles as its "is set" flag */
        return 0;
    }
    }
    *has = 1;
    return 0;
}

/* The value as it goes into a message: whole when short, else its start and end around "..." (a long class list
 * still shows the item at fault when it is at either end). */
static void show_value(const char *value, char *buf, size_t n)
{
    size_t len = strlen(value);
    if (len < 160) snprintf(buf, n, "%s", value);
    else snprintf(buf, n, "%.70s ... %s", value, value + len - 70);
}

int vcfg_set(vcfg_settings *s, const vcfg_setting *st, const char *value)
{
    int r = store(st, NULL, value, s);
    if (r != -1) return r;
    char want[256], shown[200];
    expected(st, want, sizeof want);
    show_value(value, shown, sizeof shown);
    return varcl_fail(VARCL_E_INPUT, "%s: expected %s, got '%s'", st->flag, want, shown);
}

/* ---- the settings file ---- */

/* Checks one "key = value" of [section] and stores its value. */
static int load_entry(const char *path, int line, const char *section, const char *key, const char *value,
                      int quoted, int *seen, vcfg_settings *out)
{
    if (!section[0])
        return varcl_fail(VARCL_E_INPUT, "%s:%d: key \"%s\" is outside any section", path, line, key);
    for (int i = 0; i < VCFG_N_SETTINGS; i++) {
        const vcfg_setting *st = &VCFG_SETTINGS[i];
        if (strcmp(section, st->section) || strcmp(key, st->key)) continue;
        if (seen[i])
            return varcl_fail(VARCL_E_INPUT, "%s:%d: [%s] %s is given a second time (first on line %d)", path, line,
                              section, key, seen[i]);
        seen[i] = line;
        char want[256], shown[200];
        show_value(value, shown, sizeof shown);
        /* "x.safetensors  # best": a comment or part of a name? Refused rather than guessed either way. */
        for (const char *c = value + 1; !quoted && *c; c++)
            if ((*c == '#' || *c == ';') && (c[-1] == ' ' || c[-1] == '\t'))
                return varcl_fail(VARCL_E_INPUT,
                                  "%s:%d: [%s] %s = \"%s\": '%c' after a space may be a comment; comments go on their "
                                  "own line (quote the value if the '%c' is part of it)",
                                  path, line, section, key, shown, *c, *c);
        int r = store(st, path, value, out);
        if (r == -1) {
            expected(st, want, sizeof want);
            return varcl_fail(VARCL_E_INPUT, "%s:%d: [%s] %s = \"%s\": expected %s", path, line, section, key, shown,
                              want);
        }
        return r;
    }
    /* Listing the section's keys turns a typo into a one-look fix. */
    char known[200] = "";
    for (int i = 0; i < VCFG_N_SETTINGS; i++)
        if (!strcmp(section, VCFG_SETTINGS[i].section))
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "",
                     VCFG_SETTINGS[i].key);
    return varcl_fail(VARCL_E_INPUT, "%s:%d: unknown key \"%s\" in [%s] (known: %s)", path, line, key, section, known);
}

static char *trim(char *b, char *e)
{
    while (b < e && (*b == ' ' || *b == '\t')) b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *e = 0;
    return b;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

#define VCFG_MAX_FILE (1 << 20) /* a settings file is a few hundred bytes; 1000 class labels are 4 KB */

int vcfg_load(const char *path, vcfg_settings *out)
{
    memset(out, 0, sizeof *out);
    if (!path || !*path) return varcl_fail(VARCL_E_INPUT, "settings file: empty path");
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* O_NONBLOCK: a FIFO would block a plain open */
    if (fd < 0) return varcl_fail(VARCL_E_INPUT, "%s: cannot open settings file: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return varcl_fail(VARCL_E_INPUT, "%s: cannot open settings file: %s", path,
                          S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return varcl_fail(VARCL_E_RUNTIME, "%s: cannot open settings file: %s", path, strerror(errno));
    }
    char *text = malloc(VCFG_MAX_FILE + 1);
    if (!text) {
        fclose(fp);
        return varcl_fail(VARCL_E_RUNTIME, "%s: out of host memory reading settings file", path);
    }
    size_t len = fread(text, 1, VCFG_MAX_FILE + 1, fp);
    int rerr = ferror(fp);
    fclose(fp);
    if (rerr) {
        free(text);
        return varcl_fail(VARCL_E_INPUT, "%s: cannot read settings file", path);
    }
    if (len > VCFG_MAX_FILE) {
        free(text);
        return varcl_fail(VARCL_E_INPUT, "%s: settings file larger than %d bytes", path, VCFG_MAX_FILE);
    }
    text[len] = 0;
    if (memchr(text, 0, len)) {
        free(text);
        return varcl_fail(VARCL_E_INPUT, "%s: not a text file (holds a NUL byte)", path);
    }
    char *p = text;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* UTF-8 byte order mark (Windows editors) */
    int seen[64] = {0}; /* per setting: the line that gave it */
    char section[32] = "";
    int status = VARCL_OK;
    for (int line = 1; *p && !status; line++) {
        char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p), *next = nl ? nl + 1 : end;
        if (end > p && end[-1] == '\r') end--;
        char *l = trim(p, end);
        p = next;
        if (!*l || *l == '#' || *l == ';') continue;
        if (*l == '[') {
            char *close = strchr(l, ']');
            char *rest = close ? trim(close + 1, close + 1 + strlen(close + 1)) : NULL;
            if (!close || (*rest && *rest != '#' && *rest != ';')) {
                status =
                    varcl_fail(VARCL_E_INPUT, "%s:%d: syntax error: \"%.80s\" (expected [section])", path, line, l);
                break;
            }
            char *name = trim(l + 1, close);
            lower(name);
            size_t i = 0;
            while (i < COUNT(SECTIONS) && strcmp(name, SECTIONS[i])) i++;
            if (i == COUNT(SECTIONS)) {
                status = varcl_fail(VARCL_E_INPUT,
                                    "%s:%d: unknown section [%.40s] (known: model, sample, variant, runtime, output)", path,
                                    line, name);
                break;
            }
            snprintf(section, sizeof section, "%s", name);
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq || eq == l) {
            status = varcl_fail(VARCL_E_INPUT, "%s:%d: syntax error: \"%.80s\" (expected key = value)", path, line, l);
            break;
        }
        char *key = trim(l, eq), *value = trim(eq + 1, eq + 1 + strlen(eq + 1));
        lower(key);
        size_t vlen = strlen(value);
        if (vlen && (value[0] == '"' || value[0] == '\'')) {
            if (vlen < 2 || value[vlen - 1] != value[0]) {
                status = varcl_fail(VARCL_E_INPUT, "%s:%d: [%s] %s: the quote %c...%c is not closed", path, line,
                                    section, key, value[0], value[0]);
                break;
            }
            value[vlen - 1] = 0;
            value++;
            status = load_entry(path, line, section, key, value, 1, seen, out);
            continue;
        }
        status = load_entry(path, line, section, key, value, 0, seen, out);
    }
    free(text);
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
    free(s->weight_cache);
    memset(s, 0, sizeof *s);
}
