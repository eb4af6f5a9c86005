/*
 * gw_originals: a photo's bytes where every gateway on the database finds them.
 *
 * The receiving gateway's spool holds the original (store/originals/<sha256>.jpg); the ingest
 * stage records it in PostgreSQL's blobs table with the photo, so that processing on any gateway,
 * and a photo whose gateway died, do not depend on that disk (docs/architecture.md, "Several
 * gateways"). Reads take the local file when present, else the database's copy. Also the
 * processing claim tokens, which carry the gateway id. Blocking, on the caller's connection.
 */
#ifndef GW_ORIGINALS_H
#define GW_ORIGINALS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_receipt.h"
#include "gw_spool.h"

/* A claim token: "<gateway id>/<uuid-shaped random>" (the id is at most 64 bytes). */
#define GW_WORKER_TOKEN_LEN (64 + 1 + GW_PHOTO_ID_LEN)

/* Records the pending receipt |r| of spool |s| in PostgreSQL with its original (read from |s|'s
 * store, at most |max| bytes) as gateway |gateway|: gw_db_ingest(). Returns 0, -EIO, -EPROTO,
 * or the -errno of reading the original. */
int gw_original_ingest(struct gw_spool *s, PGconn *pg, const struct gw_receipt *r,
                       const char *gateway, size_t max);

/* Reads the original |sha_hex|: |s|'s store, else (absent there) the database. Returns 0 or a
 * -errno of gw_spool_original_read() / gw_db_blob_read() (-EIO: the database is unreachable). */
int gw_original_load(struct gw_spool *s, PGconn *pg, const char *sha_hex, size_t max,
                     uint8_t **ret_buf, size_t *ret_len);

/* Like gw_original_load() for the review derivative |sha_hex|; |pg| may be NULL (local only). */
int gw_review_load(struct gw_spool *s, PGconn *pg, const char *sha_hex, size_t max,
                   uint8_t **ret_buf, size_t *ret_len);

/* Fills |ret| (GW_WORKER_TOKEN_LEN + 1 bytes) with a claim token unique to one worker of one
 * process of gateway |gateway|: gw_db_reset_processing() of that gateway gives its claims back. */
void gw_worker_token(const char *gateway, char *ret);

#endif
