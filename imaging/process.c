#include "process.h"

#include <string.h>

#include "decode.h"
#include "jpeg_enc.h"
#include "image.h"
#include "img_error.h"
#include "orient.h"
#include "resize.h"
#include "webp.h"
#include "yuv.h"

void img_process_opts_init(struct img_process_opts *o)
{
    img_limits_init(&o->limits);
    o->long_side = IMG_PROCESS_DEFAULT_LONG_SIDE;
    o->webp_quality = IMG_PROCESS_DEFAULT_WEBP_QUALITY;
    o->webp_method = IMG_PROCESS_DEFAULT_WEBP_METHOD;
    o->analyse = true;
    o->encode = true;
    o->format = IMG_FORMAT_WEBP;
    o->jpeg_quality = IMG_PROCESS_DEFAULT_JPEG_QUALITY;
    o->max_bytes = 0;
}

static void free_output(int format, uint8_t *buf)
{
    if (format == IMG_FORMAT_JPEG)
        img_jpeg_enc_free(buf);
    else
        img_webp_free(buf);
}

/* Encodes |im| (RGB or gray), or else |yuv| (WebP only), in the asked format, stepping the quality
 * down to fit the byte budget. */
static int encode(const struct img_image *im, const struct img_yuv *yuv,
                  const struct img_process_opts *o, struct img_result *res)
{
    int q = o->format == IMG_FORMAT_JPEG ? o->jpeg_quality : o->webp_quality;

    for (;;) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int r = !im ? img_webp_encode_yuv(yuv, q, o->webp_method, &buf, &len)
                : o->format == IMG_FORMAT_JPEG ? img_jpeg_encode(im, q, &buf, &len)
                                               : img_webp_encode(im, q, o->webp_method, &buf, &len);

        if (r < 0)
            return r;
        free_output(o->format, res->webp);
        res->webp = buf;
        res->webp_len = len;
        res->quality = q;
        if (o->max_bytes == 0 || len <= o->max_bytes || q <= 30)
            return 0;
        q = q - 10 < 30 ? 30 : q - 10;
    }
}

/* The template's corner first (the right 3/5 of the top 2/5), the whole frame only when it has
 * no code (a photo taken upside down without EXIF, a sheet placed oddly). */
static int scan_qr(const struct img_image *im, struct img_result *res)
{
    int q = img_qr_scan(im, im->width * 2 / 5, 0, im->width - im->width * 2 / 5,
                        im->height * 2 / 5 + 1, res->qr, sizeof(res->qr));

    return q == 0 ? img_qr_scan(im, 0, 0, im->width, im->height, res->qr, sizeof(res->qr)) : q;
}

/*
 * The QR was not found at the DCT scale: read it again from the luma at full resolution, where
 * each module has twice (or more) the pixels — a sheet far from the camera prints a code too
 * small for the scaled image. Gray only and no colour conversion: a 12 MP photo costs 12 MB here.
 */
static void qr_full_resolution(const void *buf, size_t len, const struct img_process_opts *o,
                               struct img_result *res)
{
    struct img_image gray = {0};

    res->qr_full_scan = true;
    if (img_jpeg_decode_gray(buf, len, &o->limits, &gray, NULL) == 0 &&
        img_orient(&gray, res->exif.orientation) == 0 && scan_qr(&gray, res) == 1) {
        res->qr_found = true;
        res->qr_full_resolution = true;
    }
    img_image_finish(&gray);
}

/* Legibility, signature and QR on the upright decoded image. None of it can refuse a photo: an
 * analysis that runs out of memory just leaves |res->analysed| false. */
static void analyse(const struct img_image *im, struct img_result *res)
{
    struct img_image gray = {0};
    int q;

    if (img_gray_shrink(im, IMG_LEG_SIDE, &gray) == 0 &&
        img_legibility_assess(&gray, &res->legibility) == 0 &&
        img_dup_signature(&gray, &res->legibility, &res->sig) == 0)
        res->analysed = true;
    img_image_finish(&gray);
    q = scan_qr(im, res);
    res->qr_found = q == 1;
    if (!res->qr_found)
        res->qr[0] = '\0';
}

/* The analysis on the upright decoded image |im| (RGB, gray or the luma plane), then the QR at full
 * resolution when the scaled image had none, was scaled and its sheet is small or was not found
 * (IMG_QR_FULL_RES_MAX_COVERAGE). */
static void analyse_upright(const struct img_image *im, const void *buf, size_t len,
                            const struct img_process_opts *o, struct img_result *res)
{
    uint32_t decoded = im->width > im->height ? im->width : im->height;
    uint32_t stored = res->info.width > res->info.height ? res->info.width : res->info.height;

    analyse(im, res);
    if (!res->qr_found && decoded < stored &&
        !(res->analysed && res->legibility.has_sheet &&
          res->legibility.coverage >= IMG_QR_FULL_RES_MAX_COVERAGE))
        qr_full_resolution(buf, len, o, res);
}

static int fail(const char **ret_why, int r, const char *why)
{
    if (ret_why)
        *ret_why = why;
    return r;
}

/*
 * What phones send, a YCbCr JPEG, stays in 4:2:0 planes from the decoder to the WebP encoder
 * (yuv.h): no colour conversion either way, half the bytes in every pass. The JPEG fallback
 * encodes from RGB, and gray, CMYK and Adobe RGB data take that path too.
 */
