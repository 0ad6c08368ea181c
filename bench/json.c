/* json: a small strict JSON DOM parser and JSON text helpers (see json.h). */
#include "json.h"

#include "error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vj_value {
    vj_type type;
    int boolean;
    double num;
    char *str;         /* VJ_STRING: NUL-terminated UTF-8 */
    size_t n, cap;     /* VJ_ARRAY / VJ_OBJECT: element count and capacity */
    vj_value **items;  /* elements, or member values */
    char **keys;       /* VJ_OBJECT: member keys */
};

typedef struct {
    const char *s;
    size_t len, pos;
    int depth;
} vj_parser;

/* ---------- errors ---------- */

static void *vj_oom(void)
{
    varcl_fail(VARCL_E_RUNTIME, "JSON: out of memory");
    return NULL;
}

static void *vj_err(const vj_parser *p, size_t at, const char *what)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (at >= p->len)
        varcl_fail(VARCL_E_INPUT, "JSON: %s at end of input (line %zu, column %zu, byte %zu)", what, line, col, at);
    else
        varcl_fail(VARCL_E_INPUT, "JSON: %s at line %zu, column %zu (byte %zu)", what, line, col, at);
    return NULL;
}

/* ---------- values ---------- */

static vj_value *vj_new(vj_type t)
{
    vj_value *v = calloc(1, sizeof *v);
    if (!v) return vj_oom();
    v->type = t;
    return v;
}

void vj_free(vj_value *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        vj_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

/* Appends item (and key, for objects; ownership passes on success). 0 or -1 (out of memory). */
static int vj_push(vj_value *c, char *key, vj_value *item)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        vj_value **items = realloc(c->items, cap * sizeof *items);
        if (!items) return -1;
        c->items = items;
        if (c->type == VJ_OBJECT) {
            char **keys = realloc(c->keys, cap * sizeof *keys);
            if (!keys) return -1;
            c->keys = keys;
        }
        c->cap = cap;
    }
    c->items[c->n] = item;
    if (c->type == VJ_OBJECT) c->keys[c->n] = key;
    c->n++;
    return 0;
}

/* ---------- parser ---------- */

