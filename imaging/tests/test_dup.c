/* dup: signatures of synthetic sheets; re-encode, re-shot and conflict; hex round trip. */
#include <stdlib.h>
#include <string.h>

#include "dup.h"
#include "image.h"
#include "img_error.h"
#include "legibility.h"
#include "testutil.h"

#define W 1000
#define H 750

/* A sheet with a printed grid (same for every "acta") and |seed|'s handwriting, offset by
 * (dx, dy) pixels and lit by |light|. */
static struct img_image sheet(uint32_t seed, int dx, int dy, double light)
{
    struct img_image im;
    uint32_t s = seed;

    if (img_image_init(&im, W, H, 1) != 0)
        abort();
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int u = x - dx, v = y - dy;
            bool on = u >= 60 && u < 940 && v >= 50 && v < 700;
            bool line = on && (u % 80 == 0 || v % 60 == 0);

            im.pixels[y * W + x] = (uint8_t)((line ? 40 : on ? 232 : 140) * light);
        }
    }
    for (int k = 0; k < 60; k++) { /* "digits": filled blobs in the cells */
        int bx, by;

        s = s * 1103515245u + 12345u;
        bx = 100 + (int)((s >> 8) % 780);
        s = s * 1103515245u + 12345u;
        by = 90 + (int)((s >> 8) % 560);
        for (int y = by; y < by + 22; y++)
            for (int x = bx; x < bx + 14; x++)
                im.pixels[(y + dy) * W + x + dx] = (uint8_t)(35 * light);
    }
    return im;
}

static struct img_dup_sig sig(struct img_image im)
{
    struct img_legibility l;
    struct img_dup_sig s;

    CHECK_EQ(img_legibility_assess(&im, &l), 0);
    CHECK(l.has_sheet);
    CHECK_EQ(img_dup_signature(&im, &l, &s), 0);
    img_image_finish(&im);
    return s;
}

int main(void)
{
    struct img_dup_sig a = sig(sheet(1, 0, 0, 1.0));
    struct img_dup_sig same = sig(sheet(1, 0, 0, 1.0));
    struct img_dup_sig moved = sig(sheet(1, 8, 6, 0.9));
    struct img_dup_sig other = sig(sheet(2, 0, 0, 1.0));
    struct img_dup_sig back;
    double thumb, ink;
    char *hex = malloc(IMG_DUP_HEX_LEN + 1);

    CHECK_EQ(img_dup_compare(&a, &same, &thumb, &ink), IMG_DUP_REENCODE);
    CHECK(thumb == 0.0 && ink == 0.0);
    CHECK_EQ(img_dup_compare(&a, &moved, &thumb, &ink), IMG_DUP_RESHOT);
    CHECK(thumb > IMG_DUP_REENCODE_MAX);
    CHECK_EQ(img_dup_compare(&a, &other, &thumb, &ink), IMG_DUP_CONFLICT);
    CHECK(ink > IMG_DUP_RESHOT_MAX);
    CHECK_STR(img_dup_kind_name(IMG_DUP_CONFLICT), "conflict");

    img_dup_to_hex(&moved, hex);
    CHECK_EQ(strlen(hex), IMG_DUP_HEX_LEN);
    CHECK_EQ(img_dup_from_hex(hex, &back), 0);
    CHECK(memcmp(&back.thumb, &moved.thumb, sizeof(back.thumb)) == 0);
    CHECK(memcmp(&back.ink, &moved.ink, sizeof(back.ink)) == 0);
    CHECK(back.has_sheet);
    hex[10] = 'X';
    CHECK_EQ(img_dup_from_hex(hex, &back), IMG_E_MALFORMED);
    hex[10] = '0';
    hex[IMG_DUP_HEX_LEN - 1] = '\0';
    CHECK_EQ(img_dup_from_hex(hex, &back), IMG_E_MALFORMED);
    CHECK_EQ(img_dup_from_hex("", &back), IMG_E_MALFORMED);
    free(hex);
    return t_done("dup");
}
