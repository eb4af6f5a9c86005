#include "gw_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_receipt.h"

static int fill_public(struct gw_key *k)
{
    size_t len = GW_KEY_PUB_LEN;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &len) != 1 || len != GW_KEY_PUB_LEN)
        return -EINVAL;
    if (EVP_Digest(k->pub, GW_KEY_PUB_LEN, md, &mdlen, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    gw_hex(md, 32, k->fingerprint);
    return 0;
}

static int create_key(const char *path)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY *pkey = NULL;
    char dir[4096], tmp[4200];
    char *slash;
    FILE *f = NULL;
    int fd, r = -EINVAL;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            r = -errno;
            goto out;
        }
    }
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1)
        goto out;
    /* Written whole to a temporary name, then linked: two first starts cannot both create one. */
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    f = fdopen(fd, "w");
    if (!f) {
        r = -errno;
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        goto out;
    }
    fclose(f);
    r = link(tmp, path) < 0 && errno != EEXIST ? -errno : 0;
    unlink(tmp);
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    return r;
}

/* Fills the public half of |k| and hands it to |ret|, or frees it (|ret| untouched). */
static int key_done(struct gw_key *k, struct gw_key *ret)
{
    int r = fill_public(k);

    if (r < 0) {
        gw_key_finish(k);
        return r;
    }
    *ret = *k;
    return 0;
}

int gw_key_load(const char *path, bool create, struct gw_key *ret)
{
    struct gw_key k = {0};
    struct stat st;
    FILE *f;
    int r;

    if (stat(path, &st) < 0) {
        if (errno != ENOENT || !create)
            return -errno;
        r = create_key(path);
        if (r < 0)
            return r;
        if (stat(path, &st) < 0)
            return -errno;
    }
    if (st.st_mode & 077)
        return -EPERM; /* a private key others can read is no longer private */
    f = fopen(path, "r");
    if (!f)
        return -errno;
    k.pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k.pkey || EVP_PKEY_get_id(k.pkey) != EVP_PKEY_ED25519) {
        gw_key_finish(&k);
        return -EINVAL;
    }
    return key_done(&k, ret);
}

int gw_key_from_public(const uint8_t *pub, struct gw_key *ret)
{
    struct gw_key k = {0};

    k.pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, GW_KEY_PUB_LEN);
    if (!k.pkey)
        return -EINVAL;
    return key_done(&k, ret);
}

void gw_key_finish(struct gw_key *k)
{
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof(*k));
}

int gw_key_sign(const struct gw_key *k, const void *msg, size_t len, uint8_t *ret_sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = GW_KEY_SIG_LEN;
    int ok;

    ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
         EVP_DigestSign(ctx, ret_sig, &siglen, msg, len) == 1 && siglen == GW_KEY_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -EINVAL;
}

bool gw_key_verify(const struct gw_key *k, const void *msg, size_t len, const uint8_t *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok;

    ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
         EVP_DigestVerify(ctx, sig, GW_KEY_SIG_LEN, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

void gw_b64_encode(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int gw_b64_decode(const char *in, uint8_t *out, size_t cap)
{
    size_t len = strlen(in), pad = 0;
    uint8_t *buf;
    int n;

    if (len == 0 || len % 4 != 0 || len / 4 * 3 > cap + 2)
        return -EINVAL;
    if (in[len - 1] == '=')
        pad++;
    if (in[len - 2] == '=')
        pad++;
    buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return -ENOMEM;
    n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n < pad || (size_t)n - pad > cap) {
        free(buf);
        return -EINVAL;
    }
    n -= (int)pad;
    memcpy(out, buf, (size_t)n);
    free(buf);
    return n;
}
