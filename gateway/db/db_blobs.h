/*
 * db_blobs: photo originals and review derivatives in PostgreSQL (table blobs, by SHA-256), so
 * that with several gateways on one database any of them can process or serve any photo, and a
 * photo does not depend on the disk of the gateway that received it (docs/architecture.md,
 * "Several gateways"). The ingest stage stores originals with the photo (gw_db_ingest()); the
 * processing stage stores review derivatives here and reads an original here when its own store
 * does not have it. Blocking functions on a connection owned by the caller (gw_db.h).
 */
#ifndef DB_BLOBS_H
#define DB_BLOBS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Stores |buf| (|len| bytes, hex SHA-256 |sha_hex|) as a blob of |kind| ("original" or
 * "review"); an existing blob of that hash is kept. Returns 0, -EIO or -EPROTO. */
int gw_db_blob_put(PGconn *c, const char *kind, const char *sha_hex, const uint8_t *buf,
                   size_t len);

/* Reads the blob |sha_hex| into a malloc'ed |*ret_buf| (|*ret_len| bytes). Returns 0, -ENOENT,
 * -EFBIG (larger than |max|), -ENOMEM, -EIO or -EPROTO. */
int gw_db_blob_read(PGconn *c, const char *sha_hex, size_t max, uint8_t **ret_buf, size_t *ret_len);

/* Whether PostgreSQL records photo |photo_id|: 1, 0, -EIO or -EPROTO (`spool list`). */
int gw_db_photo_known(PGconn *c, const char *photo_id);

#endif
