/* report_int: what the report's files share (report.h is the public side). The documents validated and indexed
 * (report_data.c), number formats and table cells (report_data.c), and the SVG charts (report_svg.c) that the HTML
 * view (report_html.c) draws; the Markdown view is report_md.c. */
#ifndef VARCL_BENCH_REPORT_INT_H
#define VARCL_BENCH_REPORT_INT_H

#include "json.h"
#include "report.h"

#include <stddef.h>
#include <stdio.h>

#define VREP_MIB 1048576.0

/* ---- the documents, validated and indexed ---- */

typedef struct {
    const vj_value *v;
    int depth, batch, order;
} vrep_run;

typedef struct {
    int doc, res, index;
    const vj_value *result, *device, *model, *peak, *host;
    const char *name, *vendor, *error;
    int model_depth; /* the full network's depth (the baseline run) */
    vrep_run *runs;  /* sorted: depth descending, batch ascending */
    int nruns;
    char label[256]; /* unique among all devices of all documents */
    const char *color;
} vrep_dev;

typedef struct {
    vrep_dev *dev;
    int ndev, ndocs;
    vj_value *const *docs;
} vrep_set;

/* (depth, batch) rows across devices: depth descending, batch ascending */
typedef struct {
    int depth, batch;
} vrep_key;

#define VREP_NPAL 10
extern const char *const vrep_palette[VREP_NPAL]; /* categorical colours: devices, batches */

/* Checks the structure of every document and indexes its devices and runs (report.h says what is refused). */
int vrep_collect(vj_value *const *docs, int ndocs, vrep_set *s);
void vrep_release(vrep_set *s);
/* vrep_release, then flushes out: VARCL_E_RUNTIME on a write error. */
int vrep_finish(FILE *out, vrep_set *s);
/* 1 for the full network's run (the baseline). */
int vrep_is_base(const vrep_dev *d, const vrep_run *r);
/* A run's median ms per image and KV MiB (NAN when missing). */
double vrep_ms(const vj_value *run);
double vrep_kv_mib(const vj_value *run);
/* Every (depth, batch) of every device, sorted; malloc'd (NULL when out of memory). */
vrep_key *vrep_keys(const vrep_set *s, int *n);
const vrep_run *vrep_find(const vrep_dev *d, int depth, int batch);
/* 1 when the runs do not all have the same batch. */
int vrep_batches_vary(const vrep_set *s);
/* Devices with at least one run. */
int vrep_ndev_runs(const vrep_set *s);

/* ---- numbers as text ---- */

typedef struct {
    char s[160];
} vrep_txt;

/* 3 significant digits (trailing zeros kept: 1.00, 12.3, 0.0456); integers from 1000 on. "-" if not finite. */
vrep_txt vrep_sig3(double v);
vrep_txt vrep_fix1(double v);       /* one decimal */
vrep_txt vrep_mib(double bytes);    /* bytes as MiB, one decimal */
vrep_txt vrep_pct(double fraction); /* "12.3%" */
vrep_txt vrep_int(const vj_value *v);
vrep_txt vrep_speedup(double x); /* "1.23x" (multiplication sign) */
/* ", kernel launch 12.3 µs" from a peak object's launch_us; "" where the record has none (files before it) */
vrep_txt vrep_launch_text(const vj_value *peak);

/* The runs table and the time-split table, shared by Markdown and HTML. */
#define VREP_NCOLS 12
extern const char *const vrep_heads[VREP_NCOLS];
void vrep_cells(const vrep_dev *d, const vrep_run *r, vrep_txt c[VREP_NCOLS]);
#define VREP_NSPLIT 10
extern const char *const vrep_split_heads[VREP_NSPLIT];
void vrep_split_cells(const vrep_run *r, vrep_txt c[VREP_NSPLIT]);

/* Quality (vbench --quality): a run's "quality" accuracy and fd (NAN when missing). */
double vrep_accuracy(const vj_value *run);
double vrep_fd(const vj_value *run);
/* The runs that carry quality, one per depth (the smallest batch's), depth descending, into out[] (d->nruns
 * entries); returns their count. */
int vrep_quality_runs(const vrep_dev *d, const vrep_run **out);
/* The quality table, shared by Markdown and HTML. */
#define VREP_NQUAL 7
extern const char *const vrep_quality_heads[VREP_NQUAL];
void vrep_quality_cells(const vrep_dev *d, const vrep_run *r, vrep_txt c[VREP_NQUAL]);
/* The result's "quality_setup" as one line ("" when absent): "10 images per class of 10 classes, seed 0, ...". */
void vrep_quality_text(const vj_value *result, char *buf, size_t n);

/* The result's "gemm" object as one line: "tuned file PATH (linear: A, conv: B), packed weights". */
void vrep_gemm_text(const vj_value *gm, char *buf, size_t n);

/* Text escaped for HTML and SVG (&, <, >, quotes; control characters as spaces). */
void vrep_html_text(FILE *o, const char *s);

/* ---- SVG charts (report_svg.c) ---- */

/* A metric vs depth for one device, one line per batch size. */
void vrep_svg_line_chart(FILE *o, const vrep_dev *d, const char *title, const char *ylabel,
                         double (*metric)(const vj_value *), vrep_txt (*fmt)(double));
/* Per-scale time as stacked bars, one bar per run (depth ascending). */
void vrep_svg_scale_chart(FILE *o, const vrep_dev *d, int multi_batch);
/* Quality against cost, one point per depth (vrep_quality_runs) labelled with it: y = ymetric, x = xmetric; the y
 * axis reaches ytop (accuracy: 1, so that charts compare) or, for ytop 0, the data's maximum. */
void vrep_svg_tradeoff_chart(FILE *o, const vrep_dev *d, const char *title, const char *xlabel,
                             double (*xmetric)(const vj_value *), const char *ylabel,
                             double (*ymetric)(const vj_value *), double ytop);
/* ms/image per (depth, batch), one bar per device. */
void vrep_svg_compare_chart(FILE *o, const vrep_set *s, const vrep_key *keys, int nk, int multi_batch);

#endif
