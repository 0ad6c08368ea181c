/* report_html: the self-contained HTML view of vbench documents (inline CSS and SVG; see report.h). */
#include "report_int.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char vrep_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI','DejaVu Sans',Arial,sans-serif;color:#222;"
    "background:#fff;max-width:1180px;margin:0 auto;padding:12px 20px 40px}\n"
    "h1{font-size:1.7em;margin:.3em 0 .1em}\n"
    "h2{font-size:1.3em;border-bottom:2px solid #e1e4e8;padding-bottom:3px;margin:1.8em 0 .5em}\n"
    "h3{font-size:1.05em;margin:1.2em 0 .3em}\n"
    ".meta{color:#555;margin:.2em 0}\n"
    ".swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.4em;vertical-align:-.05em}\n"
    "dl.info{display:grid;grid-template-columns:max-content 1fr;gap:1px 14px;margin:.4em 0 .8em}\n"
    "dl.info dt{color:#555}dl.info dd{margin:0}\n"
    ".tw{overflow-x:auto}\n"
    "table{border-collapse:collapse;font-size:13px;margin:6px 0 10px;font-variant-numeric:tabular-nums}\n"
    "th,td{border:1px solid #d6dbe0;padding:3px 8px;text-align:right;white-space:nowrap}\n"
    "th{background:#f2f4f6;font-weight:600;white-space:normal;vertical-align:bottom;min-width:3em}\n"
    "tbody tr:nth-child(even){background:#fafbfc}\n"
    "tr.base td{font-weight:600}\n"
    ".err{color:#8a1020;background:#fdecee;border-left:4px solid #c0142c;padding:6px 12px;margin:.6em 0}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:12px;margin-top:8px}\n"
    "svg{border:1px solid #e1e4e8;border-radius:4px;max-width:100%;height:auto}\n"
    "footer{color:#777;font-size:12px;margin-top:2.5em}\n";

static void h_table(FILE *o, const vrep_dev *d)
{
    fputs("<div class=\"tw\"><table>\n<thead><tr>", o);
    for (int i = 0; i < VREP_NCOLS; i++) {
        fputs("<th>", o);
        vrep_html_text(o, vrep_heads[i]);
        fputs("</th>", o);
    }
    fputs("</tr></thead>\n<tbody>\n", o);
    for (int r = 0; r < d->nruns; r++) {
        vrep_txt c[VREP_NCOLS];
        vrep_cells(d, &d->runs[r], c);
        fputs(vrep_is_base(d, &d->runs[r]) ? "<tr class=\"base\">" : "<tr>", o);
        for (int i = 0; i < VREP_NCOLS; i++) {
            fputs("<td>", o);
            vrep_html_text(o, c[i].s);
            fputs("</td>", o);
        }
        fputs("</tr>\n", o);
    }
    fputs("</tbody></table></div>\n<h3>Time split per image (ms), kernel launches and host waits per image</h3>\n"
          "<div class=\"tw\"><table>\n<thead><tr>",
          o);
    for (int i = 0; i < VREP_NSPLIT; i++) {
        fputs("<th>", o);
        vrep_html_text(o, vrep_split_heads[i]);
        fputs("</th>", o);
    }
    fputs("</tr></thead>\n<tbody>\n", o);
    for (int r = 0; r < d->nruns; r++) {
        vrep_txt c[VREP_NSPLIT];
        vrep_split_cells(&d->runs[r], c);
        fputs("<tr>", o);
        for (int i = 0; i < VREP_NSPLIT; i++) {
            fputs("<td>", o);
            vrep_html_text(o, c[i].s);
            fputs("</td>", o);
        }
        fputs("</tr>\n", o);
    }
    fputs("</tbody></table></div>\n", o);
}

/* The quality per depth (vbench --quality): its table and the trade-off charts, quality against time per image
 * and against KV memory. */
static void h_quality(FILE *o, const vrep_dev *d)
{
    const vrep_run **q = malloc((size_t)(d->nruns ? d->nruns : 1) * sizeof *q);
    int n = q ? vrep_quality_runs(d, q) : 0;
    if (n) {
        fputs("<h3>Quality per depth</h3>\n<p class=\"meta\">accuracy: the fraction of generated images that the "
              "classifier assigns to the class asked for; FD: the Frechet distance between the Gaussians of their "
              "classifier features and of the real images' (lower is closer).</p>\n<div class=\"tw\"><table>\n"
              "<thead><tr>",
              o);
        for (int i = 0; i < VREP_NQUAL; i++) {
            fputs("<th>", o);
            vrep_html_text(o, vrep_quality_heads[i]);
            fputs("</th>", o);
        }
        fputs("</tr></thead>\n<tbody>\n", o);
        for (int i = 0; i < n; i++) {
            vrep_txt c[VREP_NQUAL];
            vrep_quality_cells(d, q[i], c);
            fputs(vrep_is_base(d, q[i]) ? "<tr class=\"base\">" : "<tr>", o);
            for (int k = 0; k < VREP_NQUAL; k++) {
                fputs("<td>", o);
                vrep_html_text(o, c[k].s);
                fputs("</td>", o);
            }
            fputs("</tr>\n", o);
        }
        fputs("</tbody></table></div>\n<div class=\"charts\">\n", o);
        vrep_svg_tradeoff_chart(o, d, "Accuracy vs time per image", "ms per image (median)", vrep_ms,
                                "accuracy", vrep_accuracy, 1.0);
        vrep_svg_tradeoff_chart(o, d, "FD vs time per image", "ms per image (median)", vrep_ms, "FD (lower is better)",
                                vrep_fd, 0);
        vrep_svg_tradeoff_chart(o, d, "Accuracy vs KV cache", "KV cache (MiB)", vrep_kv_mib, "accuracy",
                                vrep_accuracy, 1.0);
        vrep_svg_tradeoff_chart(o, d, "FD vs KV cache", "KV cache (MiB)", vrep_kv_mib, "FD (lower is better)", vrep_fd, 0);
        fputs("</div>\n", o);
    }
    free(q);
}

