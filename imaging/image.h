/*
 * image: an 8-bit raster in memory, gray or RGB, rows top to bottom.
 *
 * The decoder (decode.h) produces one, orient.h and resize.h transform them, webp.h encodes one.
 * This module only allocates and frees the pixel buffer; it knows nothing about files or formats.
 * Rows are packed: stride == width * channels.
 */
#ifndef IMG_IMAGE_H
#define IMG_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct img_image {
    uint32_t width, height;
    uint8_t channels; /* 1 gray or 3 RGB */
    size_t stride;    /* bytes per row */
    uint8_t *pixels;  /* height * stride bytes, owned by the image */
};

/*
 * Allocates an uninitialised |w| x |h| image of |channels| (1 or 3) channels into |im|, which
 * must not hold a buffer (it is overwritten, not freed). On failure |im| is zeroed, so
 * img_image_finish() is always safe. Release with img_image_finish(). Thread-safe.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_DIMENSIONS  |w| or |h| is 0, |channels| is not 1 or 3, or the size overflows size_t
 *   IMG_E_NOMEM       the allocation failed
 */
int img_image_init(struct img_image *im, uint32_t w, uint32_t h, uint8_t channels);

/*
 * Frees the pixels of |im| and zeroes it. Accepts NULL, a zeroed image, a half-built one and an
 * already finished one (idempotent). Thread-safe for distinct images.
 */
void img_image_finish(struct img_image *im);

#endif
