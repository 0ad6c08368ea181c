/* pngq: a two-slot queue of images and the threads that write them as PNG (see pngq.h). */
#include "pngq.h"

#include "error.h"
#include "image.h"
#include "outfile.h"
#include "team.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PNGQ_SLOTS 2

typedef struct {
    uint8_t *rgb;  /* [slot_images][height][width][3] */
    char **paths;  /* [slot_images] */
    int n;         /* images queued in the slot (0: free) */
    int next;      /* the next one to hand to a thread */
    int left;      /* handed out or not, still to finish */
} pngq_slot;

struct pngq {
    pthread_mutex_t mu;
    pthread_cond_t work, freed; /* work: an image to write, or stop; freed: a slot or the queue emptied */
    pthread_t tid[HT_MAX_THREADS];
    int threads, slot_images, width, height;
    pngq_slot slot[PNGQ_SLOTS];
    int put_at;      /* the slot pngq_put fills next; slots are written in the order they were filled */
    int stop;
    int status;      /* first failure */
    char msg[1024];  /* its message (errors are thread-local: copied here for the caller) */
    long long written;
};

static void *pngq_thread(void *arg)
{
    pngq *q = arg;
    size_t img = (size_t)q->width * q->height * 3;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        pngq_slot *s = NULL;
        for (int k = 0; k < PNGQ_SLOTS && !s; k++) {
            pngq_slot *c = &q->slot[(q->put_at + k) % PNGQ_SLOTS]; /* the oldest filled slot first */
            if (c->n && c->next < c->n) s = c;
        }
        if (!s) {
            if (q->stop) break;
            pthread_cond_wait(&q->work, &q->mu);
            continue;
        }
        int i = s->next++;
        int failed = q->status != 0;
        pthread_mutex_unlock(&q->mu);
        /* a job's own file names: whatever is at one (a FIFO put there) is replaced, never opened (outfile.h) */
        vo_file out;
        int st = failed ? VARCL_OK
                        : vimg_png_stage(&out, s->paths[i], s->rgb + (size_t)i * img, q->width, q->height, 1);
        if (!failed && !st) st = vo_commit(&out);
        pthread_mutex_lock(&q->mu);
        if (st && !q->status) {
            q->status = st;
            strncpy(q->msg, varcl_last_error(), sizeof q->msg - 1);
        }
        if (!st && !failed) q->written++;
        if (--s->left == 0) {
            s->n = 0;
            pthread_cond_broadcast(&q->freed);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

pngq *pngq_new(int threads, int slot_images, int width, int height)
{
    if (threads < 1) threads = 1;
    if (threads > HT_MAX_THREADS) threads = HT_MAX_THREADS;
    pngq *q = calloc(1, sizeof *q);
    if (!q) {
        varcl_fail(VARCL_E_RUNTIME, "out of host memory for the PNG writers");
        return NULL;
    }
    q->slot_images = slot_images;
    q->width = width;
    q->height = height;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->freed, NULL);
    for (int k = 0; k < PNGQ_SLOTS; k++) {
        pngq_slot *s = &q->slot[k];
        s->rgb = malloc((size_t)slot_images * width * height * 3);
        s->paths = calloc((size_t)slot_images, sizeof *s->paths);
        if (!s->rgb || !s->paths) {
            pngq_free(q);
            varcl_fail(VARCL_E_RUNTIME, "out of host memory for two passes of %d images", slot_images);
            return NULL;
        }
    }
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&q->tid[t], NULL, pngq_thread, q) != 0) break;
        q->threads++;
    }
    if (!q->threads) {
        pngq_free(q);
        varcl_fail(VARCL_E_RUNTIME, "cannot start a PNG writer thread");
        return NULL;
    }
    return q;
}

static int failure(pngq *q)
{
    /* called with the lock held */
    if (q->status) varcl_fail(q->status, "%s", q->msg);
    return q->status;
}

int pngq_put(pngq *q, const uint8_t *rgb, int n, const char *const *paths)
{
    size_t img = (size_t)q->width * q->height * 3;
    if (n < 1) return VARCL_OK;
    if (n > q->slot_images) return varcl_fail(VARCL_E_RUNTIME, "pngq: %d images for slots of %d", n, q->slot_images);
    pthread_mutex_lock(&q->mu);
    pngq_slot *s = &q->slot[q->put_at];
    while (s->n && !q->status) pthread_cond_wait(&q->freed, &q->mu);
    int st = failure(q);
    if (!st) {
        pthread_mutex_unlock(&q->mu); /* the slot is ours until it is marked filled */
        memcpy(s->rgb, rgb, (size_t)n * img);
        for (int i = 0; i < n && !st; i++) {
            free(s->paths[i]);
            if (!(s->paths[i] = strdup(paths[i]))) st = varcl_fail(VARCL_E_RUNTIME, "out of host memory");
        }
        pthread_mutex_lock(&q->mu);
        if (!st) {
            s->next = 0;
            s->left = n;
            s->n = n;
            q->put_at = (q->put_at + 1) % PNGQ_SLOTS;
            pthread_cond_broadcast(&q->work);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

int pngq_finish(pngq *q)
{
    pthread_mutex_lock(&q->mu);
    for (;;) {
        int busy = 0;
        for (int k = 0; k < PNGQ_SLOTS; k++) busy |= q->slot[k].n != 0;
        if (!busy) break;
        pthread_cond_wait(&q->freed, &q->mu);
    }
    int st = failure(q);
    pthread_mutex_unlock(&q->mu);
    return st;
}

long long pngq_written(pngq *q)
{
    pthread_mutex_lock(&q->mu);
    long long n = q->written;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void pngq_free(pngq *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    for (int t = 0; t < q->threads; t++) pthread_join(q->tid[t], NULL);
    for (int k = 0; k < PNGQ_SLOTS; k++) {
        if (q->slot[k].paths)
            for (int i = 0; i < q->slot_images; i++) free(q->slot[k].paths[i]);
        free(q->slot[k].paths);
        free(q->slot[k].rgb);
    }
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->freed);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
