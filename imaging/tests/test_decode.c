#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "image.h"
#include "img_error.h"
#include "testutil.h"

/* Decodes from an exact-size heap copy so ASan sees any read past the end: into |yuv| with the
 * planar decoder when it is not NULL, else into |rgb|. */
static int decode_copy(const uint8_t *p, size_t len, const struct img_limits *lim,
                       uint32_t min_side, struct img_image *rgb, struct img_yuv *yuv,
                       const char **why)
{
    uint8_t *copy = malloc(len ? len : 1);
    int r;

    memcpy(copy, p, len);
    r = yuv ? img_jpeg_decode_yuv420(copy, len, lim, min_side, yuv, why)
            : img_jpeg_decode_scaled(copy, len, lim, min_side, rgb, why);
    free(copy);
    return r;
}

static int decode(const uint8_t *p, size_t len, const struct img_limits *lim, uint32_t min_side,
                  struct img_image *ret, const char **why)
{
    return decode_copy(p, len, lim, min_side, ret, NULL, why);
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += abs((int)a[i] - (int)b[i]);
    return sum / (double)n;
}

static void test_scale(void)
{
    uint8_t *px = t_pattern(800, 600, 3);
    struct t_jpeg_opts o = {.quality = 95};
    size_t len;
    uint8_t *j = t_make_jpeg(px, 800, 600, 3, &o, &len);
    static const struct {
        uint32_t min, w, h;
    } cases[] = {{0, 100, 75},    {100, 100, 75},  {101, 200, 150}, {200, 200, 150},
                 {201, 300, 225}, {700, 700, 525}, {701, 800, 600}, {5000, 800, 600}};
    const char *why = NULL;

    CHECK_EQ(img_jpeg_pick_scale(800, 600, 0), 1);
    CHECK_EQ(img_jpeg_pick_scale(800, 600, 201), 3);
    CHECK_EQ(img_jpeg_pick_scale(600, 800, 201), 3);
    CHECK_EQ(img_jpeg_pick_scale(4032, 3024, 2000), 4);
    CHECK_EQ(img_jpeg_pick_scale(4000, 3000, 2000), 4);
    CHECK_EQ(img_jpeg_pick_scale(4000, 3000, 2001), 5);
    CHECK_EQ(img_jpeg_pick_scale(1000, 3000, 2000), 6);
    CHECK_EQ(img_jpeg_pick_scale(1000, 1000, 2000), 8);
    CHECK_EQ(img_jpeg_pick_scale(9, 3, 2), 1); /* ceil(9 * 1 / 8) = 2 */
    CHECK_EQ(img_jpeg_pick_scale(9, 3, 3), 2); /* ceil(9 * 2 / 8) = 3 */

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct img_image im = {0};
        int r = decode(j, len, NULL, cases[i].min, &im, &why);

        CHECK_EQ(r, 0);
        CHECK_EQ(im.width, cases[i].w);
        CHECK_EQ(im.height, cases[i].h);
        CHECK_EQ(im.channels, 3);
        if (r == 0 && im.width == 800) {
            double d = mean_abs_diff(im.pixels, px, 800 * 600 * 3);

            if (d > 2.0)
                fprintf(stderr, "full decode differs by %.2f on average\n", d);
            CHECK(d <= 2.0);
        }
        if (r == 0 && im.width == 100) {
            /* Quadrant colours survive 1/8 scaling: top-left is reddish, top-right greenish. */
            const uint8_t *tl = im.pixels + (10 * im.stride + 10 * 3);
            const uint8_t *tr = im.pixels + (10 * im.stride + 90 * 3);

            CHECK(tl[0] > tl[1] + 40 && tr[1] > tr[0] + 40);
        }
        img_image_finish(&im);
    }
    free(j);
    free(px);
}

