/*
 * gw_metrics: the gateway's counters and histograms, and their Prometheus text rendering.
 *
 * Counters and histograms are process-wide atomics that any thread bumps: every problem type
 * answered (counted by the protocol layer where a problem document is sent), every upload
 * acknowledged (new or a retry, its bytes and its time from request to receipt), uploads in
 * flight, connections refused by reason, database errors of the stages, and the stages' times. It
 * serves nothing itself: GET /metrics (gw_api) gathers the gauges that need the disk or the
 * database on the db pool, and renders everything with gw_metrics_text().
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Counts one answer with problem |err| (a GW_E_* code). Any thread. */
void gw_metrics_problem(int err);

/* Counts one acknowledged upload: |created| (then its |bytes| too), or a retry of a known one,
 * answered |seconds| after its request began. Any thread. */
void gw_metrics_upload(bool created, uint64_t bytes, double seconds);

/* An upload began (+1) or ended, answered or not (-1). Any thread. */
void gw_metrics_in_flight(int delta);

enum gw_refusal {
    GW_REFUSED_CONN_RATE, /* --conn-rate-per-address, or an address penalised for a flood */
    GW_REFUSED_CONN_CAP,  /* --max-conns-per-address */
    GW_REFUSED_FLOOD,     /* a connection cut for a flood (the address is then penalised) */
    GW_REFUSED__MAX
};

/* Counts one refusal of kind |r|. Any thread. */
void gw_metrics_refusal(enum gw_refusal r);

enum gw_stage_kind { GW_STAGE_INGEST, GW_STAGE_PROCESS, GW_STAGE__MAX };

/* One photo through stage |k| took |seconds|. Any thread. */
void gw_metrics_stage(enum gw_stage_kind k, double seconds);

/* A stage found PostgreSQL unreachable or lost its connection. Any thread. */
void gw_metrics_db_error(enum gw_stage_kind k);

/* What GET /metrics gathers at each scrape; a negative count is unknown and left out. */
struct gw_metrics_gauges {
    size_t devices;             /* devices known to the intake path */
    long long spool_pending;    /* receipts not yet recorded in PostgreSQL */
    long long spool_free_bytes; /* free space of the data folder's filesystem */
    bool database_up;           /* the scrape's database query answered */
    long long photos[6];        /* by status: received processing queued failed + 2 spare */
    long long review[6];        /* verification queue by state: waiting accepted rejected
                                   retake duplicate, + 1 spare */
    bool edge;                  /* a CATD edge relay: the relay_* values below are its own */
    long long relay_backlog;    /* acknowledged here, not yet held by the centre */
    unsigned long long relay_forwarded, relay_refused, relay_failures;
    bool relay_up; /* the last attempt reached the centre */
};

/* The status and state names, in the order of gw_metrics_gauges.photos and .review. */
extern const char *const gw_metrics_photo_status[];
extern const char *const gw_metrics_review_state[];

/*
 * Renders every counter and histogram, and the gauges |g|, in the Prometheus text exposition
 * format 0.0.4 into a new string (caller frees), its length in |*ret_len|. Returns NULL when out
 * of memory. Any thread.
 */
char *gw_metrics_text(const struct gw_metrics_gauges *g, size_t *ret_len);

#endif
