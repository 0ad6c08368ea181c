/* error: thread-local last-error message and status (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[1024];
static _Thread_local int last_status;

int varcl_fail(int status, const char *fmt, ...)
{
    /* formatted aside first: callers may pass varcl_last_error() itself as an argument, to add context */
    char msg[sizeof last_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A message is one line (DESIGN.md, error policy) whatever it quotes: a path with a newline, a settings file
     * with CR line ends, a compiler's build log. Control characters but tab are written as C escapes ("\n", "\x1b"). */
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 5 < sizeof last_msg; p++) {
        if ((*p >= 0x20 && *p != 0x7f) || *p == '\t') last_msg[o++] = (char)*p; /* a tab keeps the line */
        else if (*p == '\n') last_msg[o++] = '\\', last_msg[o++] = 'n';
        else if (*p == '\r') last_msg[o++] = '\\', last_msg[o++] = 'r';
        else o += (size_t)snprintf(last_msg + o, 5, "\\x%02x", *p);
    }
    last_msg[o] = 0;
    last_status = status;
    return status;
}

const char *varcl_last_error(void) { return last_msg; }
int varcl_last_status(void) { return last_status; }
void varcl_clear_error(void)
{
    last_msg[0] = 0;
    last_status = VARCL_OK;
}
