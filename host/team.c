/* team: a job split over host threads (see team.h). */
#include "team.h"

#include "config.h"
#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

int ht_threads(void)
{
    const char *env = getenv("VARCL_HOST_THREADS");
    if (env && *env) {
        int v;
        if (vcfg_parse_int(env, 1, HT_MAX_THREADS, &v)) {
            varcl_fail(VARCL_E_INPUT, "VARCL_HOST_THREADS=%s: expected 1..%d", varcl_shown(env), HT_MAX_THREADS);
            return -1;
        }
        return v;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > HT_MAX_THREADS ? HT_MAX_THREADS : (int)cpus;
}

typedef struct {
    void (*fn)(void *arg, int id, int n);
    void *arg;
    int id, n;
} ht_part;

static void *ht_start(void *p)
{
    const ht_part *part = p;
    part->fn(part->arg, part->id, part->n);
    return NULL;
}

void ht_run(int n, void (*fn)(void *arg, int id, int n), void *arg)
{
    if (n < 1) n = 1;
    if (n > HT_MAX_THREADS) n = HT_MAX_THREADS;
    ht_part parts[HT_MAX_THREADS];
    pthread_t tid[HT_MAX_THREADS];
    int started[HT_MAX_THREADS] = {0};
    for (int i = 0; i < n; i++) parts[i] = (ht_part){fn, arg, i, n};
    for (int i = 1; i < n; i++) started[i] = pthread_create(&tid[i], NULL, ht_start, &parts[i]) == 0;
    fn(arg, 0, n);
    for (int i = 1; i < n; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else fn(arg, i, n); /* could not start: its part runs here */
    }
}
