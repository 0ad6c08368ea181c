/* test_sampler: host/sample.c against upstream's masking (tests/data/sampler, made by torch 1.13.1 CPU) and
 * against the properties the engine relies on: Philox known answers, reproducible keyed draws, argmax for
 * top-k = 1, frequencies that follow the softmax, NaN rows, the CFG combine.
 * Holds its own small .npy and kept.json readers so the test needs nothing beyond libc. */
#include "check.h"
#include "error.h"
#include "sample.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture readers ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
            if (fread(buf, 1, (size_t)size, f) == (size_t)size) {
                buf[size] = 0;
                *len = (size_t)size;
            } else {
                free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    return buf;
}

/* A 2-D little-endian float32 C-order .npy. Returns the data (malloc'd) or NULL. */
static float *read_npy_2d(const char *path, int *rows, int *cols)
{
    size_t len = 0;
    char *raw = read_file(path, &len);
    if (!raw) return NULL;
    float *out = NULL;
    if (len < 10 || memcmp(raw, "\x93NUMPY", 6) != 0) goto done;
    size_t header_len, offset;
    if (raw[6] == 1) {
        header_len = (unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8;
        offset = 10;
    } else {
        if (len < 12) goto done;
        header_len = (unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8 |
                     (size_t)(unsigned char)raw[10] << 16 | (size_t)(unsigned char)raw[11] << 24;
        offset = 12;
    }
    if (offset + header_len > len) goto done;
    char *header = raw + offset;
    const char saved = header[header_len - 1];
    header[header_len - 1] = 0;
    const char *descr = strstr(header, "'descr'");
    const char *order = strstr(header, "'fortran_order'");
    const char *shape = strstr(header, "'shape'");
    int ok = descr && order && shape && strstr(descr, "'<f4'") && strstr(order, "False");
    long r = 0, c = 0;
    if (ok) {
        shape = strchr(shape, '(');
        ok = shape && sscanf(shape, "(%ld , %ld )", &r, &c) == 2 && r > 0 && c > 0;
    }
    header[header_len - 1] = saved;
    const size_t data_bytes = (size_t)r * (size_t)c * sizeof(float);
    if (!ok || offset + header_len + data_bytes != len) goto done;
    out = malloc(data_bytes);
    if (!out) goto done;
    const unsigned char *p = (const unsigned char *)raw + offset + header_len;
    for (size_t i = 0; i < (size_t)r * (size_t)c; i++, p += 4) {
        const uint32_t u = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&out[i], &u, sizeof u);
    }
    *rows = (int)r;
    *cols = (int)c;
done:
    free(raw);
    return out;
}

/* kept.json: {"vocab": V, "rows": R, "cases": [{"top_k": k, "top_p": p, "kept": [[ids], ...],
 * "tie_split": [bools]}, ...], "note": "..."} (as json.dump writes it). */
typedef struct {
    int top_k;
    double top_p;
    int *kept[16];  /* [rows][n_kept[row]] */
    int n_kept[16];
    int tie_split[16];
} kept_case;

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* Returns the character after the value of "key" inside [p, end), or NULL. */
static const char *find_value(const char *p, const char *end, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *hit = strstr(p, quoted);
    if (!hit || hit >= end) return NULL;
    hit = skip_ws(hit + strlen(quoted));
    if (*hit != ':') return NULL;
    return skip_ws(hit + 1);
}

/* Parses [[1, 2], [3], ...] into c->kept; returns the position after it or NULL. */
static const char *parse_kept(const char *p, kept_case *c, int rows)
{
    if (*p++ != '[') return NULL;
    for (int r = 0; r < rows; r++) {
        p = skip_ws(p);
        if (r && *p++ != ',') return NULL;
        p = skip_ws(p);
        if (*p++ != '[') return NULL;
        int cap = 8, n = 0;
        int *ids = malloc(cap * sizeof *ids);
        if (!ids) return NULL;
        c->kept[r] = ids;
        for (;;) {
            p = skip_ws(p);
            if (*p == ']') {
                p++;
                break;
            }
            if (n && *p++ != ',') return NULL;
            char *after;
            long v = strtol(p, &after, 10);
            if (after == p) return NULL;
            p = after;
            if (n == cap) {
                int *grown = realloc(ids, 2 * cap * sizeof *ids);
                if (!grown) return NULL;
                c->kept[r] = ids = grown;
                cap *= 2;
            }
            ids[n++] = (int)v;
        }
        c->n_kept[r] = n;
    }
    p = skip_ws(p);
    return *p == ']' ? p + 1 : NULL;
}

static const char *parse_bools(const char *p, int *out, int rows)
{
    if (*p++ != '[') return NULL;
    for (int r = 0; r < rows; r++) {
        p = skip_ws(p);
        if (r && *p++ != ',') return NULL;
        p = skip_ws(p);
        if (!strncmp(p, "true", 4)) out[r] = 1, p += 4;
        else if (!strncmp(p, "false", 5)) out[r] = 0, p += 5;
        else return NULL;
    }
    p = skip_ws(p);
    return *p == ']' ? p + 1 : NULL;
}

/* Returns the number of cases read into cases[0..max), or -1 on a malformed file. */
static int read_kept_json(const char *path, int *vocab, int *rows, kept_case *cases, int max)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) return -1;
    const char *end = text + len;
    int n = -1;
    const char *p = find_value(text, end, "vocab");
    if (!p || sscanf(p, "%d", vocab) != 1) goto done;
    p = find_value(text, end, "rows");
    if (!p || sscanf(p, "%d", rows) != 1 || *rows <= 0 || *rows > 16) goto done;
    p = find_value(text, end, "cases");
    if (!p || *p != '[') goto done;
    int count = 0;
    for (;;) {
        const char *top_k = strstr(p, "\"top_k\"");
        if (!top_k) break;
        if (count == max) goto done;
        /* This case's keys lie before the next case's "top_k". */
        const char *next = strstr(top_k + 1, "\"top_k\"");
        const char *case_end = next ? next : end;
        kept_case *c = &cases[count++];
        memset(c, 0, sizeof *c);
        const char *v = find_value(top_k, case_end, "top_k");
        if (!v || sscanf(v, "%d", &c->top_k) != 1) goto done;
        v = find_value(top_k, case_end, "top_p");
        if (!v || sscanf(v, "%lf", &c->top_p) != 1) goto done;
        v = find_value(top_k, case_end, "kept");
        if (!v || !parse_kept(v, c, *rows)) goto done;
        v = find_value(top_k, case_end, "tie_split");
        if (!v || !parse_bools(v, c->tie_split, *rows)) goto done;
        p = case_end;
    }
    n = count;
