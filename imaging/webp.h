/*
 * webp: encodes an img_image as a lossy WebP file in memory.
 *
 * Tuned on photos of result sheets (docs/imaging.md, "Encoder settings"): libwebp's default
 * spatial noise shaping and loop filter, which spend fewer bits on sensor noise than the "text"
 * preset for the same SSIM, and IMG_WEBP_SEGMENTS segments, with the caller's quality and method.
 * Gray images get neutral chroma. The output is a plain VP8 WebP:
 * no EXIF, XMP or ICC chunk is ever written, so nothing from the phone leaks into the published
 * image. It does not resize or orient.
 */
#ifndef IMG_WEBP_H
#define IMG_WEBP_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "yuv.h"

/* Quantiser segments (libwebp default 4): 1 skips the segment analysis; at equal bytes its SSIM
 * is higher on acta photos (docs/imaging.md, "Encoder settings"). */
#define IMG_WEBP_SEGMENTS 1

/*
 * Encodes |im| (1 or 3 channels, at most 16383 pixels per side) at |quality| (0..100, clamped)
 * with |method| (0 fast .. 6 small, clamped). On success |*ret_buf| is a new buffer of |*ret_len|
 * bytes owned by the caller, to be released with img_webp_free(); on failure both are untouched.
 * Thread-safe: libwebp keeps no shared state.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_DIMENSIONS  |im| is empty, not 1 or 3 channels, or larger than WebP allows
 *   IMG_E_NOMEM       an allocation failed
 *   IMG_E_ENCODE      libwebp refused the configuration or failed to encode
 */
int img_webp_encode(const struct img_image *im, int quality, int method, uint8_t **ret_buf,
                    size_t *ret_len);

/*
 * Encodes the 4:2:0 image |im| (yuv.h; full-range samples, mapped to VP8's limited range on
 * import, with no colour conversion) like img_webp_encode(), with the same settings, ownership
 * and codes. Thread-safe.
 */
int img_webp_encode_yuv(const struct img_yuv *im, int quality, int method, uint8_t **ret_buf,
                        size_t *ret_len);

/* Frees a buffer returned by img_webp_encode() or img_webp_encode_yuv(). Accepts NULL. Thread-safe.
 */
void img_webp_free(uint8_t *buf);

#endif
