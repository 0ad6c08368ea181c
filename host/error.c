/* error: thread-local last-error message and status (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[1024];
static _Thread_local int last_status;

/* Writes src into dst (n bytes, always terminated) as one line: control characters but tab become C escapes
 * ("\n", "\r", "\x1b"). A message is one line (DESIGN.md, error policy) whatever it quotes: a path with a
 * newline, a settings file with CR line ends, a compiler's build log. */
static void one_line(char *dst, size_t n, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 5 < n; p++) {
        if ((*p >= 0x20 && *p != 0x7f) || *p == '\t') dst[o++] = (char)*p; /* a tab keeps the line */
        else if (*p == '\n') dst[o++] = '\\', dst[o++] = 'n';
        else if (*p == '\r') dst[o++] = '\\', dst[o++] = 'r';
        else o += (size_t)snprintf(dst + o, 5, "\\x%02x", *p);
    }
    dst[o] = 0;
}

int varcl_fail(int status, const char *fmt, ...)
{
    /* formatted aside first: callers may pass varcl_last_error() itself as an argument, to add context */
    char msg[sizeof last_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    one_line(last_msg, sizeof last_msg, msg);
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
    one_line(line, sizeof line, msg);
    fprintf(stderr, "%s%s", line, newline ? "\n" : "");
}

const char *varcl_last_error(void) { return last_msg; }
int varcl_last_status(void) { return last_status; }
void varcl_clear_error(void)
{
    last_msg[0] = 0;
    last_status = VARCL_OK;
}