done:
    free(text);
    return n;
}

static void free_cases(kept_case *cases, int n)
{
    for (int c = 0; c < n; c++)
        for (int r = 0; r < 16; r++) free(cases[c].kept[r]);
}

/* ---- fixture: upstream's kept sets ---- */

static int count_finite(const float *x, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += isfinite(x[i]) != 0;
    return k;
}

static void test_fixture(vs_sampler *s, const float *logits, int rows, int vocab, const kept_case *cases,
                         int n_cases)
{
    float *row = malloc((size_t)vocab * sizeof *row);
    char *listed = malloc((size_t)vocab);
    int exact = 0, tied = 0;
    for (int ci = 0; ci < n_cases; ci++) {
        const kept_case *c = &cases[ci];
        for (int r = 0; r < rows; r++) {
            const float *orig = logits + (size_t)r * vocab;
            memcpy(row, orig, (size_t)vocab * sizeof *row);
            const int ret = vs_mask(s, row, c->top_k, (float)c->top_p);

            memset(listed, 0, (size_t)vocab);
            float lowest_listed = INFINITY;
            for (int j = 0; j < c->n_kept[r]; j++) {
                listed[c->kept[r][j]] = 1;
                if (orig[c->kept[r][j]] < lowest_listed) lowest_listed = orig[c->kept[r][j]];
            }
            int untouched = 1, same_outside_tie = 1, same_everywhere = 1;
            for (int i = 0; i < vocab; i++) {
                const int ours = row[i] != -INFINITY;
                if (ours && row[i] != orig[i]) untouched = 0;
                if (!ours && row[i] != -INFINITY) untouched = 0;
                if (ours != listed[i]) {
                    same_everywhere = 0;
                    if (orig[i] != lowest_listed) same_outside_tie = 0;
                }
            }
            const int n_ours = count_finite(row, vocab);
            CHECK(ret == n_ours, "top_k %d top_p %g row %d: returned %d but %d entries left finite", c->top_k,
                  c->top_p, r, ret, n_ours);
            CHECK(untouched, "top_k %d top_p %g row %d: kept logits changed or removed ones not -inf",
                  c->top_k, c->top_p, r);
            if (c->tie_split[r]) {
                tied++;
                CHECK(n_ours == c->n_kept[r] && same_outside_tie,
                      "top_k %d top_p %g row %d (tie split at %g): kept %d, upstream %d, outside the tie %s",
                      c->top_k, c->top_p, r, lowest_listed, n_ours, c->n_kept[r],
                      same_outside_tie ? "same" : "different");
            } else {
                exact++;
                CHECK(n_ours == c->n_kept[r] && same_everywhere,
                      "top_k %d top_p %g row %d: kept %d entries, upstream kept %d (sets %s)", c->top_k,
                      c->top_p, r, n_ours, c->n_kept[r], same_everywhere ? "same" : "different");
            }
        }
    }
    CHECK(exact > 0 && tied > 0, "fixture exercised %d exact and %d tie-split rows", exact, tied);
    free(row);
    free(listed);
}

