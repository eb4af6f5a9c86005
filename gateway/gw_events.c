#include "gw_events.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "db_capture.h"
#include "db_events.h"
#include "db_review.h"
#include "gw_db.h"
#include "gw_log.h"
#include "gw_app.h"
#include "gw_h2.h"

struct sub_list {
    struct gw_stream **v;
    size_t n;
};

struct gw_events {
    struct gw_app *app;
    const char *conninfo;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    int wake_fd;
    pthread_mutex_t mu; /* guards last */
    char *last;         /* the last message sent, for new subscribers */
    unsigned nlists;
    struct sub_list *lists; /* one per loop; each touched only by its loop thread */
};

struct msg {
    struct gw_task task; /* first */
    struct gw_events *ev;
    unsigned loop;
    size_t len;
    char data[];
};

static void drop(struct sub_list *l, size_t i)
{
    gw_stream_unref(l->v[i]);
    l->v[i] = l->v[--l->n];
}

static void deliver(struct gw_task *t)
{
    struct msg *m = (struct msg *)t;
    struct sub_list *l = &m->ev->lists[m->loop];

    for (size_t i = 0; i < l->n;) {
        /* A closed stream, or one whose reader stopped reading, leaves the list. */
        if (gw_stream_send(l->v[i], m->data, m->len) < 0)
            drop(l, i);
        else
            i++;
    }
    free(m);
}

static void broadcast(struct gw_events *ev, const char *data)
{
    size_t len = strlen(data);
    char *copy = strdup(data);

    pthread_mutex_lock(&ev->mu);
    if (copy) {
        free(ev->last);
        ev->last = copy;
    }
    pthread_mutex_unlock(&ev->mu);
    for (unsigned i = 0; i < ev->nlists; i++) {
        struct msg *m = malloc(sizeof(*m) + len + 1);

        if (!m)
            continue;
        m->task = (struct gw_task){.cb = deliver};
        m->ev = ev;
        m->loop = i;
        m->len = len;
        memcpy(m->data, data, len + 1);
        gw_loop_post(gw_listen_loop(&ev->app->listen, i), &m->task);
    }
}

/* Sleeps |ms| or until stop; returns true when stopping. */
static bool nap(struct gw_events *ev, int ms)
{
    struct pollfd p = {.fd = ev->wake_fd, .events = POLLIN};

    if (ev->stopping)
        return true;
    poll(&p, 1, ms);
    return ev->stopping;
}

/* The review counters, with the capture totals as their member "capture" (one message, so that a
 * new subscriber's snapshot has both). */
