/* gw_relay_sig: the Prep-Relay claim made by an edge and checked by the centre: a round trip, the
 * strict parser, what the signature binds (photo, phone signature, entry), and the trust file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_relay_sig.h"
#include "tap.h"

#define SHA "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
#define SHA2 "6e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

static char tmpdir[] = "/tmp/test-relay-sig-XXXXXX";

/* A trust file with |text|, in the test's folder; returns its path (static). */
static const char *trust_file(const char *text)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/trust", tmpdir);
    f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void make_key(struct gw_key *k, const char *name)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s.pem", tmpdir, name);
    CHECK(gw_key_load(path, true, k) == 0);
}

static void test_round_trip_and_binding(void)
{
    struct gw_key edge, other;
    struct gw_relay_trust t;
    struct gw_relay_claim c = {.seq = 42}, got;
    char hdr[GW_RELAY_HDR_MAX], b64[GW_KEY_PUB_B64 + 1], line[256], why[256];
    const char *reason = NULL;

    make_key(&edge, "edge");
    make_key(&other, "other");
    snprintf(c.edge, sizeof(c.edge), "catd-14.03_a");
    memcpy(c.hash, SHA, sizeof(c.hash));
    CHECK(gw_relay_sig_make(&c, &edge, SHA, "sig1=:AAAA:", hdr) == 0);
    CHECK(strncmp(hdr, "edge=\"catd-14.03_a\", seq=42, hash=\"" SHA "\", sig=:", 60) == 0);

    gw_b64_encode(edge.pub, GW_KEY_PUB_LEN, b64);
    snprintf(line, sizeof(line), "# edges\n\ncatd-14.03_a %s   # CATD 3\n", b64);
    CHECK(gw_relay_trust_load(trust_file(line), &t, why, sizeof(why)) == 0);
    CHECK(t.n == 1);

    CHECK(gw_relay_sig_check(&t, hdr, SHA, "sig1=:AAAA:", &got, &reason) == 0);
    CHECK(got.seq == 42);
    CHECK_STR(got.edge, "catd-14.03_a");
    CHECK_STR(got.hash, SHA);
    /* The claim is bound to the photo and to the phone's signature. */
    CHECK(gw_relay_sig_check(&t, hdr, SHA2, "sig1=:AAAA:", NULL, &reason) < 0);
    CHECK(strstr(reason, "does not verify") != NULL);
    CHECK(gw_relay_sig_check(&t, hdr, SHA, "sig1=:AAAB:", NULL, &reason) < 0);
    /* Signed by a key the centre does not trust under that name. */
    CHECK(gw_relay_sig_make(&c, &other, SHA, "sig1=:AAAA:", hdr) == 0);
    CHECK(gw_relay_sig_check(&t, hdr, SHA, "sig1=:AAAA:", NULL, &reason) < 0);
    /* An edge the file does not list, and no trust at all. */
    snprintf(c.edge, sizeof(c.edge), "catd-99");
    CHECK(gw_relay_sig_make(&c, &edge, SHA, "", hdr) == 0);
    CHECK(gw_relay_sig_check(&t, hdr, SHA, "", NULL, &reason) < 0);
    CHECK(strstr(reason, "does not trust") != NULL);
    CHECK(gw_relay_sig_check(NULL, hdr, SHA, "", NULL, &reason) < 0);
    gw_key_finish(&edge);
    gw_key_finish(&other);
}

static void test_strict_parser(void)
{
    static const char *const bad[] = {
        "",
        "edge=catd, seq=1, hash=\"" SHA "\", sig=:" /* unquoted edge */,
        "seq=1, edge=\"catd\", hash=\"" SHA "\", sig=:AAAA:",
        "edge=\"catd\", seq=0, hash=\"" SHA "\", sig=:AAAA:",
        "edge=\"catd\", seq=01, hash=\"" SHA "\", sig=:AAAA:",
        "edge=\"catd\", seq=99999999999999999999999, hash=\"" SHA "\", sig=:AAAA:",
        "edge=\"catd\", seq=1, hash=\"" SHA "0\", sig=:AAAA:",
        "edge=\"catd\", seq=1, "
        "hash=\"5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8\", sig=:AAAA:",
        "edge=\"catd\", seq=1, hash=\"" SHA "\", sig=:AAAA:" /* not 64 bytes */,
        "edge=\"ca td\", seq=1, hash=\"" SHA "\", sig=:AAAA:",
        "edge=\"catd\", seq=1, hash=\"" SHA "\"",
    };
    struct gw_relay_claim c = {.seq = 7}, got;
    struct gw_key k;
    char hdr[GW_RELAY_HDR_MAX], longer[GW_RELAY_HDR_MAX + 8];
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECK(gw_relay_sig_parse(bad[i], &got, &why) < 0);
        CHECK(why != NULL);
    }
    make_key(&k, "edge");
    snprintf(c.edge, sizeof(c.edge), "catd");
    memcpy(c.hash, SHA, sizeof(c.hash));
    CHECK(gw_relay_sig_make(&c, &k, SHA, "", hdr) == 0);
    CHECK(gw_relay_sig_parse(hdr, &got, &why) == 0);
    snprintf(longer, sizeof(longer), "%s, x=1", hdr);
    CHECK(gw_relay_sig_parse(longer, &got, &why) < 0);
    gw_key_finish(&k);
    CHECK(!gw_relay_edge_name_valid(""));
    CHECK(!gw_relay_edge_name_valid("a/b"));
    CHECK(gw_relay_edge_name_valid("CATD-14.03_x"));
}

static void test_trust_file_mistakes(void)
{
    struct gw_relay_trust t;
    char why[256];
    const char *key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    char text[256];

    CHECK(gw_relay_trust_load("/nonexistent/trust", &t, why, sizeof(why)) == -ENOENT);
    CHECK(gw_relay_trust_load(trust_file("catd-1\n"), &t, why, sizeof(why)) == -EINVAL);
    CHECK(strstr(why, ":1:") != NULL);
    CHECK(gw_relay_trust_load(trust_file("catd-1 notbase64\n"), &t, why, sizeof(why)) == -EINVAL);
    snprintf(text, sizeof(text), "# two\ncatd-1 %s\ncatd-1 %s\n", key, key);
    CHECK(gw_relay_trust_load(trust_file(text), &t, why, sizeof(why)) == -EINVAL);
    CHECK(strstr(why, ":3: edge catd-1 is listed twice") != NULL);
    snprintf(text, sizeof(text), "catd-1 %s extra\n", key);
    CHECK(gw_relay_trust_load(trust_file(text), &t, why, sizeof(why)) == -EINVAL);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    test_round_trip_and_binding();
    test_strict_parser();
    test_trust_file_mistakes();
    {
        char cmd[96];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return TAP_DONE();
}