/* ---- masking details the fixture does not pin down ---- */

/* torch's CPU cumsum of float32 accumulates in double and stores float32; a float32 running sum drifts. Row:
 * 2048 equal small entries and one big one, top-p 0.5 (threshold exactly 0.5f). The double running sum of
 * k copies of one float is exact, so upstream removes the k small entries with float32(k * p) <= 0.5f. The
 * row's big logit is chosen so that a float32 running sum would cut somewhere else. */
static void test_cumsum_in_double(void)
{
    enum { SMALL = 2048 };
    vs_sampler *s = vs_new(SMALL + 1);
    float *row = malloc((SMALL + 1) * sizeof *row);
    int found = 0, want_removed = 0;
    float big = 0;
    for (int step = 0; step < 2000 && !found; step++) {
        big = logf((float)SMALL) - 1.0f + 1e-4f * (float)step; /* small entries hold about 0.73 */
        const float e = expf(0.0f - big);
        const double sum = (double)e * SMALL + 1.0;
        const float p = e * (1.0f / (float)sum);
        int by_double = 0, by_float = 0;
        while (by_double < SMALL && (float)((double)p * (by_double + 1)) <= 0.5f) by_double++;
        float running = 0;
        for (; by_float < SMALL; by_float++) {
            running += p;
            if (!(running <= 0.5f)) break;
        }
        if (by_double != by_float) {
            found = 1;
            want_removed = by_double;
        }
    }
    CHECK(found, "construction: no big logit separates double from float32 cumsum");
    if (found) {
        for (int i = 0; i < SMALL; i++) row[i] = 0.0f;
        row[SMALL] = big;
        const int kept = vs_mask(s, row, 0, 0.5f);
        CHECK(kept == SMALL + 1 - want_removed, "cumsum in double: kept %d, upstream keeps %d", kept,
              SMALL + 1 - want_removed);
    }
    free(row);
    vs_free(s);
}

static void test_mask_rules(void)
{
    vs_sampler *s = vs_new(5);
    /* Ties at the k-th value survive: k = 2 keeps the 5 and all three 4s. */
    float row[5] = {4, 5, 3, 4, 4};
    CHECK(vs_mask(s, row, 2, 0) == 4 && row[2] == -INFINITY && row[0] == 4 && row[1] == 5,
          "top-k 2 over {4,5,3,4,4} should keep 4 entries and drop only the 3");
    float row2[5] = {4, 5, 3, 4, 4};
    CHECK(vs_mask(s, row2, 1, 0) == 1 && row2[1] == 5, "top-k 1 should keep only the unique maximum");

    /* A top-p cut inside a tie keeps the lowest ids (so top-p agrees with argmax on ties). Four equal
     * entries (p = 0.25 each) with p = 0.5: cumsum 0.25, 0.5 <= 0.5 removed, 0.75 kept. */
    float tie[5] = {1, 1, -INFINITY, 1, 1};
    CHECK(vs_mask(s, tie, 0, 0.5f) == 2 && tie[0] == 1 && tie[1] == 1 && tie[3] == -INFINITY &&
              tie[4] == -INFINITY,
          "top-p 0.5 over four equal entries should keep ids 0 and 1, got %g %g %g %g", tie[0], tie[1],
          tie[3], tie[4]);
    vs_free(s);

    /* The threshold is float32(1 - 0.96) with 0.96 the decimal, not float32(1 - (double)0.96f), which
     * is six ulps higher. A smaller entry whose probability falls between the two must stay. */
    vs_sampler *s2 = vs_new(2);
    const float low = 0.04f, high = (float)(1.0 - (double)0.96f);
    const float q = low + (high - low) * 0.5f;
    float pair[2] = {0.0f, logf((1.0f - q) / q)};
    const float e = expf(pair[0] - pair[1]);
    const float p_small = e * (1.0f / (e + 1.0f));
    CHECK(p_small > low && p_small <= high, "construction: small probability %.10g not in (%.10g, %.10g]",
          p_small, low, high);
    CHECK(vs_mask(s2, pair, 0, 0.96f) == 2 && pair[0] == 0.0f,
          "top-p 0.96 must compare against float32(1 - 0.96): entry with probability %.10g was removed",
          p_small);
    vs_free(s2);

    /* The largest entry is kept even when rounding puts its cumsum at the threshold: with p = 1e-9 the
     * threshold float32(1 - 1e-9) is 1.0, and the total reaches 1.0 too. */
    vs_sampler *s3 = vs_new(5);
    float one[5] = {0.5f, 2, -1, 1, 0};
    const int kept_one = vs_mask(s3, one, 0, 1e-9f);
    CHECK(kept_one == 1 && one[1] == 2, "top-p 1e-9 must keep exactly the largest entry, kept %d", kept_one);
    vs_free(s3);

    test_cumsum_in_double();
}

