/*
 * gw_evidence: the pieces of an evidence bundle (docs/evidence.md) that the gateway writes and
 * that `prep-upload verify-bundle` checks, so both sides share one definition of each text:
 *
 *   - the ledger checkpoint, version 2: (length, head hash, Merkle tree head, time), signed with
 *     the gateway key (`prep-gateway ledger checkpoint` prints it; version 1 lacked the root);
 *   - the upload's signature record: the request line and the three header fields of a signed
 *     upload (RFC 9421 Signature-Input and Signature, RFC 9530 Content-Digest) as the gateway
 *     received them, kept in spool/signatures/<photo_id>.json so that the device's signature can
 *     be checked again offline, and its check;
 *   - the bundle statement evidence.txt, which lists every other member with its SHA-256 and
 *     length and is signed with the gateway key.
 *
 * No I/O, no globals; thread-safe.
 */
#ifndef GW_EVIDENCE_H
#define GW_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_keys.h"
#include "gw_receipt.h"

#define GW_CHECKPOINT_TEXT_MAX 512

struct gw_checkpoint {
    int version; /* 1 or 2 */
    uint64_t length;
    char head[GW_SHA256_HEX_LEN + 1]; /* "" when empty */
    char root[GW_SHA256_HEX_LEN + 1]; /* version 2: hex Merkle tree head of the first |length| */
    char time[GW_TIME_LEN + 1];
    char gateway_key[GW_KEY_FP_LEN + 1];
    char signature[GW_KEY_SIG_B64 + 1];
};

/*
 * The text the gateway signs for |c| (version 2: five lines, each "name=value\n" after the first
 * "prep-casilla checkpoint v2\n"; version 1 has no root line) into |buf| (|cap| bytes). Returns
 * its length, or 0 when it does not fit.
 */
size_t gw_checkpoint_text(const struct gw_checkpoint *c, char *buf, size_t cap);

/*
 * Signs |c| with |k| (filling gateway_key and signature) and writes the printed form — the signed
 * text, then "gateway_key=FP\n" and "signature=BASE64\n" — into |buf| (|cap| bytes). Returns its
 * length, or 0 on failure.
 */
size_t gw_checkpoint_sign(struct gw_checkpoint *c, const struct gw_key *k, char *buf, size_t cap);

/*
 * Parses the printed form of a checkpoint (exactly what gw_checkpoint_sign() writes) from |buf|
 * (|len| bytes) into |ret| and checks its signature with |k|, which must be the key it names.
 * Returns NULL when it holds, or a static reason.
 */
const char *gw_checkpoint_verify(const char *buf, size_t len, const struct gw_key *k,
                                 struct gw_checkpoint *ret);

#define GW_SIGREC_FIELD_MAX 1024

/* What a device presented with a signed upload, as spool/signatures/<photo_id>.json keeps it. */
struct gw_sigrec {
    char method[8];
    char path[512];
    char signature_input[GW_SIGREC_FIELD_MAX];
    char signature[256];
    char content_digest[256];
    char relay[512]; /* Prep-Relay of an upload a CATD edge forwarded; "" when direct */
};

/*
 * The JSON of |r| ({"method", "path", "signature-input", "signature", "content-digest"}, and
 * "prep-relay" when the upload came through an edge relay; one line), newly allocated, its length
 * in |*ret_len|. Returns NULL when out of memory.
 */
char *gw_sigrec_json(const struct gw_sigrec *r, size_t *ret_len);

/* Parses a signature record. Returns 0 or -EINVAL. */
int gw_sigrec_parse(const char *buf, size_t len, struct gw_sigrec *ret);

/*
 * Checks offline that the device key |device| signed the upload of |r|: the signature covers
 * @method, @path and content-digest with alg ed25519 (or no alg), Content-Digest's sha-256 is
 * |sha| (32 bytes), and the
 * Ed25519 signature over the RFC 9421 signature base holds. Stores the signature's keyid in
 * |ret_keyid| (GW_SIG_TOKEN_MAX bytes) and its created parameter in |*ret_created|. Returns NULL
 * when it holds, or a static reason.
 */
const char *gw_sigrec_verify(const struct gw_sigrec *r, const struct gw_key *device,
                             const uint8_t *sha, char *ret_keyid, int64_t *ret_created);

#define GW_EVIDENCE_STATEMENT "evidence.txt"
#define GW_EVIDENCE_SIGNATURE "evidence.sig"

#endif