static void test_gray_and_progressive(void)
{
    uint8_t *gray = t_pattern(123, 77, 1), *px = t_pattern(123, 77, 3);
    struct t_jpeg_opts prog = {.progressive = true, .subsample = true, .restart_interval = 3};
    struct img_image im = {0};
    const char *why = NULL;
    size_t len;
    uint8_t *j;

    j = t_make_jpeg(gray, 123, 77, 1, NULL, &len);
    CHECK_EQ(decode(j, len, NULL, 0xFFFFFFFFu, &im, &why), 0);
    CHECK(im.width == 123 && im.height == 77 && im.channels == 1 && im.stride == 123);
    CHECK(mean_abs_diff(im.pixels, gray, 123 * 77) < 2.0);
    img_image_finish(&im);
    CHECK_EQ(decode(j, len, NULL, 40, &im, &why), 0);
    CHECK(im.width == 47 && im.height == 29 && im.channels == 1); /* 3/8: ceil(123*3/8) */
    img_image_finish(&im);
    free(j);

    j = t_make_jpeg(px, 123, 77, 3, &prog, &len);
    CHECK_EQ(decode(j, len, NULL, 0xFFFFFFFFu, &im, &why), 0);
    CHECK(im.width == 123 && im.height == 77 && im.channels == 3);
    CHECK(mean_abs_diff(im.pixels, px, 123 * 77 * 3) < 4.0);
    img_image_finish(&im);
    free(j);
    free(gray);
    free(px);
}

/* Every truncation of a valid file fails, with |ret| untouched: never a half-grey image. */
static void test_truncation(const char *name, const struct t_jpeg_opts *o)
{
    uint8_t *px = t_pattern(48, 32, 3);
    size_t len;
    uint8_t *j = t_make_jpeg(px, 48, 32, 3, o, &len);
    int counts[IMG_E_COUNT + 1] = {0};

    for (size_t cut = 0; cut < len; cut++) {
        struct img_image im = {.width = 12345};
        const char *why = NULL;
        int r = decode(j, cut, NULL, 0, &im, &why);

        if (r >= 0) {
            fprintf(stderr, "%s: truncation at %zu of %zu decoded\n", name, cut, len);
            t_failures++;
            img_image_finish(&im);
            continue;
        }
        CHECK(im.width == 12345 && im.pixels == NULL);
        CHECK(why != NULL);
        if (r >= -IMG_E_COUNT)
            counts[-r]++;
        CHECK(r == IMG_E_NOT_JPEG || r == IMG_E_TRUNCATED || r == IMG_E_DECODE);
    }
    /* Cuts inside entropy data are reported as truncation. */
    CHECK(counts[-IMG_E_TRUNCATED] > 0);
    free(j);
    free(px);
}

static void test_limits(void)
{
    uint8_t *px = t_pattern(800, 600, 3);
    struct t_jpeg_opts prog = {.progressive = true};
    struct img_limits lim;
    struct img_image im = {0};
    const char *why = NULL;
    size_t len, plen;
    uint8_t *j = t_make_jpeg(px, 800, 600, 3, NULL, &len);
    uint8_t *p = t_make_jpeg(px, 800, 600, 3, &prog, &plen);

    img_limits_init(&lim);
    lim.max_pixels = 800 * 600 - 1;
    CHECK_EQ(decode(j, len, &lim, 0, &im, &why), IMG_E_DIMENSIONS);
    lim.max_pixels = 800 * 600;
    CHECK_EQ(decode(j, len, &lim, 0, &im, &why), 0);
    img_image_finish(&im);
    lim.max_side = 799;
    CHECK_EQ(decode(j, len, &lim, 0, &im, &why), IMG_E_DIMENSIONS);
    CHECK(im.pixels == NULL);

    img_limits_init(&lim);
    lim.max_scans = 2;
    CHECK_EQ(decode(p, plen, &lim, 0, &im, &why), IMG_E_TOO_MANY_SCANS);
    CHECK_STR(why, "more scans than the scan limit");
    CHECK_EQ(decode(j, len, &lim, 0, &im, &why), 0); /* baseline: one scan */
    img_image_finish(&im);
    lim.max_scans = 64;
    CHECK_EQ(decode(p, plen, &lim, 0, &im, &why), 0);
    img_image_finish(&im);

    /* A progressive image needs its whole coefficient buffer (~1.4 MB here). */
    img_limits_init(&lim);
    lim.max_decoder_memory = 100000;
    CHECK_EQ(decode(p, plen, &lim, 0xFFFFFFFFu, &im, &why), IMG_E_NOMEM);
    CHECK(im.pixels == NULL);

    free(j);
    free(p);
    free(px);
}

