/* The duplicate signature parser: its input comes back from the database, so it is validated
 * like any other outside bytes; a parsed signature is also compared with itself. */
#include <stdlib.h>
#include <string.h>

#include "dup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    struct img_dup_sig sig;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (img_dup_from_hex(s, &sig) == 0) {
        char *hex = malloc(IMG_DUP_HEX_LEN + 1);

        if (img_dup_compare(&sig, &sig, NULL, NULL) != IMG_DUP_REENCODE)
            abort();
        if (hex) {
            img_dup_to_hex(&sig, hex);
            if (strcmp(hex, s) != 0)
                abort();
            free(hex);
        }
    }
    free(s);
    return 0;
}
