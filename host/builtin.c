/* builtin: the built-in demo model (see builtin.h). */
#include "builtin.h"

#include "demo.h"
#include "error.h"
#include "safetensors.h"

#include <stddef.h>

/* The class set the demo was trained on (models/recipe/data.py, arrangements10; demo.json's "classes", which
 * test_demo_model compares with this list). */
static const char *const class_names[] = {"one",     "pair-h",    "pair-v",  "pair-d", "row3",
                                          "column3", "triangle3", "square4", "band-h", "band-v"};

#if VARCL_TRAINED_DEMO
/* Placed by the generated demo_embedded.c (cmake/embed_demo.cmake); each blob is one safetensors file. */
extern const unsigned char varcl_blob_demo_var_begin[], varcl_blob_demo_var_end[];
extern const unsigned char varcl_blob_demo_vae_begin[], varcl_blob_demo_vae_end[];

int builtin_demo_sets(vt_set **var, vt_set **vae)
{
    *var = st_load_memory("built-in demo model (var)", varcl_blob_demo_var_begin,
                          (size_t)(varcl_blob_demo_var_end - varcl_blob_demo_var_begin));
    *vae = *var ? st_load_memory("built-in demo model (vae)", varcl_blob_demo_vae_begin,
                                 (size_t)(varcl_blob_demo_vae_end - varcl_blob_demo_vae_begin))
                : NULL;
    if (*var && *vae) return 0;
    vt_free(*var);
    *var = NULL;
    return varcl_last_status();
}

int builtin_demo_trained(void) { return 1; }
#else
#define RANDOM_DEMO_SEED 20241203

int builtin_demo_sets(vt_set **var, vt_set **vae)
{
    demo_var_shape vs = demo_var_default();
    demo_vae_shape as = demo_vae_default();
    *var = demo_var(&vs, RANDOM_DEMO_SEED);
    *vae = *var ? demo_vae(&as, RANDOM_DEMO_SEED) : NULL;
    if (*var && *vae) return 0;
    vt_free(*var);
    *var = NULL;
    return varcl_last_status();
}

int builtin_demo_trained(void) { return 0; }
#endif

#if VARCL_DEMO_QUALITY
extern const unsigned char varcl_blob_demo_classifier_begin[], varcl_blob_demo_classifier_end[];
extern const unsigned char varcl_blob_demo_fd_ref_begin[], varcl_blob_demo_fd_ref_end[];

int builtin_demo_quality(vt_set **classifier, vt_set **fd_ref)
{
    *classifier = st_load_memory("built-in demo model (classifier)", varcl_blob_demo_classifier_begin,
                                 (size_t)(varcl_blob_demo_classifier_end - varcl_blob_demo_classifier_begin));
    *fd_ref = *classifier ? st_load_memory("built-in demo model (fd_ref)", varcl_blob_demo_fd_ref_begin,
                                           (size_t)(varcl_blob_demo_fd_ref_end - varcl_blob_demo_fd_ref_begin))
                          : NULL;
    if (*classifier && *fd_ref) return 0;
    vt_free(*classifier);
    *classifier = NULL;
    return varcl_last_status();
}
#else
int builtin_demo_quality(vt_set **classifier, vt_set **fd_ref)
{
    *classifier = *fd_ref = NULL;
    return 0;
}
#endif

const char *builtin_demo_name(void)
{
    return builtin_demo_trained() ? "built-in demo model" : "built-in demo model (random weights)";
}

const char *builtin_demo_class_name(int label)
{
    return builtin_demo_trained() && label >= 0 && label < (int)(sizeof class_names / sizeof *class_names)
               ? class_names[label]
               : NULL;
}