/* ---- random numbers ---- */

static void test_uniform(void)
{
    /* Random123 kat_vectors, philox4x32 10: counter, key -> first two output words. */
    static const struct {
        uint32_t ctr[4], key[2], out[2];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du}},
        {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
         {0x408f276du, 0x41c83b0eu}},
        {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
         {0xd16cfe09u, 0x94fdccebu}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t ctr[4];
        memcpy(ctr, kat[i].ctr, sizeof ctr);
        vs_philox(ctr, kat[i].key[0], kat[i].key[1]);
        CHECK(ctr[0] == kat[i].out[0] && ctr[1] == kat[i].out[1], "Philox known answer %zu: got %08x %08x", i,
              ctr[0], ctr[1]);
        const uint64_t seed = kat[i].key[0] | (uint64_t)kat[i].key[1] << 32;
        const float want = ((float)(kat[i].out[0] >> 9) + 0.5f) * 0x1p-23f;
        const float got = vs_uniform(seed, kat[i].ctr[0], kat[i].ctr[1], kat[i].ctr[2], kat[i].ctr[3]);
        CHECK(got == want, "uniform of known answer %zu: got %.9g want %.9g", i, got, want);
    }

    const int n = 100000;
    double sum = 0, sum_sq = 0;
    int in_range = 1, bins[10] = {0};
    for (int i = 0; i < n; i++) {
        const double u = vs_uniform(12345, 0, (uint32_t)(i % 10), (uint32_t)(i / 10), (uint32_t)i * 7u);
        if (!(u > 0 && u < 1)) in_range = 0;
        else bins[(int)(u * 10)]++;
        sum += u;
        sum_sq += u * u;
    }
    const double mean = sum / n, var = sum_sq / n - mean * mean;
    CHECK(in_range, "vs_uniform left the open interval (0,1)");
    CHECK(fabs(mean - 0.5) < 0.01, "mean of %d uniforms is %g", n, mean);
    CHECK(fabs(var - 1.0 / 12) < 0.005, "variance of %d uniforms is %g (want 1/12)", n, var);
    int bins_ok = 1;
    for (int b = 0; b < 10; b++) bins_ok &= abs(bins[b] - n / 10) < n / 100;
    CHECK(bins_ok, "uniform deciles uneven: %d %d %d %d %d %d %d %d %d %d", bins[0], bins[1], bins[2], bins[3],
          bins[4], bins[5], bins[6], bins[7], bins[8], bins[9]);

    const double base = vs_uniform(7, 1, 2, 3, 4);
    CHECK(base == vs_uniform(7, 1, 2, 3, 4), "vs_uniform is not a function of its key");
    CHECK(base != vs_uniform(8, 1, 2, 3, 4) && base != vs_uniform(7 | 1ull << 40, 1, 2, 3, 4) &&
              base != vs_uniform(7, 0, 2, 3, 4) && base != vs_uniform(7, 1, 3, 3, 4) &&
              base != vs_uniform(7, 1, 2, 4, 4) && base != vs_uniform(7, 1, 2, 3, 5),
          "changing any part of the key (seed low/high, image, scale, token, index) must change the number");
}

/* ---- the arithmetic shared with the device (cl/sample_math.cl) ---- */

