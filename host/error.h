/* error: the library's one error channel.
 * Library code never prints or exits; it records one line here and returns a status.
 * Tools map the status to an exit code: 0 ok, 2 bad usage or input, 1 run-time failure. */
#ifndef VARCL_ERROR_H
#define VARCL_ERROR_H

#include <stddef.h>

enum {
    VARCL_OK = 0,
    VARCL_E_RUNTIME = 1, /* device, memory, OpenCL/CLBlast failure */
    VARCL_E_INPUT = 2    /* bad file, bad shape, bad argument */
};

/* Records a printf-style message and returns status (so `return varcl_fail(...)` works). */
int varcl_fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The last message recorded ("" if none). Thread-local. */
const char *varcl_last_error(void);
/* The status passed with the last message (VARCL_OK if none). */
int varcl_last_status(void);
void varcl_clear_error(void);
/* src as one line of what a terminal shows as it is, into dst (n bytes, always terminated; cut short where it does
 * not fit): control characters but tab as C escapes ("\n", "\x1b"), bytes that are not UTF-8 as "\xe9", C1
 * controls and invisible characters (the BOM, line separators, direction overrides) as "\u202e". Every message
 * goes through it (varcl_fail, varcl_eprintf); reports use it for names read from files (vbench --compare). Up to
 * 6 bytes out per byte in. */
void varcl_one_line(char *dst, size_t n, const char *src);

/* A value as a message should show it: v itself, or in single quotes where it is empty or starts or ends with a
 * blank, which would not be seen (VARCL_POLICY=' ' was reported as "VARCL_POLICY= : expected ..."). The result
 * stays valid for the next 3 calls in the thread (so one message may show several). */
const char *varcl_shown(const char *v);
/* For the tools (the library itself never prints): a printf-style message to stderr, kept to one line as
 * varcl_fail's are, whatever paths or values it quotes. A newline that ends the format is written as it is. */
void varcl_eprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
