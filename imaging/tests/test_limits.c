#include <string.h>

#include "img_limits.h"
#include "testutil.h"

int main(void)
{
    struct img_limits l;

    memset(&l, 0xAB, sizeof(l));
    img_limits_init(&l);
    CHECK_EQ(l.max_pixels, 50000000);
    CHECK_EQ(l.max_side, 65535);
    CHECK_EQ(l.max_scans, 500);
    CHECK_EQ(l.max_exif_bytes, 65536);
    CHECK_EQ(l.max_decoder_memory, 512LL * 1024 * 1024);
    return t_done("imaging-limits");
}
