/* config: every vgen setting, defined once in one table (flag, settings-file key, type, range, default, help) that
 * drives the command line, the settings file, the range checks and --help alike; the settings-file reader; and the
 * strict number parsers. Only the form and the model-independent ranges of each value are checked here; limits that
 * depend on the model (class < classes, depth <= model depth) are checked later.
 *
 *   [model]   var = path   vae = path          relative paths are taken from the ini file's directory
 *   [sample]  seed  cfg  top_k  top_p  classes = 1,2,3
 *   [variant] depth  full_scales  layers = 0,4,8
 *   [runtime] device  kv_dtype  weights  weight_cache  page_tokens  kv_pool_mb  batch
 *   [output]  grid_columns
 *
 * The file: UTF-8 (a byte order mark is skipped), LF or CRLF line ends, lines of any length. Sections and keys are
 * case-insensitive and every key is optional; an unknown section or key, a key given twice or a line that is not
 * "[section]", "key = value" or a comment is an error, so that a typo never passes silently. Comments are whole
 * lines starting with '#' or ';', or follow a section header ("[sample] # sweep"). The file is at most 1 MiB. A value runs to the end of its line: '#' and ';' inside it are part of it
 * ("run#2/var.safetensors"), and a value that holds one after white space ("x.safetensors  # best") is refused,
 * showing the value, since it may be a comment or a name; "double" or 'single' quotes around a value are removed.
 * Numbers: decimal only (no octal, hex, trailing garbage or overflow). */
#ifndef VARCL_CONFIG_H
#define VARCL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
    char *weight_cache;                  /* NULL when unset; "auto" or "off" */
    int has_page_tokens; int page_tokens;/* >= 1 */
    int has_kv_pool_mb;  int kv_pool_mb; /* >= 0 */
    int has_batch;       int batch;      /* >= 1 */
    int has_grid_columns; int grid_columns; /* >= 1 */
} vcfg_settings;

/* One setting: its command-line flag, its place in the settings file, its type and range, the default shown by
 * --help (what applies when it is not given) and one line of help. */
#define VCFG_ASCENDING "ascending" /* a list whose items must be distinct and ascending (the subnet's layers) */
typedef enum { VCFG_PATH, VCFG_STRING, VCFG_CHOICE, VCFG_U64, VCFG_INT, VCFG_DOUBLE, VCFG_INT_LIST } vcfg_kind;
typedef struct {
    const char *flag;           /* "--seed" */
    const char *section, *key;  /* "sample", "seed" */
    vcfg_kind kind;
    double min, max;            /* VCFG_INT, VCFG_INT_LIST (each item), VCFG_DOUBLE: inclusive range */
    const char *choices;        /* VCFG_CHOICE: "f32|f16"; VCFG_INT_LIST: VCFG_ASCENDING or NULL */
    const char *metavar, *def, *help;
    size_t value_off, has_off;  /* where the value and its "is set" flag (or list length) live in vcfg_settings */
} vcfg_setting;

/* The table, and its length. */
extern const vcfg_setting VCFG_SETTINGS[];
extern const int VCFG_N_SETTINGS;

/* The setting of command-line flag `flag` ("--seed"), or NULL. */
const vcfg_setting *vcfg_find_flag(const char *flag);
/* Parses `value` for setting st into *s as the command line gives it (paths are kept as they are).
 * 0, or VARCL_E_INPUT with one line naming the flag, the value and what was expected; VARCL_E_RUNTIME when memory
 * runs out. */
int vcfg_set(vcfg_settings *s, const vcfg_setting *st, const char *value);
/* The --help lines of every setting, from the table. */
void vcfg_print_help(FILE *f);

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

/* The flags with a value a command line gave so far, so that one given twice is refused (vgen, vbench, mkmodel):
 * "--class 3 ... --class 4" is more likely a mistake than an override. Zero-initialise; no cleanup. */
typedef struct {
    int n;
    struct {
        char flag[64];
        const char *val;
    } given[64]; /* the flags recorded are distinct, and no tool has 64 */
} vcfg_once_set;
/* Records flag=val: VARCL_OK, or VARCL_E_INPUT "FLAG is given twice ('A', then 'B'): give it once" when it was
 * recorded before. */
int vcfg_once(vcfg_once_set *s, const char *flag, const char *val);

#endif
