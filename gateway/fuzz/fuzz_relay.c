/* Fuzz target: the Prep-Relay field (gw_relay_sig) as anyone may send it to a central gateway.
 * The input is the field value (HTTP/2 gives the gateway a NUL-terminated copy, as here); it is
 * parsed, and checked against a trust table naming the edge "catd-01" with a fixed key, so that a
 * parsed claim also reaches the signed text and the Ed25519 check. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gw_relay_sig.h"

#define SHA "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gw_relay_trust trust = {.n = 1, .v = {{.edge = "catd-01", .pub = {1, 2, 3}}}};
    struct gw_relay_claim c;
    const char *why = NULL;
    char text[1024];
    char *hdr = malloc(size + 1);

    if (!hdr)
        return 0;
    memcpy(hdr, data, size);
    hdr[size] = '\0';
    if (gw_relay_sig_parse(hdr, &c, &why) == 0)
        gw_relay_sig_text(&c, SHA, hdr, text, sizeof(text));
    gw_relay_sig_check(&trust, hdr, SHA, "sig1=:AAAA:", NULL, &why);
    free(hdr);
    return 0;
}
