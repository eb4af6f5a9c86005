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

#include <pthread.h>

#include "gw_counts.h"
#include "gw_drop.h"
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
    struct gw_task drain; /* gw_listen_drain() */
    uint64_t refusal_logged_ms;
    _Atomic uint64_t ticked_ms; /* the loop's last tick, for gw_listen_stalled() */
};

struct gw_listen {
    const struct gw_config *cfg;
    const struct gw_h2_ops *ops; /* handed to every worker */
    struct gw_app *app;          /* likewise, opaque */
    struct ssl_ctx_st *ssl_ctx;  /* under tls_mu: SIGHUP replaces it */
    pthread_mutex_t tls_mu;
    struct gw_counts conns_per_addr; /* --max-conns-per-address */
    struct gw_counts conn_rate;      /* --conn-rate-per-address, and --flood-penalty */
    struct gw_counts req_per_addr;   /* --request-rate-per-address, for every worker */
    struct gw_counts req_per_device; /* --request-rate-per-device */
    struct gw_drop drop;             /* penalised addresses, dropped by the kernel */
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

/*
 * The first loop that has not ticked (once a second when it is free) for |limit_ms| at |now_ms|,
 * as its index + 1 with how long in |ret_ms|, or 0 when every loop is ticking. Any thread.
 */
unsigned gw_listen_stalled(struct gw_listen *l, uint64_t now_ms, uint64_t limit_ms,
                           uint64_t *ret_ms);

/*
 * A non-blocking listening TCP socket bound to "HOST:PORT" ("[v6]:PORT" too), with SO_REUSEADDR
 * and no SO_REUSEPORT. Returns the fd or -errno (-EINVAL for an address that does not parse).
 */
int gw_listen_socket(const char *addr);

/* The loop of worker |i| (< l->nworkers), for posting tasks to it. */
struct gw_loop *gw_listen_loop(struct gw_listen *l, unsigned i);

/*
 * Reads the certificate and key files of the configuration again and uses them for every new TLS
 * connection; open connections go on with the ones they started with. Returns 0 (also without
 * TLS), or a negative code after logging why, and then the old certificate stays in use. Main
 * thread (SIGHUP).
 */
int gw_listen_reload_tls(struct gw_listen *l);

/*
 * Begins a graceful stop: every loop stops accepting and sends each connection a GOAWAY, so no new
 * request starts while the ones in flight finish; connections close as their last stream does.
 * Then waits up to |timeout_ms| for every connection to be gone, and returns how many are left
 * (gw_listen_stop() closes those). Main thread.
 */
unsigned gw_listen_drain(struct gw_listen *l, unsigned timeout_ms);

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
