/*
 * gw_ledger: the append-only, hash-chained record of every photo the gateway accepted.
 *
 * Entry n carries the hash of entry n-1, so changing, removing or reordering any entry breaks
 * every later link. The ledger lives in one file of the spool (one JSON line per entry, appended
 * and fdatasync'ed before the receipt is issued) and is mirrored into PostgreSQL by the ingest
 * stage; `prep-gateway ledger verify` checks both. The hash of an entry is the SHA-256 of a fixed
 * text form (gw_ledger_text()) that any auditor can rebuild. Appends are serialised by the
 * caller through gw_ledger_lock(); everything else is pure.
 */
#ifndef GW_LEDGER_H
#define GW_LEDGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_receipt.h"

#define GW_LEDGER_FILE "ledger.jsonl"
#define GW_DEVICE_MAX 64

struct gw_ledger_entry {
    uint64_t seq; /* from 1 */
    char prev[GW_SHA256_HEX_LEN + 1];
    char hash[GW_SHA256_HEX_LEN + 1];
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char clave[GW_CLAVE_MAX + 1];
    char device[GW_DEVICE_MAX];
    char sha256[GW_SHA256_HEX_LEN + 1];
    uint64_t bytes;
    uint32_t width, height;
    char time[GW_TIME_LEN + 1];
};

struct gw_ledger {
    int fd;
    uint64_t size; /* bytes of complete entries */
    pthread_mutex_t mu;
    struct gw_ledger_entry last; /* seq 0 while empty */
};

/* The text whose SHA-256 is |e|'s hash, into |buf| (|cap| bytes). Returns its length. */
size_t gw_ledger_text(const struct gw_ledger_entry *e, char *buf, size_t cap);

/* Computes |e->hash| from the other fields. Returns 0 or -ENOMEM. */
int gw_ledger_hash(struct gw_ledger_entry *e);

/* One JSON line (with '\n') for |e|, newly allocated; NULL when out of memory. */
char *gw_ledger_json(const struct gw_ledger_entry *e, size_t *ret_len);

/* Parses one JSON entry. Returns 0 or -EINVAL. */
int gw_ledger_parse(const char *buf, size_t len, struct gw_ledger_entry *ret);

/*
 * Checks that |e| follows |prev| (NULL for the first entry): consecutive seq, matching prev hash,
 * and a hash that matches the fields. Returns NULL, or a static reason.
 */
const char *gw_ledger_check_link(const struct gw_ledger_entry *prev,
                                 const struct gw_ledger_entry *e);

/*
 * Walks the ledger file open on |fd| from the start. Returns the number of entries when the chain
 * holds, with the last entry in |ret_last| (may be NULL) and the byte length of the complete
 * lines in |ret_good_len| (may be NULL); a last line without its newline (a write cut by a crash)
 * is not counted. Returns -EBADMSG when a link is broken, with the entry's seq in |ret_bad_seq|
 * and the reason in |ret_why|, or another negative errno.
 */
int gw_ledger_walk(int fd, struct gw_ledger_entry *ret_last, uint64_t *ret_good_len,
                   uint64_t *ret_bad_seq, const char **ret_why);

/*
 * Opens (creating) the ledger in directory |dirfd|, verifies its chain and cuts a torn last line.
 * Returns 0, -EBADMSG for a broken chain (the gateway must not append to it), or -errno.
 */
int gw_ledger_open(struct gw_ledger *l, int dirfd);

/* Closes the file. Accepts a zeroed ledger (fd 0 is never ours: use -1 for "none"). */
void gw_ledger_close(struct gw_ledger *l);

void gw_ledger_lock(struct gw_ledger *l);
void gw_ledger_unlock(struct gw_ledger *l);

/*
 * With the lock held: fills |e|'s seq, prev and hash after the last entry, appends it and
 * fdatasyncs. Returns 0 or -errno (nothing was appended then, as far as the chain is concerned:
 * a torn write is cut at the next open).
 */
int gw_ledger_append(struct gw_ledger *l, struct gw_ledger_entry *e);

/*
 * With the lock held: takes the last entry back out of the file (cut and fdatasynced) and makes
 * the one before it the last again. Only for an entry whose receipt could not be written (a full
 * disk): no phone holds it and PostgreSQL never saw it, and leaving it would put an entry in the
 * file that the ledger table never gets (`prep-gateway ledger verify` then fails) and, when the
 * phone retries, a second entry for the same photo. Returns 0, -EINVAL when the file does not
 * end with that entry, or -errno.
 */
int gw_ledger_drop_last(struct gw_ledger *l);

#endif
