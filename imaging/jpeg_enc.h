/*
 * jpeg_enc: encodes an img_image as a progressive JPEG in memory, the fallback output format
 * for clients that cannot show WebP.
 *
 * TurboJPEG's compressor (no libjpeg error manager of our own: decode.c stays the only setjmp
 * wrapper), 4:2:0 for colour, progressive, which in libjpeg implies optimised Huffman tables. Only
 * a JFIF APP0 segment is written: no EXIF, ICC or comment, so nothing from the phone leaks and the
 * pixels are already upright. It does not resize or orient.
 */
#ifndef IMG_JPEG_ENC_H
#define IMG_JPEG_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/*
 * Encodes |im| (1 or 3 channels) at |quality| (1..100, clamped). On success |*ret_buf| is a new
 * buffer of |*ret_len| bytes owned by the caller, to be released with img_jpeg_enc_free(); on
 * failure both are untouched. Thread-safe: each call has its own TurboJPEG handle.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_DIMENSIONS  |im| is empty or not 1 or 3 channels
 *   IMG_E_NOMEM       the handle could not be created
 *   IMG_E_ENCODE      TurboJPEG failed
 */
int img_jpeg_encode(const struct img_image *im, int quality, uint8_t **ret_buf, size_t *ret_len);

/* Frees a buffer returned by img_jpeg_encode(). Accepts NULL. Thread-safe. */
void img_jpeg_enc_free(uint8_t *buf);

#endif
