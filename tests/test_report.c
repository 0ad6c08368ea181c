/* test_report: the JSON parser (bench/json.c) and the Markdown / HTML report (bench/report.c) on synthetic
 * vbench documents. No device needed. Set VARCL_REPORT_SAMPLE=path.html to keep a rendered sample
 * (HTML of two documents there, the Markdown next to it as path.html.md). */
#include "check.h"
#include "error.h"
#include "json.h"
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- synthetic documents ---------- */

typedef struct {
    const char *name, *vendor, *platform, *driver;
    int cu;
    double mem_gib, sgemm, bw;
    double ms_per_token_layer, scale_overhead_ms, decode_ms;
    const char *error; /* non-NULL: a failed device without runs */
    int depths[32], ndepths, batches[4], nbatches;
} dev_spec;

enum { D = 30, WIDTH = 128, SCALES = 10, FULL_SCALES = 6 };
static const int patch[SCALES] = {1, 2, 3, 4, 5, 6, 8, 10, 13, 16};

typedef struct {
    double scale_ms[SCALES], ms, kv, gflop;
} run_numbers;

static run_numbers run_model(const dev_spec *d, int depth, int batch)
{
    run_numbers r = {{0}, 0, 0, 0};
    double eff = 1.0 / (1.0 + 0.35 * log2((double)batch)); /* batching amortises per-image time */
    int early = 0, all = 0;
    for (int s = 0; s < SCALES; s++) {
        int tok = patch[s] * patch[s], layers = s < FULL_SCALES ? D : depth;
        r.scale_ms[s] = (d->scale_overhead_ms + d->ms_per_token_layer * tok * layers) * eff;
        r.ms += r.scale_ms[s];
        r.gflop += 2.0 * 2.0 * 12.0 * WIDTH * WIDTH * tok * layers / 1e9;
        all += tok;
        if (s < FULL_SCALES) early += tok;
    }
    r.ms += d->decode_ms * eff + 0.4;
    r.kv = ((double)depth * all + (double)(D - depth) * early) * 2.0 * WIDTH * 4.0 * 2.0 * batch;
    return r;
}

static void write_result(FILE *f, const dev_spec *d, int index)
{
    fprintf(f, "{\"device\": {\"index\": %d, \"platform\": ", index);
    vj_write_string(f, d->platform);
    fputs(", \"name\": ", f);
    vj_write_string(f, d->name);
    fputs(", \"vendor\": ", f);
    vj_write_string(f, d->vendor);
    fputs(", \"driver\": ", f);
    vj_write_string(f, d->driver);
    fprintf(f, ", \"compute_units\": %d, \"global_mem_bytes\": %.0f},\n", d->cu, d->mem_gib * 1073741824.0);
    if (d->error) {
        fputs(" \"error\": ", f);
        vj_write_string(f, d->error);
        fputs(",\n \"runs\": []}", f);
        return;
    }
    fprintf(f, " \"peak\": {\"sgemm_gflops\": %g, \"bandwidth_gbs\": %g, \"launch_us\": %g},\n", d->sgemm, d->bw,
            d->sgemm / 100);
    fprintf(f, " \"model\": {\"name\": \"built-in demo model\", \"depth\": %d, \"width\": %d, \"heads\": 2, "
               "\"params\": 9683388},\n \"runs\": [",
            D, WIDTH);
    int first = 1;
    for (int b = 0; b < d->nbatches; b++) {
        int batch = d->batches[b];
        run_numbers full = run_model(d, D, batch);
        for (int k = 0; k < d->ndepths; k++) {
            int depth = d->depths[k];
            run_numbers r = run_model(d, depth, batch);
            fprintf(f, "%s\n  {\"depth\": %d, \"layers\": [", first ? "" : ",", depth);
            first = 0;
            int sub[D];
            for (int i = 0; i < depth; i++) sub[i] = depth > 1 ? (int)((long)i * (D - 1) / (depth - 1)) : 0;
            for (int i = 0; i < depth; i++) fprintf(f, "%s%d", i ? "," : "", sub[i]);
            fprintf(f, "], \"full_scales\": %d, \"batch\": %d,\n", FULL_SCALES, batch);
            fputs("   \"ms_per_image\": {\"median\": ", f);
            vj_write_number(f, r.ms);
            fputs(", \"min\": ", f);
            vj_write_number(f, r.ms * 0.97);
            fputs(", \"max\": ", f);
            vj_write_number(f, r.ms * 1.06);
            fputs("}, \"images_per_s\": ", f);
            vj_write_number(f, 1000.0 / r.ms);
            fputs(",\n   \"scale_ms\": [", f);
            for (int s = 0; s < SCALES; s++) {
                if (s) fputs(", ", f);
                vj_write_number(f, r.scale_ms[s]);
            }
            double sum = 0;
            for (int s = 0; s < SCALES; s++) sum += r.scale_ms[s];
            fprintf(f, "],\n   \"split_ms\": {\"transformer\": %.6g, \"sample\": %.6g, \"vq\": 0.4, \"decode\": %.6g},\n",
                    sum * 0.86, sum * 0.14, r.ms - sum - 0.4);
            double weights = 9683388.0 * 4, act = 4194304.0 * batch, scratch = 2097152.0, vae = 8388608.0;
            fprintf(f,
                    "   \"kv_bytes\": %.0f, \"peak_bytes\": {\"total\": %.0f, \"weights\": %.0f, \"kv\": %.0f, "
                    "\"activations\": %.0f, \"scratch\": %.0f, \"vae\": %.0f},\n",
                    r.kv, weights + r.kv + act + scratch + vae, weights, r.kv, act, scratch, vae);
            double gflops = r.gflop / (r.ms / 1000.0);
            fprintf(f,
                    "   \"gflop_per_image\": %.6g, \"gflops\": %.6g, \"sgemm_peak_fraction\": %.6g,\n"
                    "   \"speedup_vs_full\": %.6g, \"kv_saving_vs_full\": %.6g}",
                    r.gflop, gflops, gflops / d->sgemm, full.ms / r.ms, 1.0 - r.kv / full.kv);
        }
    }
    fputs("\n ]}", f);
}

