/*
 * gw_app: the running gateway, wired together. `prep-gateway serve` is gw_app_run().
 *
 * struct gw_app holds what the request handlers share: the configuration, the spool, the
 * stages, the devices, the gateway key, the thread pools (disk, db, logins), the login throttle
 * and the listeners. Handlers reach it from a stream as s->worker->app. gw_app_run() opens and
 * starts everything in dependency order, gives the protocol layer its router (gw_api_route),
 * waits for SIGINT or SIGTERM, and takes everything down in the reverse order.
 */
#ifndef GW_APP_H
#define GW_APP_H

#include <signal.h>
#include <stdatomic.h>

#include "gw_config.h"
#include "gw_counts.h"
#include "gw_listen.h"
#include "gw_pool.h"
#include "gw_spool.h"

struct gw_devices;
struct gw_events;
struct gw_key;
struct gw_resumes;
struct gw_stage;
struct gw_throttle;

struct gw_app {
    const struct gw_config *cfg;
    struct gw_spool spool;
    struct gw_stage *stage;
    struct gw_resumes *resumes; /* resumable uploads' resources and holds (gw_resume) */
    struct gw_events *events;   /* live counters for SSE (gw_events) */
    struct gw_devices *devices; /* enrolled devices, for signed uploads */
    const struct gw_key *key;   /* the gateway's signing key (receipts, GET /v1/gateway-key) */
    struct gw_pool disk;        /* spool writes and reads */
    struct gw_pool db;          /* PostgreSQL reads for GET requests; each thread has its PGconn */
    struct gw_pool auth;        /* logins (Argon2id), apart so that a flood of them stalls no other
                                   request; each thread has its PGconn */
    atomic_uint logins_queued;  /* logins submitted to |auth| and not answered yet */
    atomic_ullong buffered;     /* bytes of upload buffers in memory (--max-buffered) */
    struct gw_throttle *login_throttle; /* failed logins per client address */
    struct gw_counts uploads;           /* signed uploads in flight per device */
    struct gw_listen listen;            /* sockets, TLS and the loop threads */
    struct gw_scrape *scrape;           /* --metrics: the metrics listener, or NULL */
    struct gw_relay *relay;             /* --upstream: the edge's forwarding stage, or NULL */
};

/*
 * Runs the gateway with |cfg| until SIGINT or SIGTERM, logging |version| when ready. The caller
 * has blocked those signals in every thread (they are taken with sigwait()) and called
 * evthread_use_pthreads(). Returns 0 after a clean stop, or 1 when it could not start (the
 * reason is logged). Main thread only.
 */
int gw_app_run(const struct gw_config *cfg, const char *version, const sigset_t *signals);

#endif
