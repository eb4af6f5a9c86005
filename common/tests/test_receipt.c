#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_receipt.h"
#include "tap.h"

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
    return TAP_DONE();
}