static char *make_doc(const char *host, const char *os, const dev_spec *devs, int ndev)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fputs("{\"varcl_version\": \"0.1.0\",\n \"host\": {\"name\": ", f);
    vj_write_string(f, host);
    fputs(", \"os\": ", f);
    vj_write_string(f, os);
    fputs(", \"cpu\": \"AMD EPYC 7B13 64-Core Processor\"},\n \"results\": [\n", f);
    for (int i = 0; i < ndev; i++) {
        if (i) fputs(",\n", f);
        write_result(f, &devs[i], i);
    }
    fputs("\n]}\n", f);
    fclose(f);
    return buf;
}

static const dev_spec doc1_devs[] = {
    {"pthread-AMD EPYC 7B13", "AuthenticAMD", "Portable Computing Language", "5.0+debian", 16, 62.8, 180, 21.0,
     0.012, 4.0, 38.0, NULL, {30, 8, 2}, 3, {1, 4}, 2},
    {"basic", "pocl", "Portable Computing Language", "5.0+debian", 1, 62.8, 19.5, 9.0, 0.09, 9.0, 260.0, NULL,
     {30, 8, 2}, 3, {1}, 1},
    {"Broken GPU", "NVIDIA Corporation", "NVIDIA CUDA", "535.104", 108, 80, 0, 0, 0, 0, 0,
     "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11)", {0}, 0, {0}, 0},
};

static const dev_spec doc2_devs[] = {
    {"Radeon <RX> & \"7900\"", "Advanced Micro Devices, Inc.", "AMD Accelerated Parallel Processing", "3614.0", 48,
     24, 21500, 860, 0.00035, 0.9, 3.5, NULL, {30, 16, 8, 2}, 4, {1, 4}, 2},
};

/* ---------- helpers ---------- */

static int count(const char *hay, const char *needle)
{
    int n = 0;
    size_t l = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += l) n++;
    return n;
}

static int count_ci(const char *hay, const char *needle)
{
    int n = 0;
    size_t l = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (!strncasecmp(p, needle, l)) n++;
    return n;
}

/* Renders docs to memory; returns the text (caller frees) and the status in *st. */
static char *render(int html, vj_value *const *docs, int ndocs, int *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        *st = -1;
        return NULL;
    }
    *st = html ? vrep_html(f, docs, ndocs, "varcl benchmark <test>") : vrep_markdown(f, docs, ndocs);
    fclose(f);
    return buf;
}

static vj_value *parse_str(const char *s) { return vj_parse(s, strlen(s)); }

/* ---------- JSON ---------- */

static void test_json_values(void)
{
    vj_value *v = parse_str(" {\"a\": [1, -2.5e2, 0, 1E-3, true, false, null], \"s\": \"x\\\"y\\\\z\\/\\n\\t\\u0041\\u00e9"
                            "\\ud83d\\ude00\", \"o\": {}, \"e\": []}\n");
    CHECK(v != NULL, "valid document parses: %s", varcl_last_error());
    if (!v) return;
    CHECK(vj_type_of(v) == VJ_OBJECT && vj_len(v) == 4, "object with 4 members");
    const vj_value *a = vj_get(v, "a");
    CHECK(vj_type_of(a) == VJ_ARRAY && vj_len(a) == 7, "array of 7");
    CHECK(vj_num(vj_at(a, 0), 0) == 1 && vj_num(vj_at(a, 1), 0) == -250 && vj_num(vj_at(a, 2), 1) == 0 &&
              fabs(vj_num(vj_at(a, 3), 0) - 0.001) < 1e-15,
          "numbers");
    CHECK(vj_bool(vj_at(a, 4), 0) == 1 && vj_bool(vj_at(a, 5), 1) == 0 && vj_type_of(vj_at(a, 6)) == VJ_NULL,
          "literals");
    CHECK(!strcmp(vj_str(vj_get(v, "s"), ""), "x\"y\\z/\n\tA\xC3\xA9\xF0\x9F\x98\x80"), "string escapes: [%s]",
          vj_str(vj_get(v, "s"), ""));
    CHECK(vj_type_of(vj_get(v, "o")) == VJ_OBJECT && vj_len(vj_get(v, "o")) == 0, "empty object");
    CHECK(vj_type_of(vj_get(v, "e")) == VJ_ARRAY && vj_len(vj_get(v, "e")) == 0, "empty array");
    CHECK(!strcmp(vj_key(v, 1), "s"), "keys in file order");
    CHECK(vj_get(v, "missing") == NULL && vj_num(vj_get(v, "missing"), 7) == 7 &&
              !strcmp(vj_str(vj_get(v, "a"), "def"), "def") && vj_at(a, 7) == NULL && vj_get(a, "x") == NULL,
          "lookups on missing / wrong-typed values give the default");
    CHECK(vj_num(vj_get(vj_get(NULL, "x"), "y"), 3) == 3 && vj_len(NULL) == 0 && vj_type_of(NULL) == VJ_NONE,
          "NULL-safe chains");
    vj_free(v);

    /* nesting: 64 levels are fine, 65 are refused */
    char deep[200];
    for (int n = 64; n <= 65; n++) {
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        vj_value *d = vj_parse(deep, (size_t)(2 * n));
        CHECK((d != NULL) == (n == 64), "nesting %d: %s", n, varcl_last_error());
        vj_free(d);
    }
    v = parse_str("\xEF\xBB\xBF 42 ");
    CHECK(v && vj_num(v, 0) == 42, "byte order mark and scalar document");
    vj_free(v);
}