static void test_shared_math(void)
{
    /* 1/s correctly rounded: every float in [1, 2) (each binade behaves alike), then other values up to 2^23 */
    int recip_bad = 0;
    for (uint32_t m = 0; m < (1u << 23); m++) {
        float s;
        const uint32_t bits = 0x3F800000u | m;
        memcpy(&s, &bits, sizeof s);
        if (vs_recipf(s) != 1.0f / s) recip_bad++;
    }
    for (float s = 2; s <= 0x1p23f; s *= 1.37f)
        if (vs_recipf(s) != 1.0f / s || vs_recipf(floorf(s)) != 1.0f / floorf(s)) recip_bad++;
    CHECK(recip_bad == 0, "vs_recipf differs from 1/s (correctly rounded) for %d inputs", recip_bad);

    /* e^x on (-86, 0] and log on normal floats: relative error below 2.5e-7 against double libm */
    double exp_err = 0, log_err = 0;
    for (int i = 0; i <= 1000000; i++) {
        const float x = -86.0f * (float)i / 1000000.0f;
        const double want = exp((double)x), err = fabs(vs_expf(x) - want) / want;
        if (err > exp_err) exp_err = err;
    }
    for (int i = 0; i <= 1000000; i++) {
        const float x = ldexpf(1.0f + (float)i / 1000000.0f, i % 120 - 60);
        const double want = log((double)x);
        const double err = fabs(vs_logf(x) - want) / (fabs(want) > 1e-3 ? fabs(want) : 1e-3);
        if (err > log_err) log_err = err;
    }
    CHECK(exp_err < 2.5e-7, "vs_expf relative error %.3g", exp_err);
    CHECK(log_err < 2.5e-7, "vs_logf relative error %.3g", log_err);
    CHECK(vs_expf(0) == 1.0f && vs_expf(-87.0f) == 0.0f && vs_expf(-INFINITY) == 0.0f,
          "vs_expf(0) must be exactly 1 (the top-p sum's floor) and 0 below -86");
    CHECK(vs_logf(1.0f) == 0.0f, "vs_logf(1) must be 0");
    /* the draw's extremes stay finite: E = -log(u) for u in [2^-24, 1 - 2^-24] */
    const float e_small = -vs_logf(1.0f - 0x1p-24f), e_large = -vs_logf(0x1p-24f);
    CHECK(e_small > 0 && isfinite(vs_logf(e_small)) && isfinite(vs_logf(e_large)), "log(E) not finite at the ends");
}

/* ---- drawing ---- */

static void test_reproducible(vs_sampler *s, int vocab)
{
    float *flat = malloc((size_t)vocab * sizeof *flat), *row = malloc((size_t)vocab * sizeof *row);
    for (int i = 0; i < vocab; i++) flat[i] = 0.01f * (float)(i % 3);
    const int tokens = 1000;
    int same_key = 0, same_seed_other = 0, same_image_other = 0, in_range = 1;
    char *distinct = calloc((size_t)vocab, 1);
    for (int t = 0; t < tokens; t++) {
        int ids[4];
        const struct {
            uint64_t seed;
            uint32_t image;
        } keys[4] = {{42, 0}, {42, 0}, {43, 0}, {42, 1}};
        for (int k = 0; k < 4; k++) {
            memcpy(row, flat, (size_t)vocab * sizeof *row);
            ids[k] = vs_sample(s, row, 0, 0, keys[k].seed, keys[k].image, 3, (uint32_t)t);
            if (ids[k] < 0 || ids[k] >= vocab) in_range = 0;
        }
        same_key += ids[0] == ids[1];
        same_seed_other += ids[0] == ids[2];
        same_image_other += ids[0] == ids[3];
        if (in_range) distinct[ids[0]] = 1;
    }
    int n_distinct = 0;
    for (int i = 0; i < vocab; i++) n_distinct += distinct[i];
    CHECK(in_range, "vs_sample returned an id outside [0, %d)", vocab);
    CHECK(same_key == tokens, "same key gave the same token only %d of %d times", same_key, tokens);
    /* Near-flat row over `vocab` ids: two independent draws agree about 1/vocab of the time. */
    CHECK(same_seed_other < tokens / 10, "seeds 42 and 43 agreed on %d of %d tokens", same_seed_other, tokens);
    CHECK(same_image_other < tokens / 10, "images 0 and 1 agreed on %d of %d tokens", same_image_other, tokens);
    CHECK(n_distinct > vocab / 2, "1000 draws over a flat row of %d hit only %d ids", vocab, n_distinct);
    free(flat);
    free(row);
    free(distinct);
}

static void test_argmax(void)
{
    vs_sampler *s = vs_new(6);
    int always_lowest = 1;
    for (uint32_t t = 0; t < 200; t++) {
        float row[6] = {1, 3, 2, 3, 0, 3};
        const float top_p = (t % 2) ? 0.3f : 0.0f;
        if (vs_sample(s, row, 1, top_p, 1000 + t, t, t, t) != 1) always_lowest = 0;
    }
    CHECK(always_lowest, "top-k 1 on a three-way tie at the maximum must always give the lowest id (1)");
    float late[6] = {-5, 0, 1, 2, 3, 9};
    CHECK(vs_sample(s, late, 1, 0, 5, 0, 0, 0) == 5, "top-k 1 must give the argmax (id 5)");
    vs_free(s);
}

