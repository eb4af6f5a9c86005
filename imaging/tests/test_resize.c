#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "img_error.h"
#include "resize.h"
#include "testutil.h"

static void fit(uint32_t w, uint32_t h, uint32_t side, uint32_t ew, uint32_t eh)
{
    uint32_t rw = 0, rh = 0;

    img_fit_long_side(w, h, side, &rw, &rh);
    if (rw != ew || rh != eh)
        fprintf(stderr, "fit %ux%u to %u: got %ux%u, expected %ux%u\n", w, h, side, rw, rh, ew, eh);
    CHECK(rw == ew && rh == eh);
}

static void test_fit(void)
{
    fit(4000, 3000, 2000, 2000, 1500);
    fit(3000, 4000, 2000, 1500, 2000);
    fit(4032, 3024, 2000, 2000, 1500);
    fit(4000, 1800, 2000, 2000, 900);
    fit(3001, 2000, 2000, 2000, 1333);
    fit(3003, 2000, 2000, 2000, 1332);
    fit(1000, 800, 2000, 1000, 800); /* never upscales */
    fit(2000, 2000, 2000, 2000, 2000);
    fit(2001, 2001, 2000, 2000, 2000);
    fit(10000, 3, 2000, 2000, 1);
    fit(10000, 1, 100, 100, 1); /* min 1 */
    fit(3, 2, 2, 2, 1);
    fit(640, 480, 0, 640, 480); /* 0: keep */
    fit(65535, 65535, 1, 1, 1);
}

static struct img_image make(uint32_t w, uint32_t h, uint8_t ch)
{
    struct img_image im;

    if (img_image_init(&im, w, h, ch) != 0)
        abort();
    return im;
}

static void test_constant(uint8_t ch)
{
    static const uint8_t colour[3] = {255, 0, 128};
    struct img_image src = make(50, 40, ch), dst;

    for (size_t i = 0; i < src.stride * src.height; i++)
        src.pixels[i] = ch == 1 ? 77 : colour[i % 3];
    CHECK_EQ(img_resize(&src, 13, 11, &dst), 0);
    CHECK(dst.width == 13 && dst.height == 11 && dst.channels == ch && dst.stride == 13u * ch);
    for (size_t i = 0; i < dst.stride * dst.height; i++) {
        if (dst.pixels[i] != (ch == 1 ? 77 : colour[i % 3])) {
            CHECK(!"constant image changed");
            break;
        }
    }
    img_image_finish(&dst);
    /* Upscale too. */
    CHECK_EQ(img_resize(&src, 101, 83, &dst), 0);
    CHECK(dst.width == 101 && dst.height == 83);
    for (size_t i = 0; i < dst.stride * dst.height; i++) {
        if (dst.pixels[i] != (ch == 1 ? 77 : colour[i % 3])) {
            CHECK(!"constant image changed by upscaling");
            break;
        }
    }
    img_image_finish(&dst);
    img_image_finish(&src);
}

static void test_content(void)
{
    struct img_image src = make(256, 8, 1), dst;

    /* A ramp keeps its values at the sample centres. */
    for (uint32_t y = 0; y < 8; y++)
        for (uint32_t x = 0; x < 256; x++)
            src.pixels[y * 256 + x] = (uint8_t)x;
    CHECK_EQ(img_resize(&src, 64, 2, &dst), 0);
    for (uint32_t x = 2; x < 62; x++) {
        int expect = (int)(x * 4 + 1.5), got = dst.pixels[64 + x];

        if (abs(got - expect) > 1) {
            fprintf(stderr, "ramp x=%u: got %d expected %d\n", x, got, expect);
            t_failures++;
        }
    }
    img_image_finish(&dst);

    /* Alternating columns average out to mid grey instead of aliasing. */
    for (uint32_t y = 0; y < 8; y++)
        for (uint32_t x = 0; x < 256; x++)
            src.pixels[y * 256 + x] = x % 2 ? 255 : 0;
    CHECK_EQ(img_resize(&src, 100, 3, &dst), 0);
    for (uint32_t x = 5; x < 95; x++) {
        int got = dst.pixels[100 + x];

        if (got < 120 || got > 135) {
            fprintf(stderr, "stripes x=%u: got %d\n", x, got);
            t_failures++;
        }
    }
    img_image_finish(&dst);
    img_image_finish(&src);

    /* Channels do not bleed into each other; a sharp edge stays clamped to 0..255. */
    src = make(40, 40, 3);
    for (uint32_t i = 0; i < 40 * 40; i++) {
        src.pixels[i * 3] = (i % 40) < 20 ? 255 : 0;
        src.pixels[i * 3 + 1] = 0;
        src.pixels[i * 3 + 2] = 255;
    }
    CHECK_EQ(img_resize(&src, 10, 10, &dst), 0);
    for (uint32_t i = 0; i < 100; i++)
        CHECK(dst.pixels[i * 3 + 1] == 0 && dst.pixels[i * 3 + 2] == 255);
    CHECK(dst.pixels[0] == 255 && dst.pixels[9 * 3] == 0);
    img_image_finish(&dst);
    /* 1x1 and extreme ratios. */
    CHECK_EQ(img_resize(&src, 1, 1, &dst), 0);
    CHECK(dst.width == 1 && dst.height == 1 && dst.pixels[1] == 0 && dst.pixels[2] == 255);
    CHECK(dst.pixels[0] > 100 && dst.pixels[0] < 155);
    img_image_finish(&dst);
    CHECK_EQ(img_resize(&src, 40, 1, &dst), 0);
    CHECK(dst.pixels[0] == 255 && dst.pixels[39 * 3] == 0);
    img_image_finish(&dst);
    img_image_finish(&src);
}

static void test_errors(void)
{
    struct img_image src = make(4, 4, 3), dst = {0}, empty = {0};

    memset(src.pixels, 0, 48);
    CHECK_EQ(img_resize(&src, 0, 4, &dst), IMG_E_DIMENSIONS);
    CHECK_EQ(img_resize(&src, 4, 0, &dst), IMG_E_DIMENSIONS);
    CHECK_EQ(img_resize(&empty, 4, 4, &dst), IMG_E_DIMENSIONS);
    CHECK(dst.pixels == NULL);
    img_image_finish(&src);
}

int main(void)
{
    test_fit();
    test_constant(1);
    test_constant(3);
    test_content();
    test_errors();
    return t_done("imaging-resize");
}
