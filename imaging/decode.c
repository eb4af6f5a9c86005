/* The project's only libjpeg wrapper: the setjmp error manager lives here and nowhere else. */
#include "decode.h"

#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "img_error.h"
#include "yuv.h"

_Static_assert(sizeof(unsigned long) >= sizeof(size_t), "jpeg_mem_src takes an unsigned long");

struct dec_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int code;
    const char *why;
};

struct dec_progress {
    struct jpeg_progress_mgr pub;
    uint32_t max_scans;
};

/* Everything the longjmp path must clean up lives here, in memory the jump does not clobber. */
struct dec {
    struct jpeg_decompress_struct cinfo;
    struct dec_err err;
    struct dec_progress prog;
    bool created;
    struct img_image im;
    struct img_yuv yuv;
};

static const char *libjpeg_why(j_common_ptr c, const char *fallback)
{
    int code = c->err->msg_code;

    const char *m;

    if (code <= 0 || code > c->err->last_jpeg_message || !(m = c->err->jpeg_message_table[code]))
        return fallback;
    /* A template ("%u extraneous bytes ...") needs formatting into storage we do not have on the
     * error path: the static fallback says the same without the numbers. */
    return strchr(m, '%') ? fallback : m;
}

static _Noreturn void bail(j_common_ptr c, int code, const char *why)
{
    struct dec_err *e = (struct dec_err *)c->err;

    e->code = code;
    e->why = why;
    longjmp(e->jb, 1);
}

static _Noreturn void on_error_exit(j_common_ptr c)
{
    switch (c->err->msg_code) {
    case JERR_OUT_OF_MEMORY:
        bail(c, IMG_E_NOMEM, "out of memory in the JPEG decoder");
    case JERR_NO_BACKING_STORE:
    case JERR_TFILE_CREATE:
        bail(c, IMG_E_NOMEM, "JPEG decoder memory limit exceeded");
    case JERR_INPUT_EMPTY:
    case JERR_INPUT_EOF:
        bail(c, IMG_E_TRUNCATED, "premature end of JPEG data");
    case JERR_NO_SOI:
        bail(c, IMG_E_NOT_JPEG, "missing SOI marker");
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
    case JERR_EMPTY_IMAGE:
        bail(c, IMG_E_DIMENSIONS, libjpeg_why(c, "bad image dimensions"));
    case JERR_ARITH_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_NOTIMPL:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_BAD_PRECISION:
        bail(c, IMG_E_UNSUPPORTED, libjpeg_why(c, "unsupported JPEG variant"));
    default:
        bail(c, IMG_E_DECODE, libjpeg_why(c, "libjpeg error"));
    }
}

static void on_emit_message(j_common_ptr c, int level)
{
    /* level < 0 is a warning: libjpeg would carry on and hand out grey or garbage rows for a
     * truncated or corrupt file. For result sheets a refused upload is better than a wrong one. */
    if (level >= 0)
        return;
    if (c->err->msg_code == JWRN_JPEG_EOF)
        bail(c, IMG_E_TRUNCATED, "premature end of JPEG data");
    bail(c, IMG_E_DECODE, libjpeg_why(c, "corrupt JPEG data"));
}

static void on_output_message(j_common_ptr c)
{
    /* A library never prints. */
}

static void on_progress(j_common_ptr c)
{
    struct dec_progress *p = (struct dec_progress *)c->progress;

    if (c->is_decompressor && (uint32_t)((j_decompress_ptr)c)->input_scan_number > p->max_scans)
        bail(c, IMG_E_TOO_MANY_SCANS, "more scans than the scan limit");
}

/*
 * One row of CMYK from libjpeg (which has already turned YCCK into CMYK) to RGB, or to luma when
 * |gray|. Adobe's applications store the inks inverted (0 is full ink) and mark the file with
 * APP14; libjpeg hands the samples over as stored, so with that marker 255 - x is the ink. Every
 * YCCK file has the marker (it is what says YCCK). Without ICC profiles the naive conversion is
 * what we can do, and it is exact for the colours that matter here: white paper, black print.
 */
