#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

#include "image.h"
#include "img_error.h"
#include "testutil.h"
#include "webp.h"

/* True if the RIFF container holds a chunk with this FourCC. */
static bool has_chunk(const uint8_t *p, size_t len, const char *fourcc)
{
    for (size_t off = 12; off + 8 <= len;) {
        uint32_t sz = p[off + 4] | p[off + 5] << 8 | p[off + 6] << 16 | (uint32_t)p[off + 7] << 24;

        if (memcmp(p + off, fourcc, 4) == 0)
            return true;
        off += 8 + (size_t)sz + (sz & 1);
    }
    return false;
}

static void roundtrip(uint8_t ch)
{
    uint8_t *px = t_pattern(150, 100, ch);
    struct img_image im;
    uint8_t *webp = NULL, *rgb;
    size_t len = 0;
    int w = 0, h = 0;
    double diff = 0;

    CHECK_EQ(img_image_init(&im, 150, 100, ch), 0);
    memcpy(im.pixels, px, im.stride * im.height);
    CHECK_EQ(img_webp_encode(&im, 90, 4, &webp, &len), 0);
    CHECK(webp != NULL && len > 30);
    CHECK(memcmp(webp, "RIFF", 4) == 0 && memcmp(webp + 8, "WEBP", 4) == 0);
    CHECK(!has_chunk(webp, len, "EXIF") && !has_chunk(webp, len, "ICCP") &&
          !has_chunk(webp, len, "XMP "));
    CHECK(has_chunk(webp, len, "VP8 "));
    rgb = WebPDecodeRGB(webp, len, &w, &h);
    CHECK(rgb != NULL && w == 150 && h == 100);
    if (rgb) {
        for (size_t i = 0; i < 150 * 100; i++)
            for (int c = 0; c < 3; c++)
                diff += abs((int)rgb[i * 3 + c] - (int)px[i * ch + (ch == 1 ? 0 : c)]);
        diff /= 150 * 100 * 3;
        if (diff > 4.0)
            fprintf(stderr, "webp %u channels: mean difference %.2f\n", ch, diff);
        CHECK(diff <= 4.0);
        if (ch == 1) /* gray stays gray */
            CHECK(abs(rgb[3 * 777] - rgb[3 * 777 + 1]) <= 3 &&
                  abs(rgb[3 * 777] - rgb[3 * 777 + 2]) <= 3);
        WebPFree(rgb);
    }
    img_webp_free(webp);

    /* Quality and method are clamped, not refused. */
    CHECK_EQ(img_webp_encode(&im, 1000, -5, &webp, &len), 0);
    img_webp_free(webp);
    CHECK_EQ(img_webp_encode(&im, -1, 99, &webp, &len), 0);
    img_webp_free(webp);
    img_image_finish(&im);
    free(px);
}

int main(void)
{
    struct img_image empty = {0},
                     big = {.width = 20000, .height = 10, .channels = 3, .stride = 60000};
    uint8_t *out = (uint8_t *)"untouched";
    size_t len = 7;
    uint8_t dummy = 0;

    roundtrip(3);
    roundtrip(1);
    CHECK_EQ(img_webp_encode(&empty, 80, 4, &out, &len), IMG_E_DIMENSIONS);
    big.pixels = &dummy;
    CHECK_EQ(img_webp_encode(&big, 80, 4, &out, &len), IMG_E_DIMENSIONS);
    CHECK(len == 7 && strcmp((const char *)out, "untouched") == 0);
    img_webp_free(NULL);
    return t_done("imaging-webp");
}
