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
    memcpy(last_msg, msg, sizeof msg);
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
