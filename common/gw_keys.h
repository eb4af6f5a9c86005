/*
 * gw_keys: the gateway's own Ed25519 key, which signs receipts and ledger checkpoints.
 *
 * The private key lives in one PKCS#8 PEM file, created on first use with mode 0600 in a folder
 * of mode 0700; the public key and its fingerprint (hex SHA-256 of the 32 raw public key bytes)
 * are what auditors and phones are given. Signing and verifying are thread-safe: the key is only
 * read after loading. Also base64 helpers for the signatures.
 */
#ifndef GW_KEYS_H
#define GW_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_KEY_PUB_LEN 32
#define GW_KEY_SIG_LEN 64
#define GW_KEY_FP_LEN 64  /* hex */
#define GW_KEY_SIG_B64 88 /* base64 of a signature, without NUL */
#define GW_KEY_PUB_B64 44

struct evp_pkey_st;

struct gw_key {
    struct evp_pkey_st *pkey;
    uint8_t pub[GW_KEY_PUB_LEN];
    char fingerprint[GW_KEY_FP_LEN + 1];
};

/*
 * Loads the private key in |path| into |ret|; when the file does not exist and |create| is set,
 * generates a new key and writes it there (mode 0600, parent folder created with mode 0700).
 * Returns 0, -ENOENT (missing and not created), -EPERM (the file is readable by others), or
 * another negative errno.
 */
int gw_key_load(const char *path, bool create, struct gw_key *ret);

/* Fills |ret| with only the public half |pub| (for verifying). Returns 0 or -ENOMEM. */
int gw_key_from_public(const uint8_t *pub, struct gw_key *ret);

/* Frees the key. Accepts a zeroed one. */
void gw_key_finish(struct gw_key *k);

/* Signs |len| bytes of |msg| into |ret_sig| (64 bytes). Returns 0 or -EINVAL. Thread-safe. */
int gw_key_sign(const struct gw_key *k, const void *msg, size_t len, uint8_t *ret_sig);

/* Returns true when |sig| (64 bytes) is |k|'s signature of |msg|. Thread-safe. */
bool gw_key_verify(const struct gw_key *k, const void *msg, size_t len, const uint8_t *sig);

/* Base64 (RFC 4648, padded) of |n| bytes into |out| (4*ceil(n/3)+1 bytes). */
void gw_b64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes padded base64 |in| into |out| (|cap| bytes). Returns the length or -EINVAL. */
int gw_b64_decode(const char *in, uint8_t *out, size_t cap);

#endif
