#include "resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "img_error.h"

#define LANCZOS_A 3.0

/* Filter taps of each output sample: |n[i]| weights from source index |start[i]|. */
struct taps {
    uint32_t *start, *n;
    float *w; /* out * maxn weights, row i at w + i * maxn */
    uint32_t maxn;
};

static double lanczos(double x)
{
    const double pi = 3.14159265358979323846;

    if (x == 0.0)
        return 1.0;
    if (x <= -LANCZOS_A || x >= LANCZOS_A)
        return 0.0;
    return LANCZOS_A * sin(pi * x) * sin(pi * x / LANCZOS_A) / (pi * pi * x * x);
}

static void taps_free(struct taps *t)
{
    free(t->start);
    free(t->n);
    free(t->w);
}

static int taps_init(struct taps *t, uint32_t in, uint32_t out)
{
    double scale = (double)in / out, fscale = scale > 1.0 ? scale : 1.0;
    double support = LANCZOS_A * fscale;

    memset(t, 0, sizeof(*t));
    t->maxn = (uint32_t)ceil(support) * 2 + 1;
    if (t->maxn > in)
        t->maxn = in;
    t->start = calloc(out, sizeof(*t->start));
    t->n = calloc(out, sizeof(*t->n));
    t->w = calloc((size_t)out * t->maxn, sizeof(*t->w)); /* calloc checks the product */
    if (!t->start || !t->n || !t->w) {
        taps_free(t);
        return IMG_E_NOMEM;
    }
    for (uint32_t i = 0; i < out; i++) {
        double center = (i + 0.5) * scale, sum = 0.0;
        double lo = floor(center - support + 0.5), hi = floor(center + support + 0.5);
        uint32_t first = lo < 0.0 ? 0 : (uint32_t)lo;
        uint32_t last = hi > (double)in ? in : (uint32_t)hi;
        float *w = t->w + (size_t)i * t->maxn;

        if (last - first > t->maxn)
            last = first + t->maxn;
        if (last <= first) /* cannot happen for center inside [0, in); keep one tap anyway */
            last = first + 1;
        for (uint32_t k = first; k < last; k++) {
            double v = lanczos((k - center + 0.5) / fscale);

            w[k - first] = (float)v;
            sum += v;
        }
        for (uint32_t k = 0; k < last - first; k++)
            w[k] = sum != 0.0 ? (float)(w[k] / sum) : 1.0f / (float)(last - first);
        t->start[i] = first;
        t->n[i] = last - first;
    }
    return 0;
}

static uint8_t clamp8(float v)
{
    if (v <= 0.0f)
        return 0;
    if (v >= 255.0f)
        return 255;
    return (uint8_t)(v + 0.5f);
}

int img_resize(const struct img_image *src, uint32_t dst_w, uint32_t dst_h, struct img_image *ret)
{
    struct img_image mid = {0}, out = {0};
    struct taps tx = {0}, ty = {0};
    float *acc = NULL;
    size_t ch = src->channels;
    int r;

    if (!src->pixels || src->width == 0 || src->height == 0 || dst_w == 0 || dst_h == 0 ||
        (ch != 1 && ch != 3))
        return IMG_E_DIMENSIONS;
    r = taps_init(&tx, src->width, dst_w);
    if (r == 0)
        r = taps_init(&ty, src->height, dst_h);
    if (r == 0)
        r = img_image_init(&mid, dst_w, src->height, src->channels);
    if (r == 0)
        r = img_image_init(&out, dst_w, dst_h, src->channels);
    if (r == 0) {
        acc = malloc(out.stride * sizeof(*acc));
        if (!acc)
            r = IMG_E_NOMEM;
    }
    if (r < 0)
        goto out;

    /* Horizontal: every source row to dst_w columns. */
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *s = src->pixels + (size_t)y * src->stride;
        uint8_t *d = mid.pixels + (size_t)y * mid.stride;

        for (uint32_t x = 0; x < dst_w; x++) {
            const float *w = tx.w + (size_t)x * tx.maxn;
            const uint8_t *p = s + (size_t)tx.start[x] * ch;

            for (size_t c = 0; c < ch; c++) {
                float v = 0.0f;

                for (uint32_t k = 0; k < tx.n[x]; k++)
                    v += w[k] * p[k * ch + c];
                d[x * ch + c] = clamp8(v);
            }
        }
    }
    /* Vertical: row by row, accumulating whole source rows for cache-friendly access. */
    for (uint32_t y = 0; y < dst_h; y++) {
        const float *w = ty.w + (size_t)y * ty.maxn;
        uint8_t *d = out.pixels + (size_t)y * out.stride;

        memset(acc, 0, out.stride * sizeof(*acc));
        for (uint32_t k = 0; k < ty.n[y]; k++) {
            const uint8_t *s = mid.pixels + (size_t)(ty.start[y] + k) * mid.stride;

            for (size_t i = 0; i < out.stride; i++)
                acc[i] += w[k] * s[i];
        }
        for (size_t i = 0; i < out.stride; i++)
            d[i] = clamp8(acc[i]);
    }
    *ret = out;
    out = (struct img_image){0};
out:
    free(acc);
    img_image_finish(&mid);
    img_image_finish(&out);
    taps_free(&tx);
    taps_free(&ty);
    return r;
}

void img_fit_long_side(uint32_t w, uint32_t h, uint32_t long_side, uint32_t *ret_w, uint32_t *ret_h)
{
    uint64_t lng = w > h ? w : h, nw, nh;

    if (long_side == 0 || lng <= long_side) {
        *ret_w = w;
        *ret_h = h;
        return;
    }
    nw = ((uint64_t)w * long_side + lng / 2) / lng;
    nh = ((uint64_t)h * long_side + lng / 2) / lng;
    *ret_w = nw < 1 ? 1 : (uint32_t)nw;
    *ret_h = nh < 1 ? 1 : (uint32_t)nh;
}
