#include "gw_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw_fifo.h"

static void run_done(struct gw_task *t)
{
    struct gw_work *w = (struct gw_work *)t;

    w->done(w);
}

static void *pool_main(void *arg)
{
    struct gw_pool *p = arg;
    void *ctx = p->thread_init ? p->thread_init(p->arg) : NULL;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct gw_work *w;

        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->mu);
        if (!p->head)
            break; /* stopping and drained */
        w = p->head;
        p->head = w->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);

        w->work(w, ctx);
        w->task.cb = run_done;
        gw_loop_post(w->loop, &w->task);

        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    if (p->thread_fini)
        p->thread_fini(ctx);
    return NULL;
}

int gw_pool_start(struct gw_pool *p, const char *name, unsigned n, void *(*thread_init)(void *arg),
                  void (*thread_fini)(void *ctx), void *arg)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->name = name;
    p->thread_init = thread_init;
    p->thread_fini = thread_fini;
    p->arg = arg;
    p->threads = calloc(n, sizeof(*p->threads));
    if (!p->threads)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        int r = pthread_create(&p->threads[i], NULL, pool_main, p);

        if (r) {
            gw_pool_stop(p);
            return -r;
        }
        p->nthreads++;
    }
    return 0;
}

void gw_pool_submit(struct gw_pool *p, struct gw_loop *loop, struct gw_work *w, gw_work_cb work,
                    gw_done_cb done)
{
    w->work = work;
    w->done = done;
    w->loop = loop;
    w->cancelled = false;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        w->cancelled = true;
        w->task.cb = run_done;
        gw_loop_post(loop, &w->task);
        return;
    }
    GW_FIFO_PUSH(p->head, p->tail, w);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

void gw_pool_stop(struct gw_pool *p)
{
    if (!p->threads)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    /* mu and cond stay valid: late submitters (done callbacks run while draining) still lock mu
     * to learn that the pool is stopping. */
}

void gw_deadline_after_ms(unsigned ms, struct timespec *ret)
{
    clock_gettime(CLOCK_REALTIME, ret);
    ret->tv_sec += ms / 1000;
    ret->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ret->tv_nsec >= 1000000000L) {
        ret->tv_sec++;
        ret->tv_nsec -= 1000000000L;
    }
}
