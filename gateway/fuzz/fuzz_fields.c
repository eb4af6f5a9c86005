/* Fuzz target: the short untrusted fields of an upload request that the router reads before any
 * body byte: the CLAVE_ACTA of the path, the upload token of /v1/uploads/{token}, and the
 * resumable-upload fields Upload-Offset, Upload-Length (Structured Field Integers) and
 * Upload-Complete (a Boolean). The first byte picks the parser; the rest is the value. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gw_clave.h"
#include "gw_resume.h"
#include "gw_sfv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v;
    const char *why = NULL;
    uint64_t n = 0;
    bool b = false;
    char *copy;

    if (size == 0)
        return 0;
    /* An exact-size copy, so that ASan sees any read past the value. */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    v = copy;
    switch (data[0] % 4) {
    case 0:
        if (gw_clave_valid(v, size - 1, &why) && size - 1 > GW_CLAVE_MAX)
            abort(); /* a valid clave is never longer than 13 */
        break;
    case 1:
        if (gw_resume_token_valid(v, size - 1) && size - 1 != GW_UPLOAD_TOKEN_LEN)
            abort();
        break;
    case 2:
        if (gw_sfv_uint(v, size - 1, &n) == 0 && n > 999999999999999ull)
            abort(); /* 15 digits at most */
        break;
    default:
        gw_sfv_bool(v, size - 1, &b);
        break;
    }
    free(copy);
    return 0;
}
