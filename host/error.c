/* error: thread-local last-error message and status (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[1024];
static _Thread_local int last_status;

/* The length of the well-formed UTF-8 sequence at p (2-4), 0 where there is none (a stray continuation byte, an
 * overlong form, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    else return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return n;
}

/* The 3-byte characters that change how a line shows without showing themselves: the byte-order mark (U+FEFF),
 * the line and paragraph separators (U+2028, U+2029: a new line to some terminals and editors), and the
 * direction marks, embeddings, overrides and isolates (U+200E-200F, U+202A-202E, U+2066-2069), which can make a
 * quoted name read as another. */
static int invisible(const unsigned char *p)
{
    if (p[0] == 0xef) return p[1] == 0xbb && p[2] == 0xbf;
    if (p[0] != 0xe2) return 0;
    if (p[1] == 0x80) return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae);
    return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

/* Writes src into dst (n bytes, always terminated) as one line: control characters but tab become C escapes
 * ("\n", "\r", "\x1b"). A message is one line (DESIGN.md, error policy) whatever it quotes: a path with a
 * newline, a settings file with CR line ends, a compiler's build log. Bytes that are not UTF-8 (a Latin-1 file
 * name, a binary file's contents) are escaped too ("\xe9"), so the terminal shows what the file holds; so are
 * C1 controls ("\u009b", which a terminal may take as the start of a command) and the characters invisible() lists
 * ("\ufeff": a settings file saved with a byte-order mark was refused for an "unknown key 'model'" that looked
 * right). */
void varcl_one_line(char *dst, size_t n, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 7 < n; p++) {
        size_t u = *p >= 0x80 ? utf8_len(p) : 0;
        if (u == 2 ? p[0] == 0xc2 && p[1] < 0xa0 : u == 3 && invisible(p)) {
            const unsigned cp = u == 2 ? p[1] : (unsigned)(p[0] & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            o += (size_t)snprintf(dst + o, 7, "\\u%04x", cp);
            p += u - 1;
        } else if (u) {
            if (o + u + 1 >= n) break;
            memcpy(dst + o, p, u), o += u, p += u - 1;
        } else if ((*p >= 0x20 && *p < 0x7f) || *p == '\t') {
            dst[o++] = (char)*p; /* a tab keeps the line */
        } else if (*p == '\n') {
            dst[o++] = '\\', dst[o++] = 'n';
        } else if (*p == '\r') {
            dst[o++] = '\\', dst[o++] = 'r';
        } else {
            o += (size_t)snprintf(dst + o, 5, "\\x%02x", *p);
        }
    }
    dst[o] = 0;
}

const char *varcl_shown(const char *v)
{
    static _Thread_local char slot[4][4200];
    static _Thread_local int next;
    const size_t n = strlen(v);
    if (n && !strchr(" \t\n\r\v\f", v[0]) && !strchr(" \t\n\r\v\f", v[n - 1])) return v;
    char *s = slot[next++ & 3];
    snprintf(s, sizeof slot[0], "'%s'", v);
    return s;
}

int varcl_fail(int status, const char *fmt, ...)
{
    /* formatted aside first: callers may pass varcl_last_error() itself as an argument, to add context */
    char msg[sizeof last_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    varcl_one_line(last_msg, sizeof last_msg, msg);
    last_status = status;
    return status;
}

void varcl_eprintf(const char *fmt, ...)
{
    char msg[8192], line[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = strlen(msg);
    int newline = len > 0 && msg[len - 1] == '\n'; /* the line's own end, not part of what it quotes */
    if (newline) msg[len - 1] = 0;
    varcl_one_line(line, sizeof line, msg);
    fprintf(stderr, "%s%s", line, newline ? "\n" : "");
}

const char *varcl_last_error(void) { return last_msg; }
int varcl_last_status(void) { return last_status; }
void varcl_clear_error(void)
{
    last_msg[0] = 0;
    last_status = VARCL_OK;
}