static void cmyk_row(const JSAMPLE *in, uint8_t *out, JDIMENSION width, bool inverted, bool gray)
{
    for (JDIMENSION x = 0; x < width; x++, in += 4) {
        /* |c| etc. are 255 - ink: the share of light each ink lets through, times 255. */
        unsigned c = inverted ? in[0] : 255u - in[0], m = inverted ? in[1] : 255u - in[1];
        unsigned y = inverted ? in[2] : 255u - in[2], k = inverted ? in[3] : 255u - in[3];
        unsigned r = (c * k + 127) / 255, g = (m * k + 127) / 255, b = (y * k + 127) / 255;

        if (gray) {
            /* The BT.601 weights of libjpeg's own RGB to gray, in 16-bit fixed point. */
            *out++ = (uint8_t)((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);
        } else {
            *out++ = (uint8_t)r;
            *out++ = (uint8_t)g;
            *out++ = (uint8_t)b;
        }
    }
}

unsigned img_jpeg_pick_scale(uint32_t w, uint32_t h, uint32_t min_long_side)
{
    uint64_t long_side = w > h ? w : h;

    for (unsigned m = 1; m < 8; m++)
        if ((long_side * m + 7) / 8 >= min_long_side)
            return m;
    return 8;
}

/* Creates the decompressor with |lim| and reads the header. Runs under the caller's setjmp. */
static void open_header(struct dec *d, const void *buf, size_t len, const struct img_limits *lim)
{
    struct jpeg_decompress_struct *ci = &d->cinfo;

    d->created = true; /* before, so a failing create is destroyed too: that is safe */
    jpeg_create_decompress(ci);
    ci->mem->max_memory_to_use =
        lim->max_decoder_memory > (uint64_t)LONG_MAX ? LONG_MAX : (long)lim->max_decoder_memory;
    d->prog.pub.progress_monitor = on_progress;
    d->prog.max_scans = lim->max_scans;
    ci->progress = &d->prog.pub;
    jpeg_mem_src(ci, buf, (unsigned long)len);

    if (jpeg_read_header(ci, TRUE) != JPEG_HEADER_OK)
        bail((j_common_ptr)ci, IMG_E_MALFORMED, "JPEG has tables but no image");
    if (ci->image_width == 0 || ci->image_height == 0 || ci->image_width > lim->max_side ||
        ci->image_height > lim->max_side ||
        (uint64_t)ci->image_width * ci->image_height > lim->max_pixels)
        bail((j_common_ptr)ci, IMG_E_DIMENSIONS, "image exceeds the size limits");
    if (ci->data_precision != 8)
        bail((j_common_ptr)ci, IMG_E_UNSUPPORTED, "only 8-bit precision is supported");
}

/* Runs the decode; on any libjpeg error returns the code set by the error manager. */
static int run(struct dec *d, const void *buf, size_t len, const struct img_limits *lim,
               uint32_t min_long_side, bool gray)
{
    struct jpeg_decompress_struct *ci = &d->cinfo;
    JSAMPARRAY cmyk = NULL;
    uint8_t channels;
    int r;

    if (setjmp(d->err.jb))
        return d->err.code;
    open_header(d, buf, len, lim);
    if (ci->num_components == 1) {
        ci->out_color_space = JCS_GRAYSCALE;
        channels = 1;
    } else if (ci->num_components == 3) {
        /* Gray from YCbCr is the Y plane as decoded: no colour conversion at all. */
        ci->out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
        channels = gray ? 1 : 3;
    } else if (ci->num_components == 4 &&
               (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)) {
        /* libjpeg converts YCCK to CMYK but neither to RGB: cmyk_row() does that. */
        ci->out_color_space = JCS_CMYK;
        channels = gray ? 1 : 3;
    } else {
        bail((j_common_ptr)ci, IMG_E_UNSUPPORTED,
             "only 1 (gray), 3 (colour) or 4 (CMYK/YCCK) components are supported");
    }
    ci->scale_num = img_jpeg_pick_scale(ci->image_width, ci->image_height, min_long_side);
    ci->scale_denom = 8;

    jpeg_start_decompress(ci);
    if (ci->output_components != (ci->out_color_space == JCS_CMYK ? 4 : channels))
        bail((j_common_ptr)ci, IMG_E_DECODE, "unexpected output component count");
    r = img_image_init(&d->im, ci->output_width, ci->output_height, channels);
    if (r < 0)
        bail((j_common_ptr)ci, r, "could not allocate the decoded image");
    /* From libjpeg's pool: counted in max_memory_to_use, freed by jpeg_destroy on every path. */
    if (ci->out_color_space == JCS_CMYK)
        cmyk = (*ci->mem->alloc_sarray)((j_common_ptr)ci, JPOOL_IMAGE, ci->output_width * 4, 1);
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = d->im.pixels + (size_t)ci->output_scanline * d->im.stride;

        if (jpeg_read_scanlines(ci, cmyk ? cmyk : &row, 1) != 1)
            bail((j_common_ptr)ci, IMG_E_TRUNCATED, "premature end of JPEG data");
        if (cmyk)
            cmyk_row(cmyk[0], row, ci->output_width, ci->saw_Adobe_marker, gray);
    }
    jpeg_finish_decompress(ci);
    return 0;
}

