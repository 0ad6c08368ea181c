/* json: the strict JSON reader over jansson, and JSON text helpers (see json.h). A vj_value is a jansson json_t:
 * the DOM, its hash tables (duplicate keys found as they are read) and its string handling are jansson's; this file
 * adds the rules jansson leaves open (nesting depth, byte order mark) and our error lines. */
#include "json.h"

#include "error.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const json_t *J(const vj_value *v) { return (const json_t *)v; }

/* Line and column (1-based) of byte `at`, counted as the error lines count them. */
static void position(const char *s, size_t len, size_t at, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at && i < len; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Refuses nesting deeper than VJ_MAX_DEPTH before jansson builds anything (its own limit is 2048): brackets outside
 * strings are counted. Returns 0 or VARCL_E_INPUT. */
static int check_depth(const char *s, size_t len)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > VJ_MAX_DEPTH) {
                size_t line, col;
                position(s, len, i, &line, &col);
                return varcl_fail(VARCL_E_INPUT, "JSON: nesting deeper than %d levels at line %zu, column %zu (byte %zu)",
                                  VJ_MAX_DEPTH, line, col, i);
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

vj_value *vj_parse(const char *text, size_t len)
{
    if (!text) text = "", len = 0;
    size_t skip = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0; /* UTF-8 byte order mark */
    if (check_depth(text + skip, len - skip)) return NULL;
    json_error_t err;
    /* every number as a double (no "too big integer" for 20 digits), scalars allowed as documents */
    json_t *v = json_loadb(text + skip, len - skip, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL,
                           &err);
    if (!v) {
        if (json_error_code(&err) == json_error_out_of_memory) {
            varcl_fail(VARCL_E_RUNTIME, "JSON: out of memory");
            return NULL;
        }
        varcl_fail(VARCL_E_INPUT, "JSON: %s at line %d, column %d (byte %zu)", err.text, err.line, err.column,
                   (size_t)(err.position < 0 ? 0 : err.position) + skip);
        return NULL;
    }
    return (vj_value *)v;
}

vj_value *vj_read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* O_NONBLOCK: a FIFO would block a plain open */
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int err = errno;
        varcl_fail(VARCL_E_INPUT, "%s: cannot open: %s", path,
                   fd < 0 ? strerror(err) : S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
        if (fd >= 0) close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        varcl_fail(VARCL_E_RUNTIME, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char chunk[65536];
    size_t n;
    int oom = !mem;
    while (!oom && (n = fread(chunk, 1, sizeof chunk, f)) > 0) oom = fwrite(chunk, 1, n, mem) != n;
    int rerr = ferror(f);
    fclose(f);
    if (mem && fclose(mem) != 0) oom = 1;
    if (oom || rerr) {
        free(text);
        varcl_fail(oom ? VARCL_E_RUNTIME : VARCL_E_INPUT, "%s: %s", path, oom ? "out of host memory" : "read error");
        return NULL;
    }
    vj_value *v = vj_parse(text, len);
    free(text);
    if (!v) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", varcl_last_error());
        varcl_fail(varcl_last_status(), "%s: %s", path, msg);
    }
    return v;
}

void vj_free(vj_value *v) { json_decref((json_t *)v); }

/* ---------- lookups ---------- */

vj_type vj_type_of(const vj_value *v)
{
    switch (v ? json_typeof(J(v)) : (json_type)-1) {
    case JSON_OBJECT: return VJ_OBJECT;
    case JSON_ARRAY: return VJ_ARRAY;
    case JSON_STRING: return VJ_STRING;
    case JSON_INTEGER:
    case JSON_REAL: return VJ_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return VJ_BOOL;
    case JSON_NULL: return VJ_NULL;
    }
    return VJ_NONE;
}

const vj_value *vj_get(const vj_value *obj, const char *key)
{
    if (!obj || !key || !json_is_object(J(obj))) return NULL;
    return (const vj_value *)json_object_get(J(obj), key);
}

size_t vj_len(const vj_value *v)
{
    if (!v) return 0;
    if (json_is_array(J(v))) return json_array_size(J(v));
    if (json_is_object(J(v))) return json_object_size(J(v));
    return 0;
}

/* Member i of an object in file order (jansson keeps insertion order): a walk, objects here have few members. */
static void *member_iter(const vj_value *obj, size_t i)
{
    if (!obj || !json_is_object(J(obj))) return NULL;
    void *it = json_object_iter((json_t *)J(obj));
    while (it && i--) it = json_object_iter_next((json_t *)J(obj), it);
    return it;
}

const vj_value *vj_at(const vj_value *v, size_t i)
{
    if (v && json_is_array(J(v))) return (const vj_value *)json_array_get(J(v), i);
    void *it = member_iter(v, i);
    return it ? (const vj_value *)json_object_iter_value(it) : NULL;
}

const char *vj_key(const vj_value *obj, size_t i)
{
    void *it = member_iter(obj, i);
    return it ? json_object_iter_key(it) : NULL;
}

double vj_num(const vj_value *v, double def) { return v && json_is_number(J(v)) ? json_number_value(J(v)) : def; }

const char *vj_str(const vj_value *v, const char *def)
{
    return v && json_is_string(J(v)) ? json_string_value(J(v)) : def;
}

int vj_bool(const vj_value *v, int def) { return v && json_is_boolean(J(v)) ? json_is_true(J(v)) : def; }

/* ---------- writing ---------- */

void vj_write_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*c < 0x20 || *c == 0x7F) fprintf(f, "\\u%04x", *c);
            else fputc(*c, f);
        }
    }
    fputc('"', f);
}

void vj_write_number(FILE *f, double x)
{
    if (!isfinite(x)) {
        fputs("null", f);
        return;
    }
    if (x == 0) { /* also -0 */
        fputs("0", f);
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
}
