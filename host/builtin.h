/* builtin: the built-in demo model, the default when no --model is given.
 * Trained: a small VAR (depth 16, width 64, 10 classes, vocabulary 512) and its VQ-VAE (ch 64), trained by the
 * recipe in models/recipe/ on the procedural shapes10 set (disk, square, triangle, ring, cross, star, stripes,
 * checkerboard, dots, house). Its bf16 safetensors files in models/demo/ are embedded into the library at build
 * time (cmake/embed_demo.cmake), so it needs no file at run time and loads through the same reader as any
 * checkpoint. A tree without those files builds the former random-weight model instead (demo.h: VAR-d30's
 * structure at width 128, 1000 classes), whose images are noise. */
#ifndef VARCL_BUILTIN_H
#define VARCL_BUILTIN_H

#include "tensors.h"

/* The demo model's VAR and VQ-VAE tensor sets (free with vt_free). Returns 0, or an error status with *var and
 * *vae NULL. */
int builtin_demo_sets(vt_set **var, vt_set **vae);

/* The trained demo model's quality classifier (classifier.safetensors, see classifier.h) and the Frechet
 * distance's reference statistics (fd_ref.safetensors: F32 "mu" [F], "sigma" [F][F]; models/recipe/fd_ref.py),
 * embedded with it when models/demo has them (free with vt_free). Returns 0 with both NULL when the built-in model
 * has none (the random-weight model, or an export without them), or an error status. */
int builtin_demo_quality(vt_set **classifier, vt_set **fd_ref);

/* 1 when the trained model is built in, 0 for the random-weight one. */
int builtin_demo_trained(void);

/* "built-in demo model" or "built-in demo model (random weights)", for banners. */
const char *builtin_demo_name(void);

/* Name of class `label` of the trained demo model (0..9), or NULL. */
const char *builtin_demo_class_name(int label);

#endif
