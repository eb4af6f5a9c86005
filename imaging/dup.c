#include "dup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "img_error.h"

/* Sub-samples per cell side when averaging a cell of the ink map. */
#define SUB 12

int img_dup_signature(const struct img_image *gray, const struct img_legibility *leg,
                      struct img_dup_sig *ret)
{
    struct img_dup_sig s;
    uint32_t w, h;

    if (!gray->pixels || gray->channels != 1 || gray->width == 0 || gray->height == 0)
        return IMG_E_DIMENSIONS;
    w = gray->width;
    h = gray->height;
    memset(&s, 0, sizeof(s));
    for (uint32_t ty = 0; ty < IMG_DUP_THUMB; ty++) {
        for (uint32_t tx = 0; tx < IMG_DUP_THUMB; tx++) {
            uint32_t x0 = tx * w / IMG_DUP_THUMB, x1 = (tx + 1) * w / IMG_DUP_THUMB;
            uint32_t y0 = ty * h / IMG_DUP_THUMB, y1 = (ty + 1) * h / IMG_DUP_THUMB;
            uint64_t sum = 0, n = 0;

            /* An image narrower than the thumbnail gives empty boxes: take one pixel. */
            y1 = y1 > y0 ? y1 : y0 + 1;
            x1 = x1 > x0 ? x1 : x0 + 1;
            for (uint32_t y = y0; y < y1; y++)
                for (uint32_t x = x0; x < x1; x++, n++)
                    sum += gray->pixels[(size_t)y * gray->stride + x];
            s.thumb[ty * IMG_DUP_THUMB + tx] = (uint8_t)((sum + n / 2) / n);
        }
    }
    s.has_sheet = leg->has_sheet && leg->luma > 1.0;
    if (s.has_sheet) {
        const double *c = leg->corners;
        double paper = leg->luma;

        /* Bilinear map of the unit square onto the fitted corners: close enough to the
         * homography for a sheet that fills the frame and is photographed nearly square on. */
        for (int gy = 0; gy < IMG_DUP_INK_H; gy++) {
            for (int gx = 0; gx < IMG_DUP_INK_W; gx++) {
                double acc = 0.0;

                for (int sy = 0; sy < SUB; sy++) {
                    for (int sx = 0; sx < SUB; sx++) {
                        double u = (gx + (sx + 0.5) / SUB) / IMG_DUP_INK_W;
                        double v = (gy + (sy + 0.5) / SUB) / IMG_DUP_INK_H;
                        double px = (1 - u) * (1 - v) * c[0] + u * (1 - v) * c[2] + u * v * c[4] +
                                    (1 - u) * v * c[6];
                        double py = (1 - u) * (1 - v) * c[1] + u * (1 - v) * c[3] + u * v * c[5] +
                                    (1 - u) * v * c[7];
                        long ix = lround(px), iy = lround(py);
                        double g, ink;

                        ix = ix < 0 ? 0 : ix >= (long)w ? (long)w - 1 : ix;
                        iy = iy < 0 ? 0 : iy >= (long)h ? (long)h - 1 : iy;
                        g = gray->pixels[(size_t)iy * gray->stride + (size_t)ix];
                        ink = (paper - g) / paper;
                        acc += ink < 0.0 ? 0.0 : ink > 1.0 ? 1.0 : ink;
                    }
                }
                s.ink[gy * IMG_DUP_INK_W + gx] = (uint8_t)lround(255.0 * acc / (SUB * SUB));
            }
        }
    }
    *ret = s;
    return 0;
}

enum img_dup_kind img_dup_compare(const struct img_dup_sig *a, const struct img_dup_sig *b,
                                  double *ret_thumb, double *ret_ink)
{
    uint64_t td = 0, diff = 0, mass = 0;
    double thumb, ink = 1.0;

    for (size_t i = 0; i < sizeof(a->thumb); i++)
        td += (uint64_t)abs(a->thumb[i] - b->thumb[i]);
    thumb = (double)td / (double)sizeof(a->thumb);
    if (a->has_sheet && b->has_sheet) {
        for (size_t i = 0; i < sizeof(a->ink); i++) {
            diff += (uint64_t)abs(a->ink[i] - b->ink[i]);
            mass += (uint64_t)a->ink[i] + b->ink[i];
        }
        ink = mass ? (double)diff / (double)mass : 0.0;
    }
    if (ret_thumb)
        *ret_thumb = thumb;
    if (ret_ink)
        *ret_ink = ink;
    if (thumb <= IMG_DUP_REENCODE_MAX &&
        (!(a->has_sheet && b->has_sheet) || ink <= IMG_DUP_RESHOT_MAX))
        return IMG_DUP_REENCODE;
    if (!a->has_sheet || !b->has_sheet)
        return IMG_DUP_NONE;
    return ink <= IMG_DUP_RESHOT_MAX ? IMG_DUP_RESHOT : IMG_DUP_CONFLICT;
}

const char *img_dup_kind_name(enum img_dup_kind k)
{
    switch (k) {
    case IMG_DUP_REENCODE:
        return "reencode";
    case IMG_DUP_RESHOT:
        return "reshot";
    case IMG_DUP_CONFLICT:
        return "conflict";
    default:
        return "none";
    }
}

void img_dup_to_hex(const struct img_dup_sig *s, char *buf)
{
    static const char digits[] = "0123456789abcdef";
    size_t k = 0;

#define PUT(byte)                                                                                  \
    do {                                                                                           \
        buf[k++] = digits[(byte) >> 4];                                                            \
        buf[k++] = digits[(byte)&15];                                                              \
    } while (0)
    PUT(s->has_sheet ? 1u : 0u);
    for (size_t i = 0; i < sizeof(s->thumb); i++)
        PUT(s->thumb[i]);
    for (size_t i = 0; i < sizeof(s->ink); i++)
        PUT(s->ink[i]);
#undef PUT
    buf[k] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int img_dup_from_hex(const char *hex, struct img_dup_sig *ret)
{
    uint8_t bytes[IMG_DUP_HEX_LEN / 2];
    struct img_dup_sig s;

    for (size_t i = 0; i < sizeof(bytes); i++) {
        int hi, lo;

        if (!hex[2 * i] || (hi = nibble(hex[2 * i])) < 0 || (lo = nibble(hex[2 * i + 1])) < 0)
            return IMG_E_MALFORMED;
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[IMG_DUP_HEX_LEN] != '\0' || bytes[0] > 1)
        return IMG_E_MALFORMED;
    s.has_sheet = bytes[0] == 1;
    memcpy(s.thumb, bytes + 1, sizeof(s.thumb));
    memcpy(s.ink, bytes + 1 + sizeof(s.thumb), sizeof(s.ink));
    *ret = s;
    return 0;
}
