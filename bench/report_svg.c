/* report_svg: the HTML report's inline SVG charts (see report_int.h). */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* viridis, for the scales (ordered, small to large) */
static const char *const vrep_seq[] = {"#440154", "#482878", "#3e4989", "#31688e", "#26828e",
                                       "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"};

/* ---- SVG helpers ---- */

typedef struct {
    double x0, y0, x1, y1;
} vrep_box;

typedef struct {
    vrep_box b[1024];
    int n;
} vrep_boxes;

static double vrep_text_w(const char *s, double fs)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80; /* UTF-8 characters */
    return 0.6 * fs * (double)n;
}

/* Reserves a box if it overlaps none reserved so far; 1 when reserved. */
static int vrep_reserve(vrep_boxes *bx, double x0, double y0, double x1, double y1)
{
    for (int i = 0; i < bx->n; i++) {
        const vrep_box *b = &bx->b[i];
        if (x0 < b->x1 && b->x0 < x1 && y0 < b->y1 && b->y0 < y1) return 0;
    }
    if (bx->n < (int)(sizeof bx->b / sizeof bx->b[0])) bx->b[bx->n++] = (vrep_box){x0, y0, x1, y1};
    return 1;
}

/* A centred text label of font size fs at baseline y, if it fits among the reserved boxes (pad px around). */
static int vrep_label(FILE *o, vrep_boxes *bx, double x, double y, double fs, const char *s, const char *attrs)
{
    double w = vrep_text_w(s, fs);
    if (!vrep_reserve(bx, x - w / 2 - 1, y - fs, x + w / 2 + 1, y + fs * 0.25)) return 0;
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%g\"%s>", x, y, fs, attrs ? attrs : "");
    vrep_html_text(o, s);
    fputs("</text>\n", o);
    return 1;
}

typedef struct {
    int W, H;
    double l, t, w, h; /* plot area */
    double xmin, xmax; /* numeric x range */
    double ymax, ystep;
    int logy;          /* log10 y axis from 10^lo to 10^hi */
    double lo, hi;
} vrep_plot;

static double vrep_sx(const vrep_plot *p, double x) { return p->l + (x - p->xmin) / (p->xmax - p->xmin) * p->w; }
static double vrep_sy(const vrep_plot *p, double y)
{
    if (p->logy) return y > 0 ? p->t + p->h - (log10(y) - p->lo) / (p->hi - p->lo) * p->h : p->t + p->h;
    return p->t + p->h - y / p->ymax * p->h;
}

static double vrep_nice_step(double range, int target)
{
    if (!(range > 1e-30) || !isfinite(range)) return 1; /* log10 of a denormal's tenth is -inf */
    double raw = range / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double m = r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10;
    return m * mag;
}

static vrep_txt vrep_tick(double v, double step)
{
    vrep_txt t;
    int dec = 0;
    while (dec < 8 && fabs(step * pow(10, dec) - floor(step * pow(10, dec) + 0.5)) > 1e-6 * pow(10, dec)) dec++;
    snprintf(t.s, sizeof t.s, "%.*f", dec, fabs(v) < step * 1e-9 ? 0.0 : v);
    return t;
}

