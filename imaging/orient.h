/*
 * orient: turns an image upright according to its EXIF Orientation tag.
 *
 * The eight EXIF orientations are the eight combinations of mirror and quarter turns; this module
 * applies the one that undoes the camera's, so that row 0 of the result is the visual top. It
 * moves whole pixels only (no resampling, no colour change) and does not read EXIF itself
 * (exif.h does).
 */
#ifndef IMG_ORIENT_H
#define IMG_ORIENT_H

#include <stdint.h>

#include "image.h"

/*
 * Applies EXIF |orientation| to |im| so it displays upright: 1 nothing, 2 mirror horizontally,
 * 3 rotate 180, 4 mirror vertically, 5 transpose (mirror across the top-left to bottom-right
 * diagonal), 6 rotate 90 clockwise, 7 transverse (mirror across the other diagonal), 8 rotate
 * 270 clockwise (90 counter-clockwise). 5 to 8 swap width and height. Values outside 1..8 are
 * treated as 1, as the EXIF spec asks. For 2..8 the pixels move to a new buffer and the old one
 * is freed; on failure |im| is unchanged. Thread-safe for distinct images.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_NOMEM       the new buffer could not be allocated
 *   IMG_E_DIMENSIONS  |im| is not a valid image
 */
int img_orient(struct img_image *im, uint16_t orientation);

#endif
