/*
 * pu_sign: what a phone does to sign one upload attempt (RFC 9421 over @method, @path and
 * content-digest, Ed25519), shared by prep-upload and the bench load generator so both send
 * exactly what a phone sends. Each call draws a fresh nonce and takes the current time, so a
 * retry is never refused as a replay. Thread-safe.
 */
#ifndef PU_SIGN_H
#define PU_SIGN_H

#include <stddef.h>

struct gw_key;

/*
 * Signs a POST of |path| whose body has Content-Digest |digest| with device |device_id|'s key
 * |k|: fills the header values |sig_input| (|in_cap| bytes) and |signature| (|sig_cap| bytes).
 * Returns 0, or -EIO (no randomness) or -EINVAL (does not fit).
 */
int pu_sign_upload(const struct gw_key *k, const char *device_id, const char *path,
                   const char *digest, char *sig_input, size_t in_cap, char *signature,
                   size_t sig_cap);

/*
 * The same for any signed request of a device: |method| (GET for the device's own photo list,
 * whose body is empty: PU_SIGN_EMPTY_DIGEST) on |path|.
 */
int pu_sign_request(const struct gw_key *k, const char *device_id, const char *method,
                    const char *path, const char *digest, char *sig_input, size_t in_cap,
                    char *signature, size_t sig_cap);

/* Content-Digest of an empty body (RFC 9530, SHA-256). */
#define PU_SIGN_EMPTY_DIGEST "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"

#endif
