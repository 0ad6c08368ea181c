/* report_md: the Markdown view of vbench documents (see report.h). */
#include "report_int.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A name read from a document (a device, driver, model), as Markdown text: one line with control and invisible
 * characters escaped (varcl_one_line: an ESC in a hand-edited file reached the terminal live), Markdown's own
 * characters escaped. */
static void md_text(FILE *o, const char *s)
{
    const size_t n = s ? strlen(s) * 6 + 8 : 0; /* varcl_one_line: up to 6 bytes per byte, and its margin */
    char *copy = s ? strdup(s) : NULL, *line = copy ? malloc(n) : NULL;
    if (line) {
        for (char *c = copy; *c; c++) /* a tab or line break is a space here */
            if (*c == '\t' || *c == '\n' || *c == '\r') *c = ' ';
        varcl_one_line(line, n, copy);
        for (const char *c = line; *c; c++) {
            if (strchr("\\`*|<>[]", *c)) fprintf(o, "\\%c", *c);
            else fputc(*c, o);
        }
    }
    free(copy);
    free(line);
}

static void md_details(FILE *o, const vrep_set *s, const vrep_dev *d)
{
    const vj_value *dv = d->device, *m = d->model, *p = d->peak;
    if (s->ndocs > 1) {
        fprintf(o, "- File %d, host ", d->doc + 1);
        md_text(o, vj_str(vj_get(d->host, "name"), "?"));
        fputc('\n', o);
    }
    fprintf(o, "- Device %d: vendor ", d->index);
    md_text(o, vj_str(vj_get(dv, "vendor"), "?"));
    fputs(", platform ", o);
    md_text(o, vj_str(vj_get(dv, "platform"), "?"));
    fputs(", driver ", o);
    md_text(o, vj_str(vj_get(dv, "driver"), "?"));
    fprintf(o, "\n- Compute units: %s, global memory: %s MiB\n", vrep_int(vj_get(dv, "compute_units")).s,
            vrep_mib(vj_num(vj_get(dv, "global_mem_bytes"), NAN)).s);
    if (p)
        fprintf(o, "- Peak: SGEMM %s GFLOP/s, bandwidth %s GB/s%s\n", vrep_sig3(vj_num(vj_get(p, "sgemm_gflops"), NAN)).s,
                vrep_sig3(vj_num(vj_get(p, "bandwidth_gbs"), NAN)).s, vrep_launch_text(p).s);
    const vj_value *gm = vj_get(d->result, "gemm");
    if (vj_type_of(gm) == VJ_OBJECT) {
        char txt[1400];
        vrep_gemm_text(gm, txt, sizeof txt);
        fputs("- GEMM parameters: ", o);
        md_text(o, txt);
        fputc('\n', o);
    }
    const char *pol = vj_str(vj_get(vj_get(d->result, "policy"), "description"), NULL);
    if (pol) {
        fputs("- Policy: ", o);
        md_text(o, pol);
        fputc('\n', o);
    }
    if (m) {
        fputs("- Model: ", o);
        md_text(o, vj_str(vj_get(m, "name"), "?"));
        fprintf(o, ", %s layers, width %s, %s heads, %s M parameters\n", vrep_int(vj_get(m, "depth")).s,
                vrep_int(vj_get(m, "width")).s, vrep_int(vj_get(m, "heads")).s,
                vrep_sig3(vj_num(vj_get(m, "params"), NAN) / 1e6).s);
    }
    char qtxt[1000];
    vrep_quality_text(d->result, qtxt, sizeof qtxt);
    if (qtxt[0]) {
        fputs("- Quality: ", o);
        md_text(o, qtxt);
        fputc('\n', o);
    }
    const vj_value *ld = vj_get(d->result, "load");
    if (vj_type_of(ld) == VJ_OBJECT) {
        fprintf(o, "- Load: %s s, %s GB/s of %s MiB of checkpoint; weights ", vrep_sig3(vj_num(vj_get(ld, "s"), NAN)).s,
                vrep_sig3(vj_num(vj_get(ld, "gbs"), NAN)).s, vrep_mib(vj_num(vj_get(ld, "file_bytes"), NAN)).s);
        md_text(o, vj_str(vj_get(ld, "weights"), "?"));
        fprintf(o, ", %s MiB on the device (VQ-VAE %s MiB)", vrep_mib(vj_num(vj_get(ld, "weights_bytes"), NAN)).s,
                vrep_mib(vj_num(vj_get(ld, "vae_bytes"), NAN)).s);
        const char *wc = vj_str(vj_get(ld, "weight_cache"), NULL); /* absent in files of older vbench */
        if (wc) {
            fputs("; weight cache: ", o);
            md_text(o, wc);
        }
        fputc('\n', o);
    }
    fputc('\n', o);
}

static void md_row(FILE *o, const vrep_txt *c, int n)
{
    fputc('|', o);
    for (int i = 0; i < n; i++) {
        fputc(' ', o);
        md_text(o, c[i].s);
        fputs(" |", o);
    }
    fputc('\n', o);
}

