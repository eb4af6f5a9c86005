/*
 * db_review: the verification queue's statements, for the clerks' API (gw_review).
 *
 * Claiming, deciding, releasing and reopening call the queue's own functions or update
 * verification_queue under its lease rules (leases, exactly-once decisions and the append-only
 * history are enforced by PostgreSQL: schema/003_review.sql); history, priorities, the counters
 * and the progress document come back as JSON text that PostgreSQL builds. Users are identified by
 * the user_id of their session: this module checks no session, role or CSRF token (gw_review does,
 * with gw_auth). Blocking functions on a connection owned by the caller (gw_db.h).
 */
#ifndef DB_REVIEW_H
#define DB_REVIEW_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_receipt.h"

/* What a queue operation found, besides errors (returned as negative codes). */
enum gw_db_review_outcome {
    GW_DB_REVIEW_OK = 0,
    GW_DB_REVIEW_NOT_FOUND, /* the photo is not in the verification queue */
    GW_DB_REVIEW_DECIDED,   /* decide: already decided */
    GW_DB_REVIEW_STALE,     /* decide, release: not the current lease token */
    GW_DB_REVIEW_WAITING,   /* reopen: the photo waits already */
};

/* A photo leased to a clerk by gw_db_review_claim(). */
struct gw_db_review_lease {
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char clave[24];
    char lease_token[GW_PHOTO_ID_LEN + 1];
    char lease_expires[40]; /* RFC 3339 with milliseconds, UTC */
    char flag[32];          /* fuera_de_catalogo, posible_correccion; valid when has_flag */
    bool has_flag;
};

/*
 * Leases the next waiting photo to |user_id| for |lease_s| seconds (review_claim()). Returns 1
 * with |*ret| filled, 0 when nothing waits, -EIO or -EPROTO.
 */
int gw_db_review_claim(PGconn *c, int64_t user_id, unsigned lease_s,
                       struct gw_db_review_lease *ret);

/*
 * Builds what a clerk needs to decide on |photo_id| of acta |clave| as a JSON object in a new
 * string |*ret_json| (caller frees): "photo", "catalog", "group" (the acta's other photos) and
 * "history" (its decisions). Returns 0, -ENOENT, -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_review_claim_detail(PGconn *c, const char *photo_id, const char *clave, char **ret_json);

/*
 * Records |user_id|'s decision on |photo_id| under |lease_token| (review_decide()); |reason|,
 * |duplicate_of| and |note| may be empty strings for none. Returns GW_DB_REVIEW_OK,
 * GW_DB_REVIEW_NOT_FOUND, GW_DB_REVIEW_DECIDED or GW_DB_REVIEW_STALE; -ENOENT when
 * |duplicate_of| names no known photo, -EINVAL when it names |photo_id| itself, -EIO or -EPROTO.
 */
int gw_db_review_decide(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id,
                        const char *decision, const char *reason, const char *duplicate_of,
                        const char *note);

/*
 * Gives back |user_id|'s live lease |lease_token| on |photo_id| and NOTIFYs review_changed.
 * Returns GW_DB_REVIEW_OK, GW_DB_REVIEW_STALE (not the current lease), -EIO or -EPROTO.
 */
int gw_db_review_release(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id);

/*
 * Puts the decided |photo_id| back in the queue on behalf of |user_id| with |note| (may be
 * empty) (review_reopen()). Returns GW_DB_REVIEW_OK, GW_DB_REVIEW_NOT_FOUND,
 * GW_DB_REVIEW_WAITING, -EIO or -EPROTO.
 */
int gw_db_review_reopen(PGconn *c, const char *photo_id, int64_t user_id, const char *note);

/*
 * Reads the newest |limit| decisions as a JSON array in a new string |*ret_json| (caller
 * frees), filtered by |photo_id|, |clave| and |username| where these are not empty. Returns 0,
 * -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_review_history(PGconn *c, int limit, const char *photo_id, const char *clave,
                         const char *username, char **ret_json);

/*
 * Records a priority of |weight| set by |user_id| for a district (|district| > 0, |municipality|
 * empty) or a municipality (|district| 0) of |state|, and raises the waiting photos it covers.
 * Returns 0 with {"priority_id", "queued_photos"} in a new string |*ret_json| (caller frees),
 * -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_review_priority(PGconn *c, long state, long district, const char *municipality,
                          long weight, int64_t user_id, char **ret_json);

/*
 * Reads the queue counters as a JSON object into a new string |*ret_json| (caller frees):
 * waiting, in_review, accepted, rejected, retake, duplicate, flagged, processing. Returns 0,
 * -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_review_counts_json(PGconn *c, char **ret_json);

/*
 * Reads the progress document of GET /v1/progress (totals, by district, by municipality),
 * counted per acta, into a new string |*ret_json| (caller frees). Returns 0, -ENOMEM, -EIO or
 * -EPROTO.
 */
int gw_db_review_progress_json(PGconn *c, char **ret_json);

#endif
