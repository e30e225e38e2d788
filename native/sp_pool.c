#include "sp_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct sp_pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t submit;     /* one job at a time */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    unsigned long generation;   /* bumped per job */
    int busy;                   /* workers still inside the current job */
    int stop;
    sp_pool_fn fn;
    void *ctx;
    int n;
    atomic_int next;
};

typedef struct { sp_pool *pool; int worker; } worker_arg;

static void drain(sp_pool *p, int worker)
{
    int i;
    while ((i = atomic_fetch_add(&p->next, 1)) < p->n) p->fn(p->ctx, worker, i);
}

static void *worker_main(void *arg)
{
    worker_arg a = *(worker_arg *)arg;
    sp_pool *p = a.pool;
    unsigned long seen = 0;
    free(arg);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        drain(p, a.worker);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

sp_pool *sp_pool_new(int nthreads)
{
    sp_pool *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    if (nthreads < 1) nthreads = 1;
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->threads) { free(p); return NULL; }
    pthread_mutex_init(&p->submit, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    p->nthreads = 1;
    for (int t = 1; t < nthreads; t++) {
        worker_arg *a = malloc(sizeof(*a));
        if (!a) break;
        a->pool = p;
        a->worker = t;
        if (pthread_create(&p->threads[t], NULL, worker_main, a) != 0) { free(a); break; }
        p->nthreads++;
    }
    return p;
}

int sp_pool_threads(const sp_pool *pool) { return pool->nthreads; }

void sp_pool_run(sp_pool *p, sp_pool_fn fn, void *ctx, int n)
{
    pthread_mutex_lock(&p->submit);
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->next, 0);
    p->busy = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    drain(p, 0);

    pthread_mutex_lock(&p->lock);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->submit);
}

void sp_pool_free(sp_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int t = 1; t < p->nthreads; t++) pthread_join(p->threads[t], NULL);
    pthread_mutex_destroy(&p->submit);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}
