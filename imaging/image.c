#include "image.h"

#include <stdlib.h>
#include <string.h>

#include "img_error.h"

int img_image_init(struct img_image *im, uint32_t w, uint32_t h, uint8_t channels)
{
    size_t stride;

    memset(im, 0, sizeof(*im));
    if (w == 0 || h == 0 || (channels != 1 && channels != 3))
        return IMG_E_DIMENSIONS;
    if (w > SIZE_MAX / channels)
        return IMG_E_DIMENSIONS;
    stride = (size_t)w * channels;
    if (stride > SIZE_MAX / h)
        return IMG_E_DIMENSIONS;
    im->pixels = malloc(stride * h);
    if (!im->pixels)
        return IMG_E_NOMEM;
    im->width = w;
    im->height = h;
    im->channels = channels;
    im->stride = stride;
    return 0;
}

void img_image_finish(struct img_image *im)
{
    if (!im)
        return;
    free(im->pixels);
    memset(im, 0, sizeof(*im));
}