static void test_json_errors(void)
{
    static const char *const bad[] = {
        "", "   ", "{", "[1,2", "{\"a\":}", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "\"abc", "\"a\\x\"", "\"\\u12G4\"",
        "01", "1.", "-", "1e", "+1", ".5", "tru", "nul", "[1] 2", "{\"a\":1}}", "\"a\nb\"", "NaN", "Infinity",
        "{'a':1}", "{a:1}", "{\"a\":1 \"b\":2}", "{\"a\":1,\"a\":2}", "[1 2]", "1e999", "[\"x\",,]", "//c\n1",
        "{\"results\": [", "\"\\u00\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        varcl_clear_error();
        vj_value *v = parse_str(bad[i]);
        CHECK(v == NULL, "malformed JSON #%zu [%s] refused", i, bad[i]);
        CHECK(varcl_last_status() == VARCL_E_INPUT, "#%zu: VARCL_E_INPUT (got %d)", i, varcl_last_status());
        CHECK(strstr(varcl_last_error(), "line") && strstr(varcl_last_error(), "column"),
              "#%zu: message has the position: %s", i, varcl_last_error());
        vj_free(v);
    }
    /* an embedded NUL is not whitespace */
    vj_value *v = vj_parse("[1]\0", 4);
    CHECK(v == NULL && varcl_last_status() == VARCL_E_INPUT, "NUL after the document refused");
    vj_free(v);
    /* position: line 3, column 7 */
    v = parse_str("{\n  \"a\": 1,\n  \"b\": x\n}");
    CHECK(!v && strstr(varcl_last_error(), "line 3, column 8"), "error position: %s", varcl_last_error());
    vj_free(v);
    char deep[300];
    int n = 0;
    for (int i = 0; i < 70; i++) n += snprintf(deep + n, sizeof deep - (size_t)n, "[");
    v = vj_parse(deep, (size_t)n);
    CHECK(!v && strstr(varcl_last_error(), "nesting"), "deep nesting refused: %s", varcl_last_error());
    vj_free(v);
}

static void test_json_io(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fputs("[", f);
    vj_write_string(f, "a\"b\\c\n\x01\x7f/\xC3\xA9");
    fputs(",", f);
    vj_write_string(f, NULL);
    fputs(",", f);
    vj_write_number(f, 0.1);
    fputs(",", f);
    vj_write_number(f, 9683388);
    fputs(",", f);
    vj_write_number(f, NAN);
    fputs(",", f);
    vj_write_number(f, 1.0 / 3.0);
    fputs(",", f);
    vj_write_number(f, -1e-300);
    fputs("]", f);
    fclose(f);
    CHECK(!strcmp(buf, "[\"a\\\"b\\\\c\\n\\u0001\\u007f/\xC3\xA9\",null,0.1,9683388,null,0.3333333333333333,-1e-300]"),
          "writer output: %s", buf);
    vj_value *v = vj_parse(buf, len);
    CHECK(v && !strcmp(vj_str(vj_at(v, 0), ""), "a\"b\\c\n\x01\x7f/\xC3\xA9") && vj_num(vj_at(v, 5), 0) == 1.0 / 3.0 &&
              vj_num(vj_at(v, 6), 0) == -1e-300,
          "writer output reads back exactly");
    vj_free(v);
    free(buf);

    char dir[512], path[4200] = "";
    if (check_mkdtemp(dir, sizeof dir, "test-report")) snprintf(path, sizeof path, "%s/report.json", dir);
    f = fopen(path, "w");
    CHECK(f != NULL, "temp file");
    if (f) {
        fputs("{\"x\": [1, 2, 3]}\n", f);
        fclose(f);
        v = vj_read_file(path);
        CHECK(v && vj_len(vj_get(v, "x")) == 3, "vj_read_file: %s", varcl_last_error());
        vj_free(v);
        f = fopen(path, "w");
        fputs("{\"x\": [1, 2, 3}\n", f);
        fclose(f);
        v = vj_read_file(path);
        CHECK(!v && varcl_last_status() == VARCL_E_INPUT && strstr(varcl_last_error(), path) &&
                  strstr(varcl_last_error(), "line 1"),
              "malformed file names the path and position: %s", varcl_last_error());
        vj_free(v);
        remove(path);
        rmdir(dir);
    }
    v = vj_read_file("/nonexistent/varcl/results.json");
    CHECK(!v && varcl_last_status() == VARCL_E_INPUT && strstr(varcl_last_error(), "/nonexistent/varcl/results.json"),
          "missing file names the path: %s", varcl_last_error());
    vj_free(v);
}