static char *counts_json(PGconn *pg)
{
    char *review = NULL, *capture = NULL, *out = NULL;
    json_t *o, *c;

    if (gw_db_review_counts_json(pg, &review) < 0)
        return NULL;
    if (gw_db_capture_counters_json(pg, true, &capture) < 0) {
        free(review);
        return NULL;
    }
    o = json_loads(review, 0, NULL);
    c = json_loads(capture, 0, NULL);
    if (o && c && json_object_set_new(o, "capture", c) == 0) {
        c = NULL;
        out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(c);
    json_decref(o);
    free(capture);
    free(review);
    return out;
}

static bool send_counts(struct gw_events *ev, PGconn *pg)
{
    char *json = counts_json(pg), *sse;
    size_t n;

    if (!json)
        return false;
    n = strlen(json) + 32;
    sse = malloc(n);
    if (sse) {
        snprintf(sse, n, "event: counts\ndata: %s\n\n", json);
        broadcast(ev, sse);
    }
    free(sse);
    free(json);
    return true;
}

static void *run(void *arg)
{
    struct gw_events *ev = arg;
    unsigned backoff = 0;
    PGconn *pg = NULL;

    while (!ev->stopping) {
        struct pollfd p[2];
        bool any = false;
        int n;

        if (!pg) {
            pg = gw_db_connect(ev->conninfo, NULL, 0);
            if (pg && gw_db_events_listen(pg) < 0) {
                PQfinish(pg);
                pg = NULL;
            }
            if (!pg) {
                backoff = backoff ? (backoff * 2 > 10000 ? 10000 : backoff * 2) : 250;
                nap(ev, (int)backoff);
                continue;
            }
            backoff = 0;
            any = true; /* counts as of now, for whoever waited */
        }
        if (!any) {
            p[0] = (struct pollfd){.fd = PQsocket(pg), .events = POLLIN};
            p[1] = (struct pollfd){.fd = ev->wake_fd, .events = POLLIN};
            poll(p, 2, GW_EVENTS_HEARTBEAT_S * 1000);
            if (ev->stopping)
                break;
        }
        /* After poll(), read what arrived; a new connection sends the counts anyway. */
        n = gw_db_notifies_drain(pg, !any);
        if (n < 0) {
            PQfinish(pg);
            pg = NULL;
            continue;
        }
        if (n > 0)
            any = true;
        /* With or without news, a heartbeat: it also retires closed subscribers. */
        if (!send_counts(ev, pg)) {
            PQfinish(pg);
            pg = NULL;
            continue;
        }
        /* Coalesce bursts (a clerk deciding, the processing stage queueing many photos): the
         * notifications of the next interval are read together. */
        if (any && nap(ev, GW_EVENTS_COALESCE_MS))
            break;
    }
    PQfinish(pg);
    return NULL;
}

int gw_events_new(struct gw_app *app, const char *conninfo, struct gw_events **ret)
{
    struct gw_events *ev = calloc(1, sizeof(*ev));
    int r;

    if (!ev)
        return -ENOMEM;
    ev->app = app;
    ev->conninfo = conninfo;
    ev->nlists = app->cfg->loops;
    ev->lists = calloc(ev->nlists ? ev->nlists : 1, sizeof(*ev->lists));
    ev->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&ev->mu, NULL);
    if (!ev->lists || ev->wake_fd < 0) {
        r = ev->wake_fd < 0 ? -errno : -ENOMEM;
        gw_events_free(ev);
        return r;
    }
    *ret = ev;
    return 0;
}

int gw_events_start(struct gw_events *ev)
{
    int r;

    if (ev->app->listen.nworkers != ev->nlists)
        return -EINVAL;
    r = pthread_create(&ev->thread, NULL, run, ev);
    if (r != 0)
        return -r;
    ev->started = true;
    return 0;
}

int gw_events_subscribe(struct gw_events *ev, struct gw_stream *s)
{
    struct sub_list *l = &ev->lists[s->worker->id];
    struct gw_stream **grown;
    char *last = NULL;

    if (l->n >= GW_EVENTS_MAX_SUBSCRIBERS)
        return -ENOSPC;
    grown = realloc(l->v, (l->n + 1) * sizeof(*grown));
    if (!grown)
        return -ENOSPC;
    l->v = grown;
    gw_stream_ref(s);
    l->v[l->n++] = s;
    pthread_mutex_lock(&ev->mu);
    if (ev->last)
        last = strdup(ev->last);
    pthread_mutex_unlock(&ev->mu);
    /* A comment line first, so the client sees the stream open even before any counts. */
    gw_stream_send(s, ": prep-gateway events\n\n", 23);
    if (last)
        gw_stream_send(s, last, strlen(last));
    free(last);
    return 0;
}

void gw_events_stop(struct gw_events *ev)
{
    uint64_t one = 1;

    if (!ev || !ev->started)
        return;
    ev->stopping = true;
    if (write(ev->wake_fd, &one, sizeof(one)) < 0)
        gw_log(GW_LOG_WARN, "msg=\"could not wake the events thread\" err=\"%s\"", strerror(errno));
    pthread_join(ev->thread, NULL);
    ev->started = false;
}

void gw_events_free(struct gw_events *ev)
{
    if (!ev)
        return;
    gw_events_stop(ev);
    for (unsigned i = 0; ev->lists && i < ev->nlists; i++) {
        while (ev->lists[i].n)
            drop(&ev->lists[i], 0);
        free(ev->lists[i].v);
    }
    free(ev->lists);
    if (ev->wake_fd >= 0)
        close(ev->wake_fd);
    pthread_mutex_destroy(&ev->mu);
    free(ev->last);
    free(ev);
}
