/* job: a sampling job at evaluation scale (vgen --per-class): N images for each of a list of classes, written as
 * one PNG each into a folder, in slices (shards) that any job runner can run in parallel, resumable.
 *
 * Image g of the job (0 .. classes x N - 1, class-major: g = class position x N + k) is named after its class and k
 * (job_image_name) and draws its random numbers from (seed, g) (varcl_request.image_ids), so any split of the job
 * into shards, passes or resumed runs makes the same images. Shard I of N does the contiguous slice
 * [floor(I x total / N), floor((I + 1) x total / N)).
 *
 * The folder's manifest (JOB_MANIFEST, JSON) records what defines the images: the model's hashes, the image size,
 * the classes and N, the sampling settings, the seed, the depth plan and the numerics (weights, KV storage). The
 * first process of a job creates it; every later one (another shard, a resumed run, the pack step) reads it, and a
 * process whose own manifest differs is refused. */
#ifndef VARCL_JOB_H
#define VARCL_JOB_H

#include <stdint.h>

#include <jansson.h>

#define JOB_MANIFEST "vgen-job.json"

typedef struct {
    int *classes, n_classes; /* the job's classes in order (owned) */
    int per_class;           /* N */
    int64_t total;           /* n_classes x per_class */
    int class_digits, index_digits; /* zero padding of the names: sorted names are in job order */
} job_layout;

/* classes: n_classes labels, each in 0 .. model_classes - 1 and none twice (NULL: every class of the model);
 * per_class >= 1. The job must have at most 2^32 images (the random streams' image counter). VARCL_E_INPUT with one
 * line otherwise. */
int job_layout_init(job_layout *j, const int *classes, int n_classes, int model_classes, int per_class);
void job_layout_free(job_layout *j);
/* The file name of image g: "class0207_00049.png" (class, then its index k within the class). */
void job_image_name(const job_layout *j, int64_t g, char *out, int cap);
int job_image_class(const job_layout *j, int64_t g);

/* Removes the temporary files that a killed run left for images [first, end) of the job in dir (a PNG is written
 * to ".<name>.<pid>.<n>.tmp" and renamed). Only this slice's: another shard may be writing its own right now.
 * Returns how many were removed. */
int job_remove_stale(const char *dir, const job_layout *j, int64_t first, int64_t end);

/* The images of [first, end) already made in dir (a folder at an image's name: VARCL_E_INPUT naming it): *done gets their g, sorted (malloc'd, NULL when none), *n_done
 * how many; *damaged counts those whose file is there but not a whole PNG (cut short or emptied: to be made again,
 * so not in *done). One pass over the folder's entries: the cost follows the files there, not the job's size, so
 * a job of millions of images starts at once. VARCL_E_INPUT naming the folder when it cannot be read;
 * VARCL_E_RUNTIME when memory runs out. */
int job_scan_done(const char *dir, const job_layout *j, int64_t first, int64_t end, int64_t **done, int64_t *n_done,
                  int64_t *damaged);

/* A shard: this process does shard `index` of `count`. */
typedef struct {
    int index, count;
    char from[64]; /* where index came from: "--shard", or the environment variable(s) */
} job_shard;
/* Parses --shard: "I/N" (0 <= I < N); "env/N": I from the job runner's environment; "env": I and N both from it.
 * The environment: Slurm array jobs (SLURM_ARRAY_TASK_ID, minus SLURM_ARRAY_TASK_MIN, over SLURM_ARRAY_TASK_STEP;
 * N: SLURM_ARRAY_TASK_COUNT), Kubernetes indexed Jobs (JOB_COMPLETION_INDEX), GNU parallel (PARALLEL_SEQ - 1).
 * Exactly one of them must be set. VARCL_E_INPUT with one line naming the spec or the variables otherwise. */
int job_shard_parse(const char *spec, job_shard *s);
/* The slice of shard s: images [*first, *end) of the job. */
void job_shard_slice(const job_layout *j, const job_shard *s, int64_t *first, int64_t *end);

/* What the manifest records besides the layout. */
typedef struct {
    const char *model;              /* the model's name: the VAR file's base name, or the built-in model's */
    char var_crc32[9], vae_crc32[9];/* hex CRC-32 of the files (or of the built-in tensors) */
    uint64_t var_bytes, vae_bytes;
    int image_size;
    uint64_t seed;
    double cfg, top_p;
    int top_k;
    int depth, full_scales, model_depth;
    const int *layers; int n_layers; /* the late scales' layers of the plan */
    const char *weights, *kv_dtype;
} job_settings;

/* The CRC-32 (zlib's) and size of a file, read in 1 MiB pieces. VARCL_E_INPUT naming the file if it cannot be
 * read. */
int job_file_crc32(const char *path, char hex[9], uint64_t *bytes);

/* The same over a tensor set held in memory (the built-in demo model): each tensor's name, dtype, shape (64-bit
 * little-endian) and data bytes, in the set's order; *bytes: the data bytes. */
typedef struct vt_set vt_set;
int job_set_crc32(const vt_set *set, char hex[9], uint64_t *bytes);

/* The manifest of a job. NULL when memory runs out (error recorded). */
json_t *job_manifest(const job_layout *j, const job_settings *s);
/* Creates dir/JOB_MANIFEST from m if it does not exist (atomically: concurrent shards may race), else compares:
 * VARCL_E_INPUT with one line naming the first field that differs (with both values) when the job in the folder
 * is another one. */
int job_manifest_claim(const char *dir, const json_t *m);
/* Reads dir/JOB_MANIFEST back into a layout (the pack step); *image_size from it too. VARCL_E_INPUT naming the
 * file when it is missing or malformed. */
int job_manifest_read(const char *dir, job_layout *j, int *image_size);

#endif
