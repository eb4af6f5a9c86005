/*
 * gw_pool: a fixed pool of threads for blocking work (disk writes and fsync, PostgreSQL queries).
 *
 * Modelled on libuv's uv_queue_work(): |work| runs on a pool thread, then |done| runs on the loop
 * that submitted it. Each pool thread may keep a private context (for example its own PGconn),
 * made by |thread_init| when the thread starts. Work items are intrusive and are run in FIFO
 * order; a submitted item's |done| runs exactly once, also when the pool is shutting down (then
 * with |w->cancelled| set and |work| not run).
 */
#ifndef GW_POOL_H
#define GW_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "gw_loop.h"

struct gw_work;

typedef void (*gw_work_cb)(struct gw_work *w, void *thread_ctx);
typedef void (*gw_done_cb)(struct gw_work *w);

struct gw_work {
    struct gw_task task; /* first: posted back to |loop| */
    struct gw_work *next;
    gw_work_cb work;
    gw_done_cb done;
    struct gw_loop *loop;
    bool cancelled;
};

struct gw_pool {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct gw_work *head, *tail;
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
    void *(*thread_init)(void *arg);
    void (*thread_fini)(void *ctx);
    void *arg;
    const char *name;
};

/*
 * Starts |n| threads named |name|. |thread_init| (may be NULL) runs first on each thread with
 * |arg| and returns that thread's context; |thread_fini| (may be NULL) frees it when the thread
 * exits. Returns 0 or -errno.
 */
int gw_pool_start(struct gw_pool *p, const char *name, unsigned n, void *(*thread_init)(void *arg),
                  void (*thread_fini)(void *ctx), void *arg);

/*
 * Queues |w|: |work| then runs on a pool thread and |done| on |loop|. Safe from any thread.
 */
void gw_pool_submit(struct gw_pool *p, struct gw_loop *loop, struct gw_work *w, gw_work_cb work,
                    gw_done_cb done);

/*
 * Lets queued work finish, stops and joins the threads; items submitted afterwards get |done|
 * with |cancelled| set. Accepts a zeroed pool.
 */
void gw_pool_stop(struct gw_pool *p);

/* The CLOCK_REALTIME time |ms| from now into |ret|: the deadline of a pthread_cond_timedwait()
 * (the stages' and the devices' backoff waits). */
void gw_deadline_after_ms(unsigned ms, struct timespec *ret);

#endif
