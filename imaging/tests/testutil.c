#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

int t_checks, t_failures;

int t_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, t_checks, t_failures);
    return t_failures ? 1 : 0;
}

void t_put(struct t_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 64;
        uint8_t *p = realloc(b->p, cap);

        if (!p) {
            fprintf(stderr, "out of memory\n");
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void t_put8(struct t_buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;

    t_put(b, &c, 1);
}

void t_put16be(struct t_buf *b, unsigned v)
{
    t_put8(b, v >> 8);
    t_put8(b, v & 0xFF);
}

void t_buf_free(struct t_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

uint8_t *t_pattern(uint32_t w, uint32_t h, int channels)
{
    static const uint8_t quad[4][4] = {
        {220, 30, 30, 10}, {30, 200, 40, 80}, {30, 40, 210, 160}, {230, 220, 40, 240}};
    uint8_t *p = malloc((size_t)w * h * (size_t)channels);

    if (!p)
        abort();
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            int q = (y >= h / 2) * 2 + (x >= w / 2);
            uint8_t *px = p + ((size_t)y * w + x) * (size_t)channels;

            for (int c = 0; c < channels; c++)
                px[c] = (uint8_t)((quad[q][c] * 3 + (x * 255 / w) + (y * 255 / h)) / 5);
        }
    }
    return p;
}

uint8_t *t_make_jpeg(const uint8_t *pixels, uint32_t w, uint32_t h, int channels,
                     const struct t_jpeg_opts *o, size_t *ret_len)
{
    struct t_jpeg_opts none = {0};
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    unsigned char *out = NULL;
    unsigned long out_len = 0;

    if (!o)
        o = &none;
    c.err = jpeg_std_error(&err); /* errors exit(): acceptable in a test helper */
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = w;
    c.image_height = h;
    c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, o->quality ? o->quality : 90, TRUE);
    if (channels == 3 && !o->subsample) {
        for (int i = 0; i < 3; i++)
            c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    }
    if (channels == 4 && o->ycck) {
        jpeg_set_colorspace(&c, JCS_YCCK);
        for (int i = 0; i < 4; i++)
            c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    }
    if (channels == 4 && o->no_adobe)
        c.write_Adobe_marker = FALSE;
    c.arith_code = o->arithmetic ? TRUE : FALSE;
    if (o->progressive)
        jpeg_simple_progression(&c);
    c.restart_interval = (unsigned)o->restart_interval;
    jpeg_start_compress(&c, TRUE);
    if (o->app1)
        jpeg_write_marker(&c, JPEG_APP0 + 1, o->app1, (unsigned)o->app1_len);
    if (o->icc) {
        static const uint8_t icc[] = "ICC_PROFILE\0\1\1not-really-a-profile";

        jpeg_write_marker(&c, JPEG_APP0 + 2, icc, sizeof(icc));
    }
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * w * (size_t)channels);

        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *ret_len = out_len;
    return out;
}

size_t t_exif_orientation(uint8_t *buf, size_t cap, uint16_t orientation)
{
    static const uint8_t tmpl[] = {
        'E',  'x',  'i', 'f', 0, 0,                   /* signature */
        'I',  'I',  42,  0,   8, 0, 0, 0,             /* TIFF header, IFD0 at 8 */
        1,    0,                                      /* one entry */
        0x12, 0x01, 3,   0,   1, 0, 0, 0, 0, 0, 0, 0, /* Orientation SHORT 1 */
        0,    0,    0,   0,                           /* no next IFD */
    };

    if (cap < sizeof(tmpl))
        abort();
    memcpy(buf, tmpl, sizeof(tmpl));
    buf[6 + 8 + 2 + 8] = (uint8_t)(orientation & 0xFF);
    buf[6 + 8 + 2 + 9] = (uint8_t)(orientation >> 8);
    return sizeof(tmpl);
}

uint32_t t_rand(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}
