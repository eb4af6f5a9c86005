#include "webp.h"

#include <string.h>
#include <webp/encode.h>

#include "img_error.h"

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Imports |im| into |pic| straight into YUV 4:2:0, the encoder's own format: no ARGB copy of the
 * frame. Gray needs no colour conversion at all: luma is the gray plane, chroma is neutral. */
static int import(WebPPicture *pic, const struct img_image *im)
{
    if (im->channels == 3)
        return WebPPictureImportRGB(pic, im->pixels, (int)im->stride) ? 0 : IMG_E_NOMEM;
    uint8_t lut[256];

    if (!WebPPictureAlloc(pic))
        return IMG_E_NOMEM;
    /* VP8 luma is limited range (16..235): libwebp's own RGB-to-Y for R = G = B. */
    for (unsigned g = 0; g < 256; g++)
        lut[g] = (uint8_t)(((16839u + 33059u + 6420u) * g + (16u << 16) + (1u << 15)) >> 16);
    for (uint32_t y = 0; y < im->height; y++) {
        const uint8_t *src = im->pixels + (size_t)y * im->stride;
        uint8_t *dst = pic->y + (size_t)y * (size_t)pic->y_stride;

        for (uint32_t x = 0; x < im->width; x++)
            dst[x] = lut[src[x]];
    }
    for (int y = 0; y < (pic->height + 1) / 2; y++) {
        memset(pic->u + (size_t)y * (size_t)pic->uv_stride, 128, (size_t)(pic->width + 1) / 2);
        memset(pic->v + (size_t)y * (size_t)pic->uv_stride, 128, (size_t)(pic->width + 1) / 2);
    }
    return 0;
}

int img_webp_encode(const struct img_image *im, int quality, int method, uint8_t **ret_buf,
                    size_t *ret_len)
{
    WebPConfig config;
    WebPPicture pic;
    WebPMemoryWriter wr;
    int r;

    if (!im->pixels || im->width == 0 || im->height == 0 ||
        (im->channels != 1 && im->channels != 3) || im->width > WEBP_MAX_DIMENSION ||
        im->height > WEBP_MAX_DIMENSION)
        return IMG_E_DIMENSIONS;
    /* Measured on noisy 12 MP acta photos (docs/imaging.md, "Encoder settings"): the "text"
     * preset (no spatial noise shaping, little filtering) spends ~17% more bytes on sensor noise
     * for no SSIM gain, so the default preset's shaping and loop filter stay; two segments
     * instead of four cost nothing measurable on a sheet of paper and save a quarter of the
     * encoder's time. */
    if (!WebPConfigPreset(&config, WEBP_PRESET_DEFAULT, (float)clamp(quality, 0, 100)))
        return IMG_E_ENCODE;
    config.method = clamp(method, 0, 6);
    config.segments = IMG_WEBP_SEGMENTS;
    if (!WebPValidateConfig(&config))
        return IMG_E_ENCODE;
    if (!WebPPictureInit(&pic))
        return IMG_E_ENCODE;
    pic.use_argb = 0; /* YUV: what the lossy encoder consumes */
    pic.width = (int)im->width;
    pic.height = (int)im->height;
    r = import(&pic, im);
    if (r < 0) {
        WebPPictureFree(&pic);
        return r;
    }
    WebPMemoryWriterInit(&wr);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &wr;
    if (!WebPEncode(&config, &pic)) {
        r = pic.error_code == VP8_ENC_ERROR_OUT_OF_MEMORY ||
                    pic.error_code == VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY
                ? IMG_E_NOMEM
                : IMG_E_ENCODE;
        WebPPictureFree(&pic);
        WebPMemoryWriterClear(&wr);
        return r;
    }
    WebPPictureFree(&pic);
    *ret_buf = wr.mem;
    *ret_len = wr.size;
    return 0;
}

void img_webp_free(uint8_t *buf)
{
    WebPFree(buf);
}
