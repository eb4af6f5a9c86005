/*
 * gw_spool: the gateway's durable local store on disk.
 *
 * Layout under the data folder:
 *   spool/tmp/                 uploads being received, removed on failure and at start
 *   spool/uploads/<token>.*    resumable uploads' partial bytes and state (gw_resume), kept
 *   spool/pending/<id>.json    receipts not yet recorded in PostgreSQL (the ingest stage's queue)
 *   spool/receipts/<id>.json   every receipt ever issued (answers retries without PostgreSQL)
 *   spool/signatures/<id>.json a signed upload's request signature (gw_sigrec), for evidence
 *   store/originals/<sha>.jpg  the bytes the phone sent, content-addressed
 *   store/review/<sha>.webp    review derivatives, content-addressed
 *
 * Every file is written to tmp/, fsynced, then renamed or linked into place and its directory
 * fsynced: after gw_spool_commit() returns, the photo survives a crash or power loss, and a
 * crash at any earlier step leaves nothing that a retry cannot complete. All functions here block
 * on the disk: call them only from pool or stage threads, never from an event loop.
 */
#ifndef GW_SPOOL_H
#define GW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_receipt.h"

struct evp_md_ctx_st;

struct gw_ledger;
struct gw_key;

struct gw_spool {
    int root, tmp, pending, receipts, uploads, originals, review, signatures; /* directory fds */
    struct gw_ledger *ledger; /* NULL: receipts are neither chained nor signed (unit tests) */
    const struct gw_key *key;
};

struct gw_spool_file {
    int fd;
    char name[40];
    struct evp_md_ctx_st *md;
    uint64_t bytes;
    /* A signed upload's gw_sigrec JSON (NUL-terminated, owned by the caller), or NULL: kept in
     * signatures/ by gw_spool_commit() before the receipt is issued. */
    const char *sigrec;
};

/*
 * Opens (creating as needed) the spool under |data_dir| into caller memory |s| and empties its
 * tmp/ folder. Returns 0 or -errno.
 */
int gw_spool_open(struct gw_spool *s, const char *data_dir);

/*
 * Opens the ledger |l| in the data folder (ledger.jsonl), verifies its chain, and from then on
 * records every commit there and signs receipts with |key|. A crash between the ledger append and
 * the receipt is completed here: the receipt of the last entry is rebuilt if it is missing, or,
 * when it cannot be written (a full disk), the entry is taken back (no phone holds it).
 * Returns 0, -EBADMSG for a broken chain, or -errno.
 */
int gw_spool_attach_ledger(struct gw_spool *s, struct gw_ledger *l, const struct gw_key *key);

/* Closes the directory fds. Accepts a zeroed or half-open spool. */
void gw_spool_close(struct gw_spool *s);

/*
 * Creates a new file in tmp/ for an upload of |expect| bytes, reserving the space up front so a
 * full disk is found before the body arrives. Returns 0, -ENOSPC, or another -errno.
 */
int gw_spool_file_open(struct gw_spool *s, uint64_t expect, struct gw_spool_file *ret);

/* Appends |len| bytes to |f| and to its SHA-256. Returns 0 or -errno (-ENOSPC). */
int gw_spool_file_write(struct gw_spool_file *f, const void *buf, size_t len);

/* Closes and removes |f|; safe on a file that was never opened (fd < 0). */
void gw_spool_file_abort(struct gw_spool *s, struct gw_spool_file *f);

/*
 * Makes the upload |f| durable and issues its receipt. |r| carries clave, width, height and
 * device; this fills sha256, bytes, photo_id and received_at, and with a ledger attached appends
 * the ledger entry and signs the receipt; |f->sigrec| is made durable first, so that a receipt
 * of a signed upload always has its signature record. When the same bytes were already received
 * for the same clave, loads that receipt into |r| instead, discards |f| and sets |*ret_existed|.
 * When |expect_sha| (32 bytes, may be NULL) differs from the body's SHA-256, discards |f| and
 * returns -EBADMSG. |f| is consumed either way. Returns 0 or -errno.
 */
int gw_spool_commit(struct gw_spool *s, struct gw_spool_file *f, const uint8_t *expect_sha,
                    struct gw_receipt *r, bool *ret_existed);

/* Loads the receipt of |photo_id| into |ret|. Returns 0, -ENOENT, or -errno. */
int gw_spool_receipt_load(struct gw_spool *s, const char *photo_id, struct gw_receipt *ret);

/*
 * Makes the processed receipt of |photo_id|: its receipt from receipts/ with the legibility
 * verdict |l| added, signed again with the spool's key, as JSON in a new string |*ret_json|
 * (caller frees; its length in |*ret_len|). The receipt in the spool stays as the phone got it
 * (immutable); the processed one goes to PostgreSQL with the photo. Blocking: stage threads.
 * Returns 0, -ENOENT (no such receipt), -EINVAL (no key attached), -ENOMEM or -errno.
 */
int gw_spool_receipt_with_verdict(struct gw_spool *s, const char *photo_id,
                                  const struct gw_receipt_legibility *l, char **ret_json,
                                  size_t *ret_len);

/*
 * Lists the receipts waiting in pending/ (oldest first is not guaranteed) as a NULL-terminated
 * array of photo ids; links any that a crash left without their receipts/ entry. The caller frees
 * each string and the array. Returns the count or -errno.
 */
int gw_spool_pending_list(struct gw_spool *s, char ***ret_ids);

/* Loads the pending receipt of |photo_id|. Returns 0, -ENOENT or -errno. */
int gw_spool_pending_load(struct gw_spool *s, const char *photo_id, struct gw_receipt *ret);

/* Removes |photo_id| from pending/ once PostgreSQL holds it. Returns 0 or -errno. */
int gw_spool_pending_done(struct gw_spool *s, const char *photo_id);

/* How many receipts wait in pending/ for PostgreSQL, and the free bytes of the spool's
 * filesystem (for an unprivileged process); -1 for what could not be read. Blocking. */
void gw_spool_usage(struct gw_spool *s, long long *ret_pending, long long *ret_free_bytes);

/*
 * Reads the original with SHA-256 |sha_hex| into a new buffer (at most |max| bytes), stored in
 * |*ret_buf| and |*ret_len|; the caller frees it. Returns 0, -ENOENT, -EFBIG or -errno.
 */
int gw_spool_original_read(struct gw_spool *s, const char *sha_hex, size_t max, uint8_t **ret_buf,
                           size_t *ret_len);

/*
 * Stores |len| bytes of review WebP durably under their SHA-256, whose hex goes to |ret_sha|
 * (65 bytes). Returns 0 or -errno.
 */
int gw_spool_review_write(struct gw_spool *s, const uint8_t *buf, size_t len, char *ret_sha);

/* Like gw_spool_original_read() for the review derivative |sha_hex|. */
int gw_spool_review_read(struct gw_spool *s, const char *sha_hex, size_t max, uint8_t **ret_buf,
                         size_t *ret_len);

/* Creates, writes, fsyncs and removes a file in tmp/. Returns 0 or -errno. */
int gw_spool_check_writable(struct gw_spool *s);

#endif
