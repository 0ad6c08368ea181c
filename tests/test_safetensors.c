/* test_safetensors: the safetensors reader on malformed files (each must give NULL, an input error, and a message
 * naming the file and, where one is involved, the tensor), on a valid file of every dtype, the F32 writer round
 * trip, the real upstream-tiny fixture, and the scalar f16 conversions. Files live in a fresh mkdtemp directory
 * that is removed at the end. */
#include "check.h"
#include "error.h"
#include "safetensors.h"
#include "tensors.h"

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* Writes raw bytes to tmpdir/name; returns the path (static buffer). */
static const char *write_raw(const char *name, const void *bytes, size_t n)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (!f) return path; /* the load then fails and the checks report it */
    if (n) fwrite(bytes, 1, n, f);
    fclose(f);
    return path;
}

/* Writes a safetensors file: u64 header length (hlen_override when nonzero, else strlen(header)), the header,
 * then data_len bytes of data (a counting pattern when data is NULL). */
static const char *write_st(const char *name, const char *header, uint64_t hlen_override, const void *data,
                            size_t data_len)
{
    size_t hl = strlen(header);
    uint64_t hlen = hlen_override ? hlen_override : hl;
    size_t n = 8 + hl + data_len;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return tmp_path(name);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = data ? ((const uint8_t *)data)[i] : (uint8_t)i;
    const char *path = write_raw(name, buf, n);
    free(buf);
    return path;
}

/* Loads path expecting failure: NULL, VARCL_E_INPUT, and a message holding the path and each of the needles. */
static void expect_bad(const char *what, const char *path, const char *needle1, const char *needle2)
{
    varcl_clear_error();
    vt_set *s = st_load(path);
    const char *msg = varcl_last_error();
    CHECK(s == NULL, "%s: st_load must fail", what);
    CHECK(varcl_last_status() == VARCL_E_INPUT, "%s: status %d, want VARCL_E_INPUT (%s)", what, varcl_last_status(),
          msg);
    CHECK(strstr(msg, path) != NULL, "%s: message must name the file %s: '%s'", what, path, msg);
    if (needle1) CHECK(strstr(msg, needle1) != NULL, "%s: message must contain '%s': '%s'", what, needle1, msg);
    if (needle2) CHECK(strstr(msg, needle2) != NULL, "%s: message must contain '%s': '%s'", what, needle2, msg);
    CHECK(strchr(msg, '\n') == NULL, "%s: message must be one line: '%s'", what, msg);
    vt_free(s);
}

#define T_F32_2x2 "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}"

