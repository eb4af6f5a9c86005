/* The whole pipeline, with small limits so each input stays fast. */
#include "fuzz.h"
#include "process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct img_process_opts o;
    struct img_result r;

    img_process_opts_init(&o);
    o.limits.max_pixels = 4u << 20;
    o.limits.max_decoder_memory = 64u << 20;
    o.long_side = 256;
    o.webp_method = 0;
    if (img_process_jpeg(data, size, &o, &r, NULL) == 0)
        img_result_finish(&r);
    return 0;
}
