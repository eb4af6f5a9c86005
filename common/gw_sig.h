/*
 * gw_sig: HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest (RFC 9530), as the
 * gateway and its clients use them for photo uploads.
 *
 * Parses and builds the three header fields (Content-Digest, Signature-Input, Signature) with a
 * bounded parser for the Structured Field forms they use (RFC 8941 dictionaries of inner lists
 * with parameters, and byte sequences), and builds the signature base both sides sign. Covered
 * components supported: "@method", "@path", "@authority", and the fields "content-digest",
 * "content-type", "content-length". Pure: no I/O, no allocation, no globals; thread-safe.
 */
#ifndef GW_SIG_H
#define GW_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_SIG_MAX_COMPONENTS 8
#define GW_SIG_PARAMS_MAX 1024
#define GW_SIG_TOKEN_MAX 128

struct gw_sig_input {
    char label[GW_SIG_TOKEN_MAX];   /* the dictionary key, e.g. "sig1" */
    char params[GW_SIG_PARAMS_MAX]; /* the member value exactly as sent: the value of
                                     * "@signature-params" in the signature base */
    char components[GW_SIG_MAX_COMPONENTS][32];
    unsigned ncomponents;
    int64_t created, expires; /* -1 when absent */
    char nonce[GW_SIG_TOKEN_MAX];
    char keyid[GW_SIG_TOKEN_MAX];
    char alg[32];
};

/* The request values a signature base may cover. Fields may be NULL when absent. */
struct gw_sig_request {
    const char *method, *path, *authority;
    const char *content_digest, *content_type, *content_length;
};

/*
 * Parses the first member of a Signature-Input field value |hdr| (|len| bytes). Returns 0, or -1
 * with a static reason in |*ret_why|.
 */
int gw_sig_parse_input(const char *hdr, size_t len, struct gw_sig_input *ret, const char **ret_why);

/*
 * Finds member |label| of a Signature field value and decodes its byte sequence into |ret_sig|
 * (64 bytes for Ed25519). Returns 0, or -1 with a static reason.
 */
int gw_sig_parse_signature(const char *hdr, size_t len, const char *label, uint8_t *ret_sig,
                           const char **ret_why);

/*
 * Builds the signature base (RFC 9421 section 2.5) for |in| over |req| into |out| (|cap| bytes).
 * Returns its length, or -1 with a static reason (a covered component the request lacks, an
 * unsupported component, no room).
 */
int gw_sig_base(const struct gw_sig_input *in, const struct gw_sig_request *req, char *out,
                size_t cap, const char **ret_why);

/* Content-Digest value "sha-256=:<base64>:" for |sha| into |out| (at least 56 bytes). */
void gw_sig_digest_value(const uint8_t *sha, char *out, size_t cap);

/*
 * Finds the sha-256 member of a Content-Digest field value and decodes it into |ret_sha| (32
 * bytes). Returns 0, or -1 with a static reason.
 */
int gw_sig_parse_digest(const char *hdr, size_t len, uint8_t *ret_sha, const char **ret_why);

/*
 * For clients: formats the Signature-Input member value covering "@method", "@path" and
 * "content-digest" with |created|, |nonce| and |keyid| (alg "ed25519") into |out|, and fills
 * |ret| as gw_sig_parse_input() would. Returns 0 or -1 when it does not fit.
 */
int gw_sig_make_input(int64_t created, const char *nonce, const char *keyid, char *out, size_t cap,
                      struct gw_sig_input *ret);

#endif