/* ---------- report ---------- */

static int http_only_svg_namespace(const char *html)
{
    const char *ns = "xmlns=\"http://www.w3.org/2000/svg\"";
    if (count_ci(html, "https://")) return 0;
    for (const char *p = html; (p = strstr(p, "http://")); p++) {
        if (p - html < 7 || strncmp(p - 7, ns, strlen(ns))) return 0;
    }
    return count_ci(html, "http://") == count(html, ns);
}

/* an attribute like onload= / onclick= inside a tag */
static int has_event_attr(const char *html)
{
    int in_tag = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '<') in_tag = 1;
        else if (*p == '>') in_tag = 0;
        else if (in_tag && (p[0] == ' ' || p[0] == '\n') && (p[1] == 'o' || p[1] == 'O') && (p[2] == 'n' || p[2] == 'N')) {
            const char *q = p + 3;
            while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')) q++;
            if (q > p + 3 && *q == '=') return 1;
        }
    }
    return 0;
}

static void check_self_contained(const char *html, const char *what)
{
    CHECK(count_ci(html, "<script") == 0, "%s: no <script", what);
    CHECK(http_only_svg_namespace(html), "%s: no http(s):// other than the SVG namespace", what);
    CHECK(count_ci(html, "src=") == 0 && count_ci(html, "href") == 0 && count_ci(html, "url(") == 0 &&
              count_ci(html, "@import") == 0 && !has_event_attr(html),
          "%s: no src/href/url()/@import/event handlers", what);
    CHECK(!strncmp(html, "<!DOCTYPE html>", 15) && strstr(html, "</html>\n"), "%s: a whole HTML document", what);
    CHECK(count(html, "<svg") == count(html, "</svg>"), "%s: every <svg> closed", what);
}