static void h_dt(FILE *o, const char *dt)
{
    fputs("<dt>", o);
    vrep_html_text(o, dt);
    fputs("</dt><dd>", o);
}

static void h_details(FILE *o, const vrep_set *s, const vrep_dev *d)
{
    const vj_value *dv = d->device, *m = d->model, *p = d->peak;
    fputs("<dl class=\"info\">\n", o);
    if (s->ndocs > 1) {
        h_dt(o, "Source");
        fprintf(o, "file %d, host ", d->doc + 1);
        vrep_html_text(o, vj_str(vj_get(d->host, "name"), "?"));
        fputs("</dd>\n", o);
    }
    h_dt(o, "Device index");
    fprintf(o, "%d</dd>\n", d->index);
    h_dt(o, "Vendor");
    vrep_html_text(o, vj_str(vj_get(dv, "vendor"), "?"));
    fputs("</dd>\n", o);
    h_dt(o, "Platform");
    vrep_html_text(o, vj_str(vj_get(dv, "platform"), "?"));
    fputs("</dd>\n", o);
    h_dt(o, "Driver");
    vrep_html_text(o, vj_str(vj_get(dv, "driver"), "?"));
    fputs("</dd>\n", o);
    h_dt(o, "Hardware");
    fprintf(o, "%s compute units, %s MiB global memory</dd>\n", vrep_int(vj_get(dv, "compute_units")).s,
            vrep_mib(vj_num(vj_get(dv, "global_mem_bytes"), NAN)).s);
    if (p) {
        h_dt(o, "Measured peak");
        fprintf(o, "SGEMM %s GFLOP/s, bandwidth %s GB/s%s</dd>\n", vrep_sig3(vj_num(vj_get(p, "sgemm_gflops"), NAN)).s,
                vrep_sig3(vj_num(vj_get(p, "bandwidth_gbs"), NAN)).s, vrep_launch_text(p).s);
    }
    const vj_value *gm = vj_get(d->result, "gemm");
    if (vj_type_of(gm) == VJ_OBJECT) {
        char txt[1400];
        vrep_gemm_text(gm, txt, sizeof txt);
        h_dt(o, "GEMM parameters");
        vrep_html_text(o, txt);
        fputs("</dd>\n", o);
    }
    const char *pol = vj_str(vj_get(vj_get(d->result, "policy"), "description"), NULL);
    if (pol) {
        h_dt(o, "Policy");
        vrep_html_text(o, pol);
        fputs("</dd>\n", o);
    }
    if (m) {
        h_dt(o, "Model");
        vrep_html_text(o, vj_str(vj_get(m, "name"), "?"));
        fprintf(o, ": %s layers, width %s, %s heads, %s M parameters</dd>\n", vrep_int(vj_get(m, "depth")).s,
                vrep_int(vj_get(m, "width")).s, vrep_int(vj_get(m, "heads")).s,
                vrep_sig3(vj_num(vj_get(m, "params"), NAN) / 1e6).s);
    }
    char qtxt[1000];
    vrep_quality_text(d->result, qtxt, sizeof qtxt);
    if (qtxt[0]) {
        h_dt(o, "Quality");
        vrep_html_text(o, qtxt);
        fputs("</dd>\n", o);
    }
    const vj_value *ld = vj_get(d->result, "load");
    if (vj_type_of(ld) == VJ_OBJECT) {
        h_dt(o, "Load");
        fprintf(o, "%s s, %s GB/s of %s MiB of checkpoint; weights ", vrep_sig3(vj_num(vj_get(ld, "s"), NAN)).s,
                vrep_sig3(vj_num(vj_get(ld, "gbs"), NAN)).s, vrep_mib(vj_num(vj_get(ld, "file_bytes"), NAN)).s);
        vrep_html_text(o, vj_str(vj_get(ld, "weights"), "?"));
        fprintf(o, ", %s MiB on the device (VQ-VAE %s MiB)", vrep_mib(vj_num(vj_get(ld, "weights_bytes"), NAN)).s,
                vrep_mib(vj_num(vj_get(ld, "vae_bytes"), NAN)).s);
        const char *wc = vj_str(vj_get(ld, "weight_cache"), NULL); /* absent in files of older vbench */
        if (wc) {
            fputs("; weight cache: ", o);
            vrep_html_text(o, wc);
        }
        fputs("</dd>\n", o);
    }
    fputs("</dl>\n", o);
}

