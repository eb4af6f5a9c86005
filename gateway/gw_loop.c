#include "gw_loop.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "gw_fifo.h"

static struct gw_task *take_all(struct gw_loop *l)
{
    struct gw_task *t;

    pthread_mutex_lock(&l->mu);
    t = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    return t;
}

static void run_tasks(struct gw_task *t)
{
    while (t) {
        struct gw_task *next = t->next;

        t->next = NULL;
        t->cb(t); /* may free t */
        t = next;
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    run_tasks(take_all(arg));
}

int gw_loop_init(struct gw_loop *l)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    l->base = event_base_new();
    if (!l->base)
        return -ENOMEM;
    l->wake = event_new(l->base, -1, 0, on_wake, l);
    if (!l->wake)
        return -ENOMEM;
    return 0;
}

static void *loop_main(void *arg)
{
    struct gw_loop *l = arg;

    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int gw_loop_start(struct gw_loop *l)
{
    int r = pthread_create(&l->thread, NULL, loop_main, l);

    if (r)
        return -r;
    l->running = true;
    return 0;
}

void gw_loop_stop(struct gw_loop *l)
{
    if (!l->running)
        return;
    event_base_loopbreak(l->base);
    pthread_join(l->thread, NULL);
    l->running = false;
}

void gw_loop_post(struct gw_loop *l, struct gw_task *task)
{
    bool first;

    pthread_mutex_lock(&l->mu);
    first = l->head == NULL;
    GW_FIFO_PUSH(l->head, l->tail, task);
    pthread_mutex_unlock(&l->mu);
    /* One activation drains everything queued, so only the first poster needs to wake the loop.
     * event_active() is thread-safe once evthread_use_pthreads() ran. */
    if (first)
        event_active(l->wake, EV_READ, 0);
}

void gw_loop_drain(struct gw_loop *l)
{
    struct gw_task *t;

    while ((t = take_all(l)))
        run_tasks(t);
}

void gw_loop_finish(struct gw_loop *l)
{
    if (l->wake)
        event_free(l->wake);
    if (l->base)
        event_base_free(l->base);
    pthread_mutex_destroy(&l->mu);
    memset(l, 0, sizeof(*l));
}