static void test_report(int keep_sample, const char *sample)
{
    char *t1 = make_doc("ci-runner", "Debian GNU/Linux 12 (bookworm)", doc1_devs, 3);
    char *t2 = make_doc("gpu-box", "Ubuntu 22.04", doc2_devs, 1);
    vj_value *d1 = t1 ? vj_parse(t1, strlen(t1)) : NULL, *d2 = t2 ? vj_parse(t2, strlen(t2)) : NULL;
    CHECK(d1 && d2, "sample documents parse: %s", varcl_last_error());
    if (!d1 || !d2) goto out;
    CHECK(vj_len(vj_get(d1, "results")) == 3 && vj_len(vj_get(vj_at(vj_get(d1, "results"), 0), "runs")) == 6,
          "document 1 shape");
    vj_value *one[1] = {d1}, *two[2] = {d1, d2}, *gpu[1] = {d2};
    int st;

    /* Markdown, one document: three devices, one failed */
    char *md = render(0, one, 1, &st);
    CHECK(st == 0 && md, "markdown renders: %s", varcl_last_error());
    if (md) {
        CHECK(strstr(md, "## pthread-AMD EPYC 7B13\n") && strstr(md, "## basic\n") && strstr(md, "## Broken GPU\n"),
              "markdown: a heading per device");
        CHECK(strstr(md, "**Error:** clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11)"), "markdown: error line");
        CHECK(count(md, "| 30 | all | 1 |") == 2 && count(md, "| 8 | 8 | 1 |") == 2 && count(md, "| 2 | 2 | 1 |") == 2,
              "markdown: every depth row of both devices (batch 1)");
        CHECK(count(md, "| 30 | all | 4 |") == 1 && count(md, "| 8 | 8 | 4 |") == 1 && count(md, "| 2 | 2 | 4 |") == 1,
              "markdown: batch-4 rows");
        CHECK(strstr(md, "| depth | layers | batch | ms/image median (min\xE2\x80\x93max) | images/s | GFLOP/image | "
                         "GFLOP/s | % of SGEMM peak | KV MiB | KV saving vs full | speed-up vs full | peak MiB total |"),
              "markdown: runs table header");
        CHECK(strstr(md, "- Peak: SGEMM 180 GFLOP/s, bandwidth 21.0 GB/s, kernel launch 1.80 \xC2\xB5s\n") &&
                  strstr(md, "built-in demo model, 30 layers, width 128, 2 heads, 9.68 M parameters") &&
                  strstr(md, "- Compute units: 16, global memory: 64307.2 MiB"),
              "markdown: device details");
        const char *x = strstr(md, "## All devices");
        CHECK(x && strstr(x, "| depth | batch | pthread-AMD EPYC 7B13 ms/image | pthread-AMD EPYC 7B13 speed-up | "
                             "basic ms/image | basic speed-up |"),
              "markdown: cross-device table with both devices");
        CHECK(x && strstr(x, "| 30 | 1 |") && strstr(x, "| 8 | 1 |") && strstr(x, "| 2 | 1 |") &&
                  strstr(x, "| 8 | 4 |") && strstr(x, " - | - |\n"),
              "markdown: cross-device rows (a dash where a device has no such run)");
        CHECK(x && !strstr(x, "Broken GPU"), "markdown: the failed device has no cross-device column");
        CHECK(strstr(md, "1.00\xC3\x97 |"), "markdown: the baseline's speed-up is 1.00x");
    }
    free(md);

    /* Markdown, one device: still a cross-device table, one column pair */
    md = render(0, gpu, 1, &st);
    CHECK(st == 0 && md, "markdown (one device) renders");
    if (md) {
        const char *x = strstr(md, "## All devices");
        CHECK(x && count(x, " ms/image |") == 1 && count(x, "\n| 16 | 4 |") == 1, "one-device cross table");
        CHECK(strstr(md, "## Radeon \\<RX\\> & \"7900\""), "markdown escapes the device name");
        CHECK(count(md, "| 16 | 16 | 1 |") == 1, "depth 16 row");
    }
    free(md);

    /* HTML, one document */
    char *h = render(1, one, 1, &st);
    CHECK(st == 0 && h, "html renders: %s", varcl_last_error());
    if (h) {
        check_self_contained(h, "html (1 doc)");
        CHECK(count(h, "<svg") == 3 * 2 + 1, "html: 3 charts per device with runs + the comparison: %d",
              count(h, "<svg"));
        CHECK(strstr(h, "<title>varcl benchmark &lt;test&gt;</title>") &&
                  strstr(h, "<h1>varcl benchmark &lt;test&gt;</h1>"),
              "html: title escaped");
        CHECK(strstr(h, "varcl 0.1.0") && strstr(h, "ci-runner") && strstr(h, "Debian GNU/Linux 12"),
              "html: header with version and host");
        CHECK(strstr(h, "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11)") && strstr(h, "class=\"err\""),
              "html: error line");
        CHECK(count(h, "<tr class=\"base\"><td>30</td><td>all</td><td>1</td>") == 2 &&
                  count(h, "<tr><td>8</td><td>8</td><td>1</td>") == 2 &&
                  count(h, "<tr><td>2</td><td>2</td><td>1</td>") == 2,
              "html: every depth row");
        CHECK(strstr(h, "Time per image vs depth") && strstr(h, "KV cache vs depth") &&
                  strstr(h, "Time per scale (ms per image)") && strstr(h, "Time per image on every device"),
              "html: chart titles");
        CHECK(count(h, "pthread-AMD EPYC 7B13") >= 3 && count(h, ">basic<") >= 1 && strstr(h, "Broken GPU"),
              "html: device names");
    }
    free(h);

    /* HTML, one device only: no comparison chart */
    h = render(1, gpu, 1, &st);
    CHECK(st == 0 && h && count(h, "<svg") == 3 && !strstr(h, "Time per image on every device"),
          "html (one device): 3 charts, no comparison chart");
    free(h);

    /* HTML and Markdown, two documents (--compare) */
    h = render(1, two, 2, &st);
    CHECK(st == 0 && h, "html (2 docs) renders: %s", varcl_last_error());
    if (h) {
        check_self_contained(h, "html (2 docs)");
        CHECK(count(h, "<svg") == 3 * 3 + 1, "html (2 docs): %d svg", count(h, "<svg"));
        CHECK(strstr(h, "Radeon &lt;RX&gt; &amp; &quot;7900&quot;") && !strstr(h, "<RX>") && !strstr(h, "\"7900\""),
              "html: the device name is escaped");
        CHECK(strstr(h, "<b>File 1:</b>") && strstr(h, "<b>File 2:</b>") && strstr(h, "gpu-box"),
              "html: both documents in the header");
        if (keep_sample) {
            FILE *f = fopen(sample, "w");
            if (f) {
                fputs(h, f);
                fclose(f);
            }
        }
    }
    free(h);
    md = render(0, two, 2, &st);
    CHECK(st == 0 && md && strstr(md, "- File 2: varcl 0.1.0, host gpu-box") &&
              strstr(md, "Radeon \\<RX\\> & \"7900\" ms/image"),
          "markdown (2 docs)");
    if (md && keep_sample) {
        char p[4096];
        snprintf(p, sizeof p, "%s.md", sample);
        FILE *f = fopen(p, "w");
        if (f) {
            fputs(md, f);
            fclose(f);
        }
    }
    free(md);

out:
    vj_free(d1);
    vj_free(d2);
    free(t1);
    free(t2);
}

