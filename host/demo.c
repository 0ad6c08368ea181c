/* demo: random-weight VAR and VQ-VAE tensor sets (see demo.h). Weights are normal with a per-kind scale so that
 * every part changes the output: Linear and conv weights ~ 1/sqrt(fan_in), norms around 1, AdaLN small. */
#include "demo.h"

#include "error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    uint64_t s;
    vt_set *set; /* NULL: count the elements only (demo_*_elems) */
    int st;
    int64_t elems;
} gen;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static float normal(uint64_t *s)
{
    double u1 = ((splitmix(s) >> 11) + 0.5) / 9007199254740992.0, u2 = (splitmix(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Adds `name` with shape dims (up to 4), values mean + std * N(0,1). */
static void add(gen *g, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, float mean,
                float std)
{
    if (g->st) return;
    int64_t shape[4] = {d0, d1, d2, d3}, n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    g->elems += n;
    if (!g->set) return;
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        g->st = varcl_fail(VARCL_E_RUNTIME, "out of host memory generating %s", name);
        return;
    }
    for (int64_t i = 0; i < n; i++) v[i] = mean + std * normal(&g->s);
    g->st = vt_add_f32(g->set, name, ndim, shape, v);
}

demo_var_shape demo_var_default(void)
{
    return (demo_var_shape){.depth = 30, .width = 128, .heads = 2, .vocab = 4096, .classes = 1000, .cvae = 32,
                            .tokens = 680, .shared_aln = 0};
}

demo_vae_shape demo_vae_default(void)
{
    return (demo_vae_shape){.ch = 32, .zch = 32, .vocab = 4096, .levels = 5, .blocks = 3,
                            .ch_mult = {1, 1, 2, 2, 4}, .attn_levels = 1};
}

static void var_tensors(gen *g, const demo_var_shape *sh)
{
    int64_t C = sh->width, H = sh->heads, L = sh->tokens, F = 4 * C;
    float wC = 1.0f / sqrtf((float)C), wF = 1.0f / sqrtf((float)F);
    char n[128];
    add(g, "pos_start", 3, 1, 1, C, 0, 0, 0.5f);
    add(g, "pos_1LC", 3, 1, L, C, 0, 0, 0.5f);
    add(g, "word_embed.weight", 2, C, sh->cvae, 0, 0, 0, 1.0f / sqrtf((float)sh->cvae));
    add(g, "word_embed.bias", 1, C, 0, 0, 0, 0, 0.1f);
    add(g, "class_emb.weight", 2, sh->classes + 1, C, 0, 0, 0, 1.0f);
    add(g, "lvl_embed.weight", 2, 10, C, 0, 0, 0, 0.5f);
    if (sh->shared_aln) {
        add(g, "shared_ada_lin.1.weight", 2, 6 * C, C, 0, 0, 0, 0.5f * wC);
        add(g, "shared_ada_lin.1.bias", 1, 6 * C, 0, 0, 0, 0, 0.1f);
    }
    for (int l = 0; l < sh->depth; l++) {
#define N(s) (snprintf(n, sizeof n, "blocks.%d." s, l), n)
        if (sh->shared_aln) add(g, N("ada_gss"), 4, 1, 1, 6, C, 0, 0.1f);
        add(g, N("attn.scale_mul_1H11"), 4, 1, H, 1, 1, logf(4.0f), 0.3f);
        add(g, N("attn.q_bias"), 1, C, 0, 0, 0, 0, 0.1f);
        add(g, N("attn.v_bias"), 1, C, 0, 0, 0, 0, 0.1f);
        add(g, N("attn.zero_k_bias"), 1, C, 0, 0, 0, 0, 0);
        add(g, N("attn.mat_qkv.weight"), 2, 3 * C, C, 0, 0, 0, wC);
        add(g, N("attn.proj.weight"), 2, C, C, 0, 0, 0, wC);
        add(g, N("attn.proj.bias"), 1, C, 0, 0, 0, 0, 0.1f);
        add(g, N("ffn.fc1.weight"), 2, F, C, 0, 0, 0, wC);
        add(g, N("ffn.fc1.bias"), 1, F, 0, 0, 0, 0, 0.1f);
        add(g, N("ffn.fc2.weight"), 2, C, F, 0, 0, 0, wF);
        add(g, N("ffn.fc2.bias"), 1, C, 0, 0, 0, 0, 0.1f);
        if (!sh->shared_aln) {
            add(g, N("ada_lin.1.weight"), 2, 6 * C, C, 0, 0, 0, 0.5f * wC);
            add(g, N("ada_lin.1.bias"), 1, 6 * C, 0, 0, 0, 0, 0.1f);
        }
#undef N
    }
    add(g, "head_nm.ada_lin.1.weight", 2, 2 * C, C, 0, 0, 0, 0.5f * wC);
    add(g, "head_nm.ada_lin.1.bias", 1, 2 * C, 0, 0, 0, 0, 0.1f);
    add(g, "head.weight", 2, sh->vocab, C, 0, 0, 0, 2.0f * wC);
    add(g, "head.bias", 1, sh->vocab, 0, 0, 0, 0, 0.1f);
}

vt_set *demo_var(const demo_var_shape *sh, uint64_t seed)
{
    gen g = {seed * 0x2545f4914f6cdd1dULL + 1, vt_new("demo model"), 0, 0};
    if (!g.set) return NULL;
    var_tensors(&g, sh);
    if (g.st) {
        vt_free(g.set);
        return NULL;
    }
    return g.set;
}

int64_t demo_var_elems(const demo_var_shape *sh)
{
    gen g = {0, NULL, 0, 0};
    var_tensors(&g, sh);
    return g.elems;
}

static void conv(gen *g, const char *prefix, int64_t cin, int64_t cout, int k)
{
    char n[160];
    snprintf(n, sizeof n, "%s.weight", prefix);
    add(g, n, 4, cout, cin, k, k, 0, 1.0f / sqrtf((float)(cin * k * k)));
    snprintf(n, sizeof n, "%s.bias", prefix);
    add(g, n, 1, cout, 0, 0, 0, 0, 0.05f);
}

static void norm(gen *g, const char *prefix, int64_t C)
{
    char n[160];
    snprintf(n, sizeof n, "%s.weight", prefix);
    add(g, n, 1, C, 0, 0, 0, 1.0f, 0.1f);
    snprintf(n, sizeof n, "%s.bias", prefix);
    add(g, n, 1, C, 0, 0, 0, 0, 0.1f);
}

static void res(gen *g, const char *p, int64_t cin, int64_t cout)
{
    char n[128];
    snprintf(n, sizeof n, "%.100s.norm1", p), norm(g, n, cin);
    snprintf(n, sizeof n, "%.100s.conv1", p), conv(g, n, cin, cout, 3);
    snprintf(n, sizeof n, "%.100s.norm2", p), norm(g, n, cout);
    snprintf(n, sizeof n, "%.100s.conv2", p), conv(g, n, cout, cout, 3);
    if (cin != cout) snprintf(n, sizeof n, "%.100s.nin_shortcut", p), conv(g, n, cin, cout, 1);
}

static void attn(gen *g, const char *p, int64_t C)
{
    char n[128];
    snprintf(n, sizeof n, "%.100s.norm", p), norm(g, n, C);
    snprintf(n, sizeof n, "%.100s.qkv", p), conv(g, n, C, 3 * C, 1);
    snprintf(n, sizeof n, "%.100s.proj_out", p), conv(g, n, C, C, 1);
}

static void vae_tensors(gen *g, const demo_vae_shape *sh)
{
    int64_t z = sh->zch, top = (int64_t)sh->ch * sh->ch_mult[sh->levels - 1];
    char n[128];
    add(g, "quantize.embedding.weight", 2, sh->vocab, z, 0, 0, 0, 1.0f);
    for (int i = 0; i < 4; i++) snprintf(n, sizeof n, "quantize.quant_resi.qresi_ls.%d", i), conv(g, n, z, z, 3);
    conv(g, "post_quant_conv", z, z, 3);
    conv(g, "decoder.conv_in", z, top, 3);
    res(g, "decoder.mid.block_1", top, top);
    if (sh->attn_levels) attn(g, "decoder.mid.attn_1", top);
    res(g, "decoder.mid.block_2", top, top);
    int64_t cin = top;
    for (int i = sh->levels - 1; i >= 0; i--) {
        int64_t cout = (int64_t)sh->ch * sh->ch_mult[i];
        for (int j = 0; j < sh->blocks; j++) {
            snprintf(n, sizeof n, "decoder.up.%d.block.%d", i, j), res(g, n, cin, cout);
            cin = cout;
            if (sh->attn_levels && i == sh->levels - 1) snprintf(n, sizeof n, "decoder.up.%d.attn.%d", i, j), attn(g, n, cout);
        }
        if (i != 0) snprintf(n, sizeof n, "decoder.up.%d.upsample.conv", i), conv(g, n, cout, cout, 3);
    }
    norm(g, "decoder.norm_out", sh->ch);
    conv(g, "decoder.conv_out", sh->ch, 3, 3);
}

vt_set *demo_vae(const demo_vae_shape *sh, uint64_t seed)
{
    gen g = {seed * 0x9e3779b97f4a7c15ULL + 7, vt_new("demo VQ-VAE"), 0, 0};
    if (!g.set) return NULL;
    vae_tensors(&g, sh);
    if (g.st) {
        vt_free(g.set);
        return NULL;
    }
    return g.set;
}

int64_t demo_vae_elems(const demo_vae_shape *sh)
{
    gen g = {0, NULL, 0, 0};
    vae_tensors(&g, sh);
    return g.elems;
}