/* What a CMYK pixel must look like: |inverted| is Adobe's storage, 255 meaning no ink. */
static void cmyk_expect(const uint8_t *cmyk, size_t n, bool inverted, uint8_t *ret_rgb)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = cmyk + 4 * i;
        double k = inverted ? p[3] : 255 - p[3];

        for (int c = 0; c < 3; c++)
            ret_rgb[3 * i + c] = (uint8_t)((inverted ? p[c] : 255 - p[c]) * k / 255 + 0.5);
    }
}

static void test_cmyk(void)
{
    enum { W = 64, H = 48 };
    uint8_t *px = t_pattern(W, H, 4), *want = malloc(W * H * 3), *white = malloc(W * H * 4);
    static const struct {
        struct t_jpeg_opts o;
        bool inverted;
    } cases[] = {
        {{.quality = 95}, true},
        {{.quality = 95, .no_adobe = true}, false},
        {{.quality = 95, .ycck = true}, true},
        {{.quality = 95, .ycck = true, .progressive = true, .arithmetic = true}, true},
        {{.quality = 95, .arithmetic = true}, true},
    };
    const char *why = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct img_image im = {0}, gray = {0};
        size_t len;
        uint8_t *j = t_make_jpeg(px, W, H, 4, &cases[i].o, &len);
        double d;

        cmyk_expect(px, W * H, cases[i].inverted, want);
        CHECK_EQ(decode(j, len, NULL, 0xFFFFFFFFu, &im, &why), 0);
        CHECK_EQ(im.width, W);
        CHECK_EQ(im.height, H);
        CHECK_EQ(im.channels, 3);
        d = im.pixels ? mean_abs_diff(im.pixels, want, W * H * 3) : 1e9;
        if (d > 3.0)
            fprintf(stderr, "cmyk case %zu: mean difference %.2f\n", i, d);
        CHECK(d <= 3.0);
        /* The QR decode's luma, from the same RGB. */
        CHECK_EQ(img_jpeg_decode_gray(j, len, NULL, &gray, &why), 0);
        CHECK_EQ(gray.channels, 1);
        if (im.pixels && gray.pixels) {
            double sum = 0;

            for (size_t p = 0; p < (size_t)W * H; p++) {
                const uint8_t *c = im.pixels + 3 * p;

                sum += abs((int)gray.pixels[p] - (299 * c[0] + 587 * c[1] + 114 * c[2]) / 1000);
            }
            CHECK(sum / (W * H) <= 1.0);
        }
        img_image_finish(&gray);
        img_image_finish(&im);
        free(j);
    }

    /* A white sheet is white in either storage, not black. */
    for (int inverted = 0; inverted < 2; inverted++) {
        struct t_jpeg_opts o = {.no_adobe = !inverted};
        struct img_image im = {0};
        size_t len;
        uint8_t *j;

        memset(white, inverted ? 255 : 0, W * H * 4);
        j = t_make_jpeg(white, W, H, 4, &o, &len);
        CHECK_EQ(decode(j, len, NULL, 0xFFFFFFFFu, &im, &why), 0);
        for (size_t p = 0; im.pixels && p < (size_t)W * H * 3; p++)
            CHECK(im.pixels[p] >= 253);
        img_image_finish(&im);
        free(j);
    }

    /* DCT scaling works the same on four components. */
    {
        struct img_image im = {0};
        size_t len;
        uint8_t *j = t_make_jpeg(px, W, H, 4, NULL, &len);

        CHECK_EQ(decode(j, len, NULL, 16, &im, &why), 0);
        CHECK_EQ(im.width, 16);
        CHECK_EQ(im.height, 12);
        img_image_finish(&im);
        free(j);
    }
    free(white);
    free(want);
    free(px);
}

