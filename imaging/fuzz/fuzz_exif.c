#include <stdlib.h>
#include <string.h>

#include "exif.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct img_exif e;

    img_exif_parse(data, size, &e, NULL);
    if (e.orientation < 1 || e.orientation > 8)
        abort();
    if (!memchr(e.make, 0, sizeof(e.make)) || !memchr(e.gps_datetime, 0, sizeof(e.gps_datetime)))
        abort();
    return 0;
}
