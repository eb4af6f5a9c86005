/*
 * qr: reads the QR code printed on the acta sheet, which carries the acta's clave.
 *
 * zbar (QR symbology only) scans a gray copy of a rectangle of an upright image: the pipeline
 * passes the decoded image at its DCT scale (about 2000 pixels wide, so a QR 8% of the frame
 * wide gets 5 or more pixels per module, above zbar's ~3), first the top band where the sheet
 * carries the code, then the whole frame if nothing was found there. It returns the first
 * payload; it does not judge it (comparing it with the clave in the URL is the gateway's job).
 * Each call has its own zbar scanner, so calls on different threads do not interact.
 */
#ifndef IMG_QR_H
#define IMG_QR_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* Largest payload kept, including the NUL; longer ones are truncated. */
#define IMG_QR_MAX 128

/* zbar scans every IMG_QR_DENSITY-th row and column (3 missed codes that 2 reads). */
#define IMG_QR_DENSITY 2

/* The pipeline's full-resolution retry is for sheets far from the camera, whose code is too
 * small at the DCT scale; a sheet covering at least this share of the frame prints its code at
 * 4 or more pixels per module there (sheets of 0.13 were the largest that needed the retry), so
 * a code not read on it is blurred, damaged or absent and the retry (4x the cost of the photo)
 * is skipped. */
#define IMG_QR_FULL_RES_MAX_COVERAGE 0.4

/*
 * Scans the rectangle (|x|, |y|, |w|, |h|) of |im| (1 or 3 channels; the rectangle is clipped to
 * the image) for a QR code. On success with a code, copies its payload as printable ASCII
 * (others bytes become '?'), NUL-terminated and truncated to |cap| bytes, into |ret| (|cap| >= 1).
 * Thread-safe.
 *
 * Returns 1 when a code was found, 0 when none was, or one of these negative codes:
 *   IMG_E_DIMENSIONS  |im| is not a valid image or the rectangle is empty
 *   IMG_E_NOMEM       an allocation failed
 */
int img_qr_scan(const struct img_image *im, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                char *ret, size_t cap);

#endif
