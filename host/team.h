/* team: host threads that split one job's index range between them: the token sampling of a scale (sample.c) and
 * the conversion of weights into their device layout at load (wload.c). Threads are started per job and joined
 * before it returns (a start costs ~50 us: jobs are sized so that it does not matter). */
#ifndef VARCL_TEAM_H
#define VARCL_TEAM_H

#define HT_MAX_THREADS 16

/* Host threads to use: VARCL_HOST_THREADS (1..16) if set, else one per online CPU, at most 16.
 * -1 with an input error recorded for a bad VARCL_HOST_THREADS. */
int ht_threads(void);

/* Runs fn(arg, id, n) for id = 0 .. n - 1, each on its own thread (id 0 on the calling thread); returns when all
 * have returned. If a thread cannot be started, its part runs on the calling thread, so every id runs once. */
void ht_run(int n, void (*fn)(void *arg, int id, int n), void *arg);

#endif
