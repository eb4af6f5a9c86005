#include "jpeg_enc.h"

#include <turbojpeg.h>

#include "img_error.h"

int img_jpeg_encode(const struct img_image *im, int quality, uint8_t **ret_buf, size_t *ret_len)
{
    tjhandle tj;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int r;

    if (!im->pixels || im->width == 0 || im->height == 0 || im->width > INT32_MAX ||
        im->height > INT32_MAX || (im->channels != 1 && im->channels != 3))
        return IMG_E_DIMENSIONS;
    quality = quality < 1 ? 1 : quality > 100 ? 100 : quality;
    tj = tjInitCompress();
    if (!tj)
        return IMG_E_NOMEM;
    r = tjCompress2(tj, im->pixels, (int)im->width, (int)im->stride, (int)im->height,
                    im->channels == 1 ? TJPF_GRAY : TJPF_RGB, &buf, &len,
                    im->channels == 1 ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_PROGRESSIVE);
    tjDestroy(tj);
    if (r != 0) {
        tjFree(buf);
        return IMG_E_ENCODE;
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

void img_jpeg_enc_free(uint8_t *buf)
{
    tjFree(buf);
}
