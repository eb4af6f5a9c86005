/*
 * db_capture: the statements of double-blind capture (captura), for the capturists' API
 * (gw_capture) and `prep-gateway election import`.
 *
 * Claims, figures, releases and send-backs call the capture queue's own functions
 * (schema/007_capture.sql), where the rules live: leases, two blind captures by two users,
 * disputes decided by a supervisor's capture, the append-only history and capture_check(), the one
 * place where an acta's checks and contabilizada status are computed. Documents (claims, an acta's
 * captures, the counters, an import's summary) come back as JSON text that PostgreSQL builds.
 * Users are identified by the user_id of their session: this module checks no session, role or
 * CSRF token (gw_capture does, through gw_review_job). Blocking functions on a connection owned by
 * the caller (gw_db.h).
 */
#ifndef DB_CAPTURE_H
#define DB_CAPTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a capture operation found, besides errors (returned as negative codes). */
enum gw_db_capture_outcome {
    GW_DB_CAPTURE_OK = 0,
    GW_DB_CAPTURE_NOT_FOUND, /* the photo is not in capture */
    GW_DB_CAPTURE_DONE,      /* the lease was used already, or the acta's round is over */
    GW_DB_CAPTURE_STALE,     /* not a current lease of this user */
    GW_DB_CAPTURE_INVALID,   /* the figures do not fit the acta type (a reason is given) */
};

/*
 * Leases the next acta to |user_id| for |lease_s| seconds: for a blind capture, or with |dispute|
 * the oldest acta in dispute for a supervisor's deciding capture. Returns 1 with the claim
 * document in a new string |*ret_json| (caller frees): photo_id, clave_acta, acta_type,
 * acta_type_name, round, kind, lease_token, lease_expires, review_url and fields (id, label, kind,
 * in the acta's order); a dispute's also names disputed_fields (the ids where the blind captures
 * differ, never their values). Returns 0 when nothing waits, -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_capture_claim(PGconn *c, int64_t user_id, unsigned lease_s, bool dispute,
                        char **ret_json);

/*
 * Records |user_id|'s |figures| (a JSON object, field id to count, "ilegible" or "sin_dato") for
 * |photo_id| under |lease_token|. Returns GW_DB_CAPTURE_OK with {photo_id, state, checks} in a new
 * string |*ret_json| (caller frees); GW_DB_CAPTURE_INVALID with the reason copied into |why|
 * (|why_cap| bytes); GW_DB_CAPTURE_NOT_FOUND, _DONE or _STALE; or -ENOMEM, -EIO, -EPROTO.
 */
int gw_db_capture_submit(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id,
                         const char *figures, char **ret_json, char *why, size_t why_cap);

/*
 * Gives back |user_id|'s live lease |lease_token| on |photo_id| unused (the acta is not offered to
 * the same user again in this round). Returns GW_DB_CAPTURE_OK, _NOT_FOUND, _DONE, _STALE, -EIO or
 * -EPROTO.
 */
int gw_db_capture_release(PGconn *c, const char *photo_id, const char *lease_token,
                          int64_t user_id);

/*
 * Sends |photo_id| back to review as illegible under |user_id|'s live lease |lease_token|, with
 * |note| (may be empty): the photo waits for a clerk again, as after a supervisor's reopen.
 * Returns GW_DB_CAPTURE_OK, _NOT_FOUND, _DONE, _STALE, -EIO or -EPROTO.
 */
int gw_db_capture_return(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id,
                         const char *note);

/*
 * Reads everything about |photo_id| in capture, for a supervisor, into a new string |*ret_json|
 * (caller frees): clave_acta, state, round, result (the capture that counts) and every capture
 * and send-back of every round, with its user and checks. Returns 0, -ENOENT (not in capture),
 * -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_capture_acta_json(PGconn *c, const char *photo_id, char **ret_json);

/*
 * Reads the capture counters into a new string |*ret_json| (caller frees): {"total": {...},
 * "districts": [{state, district, ...}]} with expected, received, accepted, captured_once,
 * captured, in_dispute, contabilizadas and no_contabilizadas, counted per acta (clave) of the
 * catalogue; with |totals_only| only the total's object. Returns 0, -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_capture_counters_json(PGconn *c, bool totals_only, char **ret_json);

/*
 * Loads the election structure |doc| (the JSON text of docs/capture.md) in one statement
 * (election_import()), replacing the acta types it names. Returns 0 with a summary
 * {election_id, acta_types, fields} in a new string |*ret_json| (caller frees), -ENOMEM, -EIO or
 * -EPROTO (the file was refused: PQerrorMessage() says why).
 */
int gw_db_capture_election_import(PGconn *c, const char *doc, char **ret_json);

#endif
