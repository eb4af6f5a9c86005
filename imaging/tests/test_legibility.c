/* legibility: synthetic sheets with one known defect each get the verdict and reason expected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "img_error.h"
#include "legibility.h"
#include "testutil.h"

#define W 1000
#define H 750

static uint32_t lcg = 12345;

static uint32_t rnd(uint32_t n)
{
    lcg = lcg * 1103515245u + 12345u;
    return (lcg >> 16) % n;
}

/* A bright sheet (scaled |fill| about the centre) with dark strokes on a mid-gray table. */
static struct img_image sheet(double fill, double light)
{
    struct img_image im;
    uint32_t x0 = (uint32_t)(W / 2 - fill * 440), x1 = (uint32_t)(W / 2 + fill * 440);
    uint32_t y0 = (uint32_t)(H / 2 - fill * 325), y1 = (uint32_t)(H / 2 + fill * 325);

    lcg = 12345;
    if (img_image_init(&im, W, H, 1) != 0)
        abort();
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++)
            im.pixels[y * W + x] =
                (uint8_t)((x >= x0 && x < x1 && y >= y0 && y < y1 ? 232 : 140) * light);
    for (int k = 0; k < 3000; k++) {
        uint32_t sx = x0 + 20 + rnd(x1 - x0 - 40), sy = y0 + 20 + rnd(y1 - y0 - 40);
        bool vertical = rnd(2);

        for (uint32_t j = 0; j < (vertical ? 9u : 2u); j++)
            for (uint32_t i = 0; i < (vertical ? 2u : 9u); i++)
                im.pixels[(sy + j) * W + sx + i] = (uint8_t)(30 * light);
    }
    return im;
}

/* Box blur of radius |r| along x (|dx| 1) or y, three times: about a Gaussian of sigma r. */
static void blur(struct img_image *im, int r, bool along_x, bool along_y)
{
    uint8_t *tmp = malloc((size_t)W * H);

    for (int pass = 0; pass < 3; pass++) {
        for (int axis = 0; axis < 2; axis++) {
            if ((axis == 0 && !along_x) || (axis == 1 && !along_y))
                continue;
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    int s = 0, n = 0;

                    for (int k = -r; k <= r; k++) {
                        int xx = axis == 0 ? x + k : x, yy = axis == 1 ? y + k : y;

                        if (xx < 0 || yy < 0 || xx >= W || yy >= H)
                            continue;
                        s += im->pixels[yy * W + xx];
                        n++;
                    }
                    tmp[y * W + x] = (uint8_t)(s / n);
                }
            }
            memcpy(im->pixels, tmp, (size_t)W * H);
        }
    }
    free(tmp);
}

static struct img_legibility assess(struct img_image *im)
{
    struct img_legibility l;

    memset(&l, 0, sizeof(l));
    CHECK_EQ(img_legibility_assess(im, &l), 0);
    img_image_finish(im);
    return l;
}

static void test_verdicts(void)
{
    struct img_image im = sheet(1.0, 1.0);
    struct img_legibility l = assess(&im);

    CHECK(l.ok);
    CHECK_EQ(l.reasons, 0);
    CHECK(l.has_sheet);
    CHECK(l.coverage > 0.7 && l.coverage < 0.85);
    CHECK(fabs(l.corners[0] - 60) < 3 && fabs(l.corners[1] - 50) < 3);
    CHECK(fabs(l.corners[4] - 940) < 3 && fabs(l.corners[5] - 700) < 3);

    im = sheet(1.0, 1.0);
    blur(&im, 3, true, true);
    l = assess(&im);
    CHECK(!l.ok && (l.reasons & IMG_LEG_BLURRY));

    im = sheet(1.0, 1.0);
    blur(&im, 6, true, false); /* a horizontal shake only */
    l = assess(&im);
    CHECK(!l.ok && (l.reasons & IMG_LEG_BLURRY));

    im = sheet(1.0, 0.35);
    l = assess(&im);
    CHECK(!l.ok && l.reasons == IMG_LEG_DARK);

    im = sheet(0.5, 1.0);
    l = assess(&im);
    CHECK(!l.ok && (l.reasons & IMG_LEG_SMALL));

    im = sheet(1.0, 1.0);
    for (int y = 300; y < 380; y++)
        for (int x = 400; x < 500; x++)
            im.pixels[y * W + x] = 255;
    l = assess(&im);
    CHECK(!l.ok && l.reasons == IMG_LEG_GLARE);
    CHECK(l.glare > IMG_LEG_GLARE_MAX);

    /* Scattered clipped specks are not glare. */
    im = sheet(1.0, 1.0);
    for (int k = 0; k < 400; k++)
        im.pixels[(100 + rnd(500)) * W + 100 + rnd(800)] = 255;
    l = assess(&im);
    CHECK(l.ok);
}

