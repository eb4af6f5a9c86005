/*
 * gw_relay_sig: the Prep-Relay header field, by which a CATD edge relay vouches for a photo it
 * forwards to the central gateway (docs/api.md, "Relayed uploads").
 *
 * The edge forwards the phone's request as the phone signed it (Signature-Input, Signature,
 * Content-Digest untouched), so the central gateway checks the phone's own signature. What the
 * edge adds is one field naming its ledger entry of the photo and signing it with the edge's
 * gateway key:
 *
 *     Prep-Relay: edge="catd-01", seq=42, hash="<64 hex>", sig=:<base64 Ed25519>:
 *
 * The signature covers the text gw_relay_sig_text() builds: the edge name, the entry's seq and
 * hash, the photo's SHA-256 and the phone's Signature field. A central gateway that trusts the
 * edge (a file of edge names and public keys, --relay-trust) then accepts a phone signature
 * older than its clock skew, up to --relay-max-age: the photo waited at the edge while the
 * uplink was down. The members must come in this order; the parser is strict. Pure apart from
 * gw_relay_trust_load(), which reads its file; thread-safe.
 */
#ifndef GW_RELAY_SIG_H
#define GW_RELAY_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "gw_keys.h"
#include "gw_receipt.h"

#define GW_RELAY_EDGE_MAX 64 /* an edge name: [A-Za-z0-9._-], 1-63 characters */
#define GW_RELAY_HDR_MAX 512

struct gw_relay_claim {
    char edge[GW_RELAY_EDGE_MAX];
    uint64_t seq;
    char hash[GW_SHA256_HEX_LEN + 1];
    uint8_t sig[GW_KEY_SIG_LEN];
};

/* True when |name| is a valid edge name. */
int gw_relay_edge_name_valid(const char *name);

/*
 * The signed text of |c| for the photo |sha_hex| and the phone's Signature field value
 * |phone_sig| ("" for an unsigned upload) into |buf| (|cap| bytes). Returns its length or -1 when
 * it does not fit.
 */
int gw_relay_sig_text(const struct gw_relay_claim *c, const char *sha_hex, const char *phone_sig,
                      char *buf, size_t cap);

/*
 * Signs |c| (edge, seq and hash filled) with the edge's key |k| and formats the field value into
 * |out| (GW_RELAY_HDR_MAX bytes). Returns 0 or -1.
 */
int gw_relay_sig_make(struct gw_relay_claim *c, const struct gw_key *k, const char *sha_hex,
                      const char *phone_sig, char *out);

/* Parses a Prep-Relay field value. Returns 0, or -1 with a static reason in |*ret_why|. */
int gw_relay_sig_parse(const char *hdr, struct gw_relay_claim *ret, const char **ret_why);

/* The edges a central gateway trusts: names and public keys. */
struct gw_relay_trust {
    size_t n;
    struct {
        char edge[GW_RELAY_EDGE_MAX];
        uint8_t pub[GW_KEY_PUB_LEN];
    } v[64];
};

/*
 * Loads the trust file |path|: one `NAME PUBLIC-KEY` a line (the key in base64, as `prep-gateway
 * key show` prints it), `#` comments and blank lines ignored. Returns 0, or -EINVAL with the
 * reason (naming the line) in |why| (|cap| bytes), or another negative errno.
 */
int gw_relay_trust_load(const char *path, struct gw_relay_trust *ret, char *why, size_t cap);

/*
 * Checks the field |hdr| against |t| for the photo |sha_hex| and phone Signature |phone_sig|:
 * parses, names a trusted edge, and its signature holds. Stores the claim in |ret| (may be
 * NULL). Returns 0, or -1 with a static reason.
 */
int gw_relay_sig_check(const struct gw_relay_trust *t, const char *hdr, const char *sha_hex,
                       const char *phone_sig, struct gw_relay_claim *ret, const char **ret_why);

#endif
