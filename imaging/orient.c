#include "orient.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "img_error.h"

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
    for (uint32_t y = 0; y < out.height; y++) {
        uint8_t *dst = out.pixels + (size_t)y * out.stride;
        size_t first;   /* offset of the stored pixel that lands at upright (0, y) */
        ptrdiff_t step; /* byte step in the stored image for each pixel rightwards */

        switch (orientation) {
        case 2: /* sx = w-1-x, sy = y */
            first = (size_t)y * im->stride + (w - 1) * ch;
            step = -(ptrdiff_t)ch;
            break;
        case 3: /* sx = w-1-x, sy = h-1-y */
            first = (size_t)(h - 1 - y) * im->stride + (w - 1) * ch;
            step = -(ptrdiff_t)ch;
            break;
        case 4: /* sx = x, sy = h-1-y */
            first = (size_t)(h - 1 - y) * im->stride;
            step = (ptrdiff_t)ch;
            break;
        case 5: /* sx = y, sy = x */
            first = y * ch;
            step = (ptrdiff_t)im->stride;
            break;
        case 6: /* sx = y, sy = h-1-x */
            first = (size_t)(h - 1) * im->stride + y * ch;
            step = -(ptrdiff_t)im->stride;
            break;
        case 7: /* sx = w-1-y, sy = h-1-x */
            first = (size_t)(h - 1) * im->stride + (w - 1 - y) * ch;
            step = -(ptrdiff_t)im->stride;
            break;
        default: /* 8: sx = w-1-y, sy = x */
            first = (w - 1 - y) * ch;
            step = (ptrdiff_t)im->stride;
            break;
        }
        /* An offset, not a pointer: stepping past the start of the buffer after the last pixel
         * would be undefined behaviour for a pointer. */
        ptrdiff_t off = (ptrdiff_t)first;

        for (uint32_t x = 0; x < out.width; x++, dst += ch, off += step)
            memcpy(dst, im->pixels + off, ch);
    }
    img_image_finish(im);
    *im = out;
    return 0;
}