static bool planar(const struct img_jpeg_info *info, const struct img_process_opts *o)
{
    return info->components == 3 && !(info->has_adobe && info->adobe_transform == 0) &&
           (o->format != IMG_FORMAT_JPEG || !o->encode);
}

/* The pipeline on 4:2:0 planes. Returns IMG_E_UNSUPPORTED, having done nothing to |res|, for a
 * JPEG the planar decoder does not take (libjpeg has the last word on the colour space). */
static int process_yuv(const void *buf, size_t len, const struct img_process_opts *o,
                       struct img_result *res, const char **ret_why)
{
    struct img_yuv im = {0};
    uint32_t w, h;
    int r;

    r = img_jpeg_decode_yuv420(buf, len, &o->limits, o->long_side ? o->long_side : UINT32_MAX, &im,
                               ret_why);
    if (r < 0)
        return r;
    r = img_yuv_orient(&im, res->exif.orientation);
    if (r < 0) {
        img_yuv_finish(&im);
        return fail(ret_why, r, "could not apply the EXIF orientation");
    }
    if (o->analyse)
        analyse_upright(&im.y, buf, len, o, res);
    res->width = im.y.width;
    res->height = im.y.height;
    if (!o->encode) {
        img_yuv_finish(&im);
        return 0;
    }
    img_fit_long_side(im.y.width, im.y.height, o->long_side, &w, &h);
    if (w != im.y.width || h != im.y.height) {
        struct img_yuv small;

        r = img_yuv_resize(&im, w, h, &small);
        img_yuv_finish(&im);
        if (r < 0)
            return fail(ret_why, r, "could not resize the image");
        im = small;
    }
    res->format = IMG_FORMAT_WEBP;
    r = encode(NULL, &im, o, res);
    res->width = im.y.width;
    res->height = im.y.height;
    img_yuv_finish(&im);
    if (r < 0) {
        free_output(res->format, res->webp);
        res->webp = NULL;
        return fail(ret_why, r, "could not encode the WebP image");
    }
    return 0;
}

/* The pipeline on an RGB (or gray) decode: every JPEG the planar path does not take. */
static int process_rgb(const void *buf, size_t len, const struct img_process_opts *o,
                       struct img_result *res, const char **ret_why)
{
    struct img_image im = {0};
    uint32_t w, h;
    int r;

    r = img_jpeg_decode_scaled(buf, len, &o->limits, o->long_side ? o->long_side : UINT32_MAX, &im,
                               ret_why);
    if (r < 0)
        return r;
    r = img_orient(&im, res->exif.orientation);
    if (r < 0) {
        img_image_finish(&im);
        return fail(ret_why, r, "could not apply the EXIF orientation");
    }
    if (o->analyse)
        analyse_upright(&im, buf, len, o, res);
    res->width = im.width;
    res->height = im.height;
    if (!o->encode) {
        img_image_finish(&im);
        return 0;
    }
    img_fit_long_side(im.width, im.height, o->long_side, &w, &h);
    if (w != im.width || h != im.height) {
        struct img_image small;

        r = img_resize(&im, w, h, &small);
        img_image_finish(&im);
        if (r < 0)
            return fail(ret_why, r, "could not resize the image");
        im = small;
    }
    res->format = o->format == IMG_FORMAT_JPEG ? IMG_FORMAT_JPEG : IMG_FORMAT_WEBP;
    r = encode(&im, NULL, o, res);
    res->width = im.width;
    res->height = im.height;
    img_image_finish(&im);
    if (r < 0) {
        free_output(res->format, res->webp);
        res->webp = NULL;
        return fail(ret_why, r,
                    res->format == IMG_FORMAT_JPEG ? "could not encode the JPEG image"
                                                   : "could not encode the WebP image");
    }
    return 0;
}

int img_process_jpeg(const void *buf, size_t len, const struct img_process_opts *o,
                     struct img_result *ret, const char **ret_why)
{
    struct img_process_opts defaults;
    struct img_result res;
    int r;

    if (!o) {
        img_process_opts_init(&defaults);
        o = &defaults;
    }
    memset(&res, 0, sizeof(res));
    /* The probe is cheap and refuses bombs before libjpeg allocates anything. */
    r = img_jpeg_probe(buf, len, &o->limits, &res.info, ret_why);
    if (r < 0)
        return r;

    img_exif_init(&res.exif);
    if (res.info.has_exif && res.info.exif_offset <= len &&
        res.info.exif_len <= len - res.info.exif_offset) {
        const char *why = NULL;

        res.exif_ok = img_exif_parse((const uint8_t *)buf + res.info.exif_offset, res.info.exif_len,
                                     &res.exif, &why) == 0;
        if (!res.exif_ok) {
            /* A half-read EXIF cannot be trusted to turn the sheet the right way. */
            res.exif.orientation = 1;
            res.exif_why = why;
        }
    }

    if (planar(&res.info, o)) {
        const char *why = NULL;

        r = process_yuv(buf, len, o, &res, &why);
        if (r != IMG_E_UNSUPPORTED) {
            if (r < 0)
                return fail(ret_why, r, why);
            *ret = res;
            return 0;
        }
    }
    r = process_rgb(buf, len, o, &res, ret_why);
    if (r < 0)
        return r;
    *ret = res;
    return 0;
}

void img_result_finish(struct img_result *r)
{
    if (!r)
        return;
    free_output(r->format, r->webp);
    memset(r, 0, sizeof(*r));
}