static void svg_open(FILE *o, vrep_plot *p, const char *title)
{
    fprintf(o,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"",
            p->W, p->H, p->W, p->H);
    vrep_html_text(o, title);
    fputs("\" font-family=\"system-ui, 'DejaVu Sans', Arial, sans-serif\" font-size=\"11\" fill=\"#222\">\n", o);
    fprintf(o, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", p->W, p->H);
    fprintf(o, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">", p->W / 2);
    vrep_html_text(o, title);
    fputs("</text>\n", o);
}

/* y grid, tick labels and axis title; sets ymax/ystep from the data maximum vmax (axis starts at 0). */
static void svg_yaxis(FILE *o, vrep_plot *p, double vmax, const char *label)
{
    if (!(vmax > 1e-30) || !isfinite(vmax)) vmax = 1;
    p->ystep = vrep_nice_step(vmax, 5);
    p->ymax = ceil(vmax / p->ystep - 1e-9) * p->ystep;
    if (p->ymax < vmax * 1.02) p->ymax += p->ystep; /* room for the value labels above the highest mark */
    int nt = (int)floor(p->ymax / p->ystep + 0.5);
    for (int i = 0; i <= nt; i++) {
        double v = i * p->ystep, y = vrep_sy(p, v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", p->l, y, p->l + p->w, y,
                i ? "#e6e8eb" : "#555");
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", p->l - 6, y + 4,
                vrep_tick(v, p->ystep).s);
    }
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p->l, p->t, p->l,
            p->t + p->h);
    fprintf(o,
            "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">",
            p->t + p->h / 2);
    vrep_html_text(o, label);
    fputs("</text>\n", o);
}

/* A log10 y axis over [vmin, vmax] (both > 0): grid at 1, 2, 5 x 10^k, labelled where there is room. */
static void svg_yaxis_log(FILE *o, vrep_plot *p, double vmin, double vmax, const char *label)
{
    p->logy = 1;
    p->lo = floor(log10(vmin));
    p->hi = log10(vmax * 1.3); /* room for the value labels */
    if (p->hi < p->lo + 1) p->hi = p->lo + 1;
    double last_y = 1e30;
    for (int k = (int)p->lo; k <= (int)ceil(p->hi); k++) {
        static const int mant[3] = {1, 2, 5};
        for (int m = 0; m < 3; m++) {
            double v = mant[m] * pow(10, k);
            if (log10(v) > p->hi + 1e-9) break;
            double y = vrep_sy(p, v);
            fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", p->l, y,
                    p->l + p->w, y, m ? "#f0f1f3" : (k == (int)p->lo ? "#555" : "#dcdfe3"));
            if (last_y - y < 13) continue; /* no room for this label */
            last_y = y;
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", p->l - 6, y + 4,
                    k < 0 ? -k : 0, v);
        }
    }
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p->l, p->t, p->l,
            p->t + p->h);
    fprintf(o, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">",
            p->t + p->h / 2);
    vrep_html_text(o, label);
    fputs("</text>\n", o);
}

static void svg_xtitle(FILE *o, const vrep_plot *p, const char *label)
{
    fprintf(o, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">", p->l + p->w / 2, p->H - 10);
    vrep_html_text(o, label);
    fputs("</text>\n", o);
}

static void svg_nodata(FILE *o, const vrep_plot *p)
{
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n", p->l + p->w / 2,
            p->t + p->h / 2);
}

/* Legend entries laid out left to right from (x, y), wrapping at xmax; reserves their boxes. Returns the height. */
static double svg_legend(FILE *o, vrep_boxes *bx, double x, double y, double xmax, const char *const *labels,
                         const char *const *colors, int n, int draw)
{
    double cx = x, cy = y, row = 16;
    for (int i = 0; i < n; i++) {
        double w = 16 + vrep_text_w(labels[i], 11) + 14;
        if (cx > x && cx + w > xmax) {
            cx = x;
            cy += row;
        }
        if (draw) {
            fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>\n", cx, cy - 9, colors[i]);
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">", cx + 16, cy);
            vrep_html_text(o, labels[i]);
            fputs("</text>\n", o);
            if (bx) vrep_reserve(bx, cx - 2, cy - 12, cx + w - 10, cy + 4);
        }
        cx += w;
    }
    return cy - y + row;
}