static void vj_ws(vj_parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int vj_hex4(const vj_parser *p, size_t at, unsigned *out)
{
    unsigned v = 0;
    if (at + 4 > p->len) return -1;
    for (int i = 0; i < 4; i++) {
        char c = p->s[at + i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

typedef struct {
    char *b;
    size_t n, cap;
} vj_buf;

static int vj_put(vj_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (b->n + n + 1 > cap) cap *= 2;
        char *nb = realloc(b->b, cap);
        if (!nb) return -1;
        b->b = nb;
        b->cap = cap;
    }
    memcpy(b->b + b->n, s, n);
    b->n += n;
    b->b[b->n] = 0;
    return 0;
}

static int vj_put_utf8(vj_buf *b, unsigned cp)
{
    char u[4];
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return vj_put(b, "?", 1);
    if (cp < 0x80) {
        u[0] = (char)cp;
        return vj_put(b, u, 1);
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return vj_put(b, u, 2);
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return vj_put(b, u, 3);
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return vj_put(b, u, 4);
}

/* Parses a string literal at p->pos (which is '"'); returns the decoded, malloc'd text or NULL. */
static char *vj_string(vj_parser *p)
{
    size_t start = p->pos;
    vj_buf b = {0};
    p->pos++; /* opening quote */
    if (vj_put(&b, "", 0)) return vj_oom();
    for (;;) {
        if (p->pos >= p->len) {
            free(b.b);
            return vj_err(p, start, "unterminated string");
        }
        size_t run = p->pos;
        while (p->pos < p->len && p->s[p->pos] != '"' && p->s[p->pos] != '\\' &&
               (unsigned char)p->s[p->pos] >= 0x20)
            p->pos++;
        if (vj_put(&b, p->s + run, p->pos - run)) {
            free(b.b);
            return vj_oom();
        }
        if (p->pos >= p->len) continue; /* reported above */
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return b.b;
        }
        if (c < 0x20) {
            free(b.b);
            return vj_err(p, p->pos, "control character in string (must be escaped)");
        }
        /* backslash escape */
        size_t esc = p->pos;
        if (p->pos + 1 >= p->len) {
            free(b.b);
            return vj_err(p, start, "unterminated string");
        }
        char e = p->s[p->pos + 1];
        const char *rep = NULL;
        switch (e) {
        case '"': rep = "\""; break;
        case '\\': rep = "\\"; break;
        case '/': rep = "/"; break;
        case 'b': rep = "\b"; break;
        case 'f': rep = "\f"; break;
        case 'n': rep = "\n"; break;
        case 'r': rep = "\r"; break;
        case 't': rep = "\t"; break;
        case 'u': break;
        default: free(b.b); return vj_err(p, esc, "invalid escape in string");
        }
        int bad;
        if (rep) {
            bad = vj_put(&b, rep, 1);
            p->pos += 2;
        } else {
            unsigned cp, lo;
            if (vj_hex4(p, p->pos + 2, &cp)) {
                free(b.b);
                return vj_err(p, esc, "invalid \\u escape (needs 4 hex digits)");
            }
            p->pos += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && p->pos + 1 < p->len && p->s[p->pos] == '\\' &&
                p->s[p->pos + 1] == 'u' && !vj_hex4(p, p->pos + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p->pos += 6;
            }
            bad = vj_put_utf8(&b, cp);
        }
        if (bad) {
            free(b.b);
            return vj_oom();
        }
    }
}

static vj_value *vj_number(vj_parser *p)
{
    size_t start = p->pos, i = p->pos;
    const char *s = p->s;
#define VJ_DIGIT(k) ((k) < p->len && s[k] >= '0' && s[k] <= '9')
    if (i < p->len && s[i] == '-') i++;
    if (!VJ_DIGIT(i)) return vj_err(p, start, "invalid number");
    if (s[i] == '0') {
        i++;
        if (VJ_DIGIT(i)) return vj_err(p, start, "invalid number (leading zero)");
    } else {
        while (VJ_DIGIT(i)) i++;
    }
    if (i < p->len && s[i] == '.') {
        i++;
        if (!VJ_DIGIT(i)) return vj_err(p, i, "invalid number (digit expected after '.')");
        while (VJ_DIGIT(i)) i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (!VJ_DIGIT(i)) return vj_err(p, i, "invalid number (digit expected in exponent)");
        while (VJ_DIGIT(i)) i++;
    }
#undef VJ_DIGIT
    size_t n = i - start;
    char small[64], *tmp = small;
    if (n >= sizeof small) {
        tmp = malloc(n + 1);
        if (!tmp) return vj_oom();
    }
    memcpy(tmp, s + start, n);
    tmp[n] = 0;
    double x = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    if (isinf(x)) return vj_err(p, start, "number out of range");
    vj_value *v = vj_new(VJ_NUMBER);
    if (!v) return NULL;
    v->num = x;
    p->pos = i;
    return v;
}

static vj_value *vj_value_at(vj_parser *p);

static vj_value *vj_container(vj_parser *p, int object)
{
    size_t open = p->pos;
    if (++p->depth > VJ_MAX_DEPTH) return vj_err(p, open, "nesting deeper than 64 levels");
    vj_value *c = vj_new(object ? VJ_OBJECT : VJ_ARRAY);
    if (!c) return NULL;
    char close = object ? '}' : ']';
    p->pos++;
    vj_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return c;
    }
    for (;;) {
        char *key = NULL;
        vj_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                vj_free(c);
                return vj_err(p, p->pos, "expected a string key");
            }
            size_t kpos = p->pos;
            key = vj_string(p);
            if (!key) {
                vj_free(c);
                return NULL;
            }
            for (size_t i = 0; i < c->n; i++) {
                if (!strcmp(c->keys[i], key)) {
                    free(key);
                    vj_free(c);
                    return vj_err(p, kpos, "duplicate key");
                }
            }
            vj_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                vj_free(c);
                return vj_err(p, p->pos, "expected ':' after key");
            }
            p->pos++;
            vj_ws(p);
        }
        vj_value *item = vj_value_at(p);
        if (!item) {
            free(key);
            vj_free(c);
            return NULL;
        }
        if (vj_push(c, key, item)) {
            free(key);
            vj_free(item);
            vj_free(c);
            return vj_oom();
        }
        vj_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            vj_ws(p);
            if (p->pos < p->len && p->s[p->pos] == close) {
                vj_free(c);
                return vj_err(p, p->pos, object ? "trailing comma in object" : "trailing comma in array");
            }
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            p->depth--;
            return c;
        }
        vj_free(c);
        if (p->pos >= p->len) return vj_err(p, open, object ? "unterminated object" : "unterminated array");
        return vj_err(p, p->pos, object ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
    }
}