int vrep_html(FILE *out, vj_value *const *docs, int ndocs, const char *title)
{
    vrep_set s;
    int st = vrep_collect(docs, ndocs, &s);
    if (st) return st;
    int nk;
    vrep_key *keys = vrep_keys(&s, &nk);
    if (!keys) {
        vrep_release(&s);
        return varcl_fail(VARCL_E_RUNTIME, "report: out of memory");
    }
    if (!title) title = "varcl benchmark";
    int multi = vrep_batches_vary(&s), ndr = vrep_ndev_runs(&s);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
    fputs("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
          out);
    fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", out);
    vrep_html_text(out, title);
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>", vrep_css);
    vrep_html_text(out, title);
    fputs("</h1>\n", out);
    for (int d = 0; d < ndocs; d++) {
        const vj_value *h = vj_get(docs[d], "host");
        fputs("<p class=\"meta\">", out);
        if (ndocs > 1) fprintf(out, "<b>File %d:</b> ", d + 1);
        fputs("varcl ", out);
        vrep_html_text(out, vj_str(vj_get(docs[d], "varcl_version"), "?"));
        fputs(" &middot; host <b>", out);
        vrep_html_text(out, vj_str(vj_get(h, "name"), "?"));
        fputs("</b> &middot; ", out);
        vrep_html_text(out, vj_str(vj_get(h, "os"), "?"));
        fputs(" &middot; ", out);
        vrep_html_text(out, vj_str(vj_get(h, "cpu"), "?"));
        fputs("</p>\n", out);
    }
    fputs("</header>\n", out);
    for (int i = 0; i < s.ndev; i++) {
        const vrep_dev *d = &s.dev[i];
        fprintf(out, "<section id=\"device-%d\">\n<h2><span class=\"swatch\" style=\"background:%s\"></span>", i,
                d->color);
        vrep_html_text(out, d->label);
        fputs("</h2>\n", out);
        h_details(out, &s, d);
        if (d->error) {
            fputs("<p class=\"err\"><b>Error:</b> ", out);
            vrep_html_text(out, d->error);
            fputs("</p>\n", out);
        }
        if (d->nruns) {
            h_table(out, d);
            fputs("<div class=\"charts\">\n", out);
            vrep_svg_line_chart(out, d, "Time per image vs depth", "ms per image (median)", vrep_ms, vrep_sig3);
            vrep_svg_line_chart(out, d, "KV cache vs depth", "KV cache (MiB)", vrep_kv_mib, vrep_fix1);
            vrep_svg_scale_chart(out, d, multi);
            fputs("</div>\n", out);
            h_quality(out, d);
        } else if (!d->error) {
            fputs("<p>No runs.</p>\n", out);
        }
        fputs("</section>\n", out);
    }
    fputs("<section id=\"all-devices\">\n<h2>All devices: ms/image (median) and speed-up vs full</h2>\n", out);
    if (!ndr) {
        fputs("<p>No device has runs.</p>\n", out);
    } else {
        fputs("<div class=\"tw\"><table>\n<thead><tr><th rowspan=\"2\">depth</th><th rowspan=\"2\">batch</th>", out);
        for (int i = 0; i < s.ndev; i++) {
            if (!s.dev[i].nruns) continue;
            fprintf(out, "<th colspan=\"2\"><span class=\"swatch\" style=\"background:%s\"></span>", s.dev[i].color);
            vrep_html_text(out, s.dev[i].label);
            fputs("</th>", out);
        }
        fputs("</tr>\n<tr>", out);
        for (int i = 0; i < s.ndev; i++)
            if (s.dev[i].nruns) fputs("<th>ms/image</th><th>speed-up</th>", out);
        fputs("</tr></thead>\n<tbody>\n", out);
        for (int k = 0; k < nk; k++) {
            fprintf(out, "<tr><td>%d</td><td>%d</td>", keys[k].depth, keys[k].batch);
            for (int i = 0; i < s.ndev; i++) {
                if (!s.dev[i].nruns) continue;
                const vrep_run *r = vrep_find(&s.dev[i], keys[k].depth, keys[k].batch);
                if (!r) fputs("<td>-</td><td>-</td>", out);
                else
                    fprintf(out, "<td>%s</td><td>%s</td>", vrep_sig3(vrep_ms(r->v)).s,
                            vrep_speedup(vj_num(vj_get(r->v, "speedup_vs_full"), NAN)).s);
            }
            fputs("</tr>\n", out);
        }
        fputs("</tbody></table></div>\n", out);
        if (ndr > 1 || ndocs > 1) {
            fputs("<div class=\"charts\">\n", out);
            vrep_svg_compare_chart(out, &s, keys, nk, multi);
            fputs("</div>\n", out);
        }
    }
    fputs("</section>\n<footer>Generated by varcl's vbench report. Self-contained: no scripts, no external "
          "resources.</footer>\n</body>\n</html>\n",
          out);
    free(keys);
    return vrep_finish(out, &s);
}