/* (1), (2): a metric vs depth for one device, one line per batch size. */
void vrep_svg_line_chart(FILE *o, const vrep_dev *d, const char *title, const char *ylabel,
                           double (*metric)(const vj_value *), vrep_txt (*fmt)(double))
{
    vrep_plot p = {.W = 560, .H = 320, .l = 64, .t = 40, .w = 560 - 64 - 24, .h = 320 - 40 - 50, .xmax = 1, .ymax = 1};
    vrep_boxes *bx = calloc(1, sizeof *bx);
    int batches[64], nb = 0, maxd = d->model_depth;
    double vmax = 0;
    for (int r = 0; r < d->nruns; r++) {
        int b = d->runs[r].batch, seen = 0;
        for (int i = 0; i < nb; i++) seen |= batches[i] == b;
        if (!seen && nb < 64) batches[nb++] = b;
        double v = metric(d->runs[r].v);
        if (isfinite(v) && v > vmax) vmax = v;
        if (d->runs[r].depth > maxd) maxd = d->runs[r].depth;
    }
    for (int i = 1; i < nb; i++) /* ascending */
        for (int j = i; j > 0 && batches[j - 1] > batches[j]; j--) {
            int t = batches[j];
            batches[j] = batches[j - 1];
            batches[j - 1] = t;
        }
    p.xmin = 0;
    p.xmax = maxd + fmax(1.0, 0.05 * maxd);
    svg_open(o, &p, title);
    if (!bx) {
        svg_nodata(o, &p);
        fputs("</svg>\n", o);
        return;
    }
    svg_yaxis(o, &p, vmax, ylabel);
    /* x axis: a tick at every measured depth, labelled where there is room (the largest first) */
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p.l, p.t + p.h,
            p.l + p.w, p.t + p.h);
    for (int r = 0; r < d->nruns; r++) {
        if (r && d->runs[r].depth == d->runs[r - 1].depth) continue;
        double x = vrep_sx(&p, d->runs[r].depth);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", x, p.t + p.h, x,
                p.t + p.h + 5);
        char lab[32];
        snprintf(lab, sizeof lab, "%d", d->runs[r].depth);
        vrep_label(o, bx, x, p.t + p.h + 18, 11, lab, NULL);
    }
    svg_xtitle(o, &p, "depth (layers run at the late scales)");
    const char *labels[64], *colors[64];
    char lbuf[64][24];
    for (int i = 0, c = 0; i < nb; i++) { /* the device's colour first, then the others */
        snprintf(lbuf[i], sizeof lbuf[i], "batch %d", batches[i]);
        labels[i] = lbuf[i];
        if (i == 0) {
            colors[i] = d->color;
            continue;
        }
        if (vrep_palette[c % VREP_NPAL] == d->color) c++;
        colors[i] = vrep_palette[c++ % VREP_NPAL];
    }
    if (nb > 1) svg_legend(o, bx, p.l + 10, p.t + 12, p.l + p.w, labels, colors, nb, 1);
    if (vmax <= 0) svg_nodata(o, &p);
    /* lines, then markers and value labels */
    for (int i = 0; i < nb; i++) {
        int started = 0;
        fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[i]);
        for (int r = d->nruns - 1; r >= 0; r--) { /* depth ascending */
            double v = metric(d->runs[r].v);
            if (d->runs[r].batch != batches[i] || !isfinite(v)) continue;
            fprintf(o, "%s%.1f,%.1f", started ? " " : "", vrep_sx(&p, d->runs[r].depth), vrep_sy(&p, v));
            started = 1;
        }
        fputs("\"/>\n", o);
    }
    for (int i = 0; i < nb; i++) {
        for (int r = d->nruns - 1; r >= 0; r--) {
            double v = metric(d->runs[r].v);
            if (d->runs[r].batch != batches[i] || !isfinite(v)) continue;
            double x = vrep_sx(&p, d->runs[r].depth), y = vrep_sy(&p, v);
            fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1.5\">", x,
                    y, colors[i]);
            fprintf(o, "<title>depth %d, batch %d: %s</title></circle>\n", d->runs[r].depth, d->runs[r].batch,
                    fmt(v).s);
            vrep_reserve(bx, x - 4, y - 4, x + 4, y + 4);
        }
    }
    for (int i = 0; i < nb; i++) {
        for (int r = d->nruns - 1; r >= 0; r--) {
            double v = metric(d->runs[r].v);
            if (d->runs[r].batch != batches[i] || !isfinite(v)) continue;
            double x = vrep_sx(&p, d->runs[r].depth), y = vrep_sy(&p, v);
            vrep_txt t = fmt(v);
            if (!vrep_label(o, bx, x, y - 9, 10, t.s, " fill=\"#333\""))
                vrep_label(o, bx, x, y + 17, 10, t.s, " fill=\"#333\"");
        }
    }
    fputs("</svg>\n", o);
    free(bx);
}

