/*
 * gw_review: the verification clerks' API and pages.
 *
 * Routes the session endpoints (POST /v1/login, POST /v1/logout, GET /v1/session), the queue
 * (POST /v1/review/claim, POST /v1/review/{photo_id}/decision|release|reopen, GET
 * /v1/review/history, POST /v1/review/priority, GET /v1/review/events) and GET /v1/progress, and
 * hands the page paths (/, /login/, /review/, /dashboard/, /history/, /static/...) to gw_static.
 * Bodies are parsed and validated on the loop; every database step (session, role, CSRF check,
 * then the operation) runs as one job on the db pool, and the answer, or an RFC 9457 problem,
 * comes back on the stream's loop. The statements are in db/db_review.c and db/db_auth.c; the
 * queue's rules themselves (leases, exactly-once decisions, append-only history) are in
 * PostgreSQL: schema/003_review.sql.
 *
 * Authentication: a session token from the `prep_session` cookie or `Authorization: Bearer`
 * (gw_auth). Cookie-authenticated POSTs must carry the session's CSRF token in `X-CSRF-Token`;
 * bearer requests need not (a browser never adds that header by itself). Roles: clerk <
 * supervisor < admin; every endpoint names the least role it accepts (docs/api.md).
 *
 * Two files: gw_review.c routes and parses requests on the loop; gw_review_job.c (its private
 * header gw_review_job.h) runs each one on the db pool and answers. It does not serve photos
 * (gw_api does, calling gw_review_check() for the clerk check).
 */
#ifndef GW_REVIEW_H
#define GW_REVIEW_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_auth.h"

struct gw_stream;

#define GW_REVIEW_BODY_MAX 8192 /* bytes of a JSON request body */
#define GW_REVIEW_NOTE_MAX 500  /* bytes of a decision's note */
#define GW_REVIEW_HISTORY_MAX 500
#define GW_REVIEW_LOGINS_QUEUED_MAX 64 /* logins waiting for a password check; then 503 */

/* A decision as POSTed, validated. Empty strings for absent members. */
struct gw_review_decision {
    char lease_token[37];
    char decision[12]; /* accept, reject, retake, duplicate */
    char reason[20]; /* reject only: ilegible, sin_acta, no_es_acta, acta_equivocada, incompleta */
    char duplicate_of[37]; /* duplicate only: a photo id */
    char note[GW_REVIEW_NOTE_MAX + 1];
};

/*
 * Parses and validates the decision body |json| (|len| bytes). Returns 0 with |*ret| filled, or
 * -EINVAL with a static reason in |*ret_why| (nothing allocated). Pure.
 */
int gw_review_decision_parse(const char *json, size_t len, struct gw_review_decision *ret,
                             const char **ret_why);

/*
 * Routes |s| when its path (|path|, |len| bytes, without the query) is one of this module's.
 * Returns true when it took the request (answered now or later), false to let the caller go on.
 * Loop thread only.
 */
bool gw_review_route(struct gw_stream *s, const char *path, size_t len);

/*
 * Copies the request's session token (cookie or bearer) into |ret_token| (GW_AUTH_TOKEN_LEN + 1
 * bytes; empty when there is none). Loop thread only.
 */
void gw_review_request_token(const struct gw_stream *s, char *ret_token);

/*
 * Answers |s| with 405 method-not-allowed and `Allow: |allow|` (a static string). Loop thread only.
 */
void gw_review_method_not_allowed(struct gw_stream *s, const char *allow);

/*
 * Returns the body of |s| (read with gw_stream_read_body()) as a new JSON object (the caller
 * json_decref()s it; an empty body is {}), or NULL after answering 415 (not application/json) or
 * 400 (not a JSON object). Loop thread only.
 */
struct json_t *gw_review_body_object(struct gw_stream *s);

/*
 * Checks that |token| names a live session with at least |need|. Returns 0 or the GW_E_* code to
 * answer with (UNAUTHENTICATED, FORBIDDEN, UNAVAILABLE), with a static reason in |*ret_why|.
 * Blocking: db pool threads only.
 */
int gw_review_check(PGconn *pg, const char *token, enum gw_role need, const char **ret_why);

#endif
