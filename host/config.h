/* config: the vgen settings file (ini, read with iniparser) into a struct, and the strict number parsers that the
 * settings file and the command line share. Only the form and the model-independent ranges of each value are
 * checked here; limits that depend on the model (class < classes, depth <= model depth) are checked later.
 *
 *   [model]   var = path   vae = path          relative paths are taken from the ini file's directory
 *   [sample]  seed  cfg  top_k  top_p  classes = 1,2,3
 *   [variant] depth  full_scales  layers = 0,4,8
 *   [runtime] device  kv_dtype  weights  page_tokens  kv_pool_mb  batch
 *
 * Sections and keys are case-insensitive and every key is optional; an unknown section or key is an error so that
 * a typo never passes silently. Values: decimal numbers only (no octal, hex, trailing garbage or overflow). */
#ifndef VARCL_CONFIG_H
#define VARCL_CONFIG_H

#include <stdint.h>

typedef struct {
    char *model, *vae;                   /* NULL when unset (malloc'd, resolved path) */
    int has_seed;        uint64_t seed;
    int has_cfg;         double cfg;     /* finite, >= 0 */
    int has_top_k;       int top_k;      /* >= 0 (0 = off) */
    int has_top_p;       double top_p;   /* in [0, 1] (0 = off) */
    int *classes;        int n_classes;  /* NULL/0 when unset; each >= 0 */
    int has_depth;       int depth;      /* >= 1 */
    int has_full_scales; int full_scales;/* >= 0 */
    int *layers;         int n_layers;   /* NULL/0 when unset; each >= 0 */
    char *device;                        /* NULL when unset */
    char *kv_dtype;                      /* NULL when unset; "f32" or "f16" */
    char *weights;                       /* NULL when unset; "keep", "f32", "f16" or "bf16" */
    int has_page_tokens; int page_tokens;/* >= 1 */
    int has_kv_pool_mb;  int kv_pool_mb; /* >= 0 */
    int has_batch;       int batch;      /* >= 1 */
} vcfg_settings;

/* Fills *out (zeroed first). Returns 0, or VARCL_E_INPUT with one clear line naming file and key
   (VARCL_E_RUNTIME when memory runs out). On error *out is left empty (freed). */
int vcfg_load(const char *path, vcfg_settings *out);
/* Frees what vcfg_load allocated and zeroes *s; safe on a zeroed or already freed struct. */
void vcfg_free(vcfg_settings *s);

/* Shared strict parsers, also used by the command line (vgen): return 0 on success, -1 on any malformed/out-of-range
   value, leaving *out untouched. No surrounding white space, no '+'; "042" is 42 (decimal, never octal). */
int vcfg_parse_int(const char *s, int min, int max, int *out);
int vcfg_parse_u64(const char *s, uint64_t *out);           /* digits only: "-1" is an error, not 2^64 - 1 */
int vcfg_parse_double(const char *s, double *out);          /* finite only; [-]digits[.digits][e[+-]digits] */
int vcfg_parse_int_list(const char *s, int min, int max, int **out, int *n);  /* "1,2, 3": malloc'd; empty list is an error */

#endif
