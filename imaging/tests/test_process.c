#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

#include "img_error.h"
#include "process.h"
#include "testutil.h"

/* Returns the decoded RGB of a result's WebP (WebPFree it), checking its size. */
static uint8_t *webp_rgb(const struct img_result *r)
{
    int w = 0, h = 0;
    uint8_t *rgb = WebPDecodeRGB(r->webp, r->webp_len, &w, &h);

    CHECK(rgb != NULL);
    CHECK(w == (int)r->width && h == (int)r->height);
    return rgb;
}

/* Index of the quadrant colour closest to an RGB pixel (see t_pattern: red, green, blue, yellow).
 */
static int quadrant(const uint8_t *p)
{
    if (p[0] > 110 && p[1] > 110)
        return 3;
    if (p[0] > p[1] && p[0] > p[2])
        return 0;
    return p[1] > p[2] ? 1 : 2;
}

static uint8_t *jpeg_with_orientation(uint32_t w, uint32_t h, uint16_t o, size_t *len)
{
    uint8_t exif[64], *px = t_pattern(w, h, 3), *j;
    struct t_jpeg_opts opts = {.subsample = true, .quality = 85};

    opts.app1 = exif;
    opts.app1_len = t_exif_orientation(exif, sizeof(exif), o);
    j = t_make_jpeg(px, w, h, 3, &opts, len);
    free(px);
    return j;
}

static void test_pipeline(void)
{
    struct img_process_opts o;
    struct img_result r;
    const char *why = NULL;
    size_t len;
    uint8_t *j = jpeg_with_orientation(3000, 2000, 6, &len), *rgb;

    img_process_opts_init(&o);
    CHECK_EQ(o.long_side, 2000);
    CHECK_EQ(o.webp_quality, 56);
    CHECK_EQ(o.webp_method, 2);
    CHECK(o.analyse && o.encode);
    CHECK_EQ(o.limits.max_scans, 500);

    memset(&r, 0, sizeof(r));
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, &why), 0);
    CHECK(r.info.width == 3000 && r.info.height == 2000 && r.info.has_exif);
    CHECK(r.exif_ok && r.exif.orientation == 6 && r.exif_why == NULL);
    /* Upright: 2000x3000 stored as 3000x2000 rotated, fitted to 2000 on the long side. */
    CHECK_EQ(r.width, 1333);
    CHECK_EQ(r.height, 2000);
    rgb = webp_rgb(&r);
    if (rgb) {
        /* Rotated 90 CW: stored bottom-left (blue, 2) is now top-left, stored top-left (red,
         * 0) top-right, stored bottom-right (yellow, 3) bottom-left, top-right (green, 1)
         * bottom-right. */
        size_t w = r.width;

        CHECK_EQ(quadrant(rgb + (100 * w + 100) * 3), 2);
        CHECK_EQ(quadrant(rgb + (100 * w + w - 100) * 3), 0);
        CHECK_EQ(quadrant(rgb + (1900 * w + 100) * 3), 3);
        CHECK_EQ(quadrant(rgb + (1900 * w + w - 100) * 3), 1);
        WebPFree(rgb);
    }
    img_result_finish(&r);
    CHECK(r.webp == NULL);
    img_result_finish(&r);
    free(j);

    /* Small image, no EXIF: not upscaled, exif_ok false but no why. */
    {
        uint8_t *px = t_pattern(320, 240, 1);

        j = t_make_jpeg(px, 320, 240, 1, NULL, &len);
        free(px);
        CHECK_EQ(img_process_jpeg(j, len, NULL, &r, &why), 0);
        CHECK(r.width == 320 && r.height == 240 && !r.info.has_exif && !r.exif_ok);
        CHECK(r.exif_why == NULL && r.exif.orientation == 1);
        img_result_finish(&r);
        free(j);
    }
    /* long_side 0: full size; long_side 100: 1/8 DCT scale then resize. */
    j = jpeg_with_orientation(640, 480, 8, &len);
    o.long_side = 0;
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, &why), 0);
    CHECK(r.width == 480 && r.height == 640);
    img_result_finish(&r);
    o.long_side = 100;
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, &why), 0);
    CHECK(r.width == 75 && r.height == 100);
    img_result_finish(&r);
    free(j);
}

