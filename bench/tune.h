/* tune: `vbench --tune`. Lists the GEMM products of one image of the model (the transformer's linear layers per
 * scale, the decoder's convolutions as their Winograd or im2col products, the VQ phi convolutions), weighted by how
 * often each runs, has tune_gemm time the candidate parameter sets on them, prints a Markdown table and stores the
 * winners in the device's tuning file (VARCL_CACHE_DIR=off: printed, not stored). */
#ifndef VARCL_BENCH_TUNE_H
#define VARCL_BENCH_TUNE_H

typedef struct {
    const char *model, *vae; /* NULL: the built-in demo model */
    const char *device;      /* one device: index or name substring (NULL: the default device) */
    int reps;                /* timed calls per product after one warm-up */
    int max_shapes;          /* products timed per shape class */
    const char *sets;        /* comma-separated candidate names ("default" = CLBlast's); NULL: all for the device */
} vtune_options;

/* Returns the exit status: 0 ok, 2 bad input, 1 run-time failure (messages on stderr). */
int vtune_run(const vtune_options *o);

#endif
