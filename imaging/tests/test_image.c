#include <string.h>

#include "image.h"
#include "img_error.h"
#include "testutil.h"

int main(void)
{
    struct img_image im;

    CHECK_EQ(img_image_init(&im, 7, 5, 3), 0);
    CHECK_EQ(im.width, 7);
    CHECK_EQ(im.height, 5);
    CHECK_EQ(im.channels, 3);
    CHECK_EQ(im.stride, 21);
    CHECK(im.pixels != NULL);
    memset(im.pixels, 0x5A, im.stride * im.height); /* ASan: the whole buffer is ours */
    img_image_finish(&im);
    CHECK(im.pixels == NULL && im.width == 0);
    img_image_finish(&im); /* idempotent */

    CHECK_EQ(img_image_init(&im, 1, 1, 1), 0);
    CHECK_EQ(im.stride, 1);
    img_image_finish(&im);

    /* Refusals leave a zeroed image that finish accepts. */
    memset(&im, 0x11, sizeof(im));
    CHECK_EQ(img_image_init(&im, 0, 5, 3), IMG_E_DIMENSIONS);
    CHECK(im.pixels == NULL);
    img_image_finish(&im);
    CHECK_EQ(img_image_init(&im, 5, 0, 1), IMG_E_DIMENSIONS);
    CHECK_EQ(img_image_init(&im, 5, 5, 2), IMG_E_DIMENSIONS);
    CHECK_EQ(img_image_init(&im, 5, 5, 4), IMG_E_DIMENSIONS);
    CHECK_EQ(img_image_init(&im, 5, 5, 0), IMG_E_DIMENSIONS);
    /* 4G x 4G x 3 overflows size_t on 64-bit. */
    {
        int r = img_image_init(&im, UINT32_MAX, UINT32_MAX, 3);

        CHECK(r == IMG_E_DIMENSIONS || r == IMG_E_NOMEM);
        CHECK(im.pixels == NULL);
    }
    /* A size that does not overflow but cannot be allocated. */
    {
        int r = img_image_init(&im, UINT32_MAX, 1u << 20, 3);

        CHECK(r == IMG_E_NOMEM || r == IMG_E_DIMENSIONS);
        CHECK(im.pixels == NULL);
        img_image_finish(&im);
    }
    img_image_finish(NULL);
    return t_done("imaging-image");
}
