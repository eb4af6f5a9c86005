/*
 * gw_receipt: the receipt (acuse) of one received photo, and the photo's identity.
 *
 * A photo is named by a UUID derived from its clave and the SHA-256 of its bytes, so a phone that
 * retries the same upload always reaches the same photo without asking PostgreSQL. The receipt is
 * immutable once written to the spool; this module converts it to and from JSON. No I/O.
 */
#ifndef GW_RECEIPT_H
#define GW_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gw_clave.h"

#define GW_PHOTO_ID_LEN 36 /* canonical UUID text */
#define GW_SHA256_HEX_LEN 64
#define GW_TIME_LEN 29           /* 2026-11-27T20:14:03.512+00:00 */
#define GW_RECEIPT_TEXT_MAX 2048 /* gw_receipt_text() of any receipt fits */

/*
 * The legibility verdict of a processed photo, added to its receipt by the processing stage and
 * signed with the rest. Measures are rounded to 3 decimals (gw_receipt_set_measures()) so that the
 * JSON numbers and the signed text say exactly the same.
 */
struct gw_receipt_legibility {
    bool present;
    bool ok;          /* "ok", or "retake" */
    char reasons[96]; /* comma-separated names ("blurry,dark"); "" when ok */
    char reason[320]; /* the same in plain words for the official (UTF-8, Spanish) */
    double focus, luma, clipped, glare, coverage;
};

struct gw_receipt {
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char clave[GW_CLAVE_MAX + 1];
    char sha256[GW_SHA256_HEX_LEN + 1];
    uint64_t bytes;
    char received_at[GW_TIME_LEN + 1];
    uint32_t width, height; /* declared by the JPEG header */
    char device[64];        /* who sent it; "open-upload" while devices are not enrolled */
    /* The ledger entry that records it, and the gateway's signature over gw_receipt_text(). */
    uint64_t ledger_seq; /* 0: not in a ledger */
    char ledger_prev[GW_SHA256_HEX_LEN + 1];
    char ledger_hash[GW_SHA256_HEX_LEN + 1];
    char gateway_key[GW_SHA256_HEX_LEN + 1]; /* fingerprint of the signing key */
    char signature[96];                      /* base64 Ed25519 */
    struct gw_receipt_legibility legibility; /* once processed; part of the signed text */
    /* The gateway's id of the request that delivered the photo ("" when unknown): outside the
     * signed text, so that an official can quote it and an operator find it in the logs. */
    char request_id[32];
};

/*
 * The text the gateway signs for receipt |r|, into |buf| (|cap| bytes); returns its length.
 * Fixed field order, one "name=value" per line, so any client can rebuild it. A receipt with a
 * legibility verdict has five more lines at the end (legibility, legibility_reasons,
 * legibility_reason, legibility_measures with the measures as "%.3f", in docs/api.md's order);
 * one without has exactly the text of a receipt made before verdicts existed.
 */
size_t gw_receipt_text(const struct gw_receipt *r, char *buf, size_t cap);

/* Writes the lowercase hex of the |n| bytes at |in| into |out| (2n+1 bytes, NUL-terminated). */
void gw_hex(const uint8_t *in, size_t n, char *out);

/*
 * Derives the photo id of (|clave|, |sha256_hex|) into |ret| (37 bytes): a version 8 UUID made of
 * SHA-256("prep-casilla/photo/v1\n" clave "\n" sha256_hex). Thread-safe. Returns 0, or -ENOMEM
 * when OpenSSL cannot allocate (|ret| untouched).
 */
int gw_photo_id(const char *clave, const char *sha256_hex, char *ret);

/* Returns 1 when |s| is a canonical lowercase UUID text (8-4-4-4-12 hex), else 0. */
int gw_photo_id_valid(const char *s, size_t len);

/*
 * Formats the wall-clock time |ts| (CLOCK_REALTIME) as RFC 3339 with milliseconds and the local
 * offset ("2026-11-27T14:14:03.512-06:00") into |ret| (GW_TIME_LEN + 1 bytes).
 */
void gw_rfc3339(const struct timespec *ts, char *ret);

/*
 * Sets the legibility measures of |l| rounded to 3 decimals (see struct gw_receipt_legibility).
 */
void gw_receipt_set_measures(struct gw_receipt_legibility *l, double focus, double luma,
                             double clipped, double glare, double coverage);

/*
 * Formats |r| as the receipt JSON (the fields of docs/api.md, with the declared width and height)
 * and |status| ("received"), newly allocated; stores the length
 * in |*ret_len|. Returns NULL when out of memory. The caller frees with free().
 */
char *gw_receipt_json(const struct gw_receipt *r, const char *status, size_t *ret_len);

/*
 * Parses receipt JSON from |buf| (|len| bytes) into |ret|. Returns 0, or -EINVAL when a field is
 * missing or malformed (|ret| is then unspecified).
 */
int gw_receipt_parse(const char *buf, size_t len, struct gw_receipt *ret);

struct gw_key;

/*
 * Checks receipt JSON |buf| (|len| bytes) offline against the gateway public key |k|: it parses,
 * carries a ledger entry and a signature, names |k|'s fingerprint, its photo id is the one its
 * clave and SHA-256 give, and the signature over gw_receipt_text() holds. Shared by
 * `prep-gateway receipt verify` and `prep-upload`, so both give the same verdicts. If |ret| is not
 * NULL the parsed receipt is stored there (also when the signature does not hold). Returns NULL
 * when valid, or a static reason. Thread-safe.
 */
const char *gw_receipt_verify(const char *buf, size_t len, const struct gw_key *k,
                              struct gw_receipt *ret);

#define GW_RECEIPT_FILE_MAX 8192 /* a longer file is not a receipt */

/*
 * gw_receipt_verify() on the receipt file |path|, as `prep-gateway receipt verify` and
 * `prep-upload verify` read it: at most GW_RECEIPT_FILE_MAX bytes. Returns 0 when valid, or
 * -EINVAL with the reason in |why| (|cap| bytes; "could not read PATH: ..." when it cannot be
 * read). Thread-safe.
 */
int gw_receipt_verify_file(const char *path, const struct gw_key *k, char *why, size_t cap);

#endif
