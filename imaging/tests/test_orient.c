#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "img_error.h"
#include "orient.h"
#include "testutil.h"

/*
 * The stored image is 3 wide, 2 high, pixel values are letters:
 *     a b c
 *     d e f
 * Each expected result is what a viewer shows for that EXIF orientation, derived from the EXIF
 * definitions ("the 0th row is the visual ..., the 0th column is the visual ...").
 */
static void check_case(uint16_t o, uint32_t ew, uint32_t eh, const char *expect, int channels)
{
    struct img_image im;
    const char *stored = "abcdef";

    CHECK_EQ(img_image_init(&im, 3, 2, (uint8_t)channels), 0);
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < channels; c++)
            im.pixels[i * channels + c] = (uint8_t)(stored[i] + 32 * c);
    CHECK_EQ(img_orient(&im, o), 0);
    CHECK_EQ(im.width, ew);
    CHECK_EQ(im.height, eh);
    CHECK_EQ(im.stride, ew * (uint32_t)channels);
    for (uint32_t i = 0; i < ew * eh; i++)
        for (int c = 0; c < channels; c++) {
            if (im.pixels[i * (uint32_t)channels + c] != (uint8_t)(expect[i] + 32 * c)) {
                fprintf(stderr, "orientation %u, %d channels: pixel %u is '%c', expected '%c'\n", o,
                        channels, i, im.pixels[i * (uint32_t)channels], expect[i]);
                t_failures++;
                break;
            }
        }
    img_image_finish(&im);
}

int main(void)
{
    /* 6: row 0 is the visual right side, column 0 the visual top (rotate 90 CW):
     *     d a
     *     e b
     *     f c
     * 7: row 0 visual right, column 0 visual bottom (transverse):
     *     f c
     *     e b
     *     d a
     * 8: row 0 visual left, column 0 visual bottom (rotate 90 CCW):
     *     c f
     *     b e
     *     a d
     * 5: row 0 visual left, column 0 visual top (transpose):
     *     a d
     *     b e
     *     c f */
    for (int ch = 1; ch <= 3; ch += 2) {
        check_case(1, 3, 2, "abcdef", ch);
        check_case(2, 3, 2, "cbafed", ch);
        check_case(3, 3, 2, "fedcba", ch);
        check_case(4, 3, 2, "defabc", ch);
        check_case(5, 2, 3, "adbecf", ch);
        check_case(6, 2, 3, "daebfc", ch);
        check_case(7, 2, 3, "fcebda", ch);
        check_case(8, 2, 3, "cfbead", ch);
        /* Out of range: left alone, as EXIF says. */
        check_case(0, 3, 2, "abcdef", ch);
        check_case(9, 3, 2, "abcdef", ch);
    }

    /* Rotating four times by 6 is the identity; 6 then 8 too. */
    {
        struct img_image im;
        uint8_t *orig = t_pattern(17, 9, 3);

        CHECK_EQ(img_image_init(&im, 17, 9, 3), 0);
        memcpy(im.pixels, orig, 17 * 9 * 3);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(img_orient(&im, 6), 0);
        CHECK(im.width == 17 && memcmp(im.pixels, orig, 17 * 9 * 3) == 0);
        CHECK_EQ(img_orient(&im, 6), 0);
        CHECK_EQ(img_orient(&im, 8), 0);
        CHECK(im.width == 17 && memcmp(im.pixels, orig, 17 * 9 * 3) == 0);
        CHECK_EQ(img_orient(&im, 5), 0);
        CHECK_EQ(img_orient(&im, 5), 0);
        CHECK(im.width == 17 && memcmp(im.pixels, orig, 17 * 9 * 3) == 0);
        img_image_finish(&im);
        free(orig);
    }
    /* An empty image is refused for real orientations. */
    {
        struct img_image im = {0};

        CHECK_EQ(img_orient(&im, 6), IMG_E_DIMENSIONS);
        CHECK_EQ(img_orient(&im, 1), 0);
    }
    return t_done("imaging-orient");
}
