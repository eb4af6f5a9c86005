/*
 * yuv: a decoded colour photo as JPEG stores it, luma and two chroma planes, 4:2:0.
 *
 * The pipeline's fast path (process.c) keeps a YCbCr JPEG in this form from the decoder to the
 * WebP encoder, which consumes YUV 4:2:0 itself: no RGB image of the photo is ever made, the
 * decoder skips its colour conversion and upsampling, the encoder its RGB import, and every pass
 * in between (orientation, resizing) touches 1.5 bytes per pixel instead of 3. The samples are
 * full-range BT.601 (JFIF), as libjpeg decodes them: y is the luma analysis and QR reading use,
 * and webp.c maps it to VP8's limited range on import. Each plane is a 1-channel img_image; the
 * chroma planes are ceil(w / 2) x ceil(h / 2) of the luma's w x h. It does no colour conversion
 * and no encoding.
 */
#ifndef IMG_YUV_H
#define IMG_YUV_H

#include <stdint.h>

#include "image.h"

struct img_yuv {
    struct img_image y, cb, cr; /* 1 channel each; chroma at half the luma's size, rounded up */
};

/* The chroma size for a |luma| side: ceil(luma / 2). */
static inline uint32_t img_yuv_chroma_side(uint32_t luma)
{
    return luma / 2 + (luma & 1);
}

/*
 * Turns |im| upright by the EXIF |orientation| (1..8; other values leave it alone), plane by
 * plane, as img_orient() does. On failure the planes may disagree (one
 * turned, one not): drop |im| with img_yuv_finish(). Thread-safe for distinct images.
 *
 * Returns 0, or IMG_E_NOMEM, or IMG_E_DIMENSIONS when |im| is not a valid 4:2:0 image.
 */
int img_yuv_orient(struct img_yuv *im, uint16_t orientation);

/*
 * Resamples |src| to a |w| x |h| luma (and its 4:2:0 chroma) into |ret| with img_resize()'s
 * filter. |src| is not modified; on failure |ret| is untouched. Thread-safe.
 *
 * Returns 0, or IMG_E_NOMEM, or IMG_E_DIMENSIONS when a size is 0 or |src| is not valid.
 */
int img_yuv_resize(const struct img_yuv *src, uint32_t w, uint32_t h, struct img_yuv *ret);

/* Frees the three planes and zeroes |im|. Accepts NULL and half-built images. */
void img_yuv_finish(struct img_yuv *im);

#endif