static void test_topk_beyond_vocab(vs_sampler *s, const float *orig, int vocab)
{
    float *a = malloc((size_t)vocab * sizeof *a), *b = malloc((size_t)vocab * sizeof *b);
    const float ps[3] = {0, 0.5f, 0.9f};
    int masks_equal = 1, draws_equal = 1;
    for (int pi = 0; pi < 3; pi++) {
        const int ks[2] = {vocab, vocab + 1000};
        for (int ki = 0; ki < 2; ki++) {
            memcpy(a, orig, (size_t)vocab * sizeof *a);
            memcpy(b, orig, (size_t)vocab * sizeof *b);
            if (vs_mask(s, a, ks[ki], ps[pi]) != vs_mask(s, b, 0, ps[pi]) ||
                memcmp(a, b, (size_t)vocab * sizeof *a) != 0)
                masks_equal = 0;
            for (uint32_t t = 0; t < 100; t++) {
                memcpy(a, orig, (size_t)vocab * sizeof *a);
                memcpy(b, orig, (size_t)vocab * sizeof *b);
                if (vs_sample(s, a, ks[ki], ps[pi], 9, 0, 1, t) != vs_sample(s, b, 0, ps[pi], 9, 0, 1, t))
                    draws_equal = 0;
            }
        }
    }
    CHECK(masks_equal, "top-k >= vocabulary must mask exactly as no top-k");
    CHECK(draws_equal, "top-k >= vocabulary must draw exactly as no top-k");
    free(a);
    free(b);
}