/* An x axis from 0 with nice ticks and grid; sets xmin/xmax from the data maximum vmax. */
static void svg_xaxis(FILE *o, vrep_plot *p, double vmax, const char *label)
{
    if (!(vmax > 1e-30) || !isfinite(vmax)) vmax = 1;
    double step = vrep_nice_step(vmax, 5);
    p->xmin = 0;
    p->xmax = ceil(vmax / step - 1e-9) * step;
    if (p->xmax < vmax * 1.06) p->xmax += step; /* room for the labels right of the last point */
    int nt = (int)floor(p->xmax / step + 0.5);
    for (int i = 0; i <= nt; i++) {
        double v = i * step, x = vrep_sx(p, v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", x, p->t, x, p->t + p->h,
                i ? "#f0f1f3" : "#555");
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x, p->t + p->h + 16,
                vrep_tick(v, step).s);
    }
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p->l, p->t + p->h,
            p->l + p->w, p->t + p->h);
    svg_xtitle(o, p, label);
}

static int vrep_quality_by_x(const void *pa, const void *pb)
{
    const double *a = pa, *b = pb;
    return (a[0] > b[0]) - (a[0] < b[0]);
}

void vrep_svg_tradeoff_chart(FILE *o, const vrep_dev *d, const char *title, const char *xlabel,
                             double (*xmetric)(const vj_value *), const char *ylabel,
                             double (*ymetric)(const vj_value *), double ytop)
{
    vrep_plot p = {.W = 560, .H = 320, .l = 64, .t = 40, .w = 560 - 64 - 24, .h = 320 - 40 - 50, .xmax = 1, .ymax = 1};
    const vrep_run **q = malloc((size_t)(d->nruns ? d->nruns : 1) * sizeof *q);
    double(*pts)[3] = malloc((size_t)(d->nruns ? d->nruns : 1) * sizeof *pts); /* x, y, depth */
    vrep_boxes *bx = calloc(1, sizeof *bx);
    svg_open(o, &p, title);
    int n = 0, nq = q && pts && bx ? vrep_quality_runs(d, q) : 0;
    double xmax = 0, ymax = 0;
    for (int i = 0; i < nq; i++) {
        double x = xmetric(q[i]->v), y = ymetric(q[i]->v);
        if (!isfinite(x) || !isfinite(y) || x < 0 || y < 0) continue;
        pts[n][0] = x, pts[n][1] = y, pts[n][2] = q[i]->depth;
        n++;
        xmax = fmax(xmax, x);
        ymax = fmax(ymax, y);
    }
    if (!n) {
        svg_nodata(o, &p);
        fputs("</svg>\n", o);
        free(q), free(pts), free(bx);
        return;
    }
    svg_yaxis(o, &p, ytop > 0 ? fmax(ytop, ymax) : ymax, ylabel);
    svg_xaxis(o, &p, xmax, xlabel);
    /* the points in order of cost, joined: the trade-off curve */
    if (n > 1) qsort(pts, (size_t)n, sizeof *pts, vrep_quality_by_x);
    fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", d->color);
    for (int i = 0; i < n; i++) fprintf(o, "%s%.1f,%.1f", i ? " " : "", vrep_sx(&p, pts[i][0]), vrep_sy(&p, pts[i][1]));
    fputs("\"/>\n", o);
    for (int i = 0; i < n; i++) {
        double x = vrep_sx(&p, pts[i][0]), y = vrep_sy(&p, pts[i][1]);
        fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"1.5\">", x, y,
                d->color);
        fprintf(o, "<title>depth %d: %s, %s</title></circle>\n", (int)pts[i][2], vrep_sig3(pts[i][0]).s,
                vrep_sig3(pts[i][1]).s);
        vrep_reserve(bx, x - 4, y - 4, x + 4, y + 4);
    }
    for (int i = 0; i < n; i++) {
        double x = vrep_sx(&p, pts[i][0]), y = vrep_sy(&p, pts[i][1]);
        char lab[48];
        snprintf(lab, sizeof lab, "d%d: %.24s", (int)pts[i][2], vrep_sig3(pts[i][1]).s);
        if (!vrep_label(o, bx, x, y - 9, 10, lab, " fill=\"#333\""))
            vrep_label(o, bx, x, y + 17, 10, lab, " fill=\"#333\"");
    }
    fputs("</svg>\n", o);
    free(q), free(pts), free(bx);
}

