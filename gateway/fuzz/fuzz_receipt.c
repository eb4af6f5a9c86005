/* Fuzz target: a receipt file as `prep-gateway receipt verify` and `prep-upload verify` read it
 * (it may come from anyone). Checked against a fixed gateway key, the one that signed the seed
 * receipt, so that mutations reach every step of the check. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gw_keys.h"
#include "gw_receipt.h"

/* The public key of the gateway that signed corpus/receipt/valid.json. */
static const char gateway_pub_b64[] = "Y3SIvd0PZvRQAwpPqmV16pU2FGwaPbhvlujOmpbWgvs=";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gw_key key;
    static int have_key;
    struct gw_receipt r;
    char *buf;

    if (!have_key) {
        uint8_t pub[GW_KEY_PUB_LEN];

        if (gw_b64_decode(gateway_pub_b64, pub, sizeof(pub)) != GW_KEY_PUB_LEN ||
            gw_key_from_public(pub, &key) < 0)
            abort();
        have_key = 1;
    }
    buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    gw_receipt_parse(buf, size, &r);
    gw_receipt_verify(buf, size, &key, &r);
    free(buf);
    return 0;
}