static void md_head(FILE *o, const char *const *h, int n, int left)
{
    fputc('|', o);
    for (int i = 0; i < n; i++) {
        fputc(' ', o);
        md_text(o, h[i]);
        fputs(" |", o);
    }
    fputs("\n|", o);
    for (int i = 0; i < n; i++) fputs(i < left ? ":---|" : "---:|", o);
    fputc('\n', o);
}

/* The quality per depth (vbench --quality): accuracy and FD next to what the depth costs. */
static void md_quality(FILE *o, const vrep_dev *d)
{
    const vrep_run **q = malloc((size_t)(d->nruns ? d->nruns : 1) * sizeof *q);
    int n = q ? vrep_quality_runs(d, q) : 0;
    if (n) {
        fputs("Quality per depth (accuracy: fraction of images classified as the class asked for; FD: Frechet "
              "distance of their classifier features to the real images', lower is closer):\n\n",
              o);
        md_head(o, vrep_quality_heads, VREP_NQUAL, 0);
        for (int i = 0; i < n; i++) {
            vrep_txt c[VREP_NQUAL];
            vrep_quality_cells(d, q[i], c);
            md_row(o, c, VREP_NQUAL);
        }
        fputc('\n', o);
    }
    free(q);
}

int vrep_markdown(FILE *out, vj_value *const *docs, int ndocs)
{
    vrep_set s;
    int st = vrep_collect(docs, ndocs, &s);
    if (st) return st;
    fputs("# varcl benchmark\n\n", out);
    for (int d = 0; d < ndocs; d++) {
        const vj_value *h = vj_get(docs[d], "host");
        if (ndocs > 1) fprintf(out, "- File %d: ", d + 1);
        fputs("varcl ", out);
        md_text(out, vj_str(vj_get(docs[d], "varcl_version"), "?"));
        fputs(", host ", out);
        md_text(out, vj_str(vj_get(h, "name"), "?"));
        fputs(" (", out);
        md_text(out, vj_str(vj_get(h, "os"), "?"));
        fputs(", ", out);
        md_text(out, vj_str(vj_get(h, "cpu"), "?"));
        fputs(")\n", out);
    }
    fputc('\n', out);
    for (int i = 0; i < s.ndev; i++) {
        const vrep_dev *d = &s.dev[i];
        fputs("## ", out);
        md_text(out, d->label);
        fputs("\n\n", out);
        md_details(out, &s, d);
        if (d->error) {
            fputs("**Error:** ", out);
            md_text(out, d->error);
            fputs("\n\n", out);
        }
        if (!d->nruns) {
            if (!d->error) fputs("No runs.\n\n", out);
            continue;
        }
        md_head(out, vrep_heads, VREP_NCOLS, 0);
        for (int r = 0; r < d->nruns; r++) {
            vrep_txt c[VREP_NCOLS];
            vrep_cells(d, &d->runs[r], c);
            md_row(out, c, VREP_NCOLS);
        }
        fputs("\nTime split per image (ms), and kernel launches and host waits for the device per image:\n\n", out);
        md_head(out, vrep_split_heads, VREP_NSPLIT, 0);
        for (int r = 0; r < d->nruns; r++) {
            vrep_txt c[VREP_NSPLIT];
            vrep_split_cells(&d->runs[r], c);
            md_row(out, c, VREP_NSPLIT);
        }
        fputc('\n', out);
        md_quality(out, d);
    }
    /* across devices */
    int nk;
    vrep_key *keys = vrep_keys(&s, &nk);
    if (!keys) {
        vrep_release(&s);
        return varcl_fail(VARCL_E_RUNTIME, "report: out of memory");
    }
    fputs("## All devices: ms/image (median) and speed-up vs full\n\n", out);
    if (!vrep_ndev_runs(&s)) {
        fputs("No device has runs.\n\n", out);
    } else {
        fputs("| depth | batch |", out);
        for (int i = 0; i < s.ndev; i++) {
            if (!s.dev[i].nruns) continue;
            fputc(' ', out);
            md_text(out, s.dev[i].label);
            fputs(" ms/image | ", out);
            md_text(out, s.dev[i].label);
            fputs(" speed-up |", out);
        }
        fputs("\n|---:|---:|", out);
        for (int i = 0; i < s.ndev; i++)
            if (s.dev[i].nruns) fputs("---:|---:|", out);
        fputc('\n', out);
        for (int k = 0; k < nk; k++) {
            fprintf(out, "| %d | %d |", keys[k].depth, keys[k].batch);
            for (int i = 0; i < s.ndev; i++) {
                if (!s.dev[i].nruns) continue;
                const vrep_run *r = vrep_find(&s.dev[i], keys[k].depth, keys[k].batch);
                if (!r) fputs(" - | - |", out);
                else
                    fprintf(out, " %s | %s |", vrep_sig3(vrep_ms(r->v)).s,
                            vrep_speedup(vj_num(vj_get(r->v, "speedup_vs_full"), NAN)).s);
            }
            fputc('\n', out);
        }
        fputc('\n', out);
    }
    free(keys);
    return vrep_finish(out, &s);
}