static void test_bad_files(void)
{
    const char *p;
    /* missing, empty, too short, a directory */
    expect_bad("missing file", tmp_path("no-such-file.safetensors"), "cannot open", NULL);
    expect_bad("empty file", write_raw("empty.safetensors", "", 0), NULL, NULL);
    expect_bad("5-byte file", write_raw("short.safetensors", "\x10\0\0\0\0", 5), NULL, NULL);
    p = tmp_path("a-dir.safetensors");
    CHECK(mkdir(p, 0700) == 0, "mkdir %s", p);
    expect_bad("directory", tmp_path("a-dir.safetensors"), NULL, NULL);

    /* valid header, data block cut short */
    expect_bad("truncated data", write_st("trunc.safetensors", "{" T_F32_2x2 "}", 0, NULL, 10), "'w'", NULL);
    /* two tensors, the second one cut */
    expect_bad("truncated second tensor",
               write_st("trunc2.safetensors",
                        "{" T_F32_2x2 ",\"second\":{\"dtype\":\"F16\",\"shape\":[8],\"data_offsets\":[16,32]}}", 0,
                        NULL, 20),
               "'second'", NULL);
    /* header length past the end of the file, modest and huge */
    expect_bad("header length past end", write_st("hlen.safetensors", "{" T_F32_2x2 "}", 1000, NULL, 16),
               "header length", NULL);
    expect_bad("header length 2^63", write_st("hlen2.safetensors", "{}", UINT64_C(1) << 63, NULL, 0),
               "header length", NULL);
    /* the formats passed by mistake are named for what they are */
    static const char zip[] = "PK\3\4\24\0\0\0\10\0archive/data.pkl";
    expect_bad("a .pth (zip)", write_raw("var_d16.pth", zip, sizeof zip - 1), "PyTorch", "models/convert.py");
    static const char pickle[] = "\x80\x02\x8a\x0alZ\xed\xf6|\x04\0\0";
    expect_bad("a legacy .pth (pickle)", write_raw("old.pth", pickle, sizeof pickle - 1), "pickle", "convert.py");
    static const char index[] = "{\n  \"metadata\": {\"total_size\": 5}, \"weight_map\": {}}\n";
    expect_bad("a sharded checkpoint's index", write_raw("model.safetensors.index.json", index, sizeof index - 1),
               "JSON", "one safetensors file per model");
    static const char lfs[] = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1240000000\n";
    expect_bad("a Git LFS pointer", write_raw("lfs.safetensors", lfs, sizeof lfs - 1), "Git LFS pointer", "git lfs pull");
    static const char html[] = "<!DOCTYPE html><html><body>404</body></html>";
    expect_bad("an HTML page", write_raw("html.safetensors", html, sizeof html - 1), "HTML", NULL);
    static const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'x', 'y', 'z'}; /* gzip -n: mtime 0 */
    static uint8_t gzbig[600000];
    memcpy(gzbig, gz, sizeof gz); /* long enough for its first bytes, read as a header length, to fit */
    expect_bad("gzip-compressed", write_raw("var.safetensors.gz", gzbig, sizeof gzbig), "gzip", "gunzip");
    expect_bad("header length 2^64-1", write_st("hlen3.safetensors", "{}", UINT64_MAX, NULL, 0), "header length",
               NULL);
    /* header length short of the JSON: the JSON is cut */
    expect_bad("header length cuts the JSON", write_st("hlen4.safetensors", "{" T_F32_2x2 "}", 20, NULL, 16), "JSON",
               NULL);

    /* data_offsets with the begin past the end: said so, not "out of range" */
    expect_bad("reversed data_offsets",
               write_st("rev.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 0,
                        NULL, 16),
               "the begin is past the end", NULL);

    /* invalid JSON */
    expect_bad("unterminated string", write_st("j1.safetensors", "{\"w", 0, NULL, 0), "JSON", NULL);
    /* said in the file's terms, not jansson's flag name */
    expect_bad("a NUL in a name",
               write_st("j0.safetensors", "{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
                        0, NULL, 16),
               "a NUL character (\\u0000) in a string", NULL);
    expect_bad("unterminated string in entry",
               write_st("j1b.safetensors", "{\"w\":{\"dtype\":\"F32", 0, NULL, 0), "JSON", NULL);
    expect_bad("missing colon",
               write_st("j2.safetensors", "{\"w\" {\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0,
                        NULL, 16),
               "JSON", NULL);
    expect_bad("missing colon in entry",
               write_st("j2b.safetensors", "{\"w\":{\"dtype\" \"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0,
                        NULL, 16),
               "JSON", NULL);
    expect_bad("garbage header", write_st("j3.safetensors", "hello, world", 0, NULL, 0), "JSON", NULL);
    expect_bad("binary garbage header", write_st("j3b.safetensors", "\x01\x02\xff\xfe", 0, NULL, 0), "JSON", NULL);
    expect_bad("empty header", write_st("j4.safetensors", "", 0, NULL, 0), "JSON", NULL);
    expect_bad("array at top level", write_st("j5.safetensors", "[]", 0, NULL, 0), "JSON", NULL);
    expect_bad("missing closing brace", write_st("j6.safetensors", "{" T_F32_2x2, 0, NULL, 16), "JSON", NULL);
    expect_bad("trailing comma", write_st("j7.safetensors", "{" T_F32_2x2 ",}", 0, NULL, 16), "JSON", NULL);
    expect_bad("trailing bytes", write_st("j8.safetensors", "{" T_F32_2x2 "} x", 0, NULL, 16), "JSON", NULL);
    expect_bad("entry is a number", write_st("j9.safetensors", "{\"w\":5}", 0, NULL, 0), "JSON", NULL);
    expect_bad("negative shape",
               write_st("j10.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 0,
                        NULL, 4),
               NULL, NULL);
    expect_bad("string in shape",
               write_st("j11.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 0,
                        NULL, 8),
               NULL, NULL);
    expect_bad("unterminated metadata",
               write_st("j12.safetensors", "{\"__metadata__\":{\"format\":\"pt\"," T_F32_2x2 "}", 0, NULL, 16),
               "JSON", NULL);
    expect_bad("three data_offsets",
               write_st("j13.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 0,
                        NULL, 8),
               "'w'", NULL);
    expect_bad("missing data_offsets",
               write_st("j14.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, NULL, 8), "'w'", NULL);
    expect_bad("missing dtype",
               write_st("j15.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 0, NULL, 8), "'w'", NULL);
    /* more dimensions than a set keeps: read with the leading ones merged (an unused optimiser tensor of nine
     * dimensions made the whole checkpoint unreadable); past the format's 64, refused */
    char dims[400] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1";
    for (int i = 1; i < 65; i++) strcat(dims, ",1");
    strcat(dims, "],\"data_offsets\":[0,4]}}");
    expect_bad("__metadata__ twice",
               write_st("j16m.safetensors",
                        "{\"__metadata__\":{\"format\":\"pt\"}," T_F32_2x2 ",\"__metadata__\":[1,2]}", 0, NULL, 16),
               "__metadata__ appears twice", NULL);
    expect_bad("65 dimensions", write_st("j16.safetensors", dims, 0, NULL, 4), "'w'", "65 dimensions");
    vt_set *ten = st_load(write_st("j16b.safetensors",
                                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3,1,1,1,1,1,1,1,4],\"data_offsets\":[0,96]}}",
                                   0, NULL, 96));
    const vt_tensor *tw = ten ? vt_find(ten, "w") : NULL;
    CHECK(tw && tw->ndim == VT_MAX_DIMS && tw->shape[0] == 6 && tw->shape[1] == 1 && tw->shape[7] == 4 &&
              tw->numel == 24,
          "ten dimensions: read as eight, the leading three merged: %s", ten ? "wrong shape" : varcl_last_error());
    vt_free(ten);
    expect_bad("number too large",
               write_st("j17.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,4]}}", 0,
                        NULL, 4),
               NULL, NULL);
    expect_bad("shape product overflows",
               write_st("j18.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 0,
                        NULL, 4),
               "'w'", NULL);

    /* dtypes that are not the format's (names are case-sensitive, as in the reference reader) */
    expect_bad("dtype F128",
               write_st("d1.safetensors", "{\"w128\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 0,
                        NULL, 16),
               "'w128'", "F128");
    expect_bad("dtype f32 (lower case)",
               write_st("d2.safetensors", "{\"lc\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0,
                        NULL, 4),
               "'lc'", "f32");
    expect_bad("dtype not a string",
               write_st("d3.safetensors", "{\"n\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 0, NULL, 4),
               "'n'", NULL);
    expect_bad("F4 with an odd element count (half a byte)",
               write_st("d4.safetensors", "{\"nib\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 0,
                        NULL, 1),
               "'nib'", NULL);
    /* the header bound of the format's reference reader: 100,000,000 bytes (a sparse file) */
    {
        const char *big = write_st("hbig.safetensors", "{}", 100000001, NULL, 0);
        if (truncate(big, 8 + 100000001) == 0) expect_bad("header over 100 MB", big, "100000000", NULL);
        else CHECK(0, "truncate %s", big);
        unlink(big);
    }

    /* offsets out of range, reversed, overlapping; sizes that do not match the shape */
    expect_bad("offsets past the data block",
               write_st("o1.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[1000,1016]}}", 0,
                        NULL, 16),
               "'w'", "data_offsets");
    expect_bad("end offset past the data block",
               write_st("o2.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[0,32]}}", 0,
                        NULL, 16),
               "'w'", NULL);
    expect_bad("begin after end",
               write_st("o3.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,8]}}", 0, NULL,
                        16),
               "'w'", NULL);
    expect_bad("overlapping offsets",
               write_st("o4.safetensors",
                        "{\"first\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        "\"second\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                        0, NULL, 24),
               "'first'", "'second'");
    expect_bad("overlapping offsets, listed in reverse",
               write_st("o5.safetensors",
                        "{\"late\":{\"dtype\":\"F16\",\"shape\":[8],\"data_offsets\":[8,24]},"
                        "\"early\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                        0, NULL, 24),
               "'late'", "'early'");
    expect_bad("same offsets twice",
               write_st("o6.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        "\"b\":{\"dtype\":\"BF16\",\"shape\":[8],\"data_offsets\":[0,16]}}",
                        0, NULL, 16),
               "overlapping", NULL);
    /* an empty tensor sorted between two overlapping ones must not hide the overlap */
    expect_bad("overlap around an empty tensor",
               write_st("o7.safetensors",
                        "{\"big\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]},"
                        "\"empty\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[20,20]},"
                        "\"inner\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[40,80]}}",
                        0, NULL, 100),
               "'big'", "'inner'");
    /* a short tensor inside a long one, with a third after both */
    expect_bad("tensor inside another",
               write_st("o8.safetensors",
                        "{\"outer\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]},"
                        "\"inside\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[60,68]},"
                        "\"after\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[100,108]}}",
                        0, NULL, 108),
               "'outer'", "'inside'");
    expect_bad("size mismatch (too few bytes)",
               write_st("s1.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 0,
                        NULL, 16),
               "'w'", NULL);
    expect_bad("size mismatch (too many bytes)",
               write_st("s2.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, NULL,
                        8),
               "'h'", NULL);
    expect_bad("size mismatch (I64 read as 4 bytes)",
               write_st("s3.safetensors", "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0,
                        NULL, 8),
               "'ids'", NULL);
    expect_bad("duplicate tensor name, the first one ends the header",
               write_st("dup2.safetensors",
                        "{\"twin\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"other\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                        "\"twin\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]}}",
                        0, NULL, 16),
               "'twin'", NULL);
    expect_bad("duplicate tensor name",
               write_st("dup.safetensors",
                        "{\"twin\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"twin\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        0, NULL, 16),
               "'twin'", NULL);

    /* the tensors must fill the data block exactly, as the format's own library requires (empty ones anywhere) */
    expect_bad("bytes after the last tensor",
               write_st("t1.safetensors", "{" T_F32_2x2 "}", 0, NULL, 20), "4 bytes after the last tensor", NULL);
    expect_bad("a gap between two tensors",
               write_st("t2.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                        0, NULL, 20),
               "bytes 8..11", "after 'a'");
    expect_bad("a gap before the first tensor",
               write_st("t3.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0,
                        NULL, 12),
               "bytes 0..3", "before 'w'");
    expect_bad("data but no tensor", write_st("t4.safetensors", "{}", 0, NULL, 3), "3 bytes after", NULL);
    expect_bad("header starting with a space", write_st("t5.safetensors", " {" T_F32_2x2 "}", 0, NULL, 16), "'{'",
               NULL);
    /* __metadata__ is an object of strings */
    expect_bad("__metadata__ a list",
               write_st("m1.safetensors", "{\"__metadata__\":[\"pt\"]," T_F32_2x2 "}", 0, NULL, 16),
               "__metadata__", "list");
    expect_bad("__metadata__ with a number",
               write_st("m2.safetensors", "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3}," T_F32_2x2 "}", 0,
                        NULL, 16),
               "__metadata__", "'epoch'");
}

static void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static void test_valid_file(void)
{
    /* F32 [2,2] at 0, F16 [3] at 16, BF16 [2] at 22, I64 [2] at 26 (unaligned on purpose), a scalar F32 at 42,
     * an empty F16 [0, 5] at 46, and __metadata__ in the middle; the header padded with spaces. */
    uint8_t data[46];
    float f32[4] = {1.0f, -2.0f, 3.5f, 0.25f};
    memcpy(data, f32, 16);
    put_u16(data + 16, 0x3c00); /* 1 */
    put_u16(data + 18, 0xc000); /* -2 */
    put_u16(data + 20, 0x3800); /* 0.5 */
    put_u16(data + 22, 0x3f80); /* bf16 1 */
    put_u16(data + 24, 0xc040); /* bf16 -3 */
    int64_t i64[2] = {7, -5};
    memcpy(data + 26, i64, 16);
    float scalar = -0.125f;
    uint8_t all[50];
    memcpy(all, data, 42);
    memcpy(all + 42, &scalar, 4);
    const char *hdr = "{\"f32\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\n"
                      " \"__metadata__\":{\"format\":\"pt\",\"note\":\"has \\\"quotes\\\" and {braces}\"},\n"
                      " \"f16\":{\"shape\":[3],\"dtype\":\"F16\",\"data_offsets\":[16,22]},\n"
                      " \"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[22,26],\"extra\":[1,{\"x\":null}]},\n"
                      " \"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[26,42]},\n"
                      " \"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[42,46]},\n"
                      " \"empty\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[46,46]}}        ";
    const char *path = write_st("valid.safetensors", hdr, 0, all, 46);
    varcl_clear_error();
    vt_set *s = st_load(path);
    CHECK(s != NULL, "valid file must load: %s", varcl_last_error());
    if (!s) return;
    CHECK(vt_count(s) == 6, "6 tensors (metadata skipped), got %d", vt_count(s));
    CHECK(!strcmp(vt_origin(s), path), "origin is the path: %s", vt_origin(s));
    CHECK(vt_find(s, "__metadata__") == NULL, "__metadata__ is not a tensor");
    float out[8];
    const vt_tensor *t = vt_find(s, "f32");
    CHECK(t && t->dtype == VT_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 2 && t->numel == 4,
          "f32 tensor shape");
    if (t) {
        vt_to_f32(t, out);
        CHECK(!memcmp(out, f32, 16), "f32 values %g %g %g %g", out[0], out[1], out[2], out[3]);
    }
    t = vt_find(s, "f16");
    CHECK(t && t->dtype == VT_F16 && t->ndim == 1 && t->shape[0] == 3 && t->numel == 3, "f16 tensor shape");
    if (t) {
        vt_to_f32(t, out);
        CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.5f, "f16 values %g %g %g", out[0], out[1], out[2]);
    }
    t = vt_find(s, "bf16");
    CHECK(t && t->dtype == VT_BF16 && t->numel == 2, "bf16 tensor shape");
    if (t) {
        vt_to_f32(t, out);
        CHECK(out[0] == 1.0f && out[1] == -3.0f, "bf16 values %g %g", out[0], out[1]);
    }
    t = vt_find(s, "ids");
    CHECK(t && t->dtype == VT_I64 && t->numel == 2, "i64 tensor shape");
    if (t) {
        vt_to_f32(t, out);
        CHECK(out[0] == 7.0f && out[1] == -5.0f, "i64 values %g %g", out[0], out[1]);
    }
    t = vt_find(s, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1, "scalar tensor has 0 dims and 1 element");
    if (t) {
        vt_to_f32(t, out);
        CHECK(out[0] == -0.125f, "scalar value %g", out[0]);
    }
    t = vt_find(s, "empty");
    CHECK(t && t->ndim == 2 && t->numel == 0, "empty tensor has 0 elements");

    /* vt_require: shape checks and a missing tensor name file and tensor */
    int64_t want[2] = {2, -1}, wrong[2] = {3, 2};
    CHECK(vt_require(s, "f32", 2, want) != NULL, "vt_require matches [2, -1]");
    varcl_clear_error();
    CHECK(vt_require(s, "f32", 2, wrong) == NULL && varcl_last_status() == VARCL_E_INPUT &&
              strstr(varcl_last_error(), "'f32'") && strstr(varcl_last_error(), path),
          "vt_require wrong shape names tensor and file: %s", varcl_last_error());
    varcl_clear_error();
    CHECK(vt_require(s, "nope", 2, want) == NULL && varcl_last_status() == VARCL_E_INPUT &&
              strstr(varcl_last_error(), "'nope'") && strstr(varcl_last_error(), path),
          "vt_require missing tensor names tensor and file: %s", varcl_last_error());

    /* st_save_f32 of the mixed set: everything comes back as F32 with the same values */
    const char *saved = tmp_path("mixed-as-f32.safetensors");
    CHECK(st_save_f32(saved, s) == 0, "st_save_f32 mixed: %s", varcl_last_error());
    vt_set *r = st_load(saved);
    CHECK(r != NULL, "reload of saved mixed set: %s", varcl_last_error());
    if (r) {
        CHECK(vt_count(r) == vt_count(s), "same count after save: %d vs %d", vt_count(r), vt_count(s));
        for (int i = 0; i < vt_count(s); i++) {
            const vt_tensor *a = vt_at(s, i), *b = vt_find(r, a->name);
            CHECK(b && b->dtype == VT_F32 && b->ndim == a->ndim && b->numel == a->numel, "saved '%s' shape",
                  a->name);
            if (!b || b->numel != a->numel) continue;
            for (int d = 0; d < a->ndim; d++) CHECK(b->shape[d] == a->shape[d], "saved '%s' dim %d", a->name, d);
            float x[8], y[8];
            vt_to_f32(a, x);
            vt_to_f32(b, y);
            CHECK(!memcmp(x, y, (size_t)a->numel * 4), "saved '%s' values", a->name);
        }
        vt_free(r);
    }
    vt_free(s);
}

static void test_save_round_trip(void)
{
    vt_set *s = vt_new("memory");
    CHECK(s != NULL, "vt_new");
    if (!s) return;
    int64_t sh1[3] = {2, 3, 5}, sh2[1] = {7000}; /* the second spans the writer's 4096-float chunks */
    float *a = malloc(30 * sizeof *a), *b = malloc(7000 * sizeof *b);
    for (int i = 0; i < 30; i++) a[i] = (float)i * 0.37f - 3.0f;
    for (int i = 0; i < 7000; i++) b[i] = sinf((float)i) * 1e3f;
    a[3] = INFINITY;
    a[4] = -0.0f;
    a[5] = 1e-40f; /* denormal */
    CHECK(vt_add_f32(s, "layer.weight", 3, sh1, a) == 0, "add a");
    CHECK(vt_add_f32(s, "layer.bias", 1, sh2, b) == 0, "add b");
    const char *path = tmp_path("round.safetensors");
    CHECK(st_save_f32(path, s) == 0, "st_save_f32: %s", varcl_last_error());
    vt_set *r = st_load(path);
    CHECK(r != NULL, "reload: %s", varcl_last_error());
    if (r) {
        CHECK(vt_count(r) == 2, "2 tensors back, got %d", vt_count(r));
        const vt_tensor *ta = vt_find(r, "layer.weight"), *tb = vt_find(r, "layer.bias");
        CHECK(ta && ta->dtype == VT_F32 && ta->ndim == 3 && ta->shape[0] == 2 && ta->shape[1] == 3 &&
                  ta->shape[2] == 5,
              "layer.weight shape");
        CHECK(tb && tb->ndim == 1 && tb->shape[0] == 7000, "layer.bias shape");
        if (ta && ta->numel == 30) {
            float x[30];
            vt_to_f32(ta, x);
            CHECK(!memcmp(x, a, sizeof x), "layer.weight bits equal");
        }
        if (tb && tb->numel == 7000) {
            float *y = vt_dup_f32(tb);
            CHECK(y && !memcmp(y, b, 7000 * sizeof *y), "layer.bias bits equal");
            free(y);
        }
        vt_free(r);
    }
    /* the header is padded to a multiple of 8 */
    FILE *f = fopen(path, "rb");
    uint8_t len8[8] = {0};
    if (f) {
        CHECK(fread(len8, 1, 8, f) == 8, "read header length");
        fclose(f);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | len8[i];
    CHECK(hlen % 8 == 0 && hlen > 0, "header length %llu is a multiple of 8", (unsigned long long)hlen);
    /* an unwritable path: an input error naming it, no file left */
    const char *bad = "/nonexistent-varcl-dir/x.safetensors";
    varcl_clear_error();
    CHECK(st_save_f32(bad, s) == VARCL_E_INPUT && strstr(varcl_last_error(), bad),
          "st_save_f32 to a missing directory: %s", varcl_last_error());
    /* saving over an existing file replaces it */
    CHECK(st_save_f32(path, s) == 0, "st_save_f32 over an existing file: %s", varcl_last_error());
    vt_free(s);
}

/* A file cut short or written again after st_load: reading a tensor is an input error naming the file (it was a
 * SIGBUS through the map), for the loader's read and for st_save of the set alike. */
static void test_changed_file(void)
{
    vt_set *s = vt_new("memory");
    int64_t big = 1 << 20, small = 3;
    float *a = malloc((size_t)big * sizeof *a), *b = malloc((size_t)small * sizeof *b);
    CHECK(s && a && b, "allocations");
    if (!s || !a || !b) {
        vt_free(s);
        free(a);
        free(b);
        return;
    }
    for (int64_t i = 0; i < big; i++) a[i] = (float)(i % 1000);
    for (int64_t i = 0; i < small; i++) b[i] = 1.5f;
    CHECK(vt_add_f32(s, "small", 1, &small, b) == 0 && vt_add_f32(s, "big", 1, &big, a) == 0, "add");
    char path[4096];
    snprintf(path, sizeof path, "%s", tmp_path("changing.safetensors"));
    CHECK(st_save_f32(path, s) == 0, "save: %s", varcl_last_error());
    vt_free(s);
    for (int how = 0; how < 2; how++) {
        vt_set *r = st_load(path);
        CHECK(r != NULL, "load: %s", varcl_last_error());
        if (!r) return;
        const vt_tensor *t = vt_find(r, "big");
        CHECK(t && vt_read_pages(r, t) == VARCL_OK, "read big: %s", varcl_last_error());
        if (!t) {
            vt_free(r);
            return;
        }
        CHECK(((const float *)t->data)[999] == 999.0f && ((const float *)t->data)[1000] == 0.0f, "big's values");
        vt_release_pages(r, t);
        if (how == 0) { /* cut short (cp truncates the file before it writes) */
            CHECK(truncate(path, 4096) == 0, "truncate");
        } else { /* written again at the same size: a later modification time */
            struct timespec later[2] = {{0, UTIME_OMIT}, {time(NULL) + 100, 0}};
            CHECK(utimensat(AT_FDCWD, path, later, 0) == 0, "utimensat");
        }
        varcl_clear_error();
        CHECK(vt_read_pages(r, t) == VARCL_E_INPUT && strstr(varcl_last_error(), "changed while it was read") &&
                  strstr(varcl_last_error(), path),
              "%s: read after the change: '%s'", how ? "rewritten" : "cut short", varcl_last_error());
        varcl_clear_error();
        CHECK(st_save_f32(tmp_path("resaved.safetensors"), r) == VARCL_E_INPUT &&
                  strstr(varcl_last_error(), "changed while it was read"),
              "%s: st_save of the set: '%s'", how ? "rewritten" : "cut short", varcl_last_error());
        vt_free(r);
        if (how == 0) { /* whole again for the second round */
            vt_set *w = vt_new("memory");
            float *a2 = malloc((size_t)big * sizeof *a2);
            if (w && a2) {
                for (int64_t i = 0; i < big; i++) a2[i] = (float)(i % 1000);
                CHECK(vt_add_f32(w, "big", 1, &big, a2) == 0, "add");
                CHECK(st_save_f32(path, w) == 0, "save again: %s", varcl_last_error());
            } else {
                free(a2);
            }
            vt_free(w);
        }
    }
}

static void test_fixture(void)
{
    const char *path = check_data("upstream-tiny/var.safetensors");
    varcl_clear_error();
    vt_set *s = st_load(path);
    CHECK(s != NULL, "fixture %s loads: %s", path, varcl_last_error());
    if (!s) return;
    CHECK(vt_count(s) == 63, "fixture has 63 tensors, got %d", vt_count(s));
    const vt_tensor *t = vt_find(s, "class_emb.weight");
    CHECK(t && t->dtype == VT_F16 && t->ndim == 2 && t->shape[0] == 17 && t->shape[1] == 128,
          "class_emb.weight is F16 [17, 128]");
    t = vt_find(s, "lvl_1L");
    CHECK(t && t->dtype == VT_I64 && t->ndim == 2 && t->shape[1] == 680, "lvl_1L is I64 [1, 680]");
    if (t && t->numel == 680) {
        float *lv = vt_dup_f32(t);
        /* level of token 0 is 0, of the last token (scale 9) is 9 */
        CHECK(lv && lv[0] == 0.0f && lv[1] == 1.0f && lv[679] == 9.0f, "lvl_1L values %g %g %g", lv ? lv[0] : -1,
              lv ? lv[1] : -1, lv ? lv[679] : -1);
        free(lv);
    }
    t = vt_find(s, "head.bias");
    CHECK(t && t->numel == 512, "head.bias has 512 elements");
    if (t && t->numel == 512) {
        float *hb = vt_dup_f32(t);
        int finite = 1;
        for (int i = 0; hb && i < 512; i++) finite &= isfinite(hb[i]) != 0;
        CHECK(hb && finite, "head.bias finite");
        free(hb);
    }
    vt_free(s);
}

static void test_f16(void)
{
    /* exact values */
    CHECK(vt_f32_to_f16(0.0f) == 0x0000, "f16(0)");
    CHECK(vt_f32_to_f16(-0.0f) == 0x8000, "f16(-0) = 0x%04x", vt_f32_to_f16(-0.0f));
    CHECK(vt_f32_to_f16(1.0f) == 0x3c00, "f16(1)");
    CHECK(vt_f32_to_f16(-2.0f) == 0xc000, "f16(-2)");
    CHECK(vt_f32_to_f16(65504.0f) == 0x7bff, "f16(65504) = 0x%04x", vt_f32_to_f16(65504.0f));
    CHECK(vt_f32_to_f16(65519.99f) == 0x7bff, "f16(65519.99) = 0x%04x", vt_f32_to_f16(65519.99f));
    CHECK(vt_f32_to_f16(65520.0f) == 0x7c00, "f16(65520) rounds to inf: 0x%04x", vt_f32_to_f16(65520.0f));
    CHECK(vt_f32_to_f16(1e10f) == 0x7c00, "f16(1e10) = inf");
    CHECK(vt_f32_to_f16(-1e10f) == 0xfc00, "f16(-1e10) = -inf");
    CHECK(vt_f32_to_f16(INFINITY) == 0x7c00, "f16(inf)");
    CHECK(vt_f32_to_f16(-INFINITY) == 0xfc00, "f16(-inf)");
    uint16_t hn = vt_f32_to_f16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x03ff) != 0, "f16(nan) is a NaN: 0x%04x", hn);
    CHECK(isnan(vt_f16_to_f32(hn)), "nan round trip");
    /* a NaN whose payload sits only in the low f32 bits must stay a NaN, not become inf */
    uint32_t nbits = 0x7f800001u;
    float lownan;
    memcpy(&lownan, &nbits, 4);
    hn = vt_f32_to_f16(lownan);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x03ff) != 0, "f16(low-payload nan) is a NaN: 0x%04x", hn);

    /* subnormals */
    CHECK(vt_f32_to_f16(ldexpf(1, -24)) == 0x0001, "f16(2^-24) = 0x0001");
    CHECK(vt_f32_to_f16(ldexpf(1, -25)) == 0x0000, "2^-25 is a tie: rounds to even 0");
    CHECK(vt_f32_to_f16(ldexpf(1.0000001f, -25)) == 0x0001, "just above 2^-25 rounds up");
    CHECK(vt_f32_to_f16(ldexpf(3, -25)) == 0x0002, "1.5 units rounds to even 2");
    CHECK(vt_f32_to_f16(ldexpf(5, -25)) == 0x0002, "2.5 units rounds to even 2");
    CHECK(vt_f32_to_f16(-ldexpf(1, -24)) == 0x8001, "f16(-2^-24) = 0x8001");
    CHECK(vt_f32_to_f16(ldexpf(1023, -24)) == 0x03ff, "largest subnormal");
    CHECK(vt_f32_to_f16(ldexpf(2047, -25)) == 0x0400, "1023.5 units rounds up to the smallest normal");
    CHECK(vt_f32_to_f16(ldexpf(1, -14)) == 0x0400, "smallest normal");
    CHECK(vt_f32_to_f16(1e-30f) == 0x0000, "tiny underflows to 0");
    CHECK(vt_f16_to_f32(0x0001) == ldexpf(1, -24), "f32(0x0001) = 2^-24");
    CHECK(vt_f16_to_f32(0x03ff) == ldexpf(1023, -24), "f32(0x03ff)");
    CHECK(vt_f16_to_f32(0x8001) == -ldexpf(1, -24), "f32(0x8001)");
    CHECK(signbit(vt_f16_to_f32(0x8000)) && vt_f16_to_f32(0x8000) == 0.0f, "f32(0x8000) = -0");

    /* round to nearest even in the normal range */
    CHECK(vt_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00, "1 + half ulp ties to even 0x3c00");
    CHECK(vt_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02, "1 + 1.5 ulp ties to even 0x3c02");
    CHECK(vt_f32_to_f16(1.0f + ldexpf(1, -11) + ldexpf(1, -20)) == 0x3c01, "just above half ulp rounds up");
    CHECK(vt_f32_to_f16(1.0f + ldexpf(1, -11) - ldexpf(1, -20)) == 0x3c00, "just below half ulp rounds down");
    CHECK(vt_f32_to_f16(2047.5f) == 0x6800, "2047.5 -> 2048 (carry into exponent): 0x%04x", vt_f32_to_f16(2047.5f));
    CHECK(vt_f32_to_f16(0.1f) == 0x2e66, "f16(0.1) = 0x2e66: 0x%04x", vt_f32_to_f16(0.1f));
    CHECK(vt_f16_to_f32(0x7c00) == INFINITY && vt_f16_to_f32(0xfc00) == -INFINITY, "f16 infinities");
    CHECK(isnan(vt_f16_to_f32(0x7e00)) && isnan(vt_f16_to_f32(0xfc01)), "f16 NaNs");
    CHECK(vt_bf16_to_f32(0x3f80) == 1.0f && vt_bf16_to_f32(0xc040) == -3.0f, "bf16 values");

    /* every f16 bit pattern survives f16 -> f32 -> f16 (NaNs stay NaNs) */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = vt_f16_to_f32((uint16_t)h);
        uint16_t back = vt_f32_to_f16(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !(isnan(f) && (back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h) {
            if (bad++ < 5) CHECK(0, "f16 0x%04x -> %g -> 0x%04x", h, f, back);
        }
    }
    CHECK(bad == 0, "%d f16 values failed the round trip", bad);

    /* f32 -> f16 against a reference: the nearest f16 (ties to even) for values between consecutive f16s */
    int wrong = 0;
    for (uint32_t h = 0; h < 0x7bff; h += 7) {
        float lo = vt_f16_to_f32((uint16_t)h), hi = vt_f16_to_f32((uint16_t)(h + 1));
        float mid = lo + (hi - lo) / 2; /* exact in f32 */
        float q1 = lo + (hi - lo) / 4, q3 = lo + 3 * (hi - lo) / 4;
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (vt_f32_to_f16(q1) != h || vt_f32_to_f16(q3) != h + 1 || vt_f32_to_f16(mid) != even) {
            if (wrong++ < 5)
                CHECK(0, "f16 rounding near 0x%04x: q1 0x%04x q3 0x%04x mid 0x%04x", h, vt_f32_to_f16(q1),
                      vt_f32_to_f16(q3), vt_f32_to_f16(mid));
        }
    }
    CHECK(wrong == 0, "%d rounding cases wrong", wrong);
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

/* No temporary files of st_save_f32 may be left in the directory. */
static void check_no_temp_files(void)
{
    DIR *d = opendir(tmpdir);
    CHECK(d != NULL, "opendir %s", tmpdir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        CHECK(strstr(e->d_name, ".tmp") == NULL, "temporary file left behind: %s", e->d_name);
    closedir(d);
}


/* Issue 11, cases 1, 2 and 7: values the reader does not use cost no buffer and have no length limit; loading is
 * O(n log n) in the entries (checked by count, not time: 200,000 entries load and are found by name); every
 * safetensors dtype loads, and a weight of one that varcl cannot use is refused by vt_require naming it. */
static void test_any_size_and_dtype(void)
{
    /* a 5,584-character metadata value, a 300-character metadata key, a 6,000-character unknown member */
    size_t cap = 40000;
    char *hdr = malloc(cap), *p = hdr;
    p += sprintf(p, "{\"__metadata__\":{\"");
    for (int i = 0; i < 300; i++) *p++ = 'k';
    p += sprintf(p, "\":\"");
    for (int i = 0; i < 5584; i++) { /* with an escaped quote now and then */
        if (i % 500 == 499) *p++ = '\\', *p++ = '"';
        else *p++ = "abcd"[i % 4];
    }
    p += sprintf(p, "\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"note\":\"");
    for (int i = 0; i < 6000; i++) *p++ = 'n';
    p += sprintf(p, "\",\"");
    for (int i = 0; i < 200; i++) *p++ = 'q'; /* a 200-character key inside the tensor record */
    p += sprintf(p, "\":[1,2,{\"deep\":[[[]]]}]}}");
    float w[4] = {1, -2, 3.5f, 0.25f};
    const char *path = write_st("long-meta.safetensors", hdr, 0, w, 16);
    free(hdr);
    varcl_clear_error();
    vt_set *s = st_load(path);
    CHECK(s != NULL, "long metadata and members: %s", varcl_last_error());
    if (s) {
        const vt_tensor *t = vt_find(s, "w");
        float out[4] = {0};
        if (t) vt_to_f32(t, out);
        CHECK(vt_count(s) == 1 && t && !memcmp(out, w, 16), "w = 1, -2, 3.5, 0.25 (%d tensors)", vt_count(s));
        vt_free(s);
    }

    /* 200,000 zero-size entries plus one real tensor at the end of the header */
    enum { N = 200000 };
    cap = (size_t)N * 80 + 200;
    hdr = malloc(cap);
    p = hdr;
    p += sprintf(p, "{");
    for (int i = 0; i < N; i++)
        p += sprintf(p, "\"pad.%07d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]},", i);
    p += sprintf(p, "\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}");
    path = write_st("many.safetensors", hdr, 0, w, 16);
    varcl_clear_error();
    s = st_load(path);
    CHECK(s != NULL, "200,000 entries: %s", varcl_last_error());
    if (s) {
        CHECK(vt_count(s) == N + 1, "%d tensors", vt_count(s));
        CHECK(vt_find(s, "pad.0123456") && vt_find(s, "w") && !vt_find(s, "pad.0200000"), "found by name");
        vt_free(s);
    }
    /* the same with one name twice, far apart: the duplicate is named */
    memcpy(strstr(hdr, "\"pad.0199999\""), "\"pad.0000007\"", 13);
    path = write_st("many-dup.safetensors", hdr, 0, w, 16);
    expect_bad("duplicate among 200,000", path, "pad.0000007", "twice");
    free(hdr);

    /* every dtype of the format loads; only F32, F16 and BF16 pass vt_require */
    static const struct {
        const char *name;
        int bytes_per_2; /* bytes of 2 elements */
    } types[] = {{"BOOL", 2}, {"U8", 2},  {"I8", 2},  {"I16", 4},     {"U16", 4},     {"I32", 8},
                 {"U32", 8},  {"I64", 16}, {"U64", 16}, {"F64", 16}, {"F8_E4M3", 2}, {"F8_E5M2", 2},
                 {"F8_E8M0", 2}, {"F4", 1}, {"F16", 4}, {"BF16", 4}, {"F32", 8}};
    char h2[4096];
    p = h2;
    int off = 0;
    p += sprintf(p, "{");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        p += sprintf(p, "%s\"t_%s\":{\"dtype\":\"%s\",\"shape\":[2],\"data_offsets\":[%d,%d]}", i ? "," : "",
                     types[i].name, types[i].name, off, off + types[i].bytes_per_2);
        off += types[i].bytes_per_2;
    }
    p += sprintf(p, "}");
    uint8_t data[256] = {1, 0, 1, 0};
    path = write_st("dtypes.safetensors", h2, 0, data, (size_t)off);
    varcl_clear_error();
    s = st_load(path);
    CHECK(s != NULL, "every dtype loads: %s", varcl_last_error());
    if (s) {
        int64_t two[1] = {2};
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            char name[32];
            snprintf(name, sizeof name, "t_%s", types[i].name);
            const vt_tensor *t = vt_find(s, name);
            CHECK(t && !strcmp(vt_dtype_name(t->dtype), types[i].name), "%s loads as %s", name, types[i].name);
            int usable = !strcmp(types[i].name, "F32") || !strcmp(types[i].name, "F16") ||
                         !strcmp(types[i].name, "BF16");
            varcl_clear_error();
            const vt_tensor *r = vt_require(s, name, 1, two);
            CHECK((r != NULL) == usable, "vt_require(%s): %s", name, varcl_last_error());
            if (!usable)
                CHECK(strstr(varcl_last_error(), name) && strstr(varcl_last_error(), types[i].name) &&
                          strstr(varcl_last_error(), "convert.py"),
                      "the refusal names tensor, dtype and remedy: %s", varcl_last_error());
        }
        const vt_tensor *b = vt_find(s, "t_BOOL");
        float f[2];
        if (b) vt_to_f32(b, f);
        CHECK(b && f[0] == 1 && f[1] == 0, "BOOL converts by value");
        vt_free(s);
    }
}

/* vt_family: numbered families contiguous from 0 (issue 11, case 5), and vt_check_finite (case 10). */
static void test_family_and_finite(void)
{
    static const struct {
        const char *names;
        int count;         /* -1: refused */
        const char *needle;
    } cases[] = {
        {"blocks.0.a blocks.1.a blocks.2.a", 3, NULL},
        {"x.y", 0, NULL},
        {"blocks.0.a blocks.1.a blocks.3.a", -1, "blocks.2"},
        {"blocks.1.a blocks.2.a", -1, "blocks.0"},
        {"blocks.0.a blocks.01.a", -1, "blocks.01.a"},
        {"blocks.0.a blocks.x.a", -1, "blocks.x.a"},
        {"blocks.0.a blocks.9.a", -1, "blocks.9.a"}, /* over the limit of 8 */
        {"blocks.0.a blocks.1.a blocks.1.b blocks.0.c", 2, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_set *s = vt_new("family-test");
        char names[256];
        snprintf(names, sizeof names, "%s", cases[i].names);
        int64_t one[1] = {1};
        for (char *tok = strtok(names, " "); tok; tok = strtok(NULL, " ")) {
            float *d = malloc(sizeof *d);
            *d = 0;
            vt_add_f32(s, tok, 1, one, d);
        }
        int n = -7;
        varcl_clear_error();
        int st = vt_family(s, "blocks.", 8, &n);
        if (cases[i].count >= 0)
            CHECK(st == 0 && n == cases[i].count, "family '%s': %d (%s)", cases[i].names, n, varcl_last_error());
        else
            CHECK(st == VARCL_E_INPUT && strstr(varcl_last_error(), cases[i].needle) &&
                      strstr(varcl_last_error(), "family-test"),
                  "family '%s' refused naming %s: %s", cases[i].names, cases[i].needle, varcl_last_error());
        vt_free(s);
    }
    vt_set *s = vt_new("finite-test");
    int64_t four[1] = {4};
    float *d = malloc(4 * sizeof *d);
    d[0] = 1, d[1] = NAN, d[2] = INFINITY, d[3] = -INFINITY;
    vt_add_f32(s, "head.bias", 1, four, d);
    const vt_tensor *t = vt_find(s, "head.bias");
    varcl_clear_error();
    CHECK(vt_check_finite(s, t, d) == VARCL_E_INPUT && strstr(varcl_last_error(), "'head.bias'") &&
              strstr(varcl_last_error(), "1 NaN, 2 infinite") && strstr(varcl_last_error(), "index 1"),
          "non-finite named: %s", varcl_last_error());
    d[1] = d[2] = d[3] = 2;
    CHECK(vt_check_finite(s, t, d) == 0, "finite passes");
    vt_free(s);
}

/* st_load_memory (the built-in demo model's path): the same tensors as st_load over the same bytes, data pointing
 * into the caller's buffer, and the same refusals for bytes cut short. */
static void test_memory(void)
{
    const char *path = check_data("upstream-tiny/var.safetensors");
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "open %s", path);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)n);
    size_t got = bytes ? fread(bytes, 1, (size_t)n, f) : 0;
    fclose(f);
    CHECK(got == (size_t)n, "read %s", path);
    vt_set *a = st_load(path), *b = got == (size_t)n ? st_load_memory("in memory", bytes, got) : NULL;
    CHECK(a && b, "both readers load: %s", varcl_last_error());
    if (a && b) {
        CHECK(vt_count(a) == vt_count(b), "same tensor count %d vs %d", vt_count(a), vt_count(b));
        int same = vt_count(a) == vt_count(b);
        for (int i = 0; same && i < vt_count(a); i++) {
            const vt_tensor *x = vt_at(a, i), *y = vt_find(b, x->name);
            size_t bytes_x = (size_t)x->numel * (size_t)(vt_dtype_bits(x->dtype) / 8);
            same = y && y->dtype == x->dtype && y->numel == x->numel && memcmp(x->data, y->data, bytes_x) == 0 &&
                   (const unsigned char *)y->data >= bytes && (const unsigned char *)y->data < bytes + got;
        }
        CHECK(same, "every tensor equal, and read in place from the caller's bytes");
        CHECK(strcmp(vt_origin(b), "in memory") == 0, "origin names the bytes");
    }
    vt_free(a);
    vt_free(b);
    varcl_clear_error();
    vt_set *cut = got > 100 ? st_load_memory("cut bytes", bytes, got / 2) : NULL;
    CHECK(cut == NULL && varcl_last_status() == VARCL_E_INPUT && strstr(varcl_last_error(), "cut bytes"),
          "half the bytes refused as input naming them: %s", varcl_last_error());
    vt_free(cut);
    CHECK(st_load_memory("seven bytes", bytes, 7) == NULL, "under 8 bytes refused");
    free(bytes);
}

int main(void)
{
    if (!check_mkdtemp(tmpdir, sizeof tmpdir, "test-safetensors")) {
        perror("mkdtemp");
        return 1;
    }
    test_bad_files();
    test_valid_file();
    test_save_round_trip();
    test_changed_file();
    test_fixture();
    test_f16();
    test_any_size_and_dtype();
    test_family_and_finite();
    test_memory();
    check_no_temp_files();
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