/* exact number formats on a hand-written run */
static void test_numbers(void)
{
    const char *doc =
        "{\"varcl_version\": \"0.1.0\", \"host\": {\"name\": \"h\", \"os\": \"o\", \"cpu\": \"c\"}, \"results\": ["
        "{\"device\": {\"index\": 0, \"platform\": \"p\", \"name\": \"dev|pipe\", \"vendor\": \"v\", \"driver\": \"d\","
        " \"compute_units\": 2, \"global_mem_bytes\": 2147483648},"
        " \"peak\": {\"sgemm_gflops\": 15.24, \"bandwidth_gbs\": 21},"
        " \"model\": {\"name\": \"m\", \"depth\": 16, \"width\": 64, \"heads\": 1, \"params\": 1234567},"
        " \"load\": {\"s\": 0.8123, \"file_bytes\": 1500459020, \"gbs\": 1.847, \"weights\": \"bf16\","
        " \"weights_bytes\": 618514944, \"vae_bytes\": 361420940},"
        " \"runs\": ["
        "  {\"depth\": 8, \"layers\": [0,2,4,6,8,10,12,15], \"full_scales\": 6, \"batch\": 2,"
        "   \"ms_per_image\": {\"median\": 12.345, \"min\": 12, \"max\": 13.04}, \"images_per_s\": 81.004,"
        "   \"scale_ms\": [1,1,1,1,1,1,1,1,1,1.5], \"split_ms\": {\"transformer\": 9, \"sample\": 1, \"vq\": 0.5,"
        "   \"decode\": 1.8456}, \"kv_bytes\": 3250586, \"peak_bytes\": {\"total\": 10485760, \"weights\": 1,"
        "   \"kv\": 1, \"activations\": 1, \"scratch\": 1, \"vae\": 1}, \"gflop_per_image\": 0.0456789,"
        "   \"gflops\": 1234.4, \"sgemm_peak_fraction\": 0.12345, \"speedup_vs_full\": 2.5,"
        "   \"kv_saving_vs_full\": 0.375},"
        "  {\"depth\": 16, \"batch\": 2, \"ms_per_image\": {\"median\": 30.86}}]}]}";
    vj_value *v = parse_str(doc);
    CHECK(v != NULL, "number document parses: %s", varcl_last_error());
    if (!v) return;
    vj_value *docs[1] = {v};
    int st;
    char *md = render(0, docs, 1, &st);
    CHECK(st == 0 && md, "renders");
    if (md) {
        CHECK(strstr(md, "| 8 | 8 | 2 | 12.3 (12.0\xE2\x80\x93" "13.0) | 81.0 | 0.0457 | 1234 | 12.3% | 3.1 | 37.5% | "
                         "2.50\xC3\x97 | 10.0 |"),
              "number formats:\n%s", md);
        CHECK(strstr(md, "| 16 | all | 2 | 30.9 | - | - | - | - | - | - | - | - |"), "missing numbers are dashes");
        CHECK(strstr(md, "| 8 | 2 | 6 | 9.00 | 1.00 | 0.500 | 1.85 | 10.5 |"), "split table");
        CHECK(strstr(md, "## dev\\|pipe"), "markdown escapes a pipe");
        CHECK(strstr(md, "global memory: 2048.0 MiB") && strstr(md, "SGEMM 15.2 GFLOP/s, bandwidth 21.0 GB/s\n") &&
                  strstr(md, "1.23 M parameters"),
              "details formats");
        CHECK(strstr(md, "- Load: 0.812 s, 1.85 GB/s of 1430.9 MiB of checkpoint; weights bf16, 589.9 MiB on the "
                         "device (VQ-VAE 344.7 MiB)"),
              "load line:\n%s", md);
    }
    free(md);
    char *h = render(1, docs, 1, &st);
    CHECK(st == 0 && h && count(h, "<svg") == 3, "html of a sparse document still has 3 charts");
    free(h);
    vj_free(v);
}

/* the load line names what the weight cache did, escaped for each format; a file of an older vbench has no
 * "weight_cache" and its line ends as before */
static void test_weight_cache(void)
{
    static const char *const entry[2] = {"", ", \"weight_cache\": \"read in place; VQ-VAE not used: cannot create a "
                                             "file in /c|<d>\""};
    for (int with = 0; with < 2; with++) {
        char doc[1024];
        snprintf(doc, sizeof doc,
                 "{\"varcl_version\": \"0.1.0\", \"host\": {\"name\": \"h\", \"os\": \"o\", \"cpu\": \"c\"},"
                 " \"results\": [{\"device\": {\"index\": 0, \"name\": \"dev\"}, \"model\": {\"name\": \"m\","
                 " \"depth\": 2}, \"load\": {\"s\": 0.5, \"file_bytes\": 1048576, \"gbs\": 2, \"weights\": \"f32\","
                 " \"weights_bytes\": 1048576, \"vae_bytes\": 1048576%s},"
                 " \"runs\": [{\"depth\": 2, \"batch\": 1, \"ms_per_image\": {\"median\": 10}}]}]}",
                 entry[with]);
        vj_value *v = parse_str(doc);
        CHECK(v != NULL, "weight cache document %d parses: %s", with, varcl_last_error());
        if (!v) continue;
        vj_value *docs[1] = {v};
        int st;
        char *md = render(0, docs, 1, &st), *h = render(1, docs, 1, &st);
        const char *md_want = with ? "(VQ-VAE 1.0 MiB); weight cache: read in place; VQ-VAE not used: cannot create "
                                     "a file in /c\\|\\<d\\>\n"
                                   : "(VQ-VAE 1.0 MiB)\n";
        const char *h_want = with ? "(VQ-VAE 1.0 MiB); weight cache: read in place; VQ-VAE not used: cannot create a "
                                    "file in /c|&lt;d&gt;</dd>"
                                  : "(VQ-VAE 1.0 MiB)</dd>";
        CHECK(md && strstr(md, md_want), "markdown load line %s the weight cache:\n%s", with ? "with" : "without",
              md ? md : "(none)");
        CHECK(h && strstr(h, h_want), "html load line %s the weight cache", with ? "with" : "without");
        CHECK(with || (md && h && !strstr(md, "weight cache") && !strstr(h, "weight cache")),
              "no weight cache named where the file has none");
        free(md);
        free(h);
        vj_free(v);
    }
}

