/* report: renders vbench result documents (parsed with vj_parse / vj_read_file) as Markdown or as one
 * self-contained HTML page (inline CSS and inline SVG charts; no scripts, no external resources).
 *
 * A document is {"varcl_version", "host": {...}, "results": [ per device: {"device", "error"?, "peak", "gemm"?, "model",
 * "runs": [ per (depth, batch): {...} ]} ]} as written by vbench. The run whose depth equals model.depth is the
 * full network (shown as layers "all"). Missing numbers are shown as "-" and left out of charts; a document that
 * does not have the structure (not an object, no "results" array, a result or run that is not an object, a run
 * without a numeric depth) is refused with VARCL_E_INPUT before anything is written. Write errors on `out`
 * give VARCL_E_RUNTIME.
 *
 * Runs of vbench --quality also carry "quality": {"accuracy", "fd", "images", "per_class"} (and the result a
 * "quality_setup"): both views then add a quality table per depth (the smallest batch's run), and HTML four
 * trade-off charts, accuracy and FD against ms/image and against KV MiB.
 *
 * Numbers: milliseconds and rates with 3 significant digits, bytes as MiB with 1 decimal, percentages with
 * 1 decimal. With several documents (or several devices), each device's section is followed by one
 * cross-device table (and, in HTML, a grouped bar chart) of ms/image per depth and batch. */
#ifndef VARCL_BENCH_REPORT_H
#define VARCL_BENCH_REPORT_H

#include "json.h"

#include <stdio.h>

/* Markdown: per device a heading, its details and a table of runs (or the error line), then one table across
 * every device of every document. Returns 0 (VARCL_OK) or an error status (message in varcl_last_error). */
int vrep_markdown(FILE *out, vj_value *const *docs, int ndocs);

/* HTML: one page titled `title` (NULL: "varcl benchmark"): per device the same table and three SVG charts
 * (ms/image vs depth, KV MiB vs depth, per-scale time as stacked bars), then the cross-device table and, when
 * there is more than one device in all, a grouped bar chart of ms/image per depth, one colour per device.
 * Returns as vrep_markdown. */
int vrep_html(FILE *out, vj_value *const *docs, int ndocs, const char *title);

#endif
