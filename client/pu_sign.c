#include "pu_sign.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "gw_keys.h"
#include "gw_sig.h"

int pu_sign_upload(const struct gw_key *k, const char *device_id, const char *path,
                   const char *digest, char *sig_input, size_t in_cap, char *signature,
                   size_t sig_cap)
{
    return pu_sign_request(k, device_id, "POST", path, digest, sig_input, in_cap, signature,
                           sig_cap);
}

int pu_sign_request(const struct gw_key *k, const char *device_id, const char *method,
                    const char *path, const char *digest, char *sig_input, size_t in_cap,
                    char *signature, size_t sig_cap)
{
    struct gw_sig_input in;
    struct gw_sig_request rq = {.method = method, .path = path, .content_digest = digest};
    uint8_t raw[16], sig[GW_KEY_SIG_LEN];
    char nonce[32], b64[GW_KEY_SIG_B64 + 1], base[2048];
    const char *why;
    size_t j = 0;
    int n;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -EIO;
    gw_b64_encode(raw, sizeof(raw), nonce);
    for (size_t i = 0; nonce[i]; i++) { /* base64url, no padding */
        if (nonce[i] == '=')
            break;
        nonce[j++] = nonce[i] == '+' ? '-' : nonce[i] == '/' ? '_' : nonce[i];
    }
    nonce[j] = '\0';
    if (gw_sig_make_input((int64_t)time(NULL), nonce, device_id, sig_input, in_cap, &in) < 0)
        return -EINVAL;
    n = gw_sig_base(&in, &rq, base, sizeof(base), &why);
    if (n < 0 || gw_key_sign(k, base, (size_t)n, sig) < 0)
        return -EINVAL;
    gw_b64_encode(sig, sizeof(sig), b64);
    if ((size_t)snprintf(signature, sig_cap, "sig1=:%s:", b64) >= sig_cap)
        return -EINVAL;
    return 0;
}
