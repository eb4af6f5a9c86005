/*
 * decode: JPEG to pixels, with libjpeg-turbo's DCT-domain downscaling.
 *
 * This is the only file of the project that talks to libjpeg. It decodes a whole in-memory JPEG
 * to a gray or RGB img_image, scaled by M/8 inside the IDCT so a 12-megapixel photo that will be
 * shrunk to 2000 pixels is never materialised at full size. It is strict: libjpeg's warnings
 * (corrupt data, premature end of data) are errors, so a truncated upload never turns into a
 * half-grey picture. The limits are enforced from the header (pixels, side), through libjpeg's
 * memory manager (max_memory_to_use) and through a progress monitor (scans). It does not read
 * EXIF or apply orientation (exif.h, orient.h), and does not scan the file first (jpeg_scan.h).
 */
#ifndef IMG_DECODE_H
#define IMG_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "img_limits.h"
#include "yuv.h"

/*
 * Picks the scale M/8 (M = 1..8) that img_jpeg_decode_scaled() uses for a |w| x |h| JPEG: the
 * smallest M whose scaled long side, ceil(long * M / 8), is >= |min_long_side|; 8 when even the
 * full size is smaller. Thread-safe.
 */
unsigned img_jpeg_pick_scale(uint32_t w, uint32_t h, uint32_t min_long_side);

/*
 * Decodes the JPEG in |buf| (|len| bytes; not kept) into |ret|, scaled as img_jpeg_pick_scale()
 * says, 3-channel RGB for colour input and 1-channel gray for gray input. Huffman and arithmetic
 * coding, sequential and progressive, are decoded. CMYK and YCCK (4 components) become RGB: with
 * an Adobe APP14 marker the samples are taken as Adobe stores them, inverted (255 is no ink),
 * without one as plain ink amounts; the APP14 transform flag says YCCK. |lim| (NULL for the
 * defaults) bounds pixels and side (checked from the header, before any pixel memory is
 * allocated), scans and decoder memory. On success |ret| owns a new buffer: release it with
 * img_image_finish(). On failure |ret| is untouched and nothing is leaked. Thread-safe: each call
 * has its own libjpeg instance and no state is shared.
 *
 * |ret_why| (may be NULL) receives, on error only, a static string: ours, or libjpeg's own
 * message template (which may contain an unexpanded "%d"); never free it.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_NOT_JPEG        empty input or no SOI marker
 *   IMG_E_TRUNCATED       the data ended early (libjpeg's "premature end of data")
 *   IMG_E_DIMENSIONS      the header exceeds max_side or max_pixels
 *   IMG_E_UNSUPPORTED     other than 1, 3 or 4 components, not 8-bit, lossless, hierarchical
 *   IMG_E_TOO_MANY_SCANS  more than max_scans scans
 *   IMG_E_NOMEM           out of memory, or over max_decoder_memory
 *   IMG_E_DECODE          any other libjpeg error or warning (corrupt data, bad tables, ...)
 */
int img_jpeg_decode_scaled(const void *buf, size_t len, const struct img_limits *lim,
                           uint32_t min_long_side, struct img_image *ret, const char **ret_why);

/*
 * Decodes |buf| at full resolution to one gray channel (the luma: without colour conversion for
 * YCbCr, from the RGB of CMYK/YCCK) into |ret|, as stored (no orientation applied): for reading
 * fine print such as the acta's QR code when the scaled decode is too coarse. Same limits,
 * ownership and return codes as img_jpeg_decode_scaled(). Thread-safe.
 */
int img_jpeg_decode_gray(const void *buf, size_t len, const struct img_limits *lim,
                         struct img_image *ret, const char **ret_why);

/*
 * Decodes a YCbCr JPEG like img_jpeg_decode_scaled() (same scale, limits, strictness, ownership
 * and codes) but without colour conversion: into the luma and 4:2:0 chroma planes of |ret|, full
 * range as stored (yuv.h). Chroma stored at 4:2:2, 4:4:0 or 4:4:4, or decoded larger by libjpeg's
 * IDCT scaling, is averaged down to 4:2:0. Other data (gray, RGB, CMYK, YCCK, chroma sampled
 * other than 1 x 1 against a luma of at most 2 x 2) is IMG_E_UNSUPPORTED before any pixel
 * memory is allocated: decode those with img_jpeg_decode_scaled(). Release |ret| with
 * img_yuv_finish(). Thread-safe.
 */
int img_jpeg_decode_yuv420(const void *buf, size_t len, const struct img_limits *lim,
                           uint32_t min_long_side, struct img_yuv *ret, const char **ret_why);

#endif
