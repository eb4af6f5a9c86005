#include "img_limits.h"

void img_limits_init(struct img_limits *l)
{
    l->max_pixels = IMG_LIMIT_DEFAULT_MAX_PIXELS;
    l->max_side = IMG_LIMIT_DEFAULT_MAX_SIDE;
    l->max_scans = IMG_LIMIT_DEFAULT_MAX_SCANS;
    l->max_exif_bytes = IMG_LIMIT_DEFAULT_MAX_EXIF_BYTES;
    l->max_decoder_memory = IMG_LIMIT_DEFAULT_MAX_DECODER_MEMORY;
}
