#include "qr.h"

#include <stdlib.h>
#include <string.h>
#include <zbar.h>

#include "img_error.h"

int img_qr_scan(const struct img_image *im, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                char *ret, size_t cap)
{
    zbar_image_scanner_t *sc;
    zbar_image_t *z;
    const zbar_symbol_t *sym;
    uint8_t *g;
    int found = 0;

    if (!im->pixels || (im->channels != 1 && im->channels != 3) || cap == 0 || x >= im->width ||
        y >= im->height)
        return IMG_E_DIMENSIONS;
    if (w > im->width - x)
        w = im->width - x;
    if (h > im->height - y)
        h = im->height - y;
    if (w == 0 || h == 0)
        return IMG_E_DIMENSIONS;
    g = malloc((size_t)w * h);
    if (!g)
        return IMG_E_NOMEM;
    for (uint32_t r = 0; r < h; r++) {
        const uint8_t *s = im->pixels + (size_t)(y + r) * im->stride + (size_t)x * im->channels;
        uint8_t *d = g + (size_t)r * w;

        if (im->channels == 1) {
            memcpy(d, s, w);
        } else {
            /* Green alone: the code is black on white, and green carries most of the luma. */
            for (uint32_t c = 0; c < w; c++)
                d[c] = s[3 * c + 1];
        }
    }
    sc = zbar_image_scanner_create();
    z = zbar_image_create();
    if (!sc || !z) {
        if (sc)
            zbar_image_scanner_destroy(sc);
        if (z)
            zbar_image_destroy(z);
        free(g);
        return IMG_E_NOMEM;
    }
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    /* Every second row and column: a module is 5 or more pixels at the scale we scan, and this
     * halves zbar's time, the largest part of the analysis (every third line lost codes that
     * every second line reads). */
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_X_DENSITY, IMG_QR_DENSITY);
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_Y_DENSITY, IMG_QR_DENSITY);
    zbar_image_set_format(z, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(z, w, h);
    zbar_image_set_data(z, g, (unsigned long)w * h, NULL);
    if (zbar_scan_image(sc, z) > 0) {
        for (sym = zbar_image_first_symbol(z); sym; sym = zbar_symbol_next(sym)) {
            const char *data = zbar_symbol_get_data(sym);
            unsigned len = zbar_symbol_get_data_length(sym);
            size_t n = 0;

            if (zbar_symbol_get_type(sym) != ZBAR_QRCODE || !data)
                continue;
            for (; n < len && n + 1 < cap; n++)
                ret[n] = data[n] >= 0x20 && data[n] < 0x7f ? data[n] : '?';
            ret[n] = '\0';
            found = 1;
            break;
        }
    }
    zbar_image_destroy(z); /* no cleanup handler was set: |g| is ours */
    zbar_image_scanner_destroy(sc);
    free(g);
    return found;
}
