/* check: the tiny assertion helpers every test program uses.
 * CHECK records a failure and goes on; check_done() prints "N passed, N failed" and gives the exit code. */
#ifndef VARCL_CHECK_H
#define VARCL_CHECK_H

#include <stddef.h>

extern int check_passed, check_failed;

void check_report(int ok, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define CHECK(cond, ...) check_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Relative error ||a - b|| / max(||b||, tiny) and max |a - b|, for float arrays of n elements. */
double check_rel_l2(const float *a, const float *b, size_t n);
double check_max_abs(const float *a, const float *b, size_t n);

/* Path of a test data file: $VARCL_TEST_DATA/rel (static buffer; next call overwrites). */
const char *check_data(const char *rel);

/* Makes a fresh directory $TMPDIR/varcl-<name>-XXXXXX ($TMPDIR unset: the system's temp directory) into buf.
 * Returns buf, or NULL when it cannot be made. */
char *check_mkdtemp(char *buf, size_t n, const char *name);

/* Prints the summary line; returns 0 when nothing failed (use as main's return value). */
int check_done(void);

#endif