static void test_failures(void)
{
    struct img_process_opts o;
    struct img_result r, untouched;
    const char *why = NULL;
    size_t len;
    uint8_t *j = jpeg_with_orientation(200, 100, 3, &len);

    img_process_opts_init(&o);
    memset(&untouched, 0x5C, sizeof(untouched));
    r = untouched;
    CHECK_EQ(img_process_jpeg(j, len - 100, &o, &r, &why), IMG_E_TRUNCATED);
    CHECK(memcmp(&r, &untouched, sizeof(r)) == 0);
    CHECK_EQ(img_process_jpeg(j, 0, &o, &r, &why), IMG_E_NOT_JPEG);
    CHECK_EQ(img_process_jpeg("\x89PNG\r\n", 6, &o, &r, &why), IMG_E_NOT_JPEG);
    o.limits.max_pixels = 1000;
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, &why), IMG_E_DIMENSIONS);
    CHECK_STR(why, "image exceeds the pixel limit");
    img_process_opts_init(&o);
    o.limits.max_exif_bytes = 10;
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, &why), IMG_E_EXIF);
    CHECK(memcmp(&r, &untouched, sizeof(r)) == 0);

    /* A malformed EXIF is not fatal; its orientation is not applied. */
    img_process_opts_init(&o);
    {
        struct img_jpeg_info info;

        CHECK_EQ(img_jpeg_probe(j, len, NULL, &info, NULL), 0);
        j[info.exif_offset + 6] = 'X'; /* byte order mark */
        CHECK_EQ(img_process_jpeg(j, len, &o, &r, &why), 0);
        CHECK(r.info.has_exif && !r.exif_ok && r.exif_why != NULL);
        CHECK_EQ(r.exif.orientation, 1);
        CHECK(r.width == 200 && r.height == 100);
        img_result_finish(&r);
    }
    free(j);
}

struct job {
    const uint8_t *jpeg;
    size_t len;
    int rc;
    uint8_t *webp;
    size_t webp_len;
};

static void *worker(void *arg)
{
    struct job *jb = arg;
    struct img_result r;

    jb->rc = 0;
    for (int i = 0; i < 3 && jb->rc == 0; i++) {
        jb->rc = img_process_jpeg(jb->jpeg, jb->len, NULL, &r, NULL);
        if (jb->rc == 0) {
            free(jb->webp);
            jb->webp = malloc(r.webp_len);
            memcpy(jb->webp, r.webp, r.webp_len);
            jb->webp_len = r.webp_len;
            img_result_finish(&r);
        }
    }
    return NULL;
}

/* Several threads at once give the same bytes as one thread: no shared state. */
static void test_threads(void)
{
    enum { T = 4 };
    pthread_t th[T];
    struct job jobs[T + 1];
    size_t len;
    uint8_t *j = jpeg_with_orientation(1200, 900, 5, &len);

    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i <= T; i++) {
        jobs[i].jpeg = j;
        jobs[i].len = len;
    }
    worker(&jobs[T]);
    CHECK_EQ(jobs[T].rc, 0);
    for (int i = 0; i < T; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(jobs[i].rc, 0);
        CHECK(jobs[i].webp_len == jobs[T].webp_len &&
              memcmp(jobs[i].webp, jobs[T].webp, jobs[T].webp_len) == 0);
        free(jobs[i].webp);
    }
    free(jobs[T].webp);
    free(j);
}

/* The JPEG fallback and the byte budget. */
static void test_formats(void)
{
    struct img_process_opts o;
    struct img_result r;
    size_t len, full;
    uint8_t *j = jpeg_with_orientation(1200, 800, 1, &len);

    img_process_opts_init(&o);
    o.format = IMG_FORMAT_JPEG;
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, NULL), 0);
    CHECK_EQ(r.format, IMG_FORMAT_JPEG);
    CHECK_EQ(r.quality, IMG_PROCESS_DEFAULT_JPEG_QUALITY);
    CHECK(r.webp_len > 4 && r.webp[0] == 0xff && r.webp[1] == 0xd8);
    CHECK(memmem(r.webp, r.webp_len, "\xff\xc2", 2) != NULL); /* SOF2: progressive */
    CHECK(memmem(r.webp, r.webp_len, "Exif", 4) == NULL);
    img_result_finish(&r);

    img_process_opts_init(&o);
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, NULL), 0);
    full = r.webp_len;
    CHECK_EQ(r.format, IMG_FORMAT_WEBP);
    CHECK_EQ(r.quality, IMG_PROCESS_DEFAULT_WEBP_QUALITY);
    img_result_finish(&r);
    o.max_bytes = full * 3 / 4;
    CHECK_EQ(img_process_jpeg(j, len, &o, &r, NULL), 0);
    CHECK(r.quality < IMG_PROCESS_DEFAULT_WEBP_QUALITY);
    CHECK(r.webp_len <= o.max_bytes || r.quality == 30);
    img_result_finish(&r);
    free(j);
}

int main(void)
{
    test_formats();
    test_pipeline();
    test_failures();
    test_threads();
    return t_done("imaging-process");
}
