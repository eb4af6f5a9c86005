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

/* Full-range JPEG samples to VP8's limited range, luma 16..235 and chroma 16..240 (BT.601). */
static void range_luts(uint8_t luma[256], uint8_t chroma[256])
{
    for (int v = 0; v < 256; v++) {
        luma[v] = (uint8_t)(16 + (219 * v + 127) / 255);
        chroma[v] = (uint8_t)(128 + ((v - 128) * 224 + (v >= 128 ? 127 : -127)) / 255);
    }
}

static void map_plane(const struct img_image *src, const uint8_t lut[256], uint8_t *dst,
                      int dst_stride)
{
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *s = src->pixels + (size_t)y * src->stride;
        uint8_t *d = dst + (size_t)y * (size_t)dst_stride;

        for (uint32_t x = 0; x < src->width; x++)
            d[x] = lut[s[x]];
    }
}

static int import_yuv(WebPPicture *pic, const struct img_yuv *im)
{
    uint8_t luma[256], chroma[256];

    if (!WebPPictureAlloc(pic))
        return IMG_E_NOMEM;
    range_luts(luma, chroma);
    map_plane(&im->y, luma, pic->y, pic->y_stride);
    map_plane(&im->cb, chroma, pic->u, pic->uv_stride);
    map_plane(&im->cr, chroma, pic->v, pic->uv_stride);
    return 0;
}

/* Configures libwebp, imports with |import_rgb| or |import_yuv| and encodes. */
static int encode(const struct img_image *rgb, const struct img_yuv *yuv, int quality, int method,
                  uint8_t **ret_buf, size_t *ret_len)
{
    const struct img_image *im = rgb ? rgb : &yuv->y;
    WebPConfig config;
    WebPPicture pic;
    WebPMemoryWriter wr;
    int r;

    if (im->width > WEBP_MAX_DIMENSION || im->height > WEBP_MAX_DIMENSION)
        return IMG_E_DIMENSIONS;
    /* Measured on noisy 12 MP acta photos (docs/imaging.md, "Encoder settings"): the "text"
     * preset (no spatial noise shaping, little filtering) spends ~17% more bytes on sensor noise
     * for no SSIM gain, so the default preset's shaping and loop filter stay; one segment skips
     * the encoder's macroblock analysis (about 30% of method 2) and, at the default quality,
     * writes fewer bytes than two segments did at q75, with a higher SSIM. */
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
    r = rgb ? import(&pic, rgb) : import_yuv(&pic, yuv);
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

int img_webp_encode(const struct img_image *im, int quality, int method, uint8_t **ret_buf,
                    size_t *ret_len)
{
    if (!im->pixels || im->width == 0 || im->height == 0 ||
        (im->channels != 1 && im->channels != 3))
        return IMG_E_DIMENSIONS;
    return encode(im, NULL, quality, method, ret_buf, ret_len);
}

int img_webp_encode_yuv(const struct img_yuv *im, int quality, int method, uint8_t **ret_buf,
                        size_t *ret_len)
{
    if (!im->y.pixels || !im->cb.pixels || !im->cr.pixels || im->y.width == 0 ||
        im->y.height == 0 || im->y.channels != 1 || im->cb.channels != 1 || im->cr.channels != 1 ||
        im->cb.width != img_yuv_chroma_side(im->y.width) ||
        im->cb.height != img_yuv_chroma_side(im->y.height) || im->cr.width != im->cb.width ||
        im->cr.height != im->cb.height)
        return IMG_E_DIMENSIONS;
    return encode(NULL, im, quality, method, ret_buf, ret_len);
}

void img_webp_free(uint8_t *buf)
{
    WebPFree(buf);
}
