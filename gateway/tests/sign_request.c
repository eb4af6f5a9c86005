/*
 * sign-request: a test tool that makes the signature headers of an upload exactly as a phone
 * would, or wrongly on purpose, so the integration tests can exercise each refusal.
 *
 *   sign-request genkey PEM                      creates a key, prints its base64 public key
 *   sign-request sign PEM KEYID PATH FILE [--created T] [--nonce N] [--digest-file F]
 *                                                prints the three header lines for curl -H
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gw_keys.h"
#include "gw_sig.h"

static int file_sha(const char *path, uint8_t *out)
{
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t buf[65536];
    unsigned len = 0;
    size_t n;

    if (!f || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        if (f)
            fclose(f);
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    fclose(f);
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    struct gw_key k;
    struct gw_sig_input in;
    struct gw_sig_request req = {.method = "POST"};
    char digest[64], input[1024], base[2048], b64[GW_KEY_SIG_B64 + 1], nonce[32];
    const char *digest_file, *why;
    uint8_t sha[32], sig[64], rnd[12];
    long long created = (long long)time(NULL);
    int n;

    if (argc == 3 && strcmp(argv[1], "genkey") == 0) {
        if (gw_key_load(argv[2], true, &k) < 0)
            return 1;
        gw_b64_encode(k.pub, GW_KEY_PUB_LEN, b64);
        puts(b64);
        gw_key_finish(&k);
        return 0;
    }
    if (argc < 6 || strcmp(argv[1], "sign") != 0) {
        fprintf(stderr, "usage: sign-request genkey PEM | sign PEM KEYID PATH FILE [--created T]"
                        " [--nonce N] [--digest-file F] [--method M]\n");
        return 2;
    }
    digest_file = argv[5];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return 1;
    gw_b64_encode(rnd, sizeof(rnd), nonce);
    for (int i = 6; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--created") == 0)
            created = strtoll(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--nonce") == 0)
            snprintf(nonce, sizeof(nonce), "%s", argv[i + 1]);
        else if (strcmp(argv[i], "--digest-file") == 0)
            digest_file = argv[i + 1];
        else if (strcmp(argv[i], "--method") == 0)
            req.method = argv[i + 1];
    }
    if (gw_key_load(argv[2], false, &k) < 0 || file_sha(digest_file, sha) < 0)
        return 1;
    gw_sig_digest_value(sha, digest, sizeof(digest));
    if (gw_sig_make_input(created, nonce, argv[3], input, sizeof(input), &in) < 0)
        return 1;
    req.path = argv[4];
    req.content_digest = digest;
    n = gw_sig_base(&in, &req, base, sizeof(base), &why);
    if (n < 0 || gw_key_sign(&k, base, (size_t)n, sig) < 0)
        return 1;
    gw_b64_encode(sig, sizeof(sig), b64);
    printf("content-digest: %s\nsignature-input: %s\nsignature: sig1=:%s:\n", digest, input, b64);
    gw_key_finish(&k);
    return 0;
}
