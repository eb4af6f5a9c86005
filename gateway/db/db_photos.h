/*
 * db_photos: the photo lifecycle in PostgreSQL, from ingest to the verification queue.
 *
 * The ingest stage records received photos (with their ledger entry); the processing stage
 * claims them, looks up the duplicate signatures of the same acta, and marks each one queued or
 * failed; the db pool reads a photo's status document and its review derivative's hash for
 * GET /v1/photos/{id}; `prep-gateway ledger verify` (cmd_ledger) reads the ledger table back. The
 * rules of the photos table itself are in schema/001_photos.sql.
 * Blocking functions on a connection owned by the caller (gw_db.h); this module does not decide
 * what a failure means for the phone.
 */
#ifndef DB_PHOTOS_H
#define DB_PHOTOS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_receipt.h"

/* A photo claimed by the processing stage. */
struct gw_db_job {
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char clave[GW_CLAVE_MAX + 1];
    char sha256[GW_SHA256_HEX_LEN + 1];
    int attempts;
};

/*
 * Records the received photo of receipt |r|, received by gateway |gateway| (its --gateway-id),
 * with its ledger entry in that gateway's chain and its original |orig| (|orig_len| bytes) in
 * table blobs, in one statement (idempotent). Returns 0, -EIO or -EPROTO.
 */
int gw_db_ingest(PGconn *c, const struct gw_receipt *r, const char *gateway, const uint8_t *orig,
                 size_t orig_len);

/*
 * Returns photos that a previous run of gateway |gateway| left half-processed to the queue: those
 * whose claim token (gw_db_claim()'s |worker|) begins with "|gateway|/", and claims without a
 * token; another gateway's claims on the same database are left alone (they lapse after their
 * lease should that gateway be dead). The
 * attempt is given back (the process was killed under them) except to the photos of |blamed|, a
 * PostgreSQL text array of photo ids ("{}" for none) whose decoding crashed the process.
 * Returns 0, -EIO or -EPROTO.
 */
int gw_db_reset_processing(PGconn *c, const char *blamed, const char *gateway);

/*
 * Gives back every processing claim that |worker| (the token it claims with) holds: status
 * 'processing' again 'received', the attempt not counted. For a worker whose connection broke in
 * the middle of a claim or of the processing: the claim may have committed while its answer was
 * lost, and the photo is taken up again at once instead of after its lease. Returns 0, -EIO or
 * -EPROTO.
 */
int gw_db_release_mine(PGconn *c, const char *worker);

/*
 * Claims the oldest received photo (or one whose claim is older than |lease_s| seconds) for
 * processing, as |worker| (a token unique to the calling worker). Returns 1 with |*ret| filled, 0
 * when there is nothing to do, or -EIO/-EPROTO.
 */
int gw_db_claim(PGconn *c, int lease_s, const char *worker, struct gw_db_job *ret);

/*
 * In one transaction: stores the review derivative's hash |review_sha| (hex), size and
 * dimensions and |metadata_json|, marks the photo queued, adds it to the verification queue and
 * NOTIFYs channel "photo_queued" with the photo id. Returns 0, -EIO or -EPROTO.
 */
int gw_db_finish(PGconn *c, const char *photo_id, const char *review_sha, size_t review_bytes,
                 unsigned width, unsigned height, const char *metadata_json);

/*
 * Calls |cb| (on the calling thread, before returning) with the id, hex SHA-256 and duplicate
 * signature (metadata "signature") of each other photo of |clave| that has one, oldest first,
 * at most 64. The strings live only during the call. Returns the number of rows, -EIO or
 * -EPROTO.
 */
int gw_db_clave_signatures(PGconn *c, const char *clave, const char *photo_id,
                           void (*cb)(void *arg, const char *id, const char *sha256,
                                      const char *signature),
                           void *arg);

/* Marks the photo failed with |reason| (and |metadata_json|, may be NULL). Returns 0, -EIO or
 * -EPROTO. */
int gw_db_fail(PGconn *c, const char *photo_id, const char *reason, const char *metadata_json);

/*
 * Builds the JSON of GET /v1/photos/{id} for |photo_id| into a new string |*ret_json| of
 * |*ret_len| bytes (caller frees). Returns 0, -ENOENT when PostgreSQL does not know the photo,
 * -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_photo_json(PGconn *c, const char *photo_id, char **ret_json, size_t *ret_len);

/* Copies the review derivative's hex SHA-256 into |ret_sha| (GW_SHA256_HEX_LEN + 1 bytes).
 * Returns 0, -ENOENT if there is none yet, -EIO or -EPROTO. */
int gw_db_review_sha(PGconn *c, const char *photo_id, char *ret_sha);

/*
 * A row of the ledger table as PostgreSQL prints it: the columns of a ledger entry (gw_ledger.h)
 * as text, so that this module needs no ledger code; checking the chain is the caller's work.
 */
struct gw_db_ledger_row {
    const char *seq, *prev, *hash, *photo_id, *clave, *device, *sha256, *bytes, *width, *height,
        *time, *gateway;
};

/*
 * Calls |cb| (on the calling thread, before returning) with each row of the ledger table, chain
 * by chain (gateway) and in seq order within a chain; the row and its strings live only during the
 * call. Returns the number of rows, -EIO or -EPROTO (|cb| is then never called).
 */
int gw_db_ledger_each(PGconn *c, void (*cb)(void *arg, const struct gw_db_ledger_row *row),
                      void *arg);

/*
 * Counts photos by status (|what| "photos") and the verification queue by state ("review"):
 * |each| once per pair present, on the calling thread. Returns the number of pairs, -EIO or
 * -EPROTO. Blocking (GET /metrics runs it on the db pool).
 */
int gw_db_state_counts(PGconn *c,
                       void (*each)(void *arg, const char *what, const char *state, long long n),
                       void *arg);

#endif
