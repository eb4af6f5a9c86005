/*
 * gw_review_job: one request of the clerks' API, from the loop to the db pool and back.
 *
 * Private to gw_review (gw_review.c parses a request on its loop and fills a job;
 * gw_review_job.c owns the job from then on). On a db-pool thread (the login pool for
 * GW_REVIEW_OP_LOGIN) the job loads the session, checks the role and, for cookie-authenticated
 * changes, the CSRF token, then runs the operation through db/db_review.h or gw_auth; back on the
 * stream's loop it answers with the result or an RFC 9457 problem and frees itself. It parses no
 * request bodies and routes no paths.
 */
#ifndef GW_REVIEW_JOB_H
#define GW_REVIEW_JOB_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_pool.h"
#include "gw_receipt.h"
#include "gw_review.h"
#include "gw_throttle.h"

/* A name-value pair for gw_stream_respond(), pointing at |n| and |v| (which must outlive it). */
#define GW_REVIEW_NV(n, v)                                                                         \
    (nghttp2_nv)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME         \
    }

enum gw_review_op {
    GW_REVIEW_OP_LOGIN,
    GW_REVIEW_OP_LOGOUT,
    GW_REVIEW_OP_SESSION,
    GW_REVIEW_OP_CLAIM,
    GW_REVIEW_OP_DECIDE,
    GW_REVIEW_OP_RELEASE,
    GW_REVIEW_OP_REOPEN,
    GW_REVIEW_OP_HISTORY,
    GW_REVIEW_OP_PRIORITY,
    GW_REVIEW_OP_PROGRESS,
    GW_REVIEW_OP_EVENTS,
    GW_REVIEW_OP_RUN, /* the job's own |run| (gw_capture's operations) */
};

struct gw_review_job {
    struct gw_work work; /* first */
    struct gw_stream *s;
    enum gw_review_op op;
    enum gw_role need;
    bool mutating, bearer, tls;
    char token[GW_AUTH_TOKEN_LEN + 1];
    char csrf[GW_AUTH_TOKEN_LEN + 1]; /* X-CSRF-Token as sent */
    char photo_id[GW_PHOTO_ID_LEN + 1];
    unsigned lease_s;
    /* inputs parsed on the loop */
    char username[65];
    char password[GW_AUTH_PASSWORD_MAX + 1];
    struct gw_review_decision dec;
    char filter_photo[GW_PHOTO_ID_LEN + 1], filter_clave[24], filter_user[65];
    int limit;
    long prio_state, prio_district, prio_weight;
    char prio_municipality[128];
    /* GW_REVIEW_OP_RUN: the operation, run on the db pool after the session, role and CSRF
     * checks, and its input (malloc'd, freed with the job) */
    void (*run)(struct gw_review_job *j, PGconn *pg);
    char *in;
    bool dispute;
    /* results */
    struct gw_session sess;
    int err;
    char detail[200];
    int status;
    char *out; /* JSON, malloc'd */
    unsigned retry_s;
    char peer[GW_THROTTLE_ADDR_MAX]; /* GW_REVIEW_OP_LOGIN: the client's address, for gw_throttle */
};

/*
 * Makes the job of operation |op| on |s|, needing role |need|; |mutating| operations need the CSRF
 * token unless authenticated by bearer. Reads the session token, X-CSRF-Token and the scheme from
 * the request headers. Returns the job (the caller fills its inputs, then submits or free()s it),
 * or NULL after answering 500. Loop thread only.
 */
struct gw_review_job *gw_review_job_new(struct gw_stream *s, enum gw_review_op op,
                                        enum gw_role need, bool mutating);

/*
 * Queues |j| on the db pool (the login pool for GW_REVIEW_OP_LOGIN), holding a reference on its
 * stream; the job answers and frees itself when done, also when cancelled. Loop thread only.
 */
void gw_review_job_submit(struct gw_review_job *j);

/*
 * Answers |s| with the problem |err| (a GW_E_* code) and |detail|, telling the client when to
 * try again: Retry-After |retry_s| (429 login-locked, 503 while busy). Loop thread only.
 */
void gw_review_respond_retry_later(struct gw_stream *s, int err, const char *detail,
                                   unsigned retry_s);

#endif