/*
 * One strip of a chroma component, as libjpeg's raw output has it (|rows| valid rows of |in_w|
 * samples), into the 4:2:0 plane |out| from its row |out_row|: copied when the component is
 * already at half the luma's size (|fx|, |fy| 1), averaged over 2 x 1, 1 x 2 or 2 x 2 when libjpeg
 * decoded it larger (it scales chroma up in the IDCT rather than upsample it later). An odd last
 * row or column counts its one sample twice.
 */
static void chroma_strip(JSAMPARRAY in, uint32_t rows, JDIMENSION in_w, unsigned fx, unsigned fy,
                         struct img_image *out, uint32_t out_row)
{
    for (uint32_t r = 0; r < rows && out_row < out->height; r += fy, out_row++) {
        const JSAMPLE *a = in[r], *b = fy == 2 && r + 1 < rows ? in[r + 1] : in[r];
        uint8_t *d = out->pixels + (size_t)out_row * out->stride;

        if (fx == 1) {
            for (uint32_t x = 0; x < out->width; x++)
                d[x] = (uint8_t)((a[x] + b[x] + 1u) >> 1);
            continue;
        }
        /* Pairs first, branch-free so that the compiler vectorises it; then an odd last one. */
        uint32_t pairs = in_w / 2 < out->width ? in_w / 2 : out->width;

        for (uint32_t x = 0; x < pairs; x++)
            d[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2u) >> 2);
        for (uint32_t x = pairs; x < out->width; x++)
            d[x] = (uint8_t)((a[in_w - 1] + b[in_w - 1] + 1u) >> 1);
    }
}

/* The factor by which libjpeg's |decoded| chroma side exceeds the 4:2:0 |want|: 1 or 2, else 0. */
static unsigned chroma_factor(JDIMENSION decoded, uint32_t luma, uint32_t want)
{
    return decoded == want ? 1 : decoded == luma ? 2 : 0;
}

/* Runs the raw YCbCr decode into d->yuv; on any libjpeg error returns the code set by the error
 * manager. */
static int run_yuv(struct dec *d, const void *buf, size_t len, const struct img_limits *lim,
                   uint32_t min_long_side)
{
    struct jpeg_decompress_struct *ci = &d->cinfo;
    JSAMPARRAY strip[3];
    JSAMPIMAGE planes = strip;
    unsigned fx[3] = {1, 1, 1}, fy[3] = {1, 1, 1};
    uint32_t w, h, cw, ch;
    JDIMENSION lines;
    int r;

    if (setjmp(d->err.jb))
        return d->err.code;
    open_header(d, buf, len, lim);
    /* What the encoder wants (luma at the largest factors, chroma at 1 x 1, at most 2 x 2) is
     * what phones write; anything else (4:1:1, RGB or CMYK data) takes the RGB path. */
    if (ci->num_components != 3 || ci->jpeg_color_space != JCS_YCbCr || ci->max_h_samp_factor > 2 ||
        ci->max_v_samp_factor > 2 || ci->comp_info[0].h_samp_factor != ci->max_h_samp_factor ||
        ci->comp_info[0].v_samp_factor != ci->max_v_samp_factor ||
        ci->comp_info[1].h_samp_factor != 1 || ci->comp_info[1].v_samp_factor != 1 ||
        ci->comp_info[2].h_samp_factor != 1 || ci->comp_info[2].v_samp_factor != 1)
        bail((j_common_ptr)ci, IMG_E_UNSUPPORTED, "not YCbCr with 4:2:0, 4:2:2, 4:4:0 or 4:4:4");
    ci->raw_data_out = TRUE;
    ci->scale_num = img_jpeg_pick_scale(ci->image_width, ci->image_height, min_long_side);
    ci->scale_denom = 8;
    jpeg_start_decompress(ci);

    w = ci->output_width;
    h = ci->output_height;
    cw = img_yuv_chroma_side(w);
    ch = img_yuv_chroma_side(h);
    if (ci->comp_info[0].downsampled_width != w || ci->comp_info[0].downsampled_height != h)
        bail((j_common_ptr)ci, IMG_E_DECODE, "unexpected luma size");
    for (int c = 1; c < 3; c++) {
        fx[c] = chroma_factor(ci->comp_info[c].downsampled_width, w, cw);
        fy[c] = chroma_factor(ci->comp_info[c].downsampled_height, h, ch);
        if (!fx[c] || !fy[c])
            bail((j_common_ptr)ci, IMG_E_UNSUPPORTED, "unexpected chroma size");
    }
    if ((r = img_image_init(&d->yuv.y, w, h, 1)) < 0 ||
        (r = img_image_init(&d->yuv.cb, cw, ch, 1)) < 0 ||
        (r = img_image_init(&d->yuv.cr, cw, ch, 1)) < 0)
        bail((j_common_ptr)ci, r, "could not allocate the decoded image");
    /* One iMCU row of each component per call, padded to whole blocks, from libjpeg's pool:
     * counted in max_memory_to_use and freed by jpeg_destroy on every path. */
    for (int c = 0; c < 3; c++) {
        jpeg_component_info *cp = &ci->comp_info[c];

        strip[c] = (*ci->mem->alloc_sarray)((j_common_ptr)ci, JPOOL_IMAGE,
                                            cp->width_in_blocks * (JDIMENSION)cp->DCT_scaled_size,
                                            (JDIMENSION)(cp->v_samp_factor * cp->DCT_scaled_size));
    }
    lines = (JDIMENSION)(ci->max_v_samp_factor * ci->min_DCT_scaled_size);
    while (ci->output_scanline < ci->output_height) {
        uint32_t y0 = ci->output_scanline;

        if (jpeg_read_raw_data(ci, planes, lines) != lines)
            bail((j_common_ptr)ci, IMG_E_TRUNCATED, "premature end of JPEG data");
        for (uint32_t i = 0; i < lines && y0 + i < h; i++)
            memcpy(d->yuv.y.pixels + (size_t)(y0 + i) * d->yuv.y.stride, strip[0][i], w);
        for (int c = 1; c < 3; c++) {
            jpeg_component_info *cp = &ci->comp_info[c];
            uint32_t rows = (uint32_t)(cp->v_samp_factor * cp->DCT_scaled_size);
            uint32_t row0 = y0 / lines * rows; /* each call reads one iMCU row */

            if (row0 >= cp->downsampled_height)
                continue;
            if (rows > cp->downsampled_height - row0)
                rows = cp->downsampled_height - row0;
            chroma_strip(strip[c], rows, cp->downsampled_width, fx[c], fy[c],
                         c == 1 ? &d->yuv.cb : &d->yuv.cr, row0 / fy[c]);
        }
    }
    jpeg_finish_decompress(ci);
    return 0;
}

