#include "yuv.h"

#include <stdbool.h>

#include "img_error.h"
#include "orient.h"
#include "resize.h"

static bool valid(const struct img_yuv *im)
{
    return im->y.pixels && im->cb.pixels && im->cr.pixels && im->y.channels == 1 &&
           im->cb.channels == 1 && im->cr.channels == 1 &&
           im->cb.width == img_yuv_chroma_side(im->y.width) &&
           im->cb.height == img_yuv_chroma_side(im->y.height) && im->cr.width == im->cb.width &&
           im->cr.height == im->cb.height;
}

int img_yuv_orient(struct img_yuv *im, uint16_t orientation)
{
    int r;

    if (orientation < 2 || orientation > 8)
        return 0;
    if (!valid(im))
        return IMG_E_DIMENSIONS;
    /* Each plane turns on its own; the chroma of an odd side keeps its rounded-up size turned
     * with it (a transpose swaps both sizes, a flip keeps them). */
    r = img_orient(&im->y, orientation);
    if (r == 0)
        r = img_orient(&im->cb, orientation);
    if (r == 0)
        r = img_orient(&im->cr, orientation);
    return r;
}

int img_yuv_resize(const struct img_yuv *src, uint32_t w, uint32_t h, struct img_yuv *ret)
{
    struct img_yuv out = {0};
    int r;

    if (!valid(src) || w == 0 || h == 0)
        return IMG_E_DIMENSIONS;
    r = img_resize(&src->y, w, h, &out.y);
    if (r == 0)
        r = img_resize(&src->cb, img_yuv_chroma_side(w), img_yuv_chroma_side(h), &out.cb);
    if (r == 0)
        r = img_resize(&src->cr, img_yuv_chroma_side(w), img_yuv_chroma_side(h), &out.cr);
    if (r < 0) {
        img_yuv_finish(&out);
        return r;
    }
    *ret = out;
    return 0;
}

void img_yuv_finish(struct img_yuv *im)
{
    if (!im)
        return;
    img_image_finish(&im->y);
    img_image_finish(&im->cb);
    img_image_finish(&im->cr);
}