static int vrep_run_asc(const void *pa, const void *pb)
{
    const vrep_run *a = pa, *b = pb;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    if (a->batch != b->batch) return a->batch < b->batch ? -1 : 1;
    return a->order - b->order;
}

/* (3): per-scale time as stacked bars, one bar per run (depth ascending). */
void vrep_svg_scale_chart(FILE *o, const vrep_dev *d, int multi_batch)
{
    int n = d->nruns, nsc = 0;
    vrep_run *runs = malloc((size_t)(n ? n : 1) * sizeof *runs);
    vrep_boxes *bx = calloc(1, sizeof *bx);
    int W = 64 + 96 + n * 34;
    if (W < 560) W = 560;
    if (W > 1140) W = 1140;
    vrep_plot p = {.W = W, .H = 320, .l = 64, .t = 40, .w = W - 64 - 96, .h = 320 - 40 - 50, .xmax = 1, .ymax = 1};
    svg_open(o, &p, "Time per scale (ms per image)");
    if (!runs || !bx) {
        svg_nodata(o, &p);
        fputs("</svg>\n", o);
        free(runs);
        free(bx);
        return;
    }
    memcpy(runs, d->runs, (size_t)n * sizeof *runs);
    if (n > 1) qsort(runs, (size_t)n, sizeof *runs, vrep_run_asc);
    double vmax = 0;
    for (int r = 0; r < n; r++) {
        const vj_value *sc = vj_get(runs[r].v, "scale_ms");
        if ((int)vj_len(sc) > nsc) nsc = (int)vj_len(sc);
        double sum = 0;
        for (size_t k = 0; k < vj_len(sc); k++) {
            double v = vj_num(vj_at(sc, k), NAN);
            if (isfinite(v) && v > 0) sum += v;
        }
        if (sum > vmax) vmax = sum;
    }
    if (nsc > 64) nsc = 64;
    svg_yaxis(o, &p, vmax, "ms per image");
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p.l, p.t + p.h,
            p.l + p.w, p.t + p.h);
    svg_xtitle(o, &p, multi_batch ? "depth, batch" : "depth (layers run at the late scales)");
    if (!nsc || vmax <= 0) svg_nodata(o, &p);
    const char *colors[64];
    for (int k = 0; k < nsc; k++) colors[k] = vrep_seq[nsc > 1 ? (int)floor(k * 9.0 / (nsc - 1) + 0.5) : 0];
    double band = p.w / (n ? n : 1), bw = fmin(44, band * 0.66);
    for (int r = 0; r < n; r++) {
        const vj_value *sc = vj_get(runs[r].v, "scale_ms");
        double cx = p.l + band * (r + 0.5), acc = 0;
        for (int k = 0; k < (int)vj_len(sc) && k < nsc; k++) {
            double v = vj_num(vj_at(sc, (size_t)k), NAN);
            if (!isfinite(v) || v <= 0) continue;
            double y1 = vrep_sy(&p, acc), y0 = vrep_sy(&p, acc + v);
            fprintf(o,
                    "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\" stroke=\"#fff\" "
                    "stroke-width=\"0.5\"><title>depth %d, batch %d, scale %d: %s ms</title></rect>\n",
                    cx - bw / 2, y0, bw, y1 - y0, colors[k], runs[r].depth, runs[r].batch, k + 1, vrep_sig3(v).s);
            acc += v;
        }
        vrep_reserve(bx, cx - bw / 2, vrep_sy(&p, acc), cx + bw / 2, p.t + p.h);
    }
    for (int r = 0; r < n; r++) {
        const vj_value *sc = vj_get(runs[r].v, "scale_ms");
        double cx = p.l + band * (r + 0.5), acc = 0;
        for (size_t k = 0; k < vj_len(sc); k++) {
            double v = vj_num(vj_at(sc, k), NAN);
            if (isfinite(v) && v > 0) acc += v;
        }
        char lab[48];
        if (multi_batch) snprintf(lab, sizeof lab, "%d, b%d", runs[r].depth, runs[r].batch);
        else snprintf(lab, sizeof lab, "%d", runs[r].depth);
        vrep_label(o, bx, cx, p.t + p.h + 16, 11, lab, NULL);
        if (acc > 0) vrep_label(o, bx, cx, vrep_sy(&p, acc) - 5, 10, vrep_sig3(acc).s, " fill=\"#333\"");
    }
    /* legend: the last scale on top, as in the stacks */
    double lx = p.l + p.w + 18, ly = p.t + 4;
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"600\">scale</text>\n", lx, ly);
    double row = nsc > 12 ? fmin(14, (p.h - 14) / nsc) : 14;
    for (int k = nsc - 1; k >= 0; k--) {
        double y = ly + 8 + (nsc - 1 - k) * row;
        fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"%s\"/>\n", lx, y,
                fmax(row - 3, 4), colors[k]);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">%d</text>\n", lx + 20, y + row - 4, k + 1);
    }
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\" font-size=\"10\">1 = first</text>\n", lx,
            ly + 8 + nsc * row + 12);
    fputs("</svg>\n", o);
    free(runs);
    free(bx);
}