/* Pearson chi-square of counts against probabilities. */
static double chi_square(const int *counts, const double *probs, int n, int total)
{
    double chi = 0;
    for (int i = 0; i < n; i++) {
        if (probs[i] == 0) {
            if (counts[i]) return INFINITY;
            continue;
        }
        const double expected = probs[i] * total;
        chi += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    return chi;
}

static void test_frequencies(void)
{
    vs_sampler *s = vs_new(4);
    const double p[4] = {0.1, 0.2, 0.3, 0.4};
    const int draws = 20000;
    int counts[4] = {0}, bad = 0;
    for (int t = 0; t < draws; t++) {
        float row[4];
        for (int i = 0; i < 4; i++) row[i] = (float)log(p[i]) + 2.5f; /* a shift must not matter */
        const int id = vs_sample(s, row, 0, 0, 2024, 0, 5, (uint32_t)t);
        if (id < 0 || id > 3) bad++;
        else counts[id]++;
    }
    /* 3 degrees of freedom: P(chi2 > 25) is about 1.6e-5, while a wrong draw (uniform ids, argmax of p,
     * p * E instead of p / E) lands in the hundreds or thousands. */
    double chi = chi_square(counts, p, 4, draws);
    CHECK(!bad && chi < 25, "softmax {.1,.2,.3,.4}: counts %d %d %d %d, chi-square %.1f", counts[0], counts[1],
          counts[2], counts[3], chi);

    /* top-p 0.5 keeps {0.3, 0.4} (cumsum 0.1, 0.3 <= 0.5), renormalised to 3/7, 4/7. */
    const double pp[4] = {0, 0, 3.0 / 7, 4.0 / 7};
    int counts_p[4] = {0};
    bad = 0;
    for (int t = 0; t < draws; t++) {
        float row[4];
        for (int i = 0; i < 4; i++) row[i] = (float)log(p[i]);
        const int id = vs_sample(s, row, 0, 0.5f, 77, 3, 9, (uint32_t)t);
        if (id < 0 || id > 3) bad++;
        else counts_p[id]++;
    }
    chi = chi_square(counts_p, pp, 4, draws);
    CHECK(!bad && chi < 25, "top-p 0.5 over {.1,.2,.3,.4}: counts %d %d %d %d, chi-square %.1f", counts_p[0],
          counts_p[1], counts_p[2], counts_p[3], chi);

    /* top-k 2 keeps the same two entries. */
    int counts_k[4] = {0};
    bad = 0;
    for (int t = 0; t < draws; t++) {
        float row[4];
        for (int i = 0; i < 4; i++) row[i] = (float)log(p[i]);
        const int id = vs_sample(s, row, 2, 0, 78, 0, 0, (uint32_t)t);
        if (id < 0 || id > 3) bad++;
        else counts_k[id]++;
    }
    chi = chi_square(counts_k, pp, 4, draws);
    CHECK(!bad && chi < 25, "top-k 2 over {.1,.2,.3,.4}: counts %d %d %d %d, chi-square %.1f", counts_k[0], counts_k[1],
          counts_k[2], counts_k[3], chi);
    vs_free(s);
}

static void test_nan(void)
{
    vs_sampler *s = vs_new(6);
    float all_nan[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    CHECK(vs_mask(s, all_nan, 0, 0.9f) == 0 && all_nan[3] == -INFINITY,
          "an all-NaN row should mask to all -inf and keep nothing");
    float all_nan2[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    CHECK(vs_sample(s, all_nan2, 0, 0, 1, 0, 0, 0) == 0, "an all-NaN row should give id 0");
    float mixed_dead[6] = {-INFINITY, NAN, -INFINITY, NAN, NAN, -INFINITY};
    CHECK(vs_sample(s, mixed_dead, 3, 0.5f, 1, 0, 0, 0) == 0, "a NaN / -inf row should give id 0");

    int never_nan = 1;
    for (uint32_t t = 0; t < 500; t++) {
        float row[6] = {NAN, 1, NAN, 1.5f, 0.5f, NAN};
        const int id = vs_sample(s, row, (int)(t % 4), (t % 3) ? 0.9f : 0.0f, 3, 1, 4, t);
        if (id != 1 && id != 3 && id != 4) never_nan = 0;
    }
    CHECK(never_nan, "a partly NaN row must only give its finite ids (1, 3, 4)");
    float argmax_row[6] = {NAN, 1, NAN, 2, NAN, -1};
    CHECK(vs_sample(s, argmax_row, 1, 0, 3, 0, 0, 0) == 3, "top-k 1 must skip NaN and give id 3");
    /* NaN must not take a top-k slot: k = 2 over the finite {1, 2, -1} keeps 1 and 2. */
    float k_row[6] = {NAN, 1, NAN, 2, NAN, -1};
    CHECK(vs_mask(s, k_row, 2, 0) == 2 && k_row[1] == 1 && k_row[3] == 2 && k_row[5] == -INFINITY,
          "NaN entries must not count toward top-k");

    int inf_ok = 1, inf_counts[2] = {0};
    for (uint32_t t = 0; t < 200; t++) {
        float row[6] = {1, INFINITY, 2, INFINITY, NAN, 0};
        const int id = vs_sample(s, row, 0, (t % 2) ? 0.96f : 0.0f, 11, 0, 0, t);
        if (id != 1 && id != 3) inf_ok = 0;
        else inf_counts[id == 3]++;
    }
    CHECK(inf_ok, "+inf entries must win every draw");
    /* Two +inf entries are equally likely; 200 fair draws all landing on one side has probability 2^-199. */
    CHECK(inf_counts[0] > 50 && inf_counts[1] > 50, "two +inf entries drawn %d and %d times of 200",
          inf_counts[0], inf_counts[1]);
    float inf_argmax[6] = {1, INFINITY, 2, INFINITY, NAN, 0};
    CHECK(vs_sample(s, inf_argmax, 1, 0, 11, 0, 0, 0) == 1, "top-k 1 with two +inf must give the lower id");
    vs_free(s);
}

static void test_cfg(void)
{
    float cond[5] = {2, -1, 0.25f, 1e30f, -3}, uncond[5] = {1, 4, 0.25f, -1e30f, 7}, out[5];
    vs_cfg_combine(cond, uncond, 1.0f, 0.0f, 5, out);
    CHECK(!memcmp(out, cond, sizeof out), "t = 0 must give the conditional logits exactly");
    vs_cfg_combine(cond, uncond, 2.5f, 1.5f, 5, out);
    CHECK(out[0] == 3.5f && out[1] == -8.5f && out[2] == 0.25f && out[3] == 4e30f && out[4] == -18.0f,
          "t = 1.5: got %g %g %g %g %g, want 3.5 -8.5 0.25 4e30 -18", out[0], out[1], out[2], out[3], out[4]);

    float c2[300], u2[300], o2[300];
    double worst = 0;
    for (int i = 0; i < 300; i++) {
        c2[i] = sinf((float)i) * 10;
        u2[i] = cosf((float)i * 0.7f) * 10;
    }
    const float t = 1.0f / 6; /* cfg 1.5 at scale 1 of 9 */
    vs_cfg_combine(c2, u2, 1.0f + t, t, 300, o2);
    for (int i = 0; i < 300; i++) {
        const double want = (1.0 + t) * c2[i] - (double)t * u2[i];
        const double err = fabs(o2[i] - want) / fmax(fabs(want), 1.0);
        if (err > worst) worst = err;
    }
    CHECK(worst < 1e-5, "CFG combine at t = 1/6: worst relative error %g", worst);
    memcpy(o2, c2, sizeof o2);
    vs_cfg_combine(o2, u2, 1.0f + t, t, 300, o2);
    float fresh[300];
    vs_cfg_combine(c2, u2, 1.0f + t, t, 300, fresh);
    CHECK(!memcmp(o2, fresh, sizeof fresh), "CFG combine in place (out == cond) must equal the out-of-place result");
}

/* vs_team_sample: the same ids as vs_cfg_combine + vs_sample row by row, for 1, 3 and 16 threads (more threads than
 * the 16-rows-per-thread rule allows, and rows not a multiple of the thread count), across image and token keys. */
static void test_team(void)
{
    enum { V = 300, T = 13, IMAGES = 5, ROWS = T * IMAGES };
    static float cond[ROWS][V], uncond[ROWS][V], row[V];
    int want[ROWS], got[ROWS];
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < V; i++) {
            cond[r][i] = sinf((float)(r * V + i) * 0.37f) * 4;
            uncond[r][i] = cosf((float)(r * 7 + i) * 0.11f) * 4;
        }
    vs_rows rows = {&cond[0][0], &uncond[0][0], ROWS, T, 1.75f, 0.75f, 50, 0.9f, 1234567890123ull, 40, 3, NULL};
    vs_sampler *s = vs_new(V);
    for (int r = 0; r < ROWS && s; r++) {
        vs_cfg_combine(cond[r], uncond[r], rows.cfg_a, rows.cfg_u, V, row);
        want[r] = vs_sample(s, row, rows.top_k, rows.top_p, rows.seed, rows.image0 + (uint32_t)(r / T), rows.scale,
                            (uint32_t)(r % T));
    }
    vs_free(s);
    int distinct = 0; /* the keys must matter: not one id for every row */
    for (int r = 1; r < ROWS; r++) distinct += want[r] != want[0];
    CHECK(distinct > 0, "team test rows all drew id %d", want[0]);
    const int threads[] = {1, 3, 16};
    for (int k = 0; k < 3; k++) {
        vs_team *t = vs_team_new(V, threads[k]);
        CHECK(t != NULL && vs_team_threads(t) == threads[k], "vs_team_new(%d): %s", threads[k], varcl_last_error());
        if (!t) continue;
        memset(got, -1, sizeof got);
        vs_team_sample(t, &rows, got);
        int bad = 0;
        for (int r = 0; r < ROWS; r++) bad += got[r] != want[r];
        CHECK(bad == 0, "%d threads: %d of %d rows drew another id than vs_sample", threads[k], bad, ROWS);
        vs_team_free(t);
    }
}

int main(void)
{
    varcl_clear_error();
    CHECK(vs_new(0) == NULL && varcl_last_status() == VARCL_E_INPUT && varcl_last_error()[0],
          "vs_new(0) must fail with an input error");
    vs_free(NULL);

    int rows = 0, vocab = 0, json_vocab = 0, json_rows = 0;
    float *logits = read_npy_2d(check_data("sampler/logits.npy"), &rows, &vocab);
    CHECK(logits != NULL, "cannot read %s", check_data("sampler/logits.npy"));
    static kept_case cases[64]; /* zeroed, so every kept[] pointer can be freed whatever the reader did */
    const int n_cases = read_kept_json(check_data("sampler/kept.json"), &json_vocab, &json_rows, cases, 64);
    CHECK(n_cases == 36, "kept.json: read %d cases, want 36 (6 top-k x 6 top-p)", n_cases);
    if (!logits || n_cases <= 0 || json_vocab != vocab || json_rows != rows) {
        CHECK(0, "fixture shapes disagree: npy %dx%d, json %dx%d", rows, vocab, json_rows, json_vocab);
        free_cases(cases, 64);
        free(logits);
        return check_done();
    }

    vs_sampler *s = vs_new(vocab);
    CHECK(s != NULL, "vs_new(%d) failed: %s", vocab, varcl_last_error());
    if (!s) {
        free_cases(cases, 64);
        free(logits);
        return check_done();
    }
    test_fixture(s, logits, rows, vocab, cases, n_cases);
    test_mask_rules();
    test_uniform();
    test_shared_math();
    test_reproducible(s, vocab);
    test_argmax();
    test_topk_beyond_vocab(s, logits, vocab);
    test_frequencies();
    test_nan();
    test_cfg();
    test_team();

    vs_free(s);
    free_cases(cases, 64);
    free(logits);
    return check_done();
}
