/* A small persistent thread pool: one job at a time, items handed out by an
 * atomic counter, the submitting thread works too (so 1 thread = no workers). */
#ifndef SP_POOL_H
#define SP_POOL_H

typedef struct sp_pool sp_pool;
/* run(ctx, worker, item): worker is 0 for the caller, 1..n-1 for pool threads. */
typedef void (*sp_pool_fn)(void *ctx, int worker, int item);

sp_pool *sp_pool_new(int nthreads);
int sp_pool_threads(const sp_pool *pool);
/* Runs fn over items [0, n) on all threads; returns when every item is done.
 * Concurrent callers are serialised. */
void sp_pool_run(sp_pool *pool, sp_pool_fn fn, void *ctx, int n);
void sp_pool_free(sp_pool *pool);

#endif