/* Index into keys (depth descending, batch ascending) of the g-th key in depth-ascending, batch-ascending order. */
static int vrep_asc_index(const vrep_key *keys, int nk, int g)
{
    int end = nk; /* walk depth groups from the back */
    for (;;) {
        int start = end - 1;
        while (start > 0 && keys[start - 1].depth == keys[end - 1].depth) start--;
        if (g < end - start) return start + g;
        g -= end - start;
        end = start;
    }
}

/* (4): ms/image per (depth, batch), one bar per device. */
void vrep_svg_compare_chart(FILE *o, const vrep_set *s, const vrep_key *keys, int nk, int multi_batch)
{
    int nd = vrep_ndev_runs(s);
    const vrep_dev **devs = malloc((size_t)(nd ? nd : 1) * sizeof *devs);
    const char **labels = calloc((size_t)(nd ? nd : 1), sizeof *labels);
    const char **colors = calloc((size_t)(nd ? nd : 1), sizeof *colors);
    vrep_boxes *bx = calloc(1, sizeof *bx);
    int W = 64 + 24 + nk * (nd * 30 + 20); /* bars wide enough for their value labels */
    if (W < 760) W = 760;
    if (W > 1140) W = 1140;
    vrep_plot p = {.W = W, .H = 360, .l = 64, .t = 40, .w = W - 64 - 24, .xmax = 1, .ymax = 1};
    if (!devs || !labels || !colors || !bx) {
        p.h = 360 - 40 - 50;
        svg_open(o, &p, "ms per image, all devices");
        svg_nodata(o, &p);
        fputs("</svg>\n", o);
        free(devs);
        free(labels);
        free(colors);
        free(bx);
        return;
    }
    nd = 0;
    for (int i = 0; i < s->ndev; i++) {
        if (!s->dev[i].nruns) continue;
        devs[nd] = &s->dev[i];
        labels[nd] = s->dev[i].label;
        colors[nd] = s->dev[i].color;
        nd++;
    }
    double lh = svg_legend(o, NULL, p.l, 0, p.l + p.w, labels, colors, nd, 0);
    p.t = 44 + lh;
    p.h = p.H - p.t - 50;
    double vmax = 0, vmin = INFINITY;
    for (int i = 0; i < nd; i++)
        for (int r = 0; r < devs[i]->nruns; r++) {
            double v = vrep_ms(devs[i]->runs[r].v);
            if (isfinite(v) && v > vmax) vmax = v;
            if (isfinite(v) && v > 0 && v < vmin) vmin = v;
        }
    svg_open(o, &p, "Time per image on every device (ms, median)");
    svg_legend(o, bx, p.l, 44, p.l + p.w, labels, colors, nd, 1);
    /* devices often differ by orders of magnitude: then a log axis keeps every bar readable */
    if (vmax > 0 && vmax / vmin > 30) svg_yaxis_log(o, &p, vmin, vmax, "ms per image (log scale)");
    else svg_yaxis(o, &p, vmax, "ms per image");
    fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n", p.l, p.t + p.h,
            p.l + p.w, p.t + p.h);
    svg_xtitle(o, &p, multi_batch ? "depth, batch" : "depth (layers run at the late scales)");
    if (vmax <= 0) svg_nodata(o, &p);
    double band = p.w / (nk ? nk : 1), inner = band * 0.8, bw = fmin(40, inner / (nd ? nd : 1));
    for (int g = 0; g < nk; g++) {
        const vrep_key *k = &keys[vrep_asc_index(keys, nk, g)];
        double cx = p.l + band * (g + 0.5), x0 = cx - bw * nd / 2;
        for (int i = 0; i < nd; i++) {
            const vrep_run *r = vrep_find(devs[i], k->depth, k->batch);
            double v = r ? vrep_ms(r->v) : NAN;
            if (!isfinite(v) || v < 0) continue;
            double y = vrep_sy(&p, v);
            fprintf(o, "<rect x=\"%.1f\" y=\"%.2f\" width=\"%.1f\" height=\"%.2f\" fill=\"%s\"><title>", x0 + bw * i, y,
                    fmax(bw - 1, 1), p.t + p.h - y, colors[i]);
            vrep_html_text(o, labels[i]);
            fprintf(o, ", depth %d, batch %d: %s ms</title></rect>\n", k->depth, k->batch, vrep_sig3(v).s);
            vrep_reserve(bx, x0 + bw * i, y, x0 + bw * (i + 1) - 1, p.t + p.h);
        }
    }
    for (int g = 0; g < nk; g++) {
        const vrep_key *k = &keys[vrep_asc_index(keys, nk, g)];
        double cx = p.l + band * (g + 0.5), x0 = cx - bw * nd / 2;
        char lab[48];
        if (multi_batch) snprintf(lab, sizeof lab, "%d, b%d", k->depth, k->batch);
        else snprintf(lab, sizeof lab, "%d", k->depth);
        vrep_label(o, bx, cx, p.t + p.h + 16, 11, lab, NULL);
        for (int i = 0; i < nd; i++) {
            const vrep_run *r = vrep_find(devs[i], k->depth, k->batch);
            double v = r ? vrep_ms(r->v) : NAN;
            if (!isfinite(v) || v < 0) continue;
            vrep_label(o, bx, x0 + bw * (i + 0.5), vrep_sy(&p, v) - 4, 9, vrep_sig3(v).s, " fill=\"#333\"");
        }
    }
    fputs("</svg>\n", o);
    free(devs);
    free(labels);
    free(colors);
    free(bx);
}