static void test_shrink(void)
{
    struct img_image rgb, g = {0};

    CHECK_EQ(img_image_init(&rgb, 4000, 3000, 3), 0);
    memset(rgb.pixels, 200, rgb.stride * rgb.height);
    CHECK_EQ(img_gray_shrink(&rgb, IMG_LEG_SIDE, &g), 0);
    CHECK_EQ(g.width, 1000);
    CHECK_EQ(g.height, 750);
    CHECK_EQ(g.channels, 1);
    CHECK_EQ(g.pixels[0], 200);
    CHECK_EQ(g.pixels[750 * 1000 - 1], 200);
    img_image_finish(&g);
    CHECK_EQ(img_gray_shrink(&rgb, 0, &g), IMG_E_DIMENSIONS);
    img_image_finish(&rgb);

    CHECK_EQ(img_image_init(&rgb, 8, 8, 1), 0);
    memset(rgb.pixels, 7, 64);
    struct img_legibility l;
    CHECK_EQ(img_legibility_assess(&rgb, &l), IMG_E_DIMENSIONS); /* under 16x16 */
    CHECK_EQ(img_gray_shrink(&rgb, 1000, &g), 0);                /* never upscales */
    CHECK_EQ(g.width, 8);
    img_image_finish(&g);
    img_image_finish(&rgb);
}

static void test_names(void)
{
    CHECK_STR(img_legibility_reason_name(IMG_LEG_BLURRY), "blurry");
    CHECK_STR(img_legibility_reason_name(IMG_LEG_SMALL), "small_sheet");
    CHECK_STR(img_legibility_reason_name(IMG_LEG_NO_SHEET), "no_sheet");
    CHECK(img_legibility_reason_name(0x40) == NULL);
}

/* A 1-channel image of exactly twice the size (the luma plane's case) gives each output pixel the
 * rounded mean of its 2x2 box, as the general area average does. */
static void test_shrink_half(void)
{
    struct img_image src = {0}, g = {0};
    uint32_t seed = 7, bad = 0;

    CHECK_EQ(img_image_init(&src, 240, 100, 1), 0);
    for (size_t i = 0; i < (size_t)240 * 100; i++)
        src.pixels[i] = (uint8_t)t_rand(&seed);
    CHECK_EQ(img_gray_shrink(&src, 120, &g), 0);
    CHECK_EQ(g.width, 120);
    CHECK_EQ(g.height, 50);
    for (uint32_t y = 0; g.pixels && y < g.height; y++)
        for (uint32_t x = 0; x < g.width; x++) {
            const uint8_t *a = src.pixels + (size_t)(2 * y) * src.stride + 2 * x;
            unsigned want = (a[0] + a[1] + a[src.stride] + a[src.stride + 1] + 2u) / 4;

            bad += g.pixels[(size_t)y * g.stride + x] != want;
        }
    CHECK_EQ(bad, 0);
    img_image_finish(&g);
    img_image_finish(&src);
}

int main(void)
{
    test_verdicts();
    test_shrink();
    test_shrink_half();
    test_names();
    return t_done("legibility");
}