/* vbench --quality: the setup line, the quality table (one row per depth, the smallest batch's), and in HTML the
 * four trade-off charts with a point per depth; documents without quality have none of them */
static void test_quality(void)
{
    const char *doc =
        "{\"varcl_version\": \"0.1.0\", \"host\": {\"name\": \"h\", \"os\": \"o\", \"cpu\": \"c\"}, \"results\": ["
        "{\"device\": {\"index\": 0, \"name\": \"dev\"}, \"model\": {\"name\": \"m\", \"depth\": 16},"
        " \"quality_setup\": {\"classifier\": \"built-in\", \"fd_ref\": \"built-in\", \"classes\": 10,"
        " \"features\": 64, \"per_class\": 5, \"seed\": 3, \"cfg\": 1.5, \"top_k\": 900, \"top_p\": 0.96},"
        " \"runs\": ["
        "  {\"depth\": 16, \"batch\": 1, \"ms_per_image\": {\"median\": 400}, \"kv_bytes\": 11324620,"
        "   \"quality\": {\"accuracy\": 0.96, \"fd\": 1.23456, \"images\": 50, \"per_class\": 5}},"
        "  {\"depth\": 16, \"batch\": 4, \"ms_per_image\": {\"median\": 300}, \"kv_bytes\": 45298483,"
        "   \"quality\": {\"accuracy\": 0.96, \"fd\": 1.23456, \"images\": 50, \"per_class\": 5}},"
        "  {\"depth\": 2, \"layers\": [0, 15], \"batch\": 1, \"ms_per_image\": {\"median\": 150},"
        "   \"kv_bytes\": 6370099, \"quality\": {\"accuracy\": 0.42, \"fd\": 17.9, \"images\": 50,"
        "   \"per_class\": 5}}]}]}";
    vj_value *v = parse_str(doc);
    CHECK(v != NULL, "quality document parses: %s", varcl_last_error());
    if (!v) return;
    vj_value *docs[1] = {v};
    int st;
    char *md = render(0, docs, 1, &st);
    CHECK(st == 0 && md, "renders");
    if (md) {
        CHECK(strstr(md, "- Quality: 5 images per class of 10 classes, seed 3, cfg 1.50, top-k 900, top-p 0.960; "
                         "classifier built-in, reference built-in (64 features)"),
              "quality setup line:\n%s", md);
        CHECK(strstr(md, "| depth | layers | images | accuracy | FD | ms/image (median) | KV MiB |"), "quality heads");
        CHECK(strstr(md, "| 16 | all | 50 | 0.960 | 1.23 | 400 | 10.8 |"), "depth 16 row (batch 1):\n%s", md);
        CHECK(strstr(md, "| 2 | 2 | 50 | 0.420 | 17.9 | 150 | 6.1 |"), "depth 2 row");
        CHECK(count(md, "| 50 | 0.960 |") == 1, "one row per depth");
    }
    free(md);
    char *h = render(1, docs, 1, &st);
    CHECK(st == 0 && h && count(h, "<svg") == 3 + 4, "html: 3 charts + 4 trade-off charts: %d", h ? count(h, "<svg") : -1);
    if (h) {
        CHECK(strstr(h, "Accuracy vs time per image") && strstr(h, "FD vs KV cache"), "trade-off chart titles");
        CHECK(count(h, "<title>depth 2: ") == 4 && count(h, "<title>depth 16: ") == 4, "a point per depth per chart");
        CHECK(strstr(h, ">d2: 0.420</text>") && strstr(h, ">d16: 1.23</text>"), "points labelled with depth and value");
        check_self_contained(h, "quality html");
    }
    free(h);
    vj_free(v);
    /* FD of 0 and of the smallest denormal everywhere: the chart's axis is a unit one, no NaN in the SVG */
    for (int z = 0; z < 2; z++) {
        char tiny[4096];
        snprintf(tiny, sizeof tiny,
                 "{\"results\": [{\"model\": {\"depth\": 16}, \"runs\": ["
                 "{\"depth\": 16, \"batch\": 1, \"ms_per_image\": {\"median\": 400}, \"kv_bytes\": 100,"
                 " \"quality\": {\"accuracy\": 0.5, \"fd\": %s, \"images\": 5, \"per_class\": 1}},"
                 "{\"depth\": 2, \"batch\": 1, \"ms_per_image\": {\"median\": 100}, \"kv_bytes\": 50,"
                 " \"quality\": {\"accuracy\": 0.2, \"fd\": %s, \"images\": 5, \"per_class\": 1}}]}]}",
                 z ? "5e-324" : "0", z ? "5e-324" : "0");
        v = parse_str(tiny);
        docs[0] = v;
        h = v ? render(1, docs, 1, &st) : NULL;
        /* printf's %.1f writes nan, -nan, inf and -inf (the stylesheet has words holding "inf") */
        CHECK(h && st == 0 && !strstr(h, "nan") && !strstr(h, "inf\"") && !strstr(h, "inf,") && !strstr(h, "inf "),
              "FD %s: no NaN or inf in the HTML",
              z ? "5e-324" : "0");
        free(h);
        vj_free(v);
    }
    /* without quality: no table, no trade-off chart */
    v = parse_str("{\"results\": [{\"model\": {\"depth\": 4}, \"runs\": [{\"depth\": 4, \"batch\": 1,"
                  " \"ms_per_image\": {\"median\": 1}}]}]}");
    docs[0] = v;
    md = render(0, docs, 1, &st);
    h = render(1, docs, 1, &st);
    CHECK(md && !strstr(md, "accuracy") && !strstr(md, "Quality"), "no quality in Markdown without it");
    CHECK(h && count(h, "<svg") == 3 && !strstr(h, "Accuracy vs"), "no quality in HTML without it");
    free(md);
    free(h);
    vj_free(v);
}

