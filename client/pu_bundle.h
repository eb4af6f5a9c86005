/*
 * pu_bundle: `prep-upload verify-bundle`, the offline check of an evidence bundle
 * (docs/evidence.md) without the database or the gateway.
 *
 * Checks, in this order, so that what is reported wrong is the part that was changed: the
 * archive's form (gw_tar), the statement evidence.txt and the gateway key it names
 * (keys/gateway.pub, optionally pinned), the gateway's signature over the statement
 * (evidence.sig), every member's SHA-256 and length against the statement; then what the members
 * prove: the signed checkpoint, and for each photo the receipt, the original's bytes, the
 * device's RFC 9421 signature over the upload, the ledger entry and its Merkle inclusion proof
 * up to the checkpoint, the review image; and the decisions. No network, no database; blocking.
 */
#ifndef PU_BUNDLE_H
#define PU_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct gw_key;

#define PU_BUNDLE_MAX (1u << 30) /* a bigger file is not a bundle */

/*
 * Verifies the bundle |path|. |pin| (may be NULL) is the gateway key the caller trusts; without
 * it the key in the bundle is used and its fingerprint reported for the caller to compare. Prints
 * on |out| what was proved, in plain words, or "INVALID ...: PART: REASON" naming the first part
 * that does not verify. Returns 0 when everything verifies, 1 when not.
 */
int pu_bundle_verify(const char *path, const struct gw_key *pin, FILE *out);

/*
 * pu_bundle_verify() of the |len| bytes at |buf|, named |label| in the messages (the fuzz
 * target's entry). Not thread-safe: the check's state is static (it is large).
 */
int pu_bundle_verify_mem(const uint8_t *buf, size_t len, const char *label,
                         const struct gw_key *pin, FILE *out);

#endif
