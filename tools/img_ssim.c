/*
 * img-ssim: luma SSIM of a WebP or PPM against a reference PPM, for bench/imaging.
 *
 * The reference (typically acta-gen's noise-free upright scene, --ppm) is area-averaged to the
 * candidate's size with the imaging library's img_gray_shrink(), which is an exact box filter
 * for an integer ratio such as 4000 -> 2000; a lossless reference resize, so that SSIM measures
 * what the candidate's decoder, resizer and encoder lost. SSIM: 8x8 windows every 4 pixels,
 * C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, the mean over windows.
 *
 * usage: img-ssim REFERENCE.ppm CANDIDATE.{webp,ppm}...   prints "SSIM FILE" per candidate
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

#include "image.h"
#include "legibility.h"

static uint8_t *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f)
        return NULL;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            buf = realloc(buf, cap);
            if (!buf)
                exit(1);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    *ret_len = len;
    return buf;
}

/* Binary PPM (P6, maxval 255) into an RGB image. */
static int load_ppm(const uint8_t *b, size_t len, struct img_image *ret)
{
    unsigned v[3];
    size_t pos = 2;

    if (len < 2 || b[0] != 'P' || b[1] != '6')
        return -1;
    for (int k = 0; k < 3; k++) {
        char *end;

        while (pos < len && (b[pos] == ' ' || b[pos] == '\n' || b[pos] == '\r' || b[pos] == '\t'))
            pos++;
        v[k] = (unsigned)strtoul((const char *)b + pos, &end, 10);
        pos = (size_t)((const uint8_t *)end - b);
    }
    pos++;
    if (v[2] != 255 || img_image_init(ret, v[0], v[1], 3) < 0 ||
        len - pos < (size_t)v[0] * v[1] * 3)
        return -1;
    memcpy(ret->pixels, b + pos, (size_t)v[0] * v[1] * 3);
    return 0;
}

static int load(const char *path, struct img_image *ret)
{
    size_t len;
    uint8_t *b = slurp(path, &len);
    int w, h, r = -1;

    if (!b)
        return -1;
    if (len > 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) {
        uint8_t *rgb = WebPDecodeRGB(b, len, &w, &h);

        if (rgb && img_image_init(ret, (uint32_t)w, (uint32_t)h, 3) == 0) {
            memcpy(ret->pixels, rgb, (size_t)w * h * 3);
            r = 0;
        }
        WebPFree(rgb);
    } else {
        r = load_ppm(b, len, ret);
    }
    free(b);
    return r;
}

static double ssim(const struct img_image *a, const struct img_image *b)
{
    const double c1 = 6.5025, c2 = 58.5225;
    double total = 0.0;
    long n = 0;

    for (uint32_t y = 0; y + 8 <= a->height; y += 4) {
        for (uint32_t x = 0; x + 8 <= a->width; x += 4) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;

            for (int j = 0; j < 8; j++) {
                const uint8_t *pa = a->pixels + (size_t)(y + j) * a->stride + x;
                const uint8_t *pb = b->pixels + (size_t)(y + j) * b->stride + x;

                for (int i = 0; i < 8; i++) {
                    sa += pa[i];
                    sb += pb[i];
                    saa += pa[i] * pa[i];
                    sbb += pb[i] * pb[i];
                    sab += pa[i] * pb[i];
                }
            }
            double ma = sa / 64, mb = sb / 64;
            double va = saa / 64 - ma * ma, vb = sbb / 64 - mb * mb, cov = sab / 64 - ma * mb;

            total +=
                ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n++;
        }
    }
    return n ? total / n : 0.0;
}

int main(int argc, char **argv)
{
    struct img_image ref = {0};
    int bad = 0;

    if (argc < 3) {
        fputs("usage: img-ssim REFERENCE.ppm CANDIDATE.{webp,ppm}...\n", stderr);
        return 2;
    }
    if (load(argv[1], &ref) < 0) {
        fprintf(stderr, "img-ssim: could not read %s\n", argv[1]);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        struct img_image cand = {0}, cg = {0}, rg = {0};
        uint32_t lng;

        if (load(argv[i], &cand) < 0) {
            fprintf(stderr, "img-ssim: could not read %s\n", argv[i]);
            bad++;
            continue;
        }
        lng = cand.width > cand.height ? cand.width : cand.height;
        if (img_gray_shrink(&cand, lng, &cg) < 0 || img_gray_shrink(&ref, lng, &rg) < 0 ||
            rg.width != cg.width || rg.height != cg.height) {
            fprintf(stderr, "img-ssim: %s: %ux%u does not match the reference's shape\n", argv[i],
                    cand.width, cand.height);
            bad++;
        } else {
            printf("%.5f %s\n", ssim(&rg, &cg), argv[i]);
        }
        img_image_finish(&cand);
        img_image_finish(&cg);
        img_image_finish(&rg);
    }
    img_image_finish(&ref);
    return bad ? 1 : 0;
}