/* Arithmetic coding is lossless entropy coding: the same coefficients, the same pixels. */
static void test_arithmetic(void)
{
    uint8_t *px = t_pattern(80, 64, 3);
    const char *why = NULL;

    for (int prog = 0; prog < 2; prog++) {
        struct t_jpeg_opts huff = {.progressive = prog},
                           arith = {.progressive = prog, .arithmetic = true};
        struct img_image a = {0}, b = {0};
        size_t la, lb;
        uint8_t *ja = t_make_jpeg(px, 80, 64, 3, &huff, &la),
                *jb = t_make_jpeg(px, 80, 64, 3, &arith, &lb);

        CHECK_EQ(decode(ja, la, NULL, 0xFFFFFFFFu, &a, &why), 0);
        CHECK_EQ(decode(jb, lb, NULL, 0xFFFFFFFFu, &b, &why), 0);
        CHECK(a.pixels && b.pixels && memcmp(a.pixels, b.pixels, 80 * 64 * 3) == 0);
        /* Cut short, it is refused like any other truncated JPEG. */
        img_image_finish(&b);
        CHECK(decode(jb, lb / 2, NULL, 0xFFFFFFFFu, &b, &why) < 0);
        CHECK(b.pixels == NULL);
        img_image_finish(&a);
        free(ja);
        free(jb);
    }
    free(px);
}

static void test_hostile(void)
{
    uint8_t *px = t_pattern(64, 64, 4);
    struct t_jpeg_opts rst = {.restart_interval = 1};
    struct img_image im = {0};
    const char *why = NULL;
    size_t len;
    uint8_t *j;

    CHECK_EQ(decode((const uint8_t *)"", 0, NULL, 0, &im, &why), IMG_E_NOT_JPEG);
    CHECK_EQ(decode((const uint8_t *)"hello", 5, NULL, 0, &im, &why), IMG_E_NOT_JPEG);
    CHECK_EQ(decode((const uint8_t *)"\xFF\xD8\xFF\xD9", 4, NULL, 0, &im, &why), IMG_E_DECODE);

    /* A wrong restart marker is only a libjpeg warning; we refuse it. */
    j = t_make_jpeg(px, 64, 64, 3, &rst, &len);
    CHECK_EQ(decode(j, len, NULL, 0, &im, &why), 0);
    img_image_finish(&im);
    {
        uint8_t *rst1 = NULL;

        for (size_t i = len / 2; i + 1 < len; i++)
            if (j[i] == 0xFF && j[i + 1] >= 0xD0 && j[i + 1] <= 0xD7) {
                rst1 = j + i + 1;
                break;
            }
        CHECK(rst1 != NULL);
        if (rst1) {
            *rst1 = (uint8_t)(0xD0 + ((*rst1 - 0xD0 + 4) & 7));
            CHECK_EQ(decode(j, len, NULL, 0, &im, &why), IMG_E_DECODE);
            CHECK(im.pixels == NULL);
        }
    }
    free(j);
    free(px);
}

static int decode_yuv(const uint8_t *p, size_t len, uint32_t min_side, struct img_yuv *ret,
                      const char **why)
{
    return decode_copy(p, len, NULL, min_side, NULL, ret, why);
}

/* The planes against the RGB decode of the same file: the luma and the 2 x 2 mean of the chroma
 * that RGB gives back (BT.601, full range), within rounding and the upsampler's smoothing. */
