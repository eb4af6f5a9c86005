/* gw_sig against RFC 9421's own examples of the format, and hostile field values. */
#include <stdio.h>
#include <string.h>

#include "gw_keys.h"
#include "gw_sig.h"
#include "tap.h"

int main(void)
{
    struct gw_sig_input in;
    struct gw_sig_request req = {
        .method = "POST",
        .path = "/v1/actas/140338B010002/photos",
        .content_digest = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
    };
    const char *why = NULL;
    char base[2048], made[512], digest[64];
    uint8_t sha[32], sig[64];
    int n;
    const char *hdr = "sig1=(\"@method\" \"@path\" \"content-digest\");created=1780000000;"
                      "nonce=\"bm9uY2UtMQ\";keyid=\"5f0c6a43-1d0e-8b6a-9c33-0f2b6b1e2a7d\";"
                      "alg=\"ed25519\"";

    CHECK(gw_sig_parse_input(hdr, strlen(hdr), &in, &why) == 0);
    CHECK_STR(in.label, "sig1");
    CHECK(in.ncomponents == 3);
    CHECK_STR(in.components[2], "content-digest");
    CHECK(in.created == 1780000000 && in.expires == -1);
    CHECK_STR(in.nonce, "bm9uY2UtMQ");
    CHECK_STR(in.keyid, "5f0c6a43-1d0e-8b6a-9c33-0f2b6b1e2a7d");
    CHECK_STR(in.alg, "ed25519");
    CHECK_STR(in.params, hdr + 5);

    n = gw_sig_base(&in, &req, base, sizeof(base), &why);
    CHECK(n > 0);
    CHECK_STR(base, "\"@method\": POST\n"
                    "\"@path\": /v1/actas/140338B010002/photos\n"
                    "\"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n"
                    "\"@signature-params\": (\"@method\" \"@path\" \"content-digest\");"
                    "created=1780000000;nonce=\"bm9uY2UtMQ\";"
                    "keyid=\"5f0c6a43-1d0e-8b6a-9c33-0f2b6b1e2a7d\";alg=\"ed25519\"");

    /* What a client makes is what the gateway parses, byte for byte. */
    CHECK(gw_sig_make_input(1780000000, "bm9uY2UtMQ", "5f0c6a43-1d0e-8b6a-9c33-0f2b6b1e2a7d", made,
                            sizeof(made), &in) == 0);
    CHECK_STR(made, hdr);

    /* Content-Digest round trip; the RFC 9530 example value of {"hello": "world"}. */
    CHECK(gw_sig_parse_digest(req.content_digest, strlen(req.content_digest), sha, &why) == 0);
    gw_sig_digest_value(sha, digest, sizeof(digest));
    CHECK_STR(digest, req.content_digest);
    CHECK(gw_sig_parse_digest(
              "sha-512=:AAAA:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 73, sha,
              &why) == 0);
    CHECK(gw_sig_parse_digest("sha-256=:AAAA:", 14, sha, &why) < 0);
    CHECK(gw_sig_parse_digest("md5=:AAAA:", 10, sha, &why) < 0);

    /* Signature: the member named by the label, 64 bytes exactly. */
    {
        char s[200];
        uint8_t raw[64];

        memset(raw, 0x5a, sizeof(raw));
        char b64[GW_KEY_SIG_B64 + 1];

        gw_b64_encode(raw, 64, b64);
        snprintf(s, sizeof(s), "other=:AAAA:, sig1=:%s:", b64);
        CHECK(gw_sig_parse_signature(s, strlen(s), "sig1", sig, &why) == 0);
        CHECK(memcmp(sig, raw, 64) == 0);
        CHECK(gw_sig_parse_signature(s, strlen(s), "sig2", sig, &why) < 0);
        CHECK(gw_sig_parse_signature("sig1=:AAAA:", 11, "sig1", sig, &why) < 0);
    }

    /* Hostile or unsupported inputs are refused with a reason, never read past the end. */
    {
        static const char *const bad[] = {
            "",
            "sig1",
            "sig1=",
            "sig1=(",
            "sig1=(\"@method\"",
            "sig1=(\"@method\";sf)",
            "sig1=(\"@method\");created=x",
            "sig1=(\"@method\");created=12345678901234567",
            "sig1=(\"@method\");nonce=abc",
            "sig1=(\"@method\");bogus=1",
            "SIG=(\"@method\")",
            "sig1=(\"a\" \"b\" \"c\" \"d\" \"e\" \"f\" \"g\" \"h\" \"i\")",
            "sig1=(\"@method\");nonce=\"unterminated",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
            why = NULL;
            CHECK(gw_sig_parse_input(bad[i], strlen(bad[i]), &in, &why) < 0);
            CHECK(why != NULL);
        }
    }
    /* A covered component the request lacks, or one we do not support. */
    CHECK(gw_sig_parse_input("s=(\"@authority\")", 16, &in, &why) == 0);
    CHECK(gw_sig_base(&in, &req, base, sizeof(base), &why) < 0);
    CHECK(gw_sig_parse_input("s=(\"@query\")", 12, &in, &why) == 0);
    CHECK(gw_sig_base(&in, &req, base, sizeof(base), &why) < 0);
    CHECK(gw_sig_parse_input("s=(\"@path\" \"@path\")", 19, &in, &why) == 0);
    CHECK(gw_sig_base(&in, &req, base, sizeof(base), &why) < 0);
    return TAP_DONE();
}
