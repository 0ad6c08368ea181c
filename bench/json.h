/* json: a JSON DOM (RFC 8259) for the benchmark tools, read with jansson (the library the safetensors reader uses
 * too), and helpers to write JSON text.
 * Parsing is strict: one value per document, no trailing commas, no comments, no NaN, no duplicate keys, valid
 * UTF-8, nesting at most VJ_MAX_DEPTH deep; a UTF-8 byte order mark is skipped. Errors are recorded with
 * varcl_fail(VARCL_E_INPUT, ...) and name the line, column and byte offset (and the path, for vj_read_file); out of
 * memory is VARCL_E_RUNTIME. Strings are decoded to UTF-8 (\uXXXX escapes included, surrogate pairs joined; a lone
 * surrogate or \u0000 is refused) and are NUL-terminated. Every number is read as a double.
 * Every lookup helper accepts NULL and wrong-typed values, so chains like
 * vj_num(vj_get(vj_get(run, "ms_per_image"), "median"), NAN) need no checks in between. */
#ifndef VARCL_BENCH_JSON_H
#define VARCL_BENCH_JSON_H

#include <stddef.h>
#include <stdio.h>

#define VJ_MAX_DEPTH 64

typedef enum {
    VJ_NONE = 0, /* what vj_type reports for a NULL pointer (a missing member) */
    VJ_NULL,
    VJ_BOOL,
    VJ_NUMBER,
    VJ_STRING,
    VJ_ARRAY,
    VJ_OBJECT
} vj_type;

typedef struct vj_value vj_value;

/* Parses len bytes of text (need not be NUL-terminated). NULL on error (see above). Free with vj_free. */
vj_value *vj_parse(const char *text, size_t len);
/* Reads and parses a whole file; errors name the path. */
vj_value *vj_read_file(const char *path);
void vj_free(vj_value *v);

vj_type vj_type_of(const vj_value *v);
/* Member of an object by key (NULL when v is not an object or has no such key). */
const vj_value *vj_get(const vj_value *obj, const char *key);
/* Number of elements of an array or members of an object; 0 for anything else. */
size_t vj_len(const vj_value *v);
/* Element i of an array, or the value of member i of an object (file order); NULL when out of range. */
const vj_value *vj_at(const vj_value *v, size_t i);
/* Key of member i of an object; NULL when v is not an object or i is out of range. */
const char *vj_key(const vj_value *obj, size_t i);
/* The number, or def when v is not a number. */
double vj_num(const vj_value *v, double def);
/* The string, or def when v is not a string. */
const char *vj_str(const vj_value *v, const char *def);
/* The boolean (0/1), or def when v is not true/false. */
int vj_bool(const vj_value *v, int def);

/* Writes s as a JSON string literal: quotes, backslash and control characters escaped, other bytes as they are
 * (UTF-8 passes through). NULL writes null. */
void vj_write_string(FILE *f, const char *s);
/* Writes a finite number in the shortest form that reads back exactly (integers without a fraction);
 * NaN and infinities, which JSON cannot hold, are written as null. */
void vj_write_number(FILE *f, double x);

#endif