static void check_yuv_matches_rgb(const struct img_yuv *yuv, const struct img_image *rgb)
{
    double dy = 0, dc = 0;
    size_t n = 0;

    CHECK_EQ(yuv->y.width, rgb->width);
    CHECK_EQ(yuv->y.height, rgb->height);
    CHECK_EQ(yuv->cb.width, (rgb->width + 1) / 2);
    CHECK_EQ(yuv->cr.height, (rgb->height + 1) / 2);
    if (yuv->y.width != rgb->width || yuv->y.height != rgb->height)
        return;
    for (uint32_t y = 0; y < rgb->height; y++)
        for (uint32_t x = 0; x < rgb->width; x++) {
            const uint8_t *p = rgb->pixels + (size_t)y * rgb->stride + (size_t)x * 3;

            dy += fabs(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] -
                       yuv->y.pixels[(size_t)y * yuv->y.stride + x]);
        }
    for (uint32_t y = 0; y + 1 < rgb->height; y += 2)
        for (uint32_t x = 0; x + 1 < rgb->width; x += 2, n++) {
            double cb = 0;

            for (int k = 0; k < 4; k++) {
                const uint8_t *p =
                    rgb->pixels + (size_t)(y + k / 2) * rgb->stride + (size_t)(x + k % 2) * 3;

                cb += 128 - 0.168736 * p[0] - 0.331264 * p[1] + 0.5 * p[2];
            }
            dc += fabs(cb / 4 - yuv->cb.pixels[(size_t)(y / 2) * yuv->cb.stride + x / 2]);
        }
    CHECK(dy / ((double)rgb->width * rgb->height) < 1.5);
    CHECK(n > 0 && dc / (double)n < 3.0);
}

static void test_yuv(void)
{
    static const uint32_t sizes[][2] = {{800, 600}, {801, 603}, {37, 1}};
    static const uint32_t sides[] = {0, 250, 401, 5000};

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint32_t w = sizes[s][0], h = sizes[s][1];
        uint8_t *px = t_pattern(w, h, 3);

        for (int sub = 0; sub < 2; sub++)
            for (int prog = 0; prog < 2; prog++) {
                struct t_jpeg_opts o = {.quality = 95, .subsample = sub, .progressive = prog};
                size_t len;
                uint8_t *j = t_make_jpeg(px, w, h, 3, &o, &len);

                for (size_t k = 0; k < sizeof(sides) / sizeof(sides[0]); k++) {
                    struct img_yuv yuv = {0};
                    struct img_image rgb = {0};
                    const char *why = NULL;

                    CHECK_EQ(decode_yuv(j, len, sides[k], &yuv, &why), 0);
                    CHECK_EQ(decode(j, len, NULL, sides[k], &rgb, &why), 0);
                    if (yuv.y.pixels && rgb.pixels && h > 1)
                        check_yuv_matches_rgb(&yuv, &rgb);
                    img_yuv_finish(&yuv);
                    img_image_finish(&rgb);
                }
                /* Truncated: refused like the RGB decode, nothing left allocated. */
                {
                    struct img_yuv yuv = {0};
                    const char *why = NULL;

                    CHECK(decode_yuv(j, len * 2 / 3, 0, &yuv, &why) < 0);
                    CHECK(yuv.y.pixels == NULL && yuv.cb.pixels == NULL && why != NULL);
                }
                free(j);
            }
        free(px);
    }
    /* Gray and CMYK are not for the planar path: refused before any pixel is decoded. */
    {
        uint8_t *g = t_pattern(64, 48, 1), *c = t_pattern(64, 48, 4), *j;
        struct img_yuv yuv = {0};
        const char *why = NULL;
        size_t len;

        j = t_make_jpeg(g, 64, 48, 1, NULL, &len);
        CHECK_EQ(decode_yuv(j, len, 0, &yuv, &why), IMG_E_UNSUPPORTED);
        free(j);
        j = t_make_jpeg(c, 64, 48, 4, NULL, &len);
        CHECK_EQ(decode_yuv(j, len, 0, &yuv, &why), IMG_E_UNSUPPORTED);
        CHECK(yuv.y.pixels == NULL);
        free(j);
        free(g);
        free(c);
    }
}

int main(void)
{
    struct t_jpeg_opts base = {0}, prog = {.progressive = true, .subsample = true};

    test_scale();
    test_gray_and_progressive();
    test_truncation("baseline", &base);
    test_truncation("progressive", &prog);
    test_limits();
    test_hostile();
    test_cmyk();
    test_arithmetic();
    test_yuv();
    return t_done("imaging-decode");
}