static void test_schema_errors(void)
{
    static const char *const bad[] = {
        "{\"varcl_version\": \"0.1.0\", \"host\": {}}",
        "{\"varcl_version\": \"0.1.0\", \"results\": {}}",
        "[1, 2, 3]",
        "{\"results\": [1]}",
        "{\"results\": [{\"device\": 3}]}",
        "{\"results\": [{\"runs\": {}}]}",
        "{\"results\": [{\"runs\": [{\"batch\": 1}]}]}",
        "{\"results\": [{\"runs\": [{\"depth\": \"8\"}]}]}",
        "{\"results\": [{\"runs\": [{\"depth\": 8, \"batch\": 0}]}]}",
        "{\"results\": [{\"runs\": [7]}]}",
        /* figures: negative, out of order, deeper than the model, a layer outside it, a run given twice */
        "{\"results\": [{\"runs\": [{\"depth\": 8, \"kv_bytes\": -1}]}]}",
        "{\"results\": [{\"peak\": {\"sgemm_gflops\": -3}, \"runs\": []}]}",
        "{\"results\": [{\"runs\": [{\"depth\": 8, \"speedup_vs_full\": 1e300}]}]}",
        "{\"results\": [{\"runs\": [{\"depth\": 8, \"ms_per_image\": {\"median\": 400, \"min\": 300, \"max\": 1}}]}]}",
        "{\"results\": [{\"model\": {\"depth\": 16}, \"runs\": [{\"depth\": 99}]}]}",
        "{\"results\": [{\"model\": {\"depth\": 16}, \"runs\": [{\"depth\": 2, \"layers\": [0, 16]}]}]}",
        "{\"results\": [{\"runs\": [{\"depth\": 2, \"batch\": 1}, {\"depth\": 2}]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vj_value *v = parse_str(bad[i]);
        CHECK(v != NULL, "schema case %zu is valid JSON", i);
        if (!v) continue;
        vj_value *docs[1] = {v};
        for (int html = 0; html < 2; html++) {
            varcl_clear_error();
            int st;
            char *out = render(html, docs, 1, &st);
            CHECK(st == VARCL_E_INPUT, "schema case %zu (%s) refused: status %d", i, html ? "html" : "md", st);
            CHECK(out && !out[0], "schema case %zu: nothing written", i);
            CHECK(i > 2 || strstr(varcl_last_error(), "results") || strstr(varcl_last_error(), "object"),
                  "schema case %zu: message: %s", i, varcl_last_error());
            free(out);
        }
        vj_free(v);
    }
    vj_value *v = parse_str("{\"varcl_version\": \"0.1.0\"}");
    vj_value *docs[1] = {v};
    int st;
    char *out = render(0, docs, 1, &st);
    CHECK(st == VARCL_E_INPUT && strstr(varcl_last_error(), "no \"results\" array"),
          "document without results: %s", varcl_last_error());
    free(out);
    vj_free(v);
    out = render(0, docs, 0, &st);
    CHECK(st == VARCL_E_INPUT, "no documents refused");
    free(out);
    /* an empty results array is fine */
    v = parse_str("{\"results\": []}");
    docs[0] = v;
    out = render(1, docs, 1, &st);
    CHECK(st == 0 && out && count(out, "<svg") == 0, "empty results render");
    free(out);
    vj_free(v);
}

int main(void)
{
    const char *sample = getenv("VARCL_REPORT_SAMPLE");
    test_json_values();
    test_json_errors();
    test_json_io();
    test_report(sample && *sample, sample);
    test_numbers();
    test_weight_cache();
    test_quality();
    test_schema_errors();
    return check_done();
}
