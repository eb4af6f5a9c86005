/* Fuzz target: the upload signature headers as a phone (or anyone) sends them. The input is
 * Signature-Input, Signature and Content-Digest field values separated by newlines; each is
 * parsed as the gateway parses it, and a parsed input is turned into its signature base over a
 * request whose @path names the rest of the input as a clave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gw_clave.h"
#include "gw_keys.h"
#include "gw_sig.h"

/* The next newline-separated part of [*p, end), as an exact-size heap copy (no terminator), so
 * that the sanitizers see any read past its end. */
static char *part(const uint8_t **p, const uint8_t *end, size_t *ret_len)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t len = (size_t)((nl ? nl : end) - *p);
    char *out = malloc(len ? len : 1);

    if (out)
        memcpy(out, *p, len);
    *p = nl ? nl + 1 : end;
    *ret_len = len;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    size_t in_len, sig_len, dig_len;
    char *in_hdr = part(&p, end, &in_len);
    char *sig_hdr = part(&p, end, &sig_len);
    char *dig_hdr = part(&p, end, &dig_len);
    struct gw_sig_input in;
    const char *why = NULL;
    uint8_t sig[GW_KEY_SIG_LEN], sha[32];
    char path[64], digest[128], base[2048];

    if (!in_hdr || !sig_hdr || !dig_hdr)
        goto out;
    if (gw_sig_parse_digest(dig_hdr, dig_len, sha, &why) == 0) {
        gw_sig_digest_value(sha, digest, sizeof(digest));
    } else {
        snprintf(digest, sizeof(digest), "%.*s", (int)(dig_len < 100 ? dig_len : 100), dig_hdr);
    }
    if (gw_sig_parse_input(in_hdr, in_len, &in, &why) == 0) {
        struct gw_sig_request req = {.method = "POST", .content_digest = digest};
        size_t clave_len = (size_t)(end - p) < 20 ? (size_t)(end - p) : 20;

        gw_clave_valid((const char *)p, clave_len, &why);
        snprintf(path, sizeof(path), "/v1/actas/%.*s/photos", (int)clave_len, (const char *)p);
        req.path = path;
        gw_sig_base(&in, &req, base, sizeof(base), &why);
        gw_sig_parse_signature(sig_hdr, sig_len, in.label, sig, &why);
    }
out:
    free(in_hdr);
    free(sig_hdr);
    free(dig_hdr);
    return 0;
}
