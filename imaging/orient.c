#include "orient.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "img_error.h"

/* Output pixels per side of one block of the copy. */
#define ORIENT_TILE 64

/* The offset of the stored pixel that lands at upright (0, |y|), and in |ret_step| the byte step
 * in the stored image for each upright pixel rightwards. */
static size_t first_pixel(const struct img_image *im, uint16_t orientation, uint32_t y,
                          ptrdiff_t *ret_step)
{
    uint32_t w = im->width, h = im->height;
    size_t ch = im->channels;

    switch (orientation) {
    case 2: /* sx = w-1-x, sy = y */
        *ret_step = -(ptrdiff_t)ch;
        return (size_t)y * im->stride + (w - 1) * ch;
    case 3: /* sx = w-1-x, sy = h-1-y */
        *ret_step = -(ptrdiff_t)ch;
        return (size_t)(h - 1 - y) * im->stride + (w - 1) * ch;
    case 4: /* sx = x, sy = h-1-y */
        *ret_step = (ptrdiff_t)ch;
        return (size_t)(h - 1 - y) * im->stride;
    case 5: /* sx = y, sy = x */
        *ret_step = (ptrdiff_t)im->stride;
        return y * ch;
    case 6: /* sx = y, sy = h-1-x */
        *ret_step = -(ptrdiff_t)im->stride;
        return (size_t)(h - 1) * im->stride + y * ch;
    case 7: /* sx = w-1-y, sy = h-1-x */
        *ret_step = -(ptrdiff_t)im->stride;
        return (size_t)(h - 1) * im->stride + (w - 1 - y) * ch;
    default: /* 8: sx = w-1-y, sy = x */
        *ret_step = (ptrdiff_t)im->stride;
        return (w - 1 - y) * ch;
    }
}

int img_orient(struct img_image *im, uint16_t orientation)
{
    struct img_image out;
    uint32_t w = im->width, h = im->height;
    size_t ch = im->channels;
    bool swap;
    int r;

    if (orientation < 2 || orientation > 8)
        return 0;
    if (!im->pixels || w == 0 || h == 0)
        return IMG_E_DIMENSIONS;
    swap = orientation >= 5;
    r = img_image_init(&out, swap ? h : w, swap ? w : h, im->channels);
    if (r < 0)
        return r;
    /* In TILE x TILE blocks: for the quarter turns and transposes (5..8) one output row walks a
     * stored column, and block by block those columns stay in cache instead of missing it on
     * every pixel (measured on a 2000x1500 photo turned by 6: about three times faster). */
    for (uint32_t y0 = 0; y0 < out.height; y0 += ORIENT_TILE) {
        uint32_t y1 = out.height - y0 < ORIENT_TILE ? out.height : y0 + ORIENT_TILE;

        for (uint32_t x0 = 0; x0 < out.width; x0 += ORIENT_TILE) {
            uint32_t x1 = out.width - x0 < ORIENT_TILE ? out.width : x0 + ORIENT_TILE;

            for (uint32_t y = y0; y < y1; y++) {
                uint8_t *dst = out.pixels + (size_t)y * out.stride + (size_t)x0 * ch;
                ptrdiff_t step, off;

                off = (ptrdiff_t)first_pixel(im, orientation, y, &step) + (ptrdiff_t)x0 * step;
                /* An offset, not a pointer: stepping past the start of the buffer after the last
                 * pixel would be undefined behaviour for a pointer. */
                if (ch == 3) {
                    for (uint32_t x = x0; x < x1; x++, dst += 3, off += step) {
                        dst[0] = im->pixels[off];
                        dst[1] = im->pixels[off + 1];
                        dst[2] = im->pixels[off + 2];
                    }
                } else {
                    for (uint32_t x = x0; x < x1; x++, dst += ch, off += step)
                        memcpy(dst, im->pixels + off, ch);
                }
            }
        }
    }
    img_image_finish(im);
    *im = out;
    return 0;
}
