/*
 * gw_listen: the listening sockets, TLS and the event-loop threads.
 *
 * Binds the h2c and TLS addresses of the configuration, loads the certificate (TLS 1.2+, AEAD
 * ECDHE suites, ALPN h2 only), and starts one loop thread per configured loop. Every loop accepts
 * on its own dup() of each listening socket and hands each new connection to the protocol layer
 * (gw_h2), whose timeouts it drives once a second. It knows nothing of requests: what a request
 * does is the business of |ops| (the application's router).
 */
#ifndef GW_LISTEN_H
#define GW_LISTEN_H

#include "gw_h2.h"

struct evconnlistener;
struct event;
struct ssl_ctx_st;

/* A loop thread: the protocol layer's worker, plus what accepts and ticks on it. */
struct gw_listen_worker {
    struct gw_worker w; /* first */
    struct gw_listen *l;
    struct evconnlistener *h2c, *tls;
    struct event *tick;
};

struct gw_listen {
    const struct gw_config *cfg;
    const struct gw_h2_ops *ops; /* handed to every worker */
    struct gw_app *app;          /* likewise, opaque */
    struct ssl_ctx_st *ssl_ctx;
    int h2c_fd, tls_fd;
    struct gw_listen_worker *workers;
    unsigned nworkers;
};

/*
 * Opens the listeners of |cfg| and starts cfg->loops loop threads whose workers carry |ops| and
 * |app|, in caller memory |l|. Returns 0, or -errno after logging why (call gw_listen_stop() to
 * undo what was started). Main thread only.
 */
int gw_listen_start(struct gw_listen *l, const struct gw_config *cfg, const struct gw_h2_ops *ops,
                    struct gw_app *app);

/* The loop of worker |i| (< l->nworkers), for posting tasks to it. */
struct gw_loop *gw_listen_loop(struct gw_listen *l, unsigned i);

/*
 * Stops the loop threads (no callback runs on them afterwards), then closes every connection.
 * Work still queued on a loop stays there for gw_listen_free() to run. Main thread only.
 */
void gw_listen_stop(struct gw_listen *l);

/*
 * Runs the tasks still posted to the stopped loops (completions of pool work, which release
 * their streams) and frees the loops, the listeners and the TLS context. Call after the pools
 * that post to the loops have stopped. Accepts a zeroed or half-started |l|. Main thread only.
 */
void gw_listen_free(struct gw_listen *l);

#endif
