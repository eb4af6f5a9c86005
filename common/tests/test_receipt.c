#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw_keys.h"
#include "gw_receipt.h"
#include "tap.h"

/* Signs |r| as the gateway does and returns its JSON. */
static char *signed_json(const struct gw_key *k, struct gw_receipt *r, size_t *len)
{
    char text[GW_RECEIPT_TEXT_MAX];
    uint8_t sig[GW_KEY_SIG_LEN];

    r->ledger_seq = 7;
    memset(r->ledger_prev, 'a', GW_SHA256_HEX_LEN);
    memset(r->ledger_hash, 'b', GW_SHA256_HEX_LEN);
    memcpy(r->gateway_key, k->fingerprint, sizeof(r->gateway_key));
    CHECK(gw_key_sign(k, text, gw_receipt_text(r, text, sizeof(text)), sig) == 0);
    gw_b64_encode(sig, sizeof(sig), r->signature);
    return gw_receipt_json(r, "received", len);
}

/* The legibility verdict: round trip, the signed text, and that the signature covers it. */
static void legibility(const struct gw_receipt *base)
{
    char dir[] = "/tmp/test-receipt-XXXXXX", path[64], text[GW_RECEIPT_TEXT_MAX], *json, *p;
    struct gw_receipt r = *base, back;
    struct gw_key k;
    size_t len;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    CHECK(gw_key_load(path, true, &k) == 0);

    /* Without a verdict the signed text is the one receipts always had. */
    gw_receipt_text(&r, text, sizeof(text));
    CHECK(strstr(text, "legibility") == NULL);
    CHECK(strcmp(text + strlen(text) - 76, "ledger_hash=\n") != 0);

    r.legibility.present = true;
    r.legibility.ok = false;
    snprintf(r.legibility.reasons, sizeof(r.legibility.reasons), "blurry,dark");
    snprintf(r.legibility.reason, sizeof(r.legibility.reason),
             "Tome la foto otra vez: la foto salió borrosa; la foto está muy oscura.");
    gw_receipt_set_measures(&r.legibility, 41.23456, 88.1, 0.0004999, 0.0, 0.8125);
    CHECK(r.legibility.focus == 41.235 && r.legibility.clipped == 0.0);
    json = signed_json(&k, &r, &len);
    CHECK(json && strstr(json, "\"legibility\":{\"verdict\":\"retake\",\"reasons\":[\"blurry\","
                               "\"dark\"]") != NULL);
    CHECK(json && strstr(json, "\"focus\":41.235,") != NULL);
    CHECK(json && strstr(json, "\"coverage\":0.813") != NULL);
    CHECK(json && gw_receipt_parse(json, len, &back) == 0);
    CHECK(memcmp(&r, &back, sizeof(r)) == 0);
    gw_receipt_text(&r, text, sizeof(text));
    CHECK(strstr(text, "\nlegibility=retake\nlegibility_reasons=blurry,dark\n") != NULL);
    CHECK(strstr(text, "legibility_measures=focus:41.235,luma:88.100,clipped:0.000,glare:0.000,"
                       "coverage:0.813\n") != NULL);
    CHECK(json && gw_receipt_verify(json, len, &k, NULL) == NULL);

    /* Each part of the verdict is signed: changing it breaks the signature. */
    p = json ? strstr(json, "\"retake\"") : NULL;
    CHECK(p != NULL);
    if (p) {
        memcpy(p, "\"ok\"    ", 8); /* still valid JSON */
        CHECK(gw_receipt_verify(json, len, &k, NULL) != NULL);
        memcpy(p, "\"retake\"", 8);
    }
    p = json ? strstr(json, "41.235") : NULL;
    CHECK(p != NULL);
    if (p) {
        p[5] = '6';
        CHECK(gw_receipt_verify(json, len, &k, NULL) != NULL);
    }
    free(json);

    r.legibility.ok = true;
    r.legibility.reasons[0] = '\0';
    json = signed_json(&k, &r, &len);
    CHECK(json && strstr(json, "\"reasons\":[]") != NULL);
    CHECK(json && gw_receipt_parse(json, len, &back) == 0 && back.legibility.ok &&
          back.legibility.reasons[0] == '\0');
    CHECK(json && gw_receipt_verify(json, len, &k, NULL) == NULL);
    free(json);
    CHECK(gw_receipt_parse("{\"photo_id\":\"x\",\"legibility\":{\"verdict\":\"maybe\"}}", 44,
                           &back) < 0);
    gw_key_finish(&k);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const char *sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    char id[GW_PHOTO_ID_LEN + 1], id2[GW_PHOTO_ID_LEN + 1], ts[GW_TIME_LEN + 1];
    struct gw_receipt r = {0}, back;
    struct timespec t = {1780000000, 512000000};
    size_t len;
    char *json;

    CHECK(gw_photo_id("140338B010002", sha, id) == 0);
    CHECK(gw_photo_id_valid(id, strlen(id)));
    CHECK(id[14] == '8');                  /* version 8 */
    CHECK(strchr("89ab", id[19]) != NULL); /* RFC 9562 variant */
    CHECK(gw_photo_id("140338B010002", sha, id2) == 0 && strcmp(id, id2) == 0);
    CHECK(gw_photo_id("140338B010001", sha, id2) == 0 && strcmp(id, id2) != 0);
    CHECK(!gw_photo_id_valid("5F0C6A43-1D0E-8B6A-9C33-0F2B6B1E2A7D", 36));
    CHECK(!gw_photo_id_valid("5f0c6a43-1d0e-8b6a-9c33-0f2b6b1e2a7", 35));

    setenv("TZ", "America/Mexico_City", 1);
    tzset();
    gw_rfc3339(&t, ts);
    CHECK(strlen(ts) == GW_TIME_LEN);
    CHECK_STR(ts + 19, ".512-06:00");
    setenv("TZ", "UTC", 1);
    tzset();
    gw_rfc3339(&t, ts);
    CHECK_STR(ts, "2026-05-28T20:26:40.512+00:00");

    memcpy(r.photo_id, id, sizeof(id));
    snprintf(r.clave, sizeof(r.clave), "%s", "140338B010002");
    memcpy(r.sha256, sha, 65);
    r.bytes = 4182233;
    memcpy(r.received_at, ts, sizeof(ts));
    r.width = 4000;
    r.height = 3000;
    json = gw_receipt_json(&r, "received", &len);
    CHECK(json && strstr(json, "\"status\":\"received\""));
    CHECK(json && gw_receipt_parse(json, len, &back) == 0);
    CHECK(memcmp(&r, &back, sizeof(r)) == 0);
    free(json);
    CHECK(gw_receipt_parse("{\"photo_id\":\"x\"}", 16, &back) < 0);
    CHECK(gw_receipt_parse("not json", 8, &back) < 0);
    legibility(&r);
    return TAP_DONE();
}