static void dec_init(struct dec *d)
{
    memset(d, 0, sizeof(*d));
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = on_error_exit;
    d->err.pub.emit_message = on_emit_message;
    d->err.pub.output_message = on_output_message;
}

enum dec_mode { DEC_RGB, DEC_GRAY, DEC_YUV };

/* Sets up |d| and runs the decode in |mode|; on success the caller takes d->im or d->yuv. */
static int decode(const void *buf, size_t len, const struct img_limits *lim, uint32_t min_long_side,
                  enum dec_mode mode, struct dec *d, const char **ret_why)
{
    struct img_limits defaults;
    int r;

    if (!lim) {
        img_limits_init(&defaults);
        lim = &defaults;
    }
    if (len == 0) {
        if (ret_why)
            *ret_why = "empty input";
        return IMG_E_NOT_JPEG;
    }
    dec_init(d);
    r = mode == DEC_YUV ? run_yuv(d, buf, len, lim, min_long_side)
                        : run(d, buf, len, lim, min_long_side, mode == DEC_GRAY);
    if (d->created)
        jpeg_destroy_decompress(&d->cinfo);
    if (r < 0) {
        img_image_finish(&d->im);
        img_yuv_finish(&d->yuv);
        if (ret_why)
            *ret_why = d->err.why;
    }
    return r;
}

int img_jpeg_decode_scaled(const void *buf, size_t len, const struct img_limits *lim,
                           uint32_t min_long_side, struct img_image *ret, const char **ret_why)
{
    struct dec d;
    int r = decode(buf, len, lim, min_long_side, DEC_RGB, &d, ret_why);

    if (r == 0)
        *ret = d.im;
    return r;
}

int img_jpeg_decode_gray(const void *buf, size_t len, const struct img_limits *lim,
                         struct img_image *ret, const char **ret_why)
{
    struct dec d;
    int r = decode(buf, len, lim, UINT32_MAX, DEC_GRAY, &d, ret_why);

    if (r == 0)
        *ret = d.im;
    return r;
}

int img_jpeg_decode_yuv420(const void *buf, size_t len, const struct img_limits *lim,
                           uint32_t min_long_side, struct img_yuv *ret, const char **ret_why)
{
    struct dec d;
    int r = decode(buf, len, lim, min_long_side, DEC_YUV, &d, ret_why);

    if (r == 0)
        *ret = d.yuv;
    return r;
}