static vj_value *vj_literal(vj_parser *p, const char *word, vj_type t, int b)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n)) return vj_err(p, p->pos, "unexpected character");
    vj_value *v = vj_new(t);
    if (!v) return NULL;
    v->boolean = b;
    p->pos += n;
    return v;
}

static vj_value *vj_value_at(vj_parser *p)
{
    vj_ws(p);
    if (p->pos >= p->len) return vj_err(p, p->pos, "value expected");
    char c = p->s[p->pos];
    switch (c) {
    case '{': return vj_container(p, 1);
    case '[': return vj_container(p, 0);
    case '"': {
        char *s = vj_string(p);
        if (!s) return NULL;
        vj_value *v = vj_new(VJ_STRING);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
        return v;
    }
    case 't': return vj_literal(p, "true", VJ_BOOL, 1);
    case 'f': return vj_literal(p, "false", VJ_BOOL, 0);
    case 'n': return vj_literal(p, "null", VJ_NULL, 0);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return vj_number(p);
        return vj_err(p, p->pos, "unexpected character");
    }
}

vj_value *vj_parse(const char *text, size_t len)
{
    vj_parser p = {text ? text : "", text ? len : 0, 0, 0};
    if (p.len >= 3 && !memcmp(p.s, "\xEF\xBB\xBF", 3)) p.pos = 3; /* UTF-8 byte order mark */
    vj_ws(&p);
    if (p.pos >= p.len) return vj_err(&p, p.pos, "empty document");
    vj_value *v = vj_value_at(&p);
    if (!v) return NULL;
    vj_ws(&p);
    if (p.pos < p.len) {
        vj_free(v);
        return vj_err(&p, p.pos, "unexpected text after the document");
    }
    return v;
}

vj_value *vj_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        varcl_fail(VARCL_E_INPUT, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    vj_buf b = {0};
    char chunk[65536];
    size_t n;
    int oom = vj_put(&b, "", 0);
    while (!oom && (n = fread(chunk, 1, sizeof chunk, f)) > 0) oom = vj_put(&b, chunk, n);
    int rerr = ferror(f);
    fclose(f);
    if (oom) {
        free(b.b);
        return vj_oom();
    }
    if (rerr) {
        free(b.b);
        varcl_fail(VARCL_E_INPUT, "%s: read error", path);
        return NULL;
    }
    vj_value *v = vj_parse(b.b, b.n);
    free(b.b);
    if (!v) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", varcl_last_error());
        varcl_fail(varcl_last_status(), "%s: %s", path, msg);
    }
    return v;
}

/* ---------- lookups ---------- */

vj_type vj_type_of(const vj_value *v) { return v ? v->type : VJ_NONE; }

const vj_value *vj_get(const vj_value *obj, const char *key)
{
    if (!obj || obj->type != VJ_OBJECT || !key) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return obj->items[i];
    return NULL;
}

size_t vj_len(const vj_value *v)
{
    return v && (v->type == VJ_ARRAY || v->type == VJ_OBJECT) ? v->n : 0;
}

const vj_value *vj_at(const vj_value *v, size_t i) { return i < vj_len(v) ? v->items[i] : NULL; }

const char *vj_key(const vj_value *obj, size_t i)
{
    return obj && obj->type == VJ_OBJECT && i < obj->n ? obj->keys[i] : NULL;
}

double vj_num(const vj_value *v, double def) { return v && v->type == VJ_NUMBER ? v->num : def; }

const char *vj_str(const vj_value *v, const char *def) { return v && v->type == VJ_STRING ? v->str : def; }

int vj_bool(const vj_value *v, int def) { return v && v->type == VJ_BOOL ? v->boolean : def; }

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
