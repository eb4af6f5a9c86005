/*
 * resize: good-quality resampling of gray and RGB images.
 *
 * A separable Lanczos-3 filter (widened by the scale factor when shrinking, so every source pixel
 * contributes: no aliasing of the thin lines and small digits of a result sheet). Weights are
 * computed once per output column and per output row; the horizontal pass writes a clamped 8-bit
 * intermediate image, the vertical pass accumulates in float and rounds. It only resamples: no
 * colour conversion, no sharpening, no orientation.
 */
#ifndef IMG_RESIZE_H
#define IMG_RESIZE_H

#include <stdint.h>

#include "image.h"

/*
 * Resamples |src| to |dst_w| x |dst_h| into a new image |ret| with the same channel count. Works
 * for any sizes (upscaling too, though the pipeline never asks for it). |src| is not modified. On
 * success release |ret| with img_image_finish(); on failure |ret| is untouched. Thread-safe.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_DIMENSIONS  a size is 0, or |src| is not a valid image
 *   IMG_E_NOMEM       an allocation failed
 */
int img_resize(const struct img_image *src, uint32_t dst_w, uint32_t dst_h, struct img_image *ret);

/*
 * Computes the size of a |w| x |h| image scaled so its longer side is |long_side|, keeping the
 * aspect ratio: never upscales (an image that already fits, or |long_side| 0, keeps its size),
 * rounds to nearest, and never returns a side below 1. Writes |ret_w| and |ret_h|. Thread-safe.
 */
void img_fit_long_side(uint32_t w, uint32_t h, uint32_t long_side, uint32_t *ret_w,
                       uint32_t *ret_h);

#endif
