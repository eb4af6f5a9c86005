/* gw_tar and gw_evidence: archives round trip and refuse any changed byte outside member data;
 * checkpoints and signature records sign, parse and verify, and stop verifying when changed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_evidence.h"
#include "gw_keys.h"
#include "gw_sig.h"
#include "gw_tar.h"
#include "tap.h"

static void tar(void)
{
    struct gw_tar t = {0};
    struct gw_tar_member m[4];
    size_t n = 0;
    int at;
    const char *why = NULL;
    bool in_data[8 * GW_TAR_BLOCK] = {false};

    CHECK(gw_tar_add(&t, "a.txt", "hello\n", 6, 1700000000) == 0);
    CHECK(gw_tar_add(&t, "dir/empty", "", 0, 1700000000) == 0);
    CHECK(gw_tar_add(&t, "/abs", "x", 1, 0) == -EINVAL);
    CHECK(gw_tar_add(&t, "a/../b", "x", 1, 0) == -EINVAL);
    CHECK(gw_tar_add(&t, "sp ace", "x", 1, 0) == -EINVAL);
    CHECK(gw_tar_finish(&t) == 0);
    CHECK(t.len == 5 * GW_TAR_BLOCK);
    CHECK(gw_tar_read(t.buf, t.len, m, 4, &n, &at, &why) == 0 && n == 2);
    CHECK_STR(m[0].name, "a.txt");
    CHECK(m[0].len == 6 && memcmp(m[0].data, "hello\n", 6) == 0);
    CHECK_STR(m[1].name, "dir/empty");
    CHECK(m[1].len == 0);
    /* Too many members for the caller's room. */
    CHECK(gw_tar_read(t.buf, t.len, m, 1, &n, &at, &why) == -EINVAL);
    /* Every byte but the members' data: changed, the archive is refused. */
    for (size_t i = 0; i < 6; i++)
        in_data[GW_TAR_BLOCK + i] = true;
    for (size_t i = 0; i < t.len; i++) {
        uint8_t *bad = malloc(t.len);

        memcpy(bad, t.buf, t.len);
        bad[i] ^= 0x01;
        if (in_data[i])
            CHECK(gw_tar_read(bad, t.len, m, 4, &n, &at, &why) == 0);
        else if (gw_tar_read(bad, t.len, m, 4, &n, &at, &why) == 0)
            CHECK(!"a changed byte outside member data was accepted");
        free(bad);
    }
    /* Cut short anywhere. */
    for (size_t len = 0; len < t.len; len += 100)
        CHECK(gw_tar_read(t.buf, len, m, 4, &n, &at, &why) == -EINVAL);
    /* Zero padding after the end (tar's records) is fine. */
    {
        uint8_t *more = calloc(1, t.len + 4096);

        memcpy(more, t.buf, t.len);
        CHECK(gw_tar_read(more, t.len + 4096, m, 4, &n, &at, &why) == 0 && n == 2);
        free(more);
    }
    gw_tar_free(&t);
}

static void checkpoint(const struct gw_key *k, const struct gw_key *other)
{
    struct gw_checkpoint c = {.version = 2, .length = 3}, back;
    char buf[GW_CHECKPOINT_TEXT_MAX];
    size_t len;

    memset(c.head, 'a', GW_SHA256_HEX_LEN);
    memset(c.root, 'b', GW_SHA256_HEX_LEN);
    snprintf(c.time, sizeof(c.time), "2026-12-07T01:02:03.456+00:00");
    len = gw_checkpoint_sign(&c, k, buf, sizeof(buf));
    CHECK(len > 0 && strncmp(buf, "prep-casilla checkpoint v2\nlength=3\nhead=aaaa", 45) == 0);
    CHECK(gw_checkpoint_verify(buf, len, k, &back) == NULL);
    CHECK(back.version == 2 && back.length == 3 && strcmp(back.root, c.root) == 0);
    CHECK(gw_checkpoint_verify(buf, len, other, NULL) != NULL);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x01;
        CHECK(gw_checkpoint_verify(buf, len, k, NULL) != NULL);
        buf[i] ^= 0x01;
    }
    /* Version 1, as `ledger checkpoint` printed before the tree head. */
    c.version = 1;
    len = gw_checkpoint_sign(&c, k, buf, sizeof(buf));
    CHECK(len > 0 && strstr(buf, "root=") == NULL);
    CHECK(gw_checkpoint_verify(buf, len, k, &back) == NULL && back.version == 1);
}

static void sigrec(const struct gw_key *dev)
{
    struct gw_sigrec r = {0}, back;
    struct gw_sig_input in;
    struct gw_sig_request req = {.method = "POST", .path = "/v1/actas/140338B010002/photos"};
    uint8_t sha[32], sig[GW_KEY_SIG_LEN];
    char base[2048], b64[GW_KEY_SIG_B64 + 1], keyid[GW_SIG_TOKEN_MAX], *json;
    const char *why = NULL;
    int64_t created = 0;
    size_t len = 0;
    int n;

    memset(sha, 7, sizeof(sha));
    snprintf(r.method, sizeof(r.method), "POST");
    snprintf(r.path, sizeof(r.path), "%s", req.path);
    gw_sig_digest_value(sha, r.content_digest, sizeof(r.content_digest));
    CHECK(gw_sig_make_input(1700000000, "bm9uY2U", "dev-1", r.signature_input,
                            sizeof(r.signature_input), &in) == 0);
    req.content_digest = r.content_digest;
    n = gw_sig_base(&in, &req, base, sizeof(base), &why);
    CHECK(n > 0 && gw_key_sign(dev, base, (size_t)n, sig) == 0);
    gw_b64_encode(sig, sizeof(sig), b64);
    snprintf(r.signature, sizeof(r.signature), "sig1=:%s:", b64);
    json = gw_sigrec_json(&r, &len);
    CHECK(json && gw_sigrec_parse(json, len, &back) == 0);
    free(json);
    CHECK(gw_sigrec_verify(&back, dev, sha, keyid, &created) == NULL);
    CHECK_STR(keyid, "dev-1");
    CHECK(created == 1700000000);
    sha[0] ^= 1;
    CHECK(gw_sigrec_verify(&back, dev, sha, keyid, &created) != NULL);
    sha[0] ^= 1;
    back.path[12] ^= 1;
    CHECK(gw_sigrec_verify(&back, dev, sha, keyid, &created) != NULL);
}

int main(void)
{
    char dir[] = "/tmp/test-evidence-XXXXXX", a[64], b[64];
    struct gw_key k, other;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(a, sizeof(a), "%s/a.pem", dir);
    snprintf(b, sizeof(b), "%s/b.pem", dir);
    CHECK(gw_key_load(a, true, &k) == 0 && gw_key_load(b, true, &other) == 0);
    tar();
    checkpoint(&k, &other);
    sigrec(&other);
    gw_key_finish(&k);
    gw_key_finish(&other);
    unlink(a);
    unlink(b);
    rmdir(dir);
    return TAP_DONE();
}
