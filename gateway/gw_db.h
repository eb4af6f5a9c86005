/*
 * gw_db: every SQL statement the gateway runs, behind small blocking functions.
 *
 * Each function takes a connection owned by the calling thread (pool and stage threads each keep
 * their own PGconn) and blocks until PostgreSQL answers: never call them on an event loop.
 * Failures return -EIO when the connection is unusable (the caller reconnects, with backoff) and
 * -EPROTO for a statement that PostgreSQL refused; the message is in |*ret_err| when asked for.
 */
#ifndef GW_DB_H
#define GW_DB_H

#include <libpq-fe.h>
#include <stdio.h>

#include "gw_receipt.h"

/* A photo claimed by the processing stage. */
struct gw_db_job {
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char clave[GW_CLAVE_MAX + 1];
    char sha256[GW_SHA256_HEX_LEN + 1];
    int attempts;
};

/*
 * Connects with |conninfo| (a libpq connection string or URI), adding a 5 s connect timeout and
 * application_name=prep-gateway. Returns the connection, or NULL with a static or |errbuf|
 * message in |*ret_err|.
 */
PGconn *gw_db_connect(const char *conninfo, char *errbuf, size_t errcap);

/*
 * Applies every schema/NNN_name.sql under |schema_dir| not yet recorded in schema_migrations, in
 * version order, each in its own transaction under an advisory lock, printing one line per step
 * to |progress|. A recorded migration whose file changed is an error. Returns the number applied
 * or a negative error with the message in |errbuf|.
 */
int gw_db_migrate(PGconn *c, const char *schema_dir, FILE *progress, char *errbuf, size_t errcap);

/* Records a received photo (idempotent). Returns 0, -EIO or -EPROTO. */
int gw_db_ingest(PGconn *c, const struct gw_receipt *r);

/*
 * Returns photos that a previous run left half-processed to the queue. Only one gateway writes to
 * a database (one per collection centre), so at start nothing else can be processing them.
 */
int gw_db_reset_processing(PGconn *c);

/*
 * Claims the oldest received photo (or one whose claim is older than |lease_s| seconds) for
 * processing. Returns 1 with |ret| filled, 0 when there is nothing to do, or -EIO/-EPROTO.
 */
int gw_db_claim(PGconn *c, int lease_s, struct gw_db_job *ret);

/*
 * In one transaction: stores the review derivative's hash, size and dimensions and
 * |metadata_json|, marks the photo queued, adds it to the verification queue and NOTIFYs
 * channel "photo_queued" with the photo id. Returns 0, -EIO or -EPROTO.
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

/* Marks the photo failed with |reason| (and |metadata_json|, may be NULL). */
int gw_db_fail(PGconn *c, const char *photo_id, const char *reason, const char *metadata_json);

/*
 * Builds the JSON of GET /v1/photos/{id} for |photo_id| (newly allocated, caller frees). Returns 0,
 * -ENOENT when PostgreSQL does not know the photo, -ENOMEM, -EIO or -EPROTO.
 */
int gw_db_photo_json(PGconn *c, const char *photo_id, char **ret_json, size_t *ret_len);

/* Copies the review derivative's hex SHA-256 into |ret_sha| (65 bytes); -ENOENT if none yet. */
int gw_db_review_sha(PGconn *c, const char *photo_id, char *ret_sha);

/*
 * Enrols a device: in one transaction, takes the unused, unexpired enrolment code whose SHA-256
 * is |code_sha| (hex), creates the device with |pubkey_b64| and |label| and the code's actas, and
 * marks the code used. Stores the new id (37 bytes), the actas (|actas_cap| bytes) and the
 * enrolment time (RFC 3339, 40 bytes). Returns 0, -EACCES (no such usable code), -EEXIST (the key
 * is already enrolled), -EIO or -EPROTO.
 */
int gw_db_enrol(PGconn *c, const char *code_sha, const char *pubkey_b64, const char *label,
                char *ret_id, char *ret_actas, size_t actas_cap, char *ret_time);

/*
 * Maps a finished statement |res| on |c| to 0 (it has status |want|), -EIO (the connection is
 * lost: reconnect) or -EPROTO (PostgreSQL refused it). For modules that run their own SQL.
 */
int gw_db_status(PGconn *c, PGresult *res, ExecStatusType want);

/* Runs SELECT 1. Returns 0 or -EIO. */
int gw_db_ping(PGconn *c);

#endif
