#include "legibility.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "img_error.h"

int img_gray_shrink(const struct img_image *src, uint32_t long_side, struct img_image *ret)
{
    uint32_t lng, w, h;
    uint32_t *sum = NULL, *cnt = NULL, *xmap = NULL;
    struct img_image out = {0};
    int r;

    if (!src->pixels || src->width == 0 || src->height == 0 ||
        (src->channels != 1 && src->channels != 3) || long_side == 0)
        return IMG_E_DIMENSIONS;
    lng = src->width > src->height ? src->width : src->height;
    if (lng <= long_side) {
        w = src->width;
        h = src->height;
    } else {
        w = (uint32_t)(((uint64_t)src->width * long_side + lng / 2) / lng);
        h = (uint32_t)(((uint64_t)src->height * long_side + lng / 2) / lng);
        w = w ? w : 1;
        h = h ? h : 1;
    }
    r = img_image_init(&out, w, h, 1);
    if (r < 0)
        return r;
    if (src->channels == 1 && src->width == 2 * w && src->height == 2 * h) {
        /* The common case, the luma of a 2000x1500 decode: the same 2x2 boxes and rounding as
         * the general loop below, without its index map, in a loop the compiler vectorises. */
        for (uint32_t oy = 0; oy < h; oy++) {
            const uint8_t *a = src->pixels + (size_t)(2 * oy) * src->stride, *b = a + src->stride;
            uint8_t *d = out.pixels + (size_t)oy * out.stride;

            for (uint32_t x = 0; x < w; x++)
                d[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2u) >> 2);
        }
        *ret = out;
        return 0;
    }
    sum = calloc(w, sizeof(*sum));
    cnt = calloc(w, sizeof(*cnt));
    xmap = calloc(src->width, sizeof(*xmap));
    if (!sum || !cnt || !xmap) {
        r = IMG_E_NOMEM;
        goto out;
    }
    /* Each source pixel lands in exactly one output pixel: boxes of uneven size by at most one
     * pixel, which is all a measure (not a picture) needs. */
    for (uint32_t x = 0; x < src->width; x++)
        xmap[x] = (uint32_t)((uint64_t)x * w / src->width);
    for (uint32_t y = 0, oy = 0; oy < h; oy++) {
        uint32_t yend = (uint32_t)(((uint64_t)oy + 1) * src->height / h);
        uint8_t *d = out.pixels + (size_t)oy * out.stride;

        memset(sum, 0, w * sizeof(*sum));
        memset(cnt, 0, w * sizeof(*cnt));
        for (; y < yend; y++) {
            const uint8_t *s = src->pixels + (size_t)y * src->stride;

            if (src->channels == 1) {
                for (uint32_t x = 0; x < src->width; x++) {
                    sum[xmap[x]] += s[x];
                    cnt[xmap[x]]++;
                }
            } else {
                for (uint32_t x = 0; x < src->width; x++, s += 3) {
                    sum[xmap[x]] += (77u * s[0] + 150u * s[1] + 29u * s[2] + 128u) >> 8;
                    cnt[xmap[x]]++;
                }
            }
        }
        for (uint32_t x = 0; x < w; x++)
            d[x] = (uint8_t)(cnt[x] ? (sum[x] + cnt[x] / 2) / cnt[x] : 0);
    }
    *ret = out;
    out = (struct img_image){0};
    r = 0;
out:
    free(sum);
    free(cnt);
    free(xmap);
    img_image_finish(&out);
    return r;
}

static unsigned otsu(const uint32_t hist[256], uint64_t total)
{
    double sum = 0.0, sum_b = 0.0, best = -1.0;
    uint64_t w_b = 0;
    unsigned t = 128;

    for (unsigned i = 0; i < 256; i++)
        sum += (double)i * hist[i];
    for (unsigned i = 0; i < 256; i++) {
        uint64_t w_f;
        double m_b, m_f, between;

        w_b += hist[i];
        if (w_b == 0)
            continue;
        w_f = total - w_b;
        if (w_f == 0)
            break;
        sum_b += (double)i * hist[i];
        m_b = sum_b / (double)w_b;
        m_f = (sum - sum_b) / (double)w_f;
        between = (double)w_b * (double)w_f * (m_b - m_f) * (m_b - m_f);
        if (between > best) {
            best = between;
            t = i;
        }
    }
    return t;
}

/* Least-squares line b = p + q a through |n| points (a[i], b[i]), refitted once without the
 * points more than 3 pixels off (ink touching the edge, a stamp crossing it). */
static bool fit_line(const float *a, const float *b, size_t n, double *ret_p, double *ret_q)
{
    double p = 0.0, q = 0.0;

    for (int round = 0; round < 2; round++) {
        double sa = 0, sb = 0, saa = 0, sab = 0, k = 0;

        for (size_t i = 0; i < n; i++) {
            if (round == 1 && fabs(b[i] - (p + q * a[i])) > 3.0)
                continue;
            sa += a[i];
            sb += b[i];
            saa += (double)a[i] * a[i];
            sab += (double)a[i] * b[i];
            k++;
        }
        if (k < 8 || k * saa - sa * sa == 0.0)
            return false;
        q = (k * sab - sa * sb) / (k * saa - sa * sa);
        p = (sb - q * sa) / k;
    }
    *ret_p = p;
    *ret_q = q;
    return true;
}

/* The first position along a line of |n| mask cells (stride |step|) where three in a row are set,
 * or -1. */
static long first_run(const uint8_t *m, long n, long step)
{
    for (long i = 0; i + 2 < n; i++)
        if (m[i * step] && m[(i + 1) * step] && m[(i + 2) * step])
            return i;
    return -1;
}

/* Fits the four edges of the sheet (the bright class of |mask|) and intersects them. */
static bool find_corners(const uint8_t *mask, long w, long h, float *pa, float *pb, double c[8])
{
    double line_p[4], line_q[4];

    for (int side = 0; side < 4; side++) {
        bool horizontal = side == 0 || side == 2; /* top, bottom: y as a function of x */
        long len = horizontal ? w : h, depth = horizontal ? h : w;
        size_t n = 0;

        for (long i = len / 6; i < len - len / 6; i += 2) {
            long pos;

            switch (side) {
            case 0: /* top: down column i */
                pos = first_run(mask + i, depth / 2, w);
                break;
            case 2: /* bottom: up column i */
                pos = first_run(mask + (h - 1) * w + i, depth / 2, -w);
                pos = pos < 0 ? -1 : h - 1 - pos;
                break;
            case 1: /* right: leftwards along row i */
                pos = first_run(mask + i * w + w - 1, depth / 2, -1);
                pos = pos < 0 ? -1 : w - 1 - pos;
                break;
            default: /* left: rightwards along row i */
                pos = first_run(mask + i * w, depth / 2, 1);
                break;
            }
            if (pos < 0)
                continue;
            pa[n] = (float)i;
            pb[n] = (float)pos;
            n++;
        }
        if (!fit_line(pa, pb, n, &line_p[side], &line_q[side]))
            return false;
    }
    /* Corner of horizontal edge t (y = pt + qt x) and vertical edge v (x = pv + qv y). */
    static const int pairs[4][2] = {{0, 3}, {0, 1}, {2, 1}, {2, 3}};
    for (int k = 0; k < 4; k++) {
        int t = pairs[k][0], v = pairs[k][1];
        double den = 1.0 - line_q[v] * line_q[t];

        if (fabs(den) < 1e-6)
            return false;
        c[2 * k] = (line_p[v] + line_q[v] * line_p[t]) / den;
        c[2 * k + 1] = line_p[t] + line_q[t] * c[2 * k];
    }
    return true;
}

/* Largest 4-connected blob of set cells of |m| inside [x0,x1) x [y0,y1); |stack| holds w*h. */
static size_t largest_blob(uint8_t *m, long w, long x0, long y0, long x1, long y1, uint32_t *stack)
{
    size_t best = 0;

    for (long y = y0; y < y1; y++) {
        for (long x = x0; x < x1; x++) {
            size_t n = 0, top = 0;

            if (m[y * w + x] != 1)
                continue;
            m[y * w + x] = 2;
            stack[top++] = (uint32_t)(y * w + x);
            while (top > 0) {
                uint32_t i = stack[--top];
                long px = (long)(i % (uint32_t)w), py = (long)(i / (uint32_t)w);
                static const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};

                n++;
                for (int k = 0; k < 4; k++) {
                    long nx = px + dx[k], ny = py + dy[k];

                    if (nx < x0 || nx >= x1 || ny < y0 || ny >= y1 || m[ny * w + nx] != 1)
                        continue;
                    m[ny * w + nx] = 2;
                    stack[top++] = (uint32_t)(ny * w + nx);
                }
            }
            if (n > best)
                best = n;
        }
    }
    return best;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int img_legibility_assess(const struct img_image *gray, struct img_legibility *ret)
{
    long w, h, fx0, fy0, fx1, fy1;
    uint32_t hist[256] = {0};
    uint64_t total, bright = 0, bright_sum = 0, clipped = 0;
    uint8_t *mask = NULL;
    uint32_t *stack = NULL;
    float *pa = NULL, *pb = NULL;
    struct img_legibility L;
    unsigned t;
    double area, n = 0.0, norm;

    if (!gray->pixels || gray->channels != 1 || gray->width < 16 || gray->height < 16)
        return IMG_E_DIMENSIONS;
    w = gray->width;
    h = gray->height;
    total = (uint64_t)w * (uint64_t)h;
    mask = malloc((size_t)total);
    stack = malloc((size_t)total * sizeof(*stack));
    pa = malloc((size_t)(w > h ? w : h) * sizeof(*pa));
    pb = malloc((size_t)(w > h ? w : h) * sizeof(*pb));
    if (!mask || !stack || !pa || !pb) {
        free(mask);
        free(stack);
        free(pa);
        free(pb);
        return IMG_E_NOMEM;
    }
    memset(&L, 0, sizeof(L));
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++)
            hist[gray->pixels[(size_t)y * gray->stride + (size_t)x]]++;
    t = otsu(hist, total);
    for (long y = 0; y < h; y++) {
        const uint8_t *g = gray->pixels + (size_t)y * gray->stride;

        for (long x = 0; x < w; x++) {
            mask[y * w + x] = g[x] > t;
            if (g[x] > t) {
                bright++;
                bright_sum += g[x];
            }
            clipped += g[x] >= IMG_LEG_CLIP_LEVEL;
        }
    }
    L.luma = bright ? (double)bright_sum / (double)bright : 0.0;
    L.clipped = (double)clipped / (double)total;
    L.has_sheet = bright > total / 50 && find_corners(mask, w, h, pa, pb, L.corners);
    if (L.has_sheet) {
        area = 0.0;
        for (int k = 0; k < 4; k++) {
            int j = (k + 1) % 4;

            area +=
                L.corners[2 * k] * L.corners[2 * j + 1] - L.corners[2 * j] * L.corners[2 * k + 1];
        }
        L.coverage = clampd(fabs(area) / 2.0 / (double)total, 0.0, 1.0);
        /* The axis-aligned rectangle inside the quadrilateral, less a margin for the edge
         * itself and the shadow: where focus and glare are measured. */
        fx0 = (long)fmax(L.corners[0], L.corners[6]);
        fx1 = (long)fmin(L.corners[2], L.corners[4]);
        fy0 = (long)fmax(L.corners[1], L.corners[3]);
        fy1 = (long)fmin(L.corners[5], L.corners[7]);
        fx0 += (fx1 - fx0) / 25;
        fx1 -= (fx1 - fx0) / 25;
        fy0 += (fy1 - fy0) / 25;
        fy1 -= (fy1 - fy0) / 25;
    } else {
        L.coverage = (double)bright / (double)total;
        fx0 = 0;
        fy0 = 0;
        fx1 = w;
        fy1 = h;
    }
    fx0 = fx0 < 1 ? 1 : fx0;
    fy0 = fy0 < 1 ? 1 : fy0;
    fx1 = fx1 > w - 1 ? w - 1 : fx1;
    fy1 = fy1 > h - 1 ? h - 1 : fy1;
    if (fx1 - fx0 < 4 || fy1 - fy0 < 4) {
        fx0 = 1;
        fy0 = 1;
        fx1 = w - 1;
        fy1 = h - 1;
        L.has_sheet = false;
    }

    /* Focus: the variance of the second difference along each of four directions, and the
     * smallest of the four, so that a shake (which blurs one direction only) counts as blurry as
     * well as defocus; luma scaled so that the paper is 200, so that a dim but sharp photo is
     * not taken for a blurry one. The sum of the x and y terms is the Laplacian's. */
    {
        double d[4] = {0}, d2[4] = {0}, minv = -1.0;
        long st = (long)gray->stride;
        static const int off[4][2] = {{1, 0}, {0, 1}, {1, 1}, {1, -1}}; /* dx, dy */

        for (long y = fy0; y < fy1; y++) {
            const uint8_t *g = gray->pixels + (size_t)y * gray->stride;

            for (long x = fx0; x < fx1; x++) {
                for (int k = 0; k < 4; k++) {
                    long o = off[k][0] + off[k][1] * st;
                    long v = 2L * g[x] - g[x - o] - g[x + o];

                    d[k] += (double)v;
                    d2[k] += (double)v * (double)v;
                }
            }
        }
        n = (double)(fx1 - fx0) * (double)(fy1 - fy0);
        norm = L.luma > 1.0 ? 200.0 / L.luma : 1.0;
        for (int k = 0; k < 4; k++) {
            double var = (d2[k] / n - (d[k] / n) * (d[k] / n)) * norm * norm;

            if (minv < 0.0 || var < minv)
                minv = var;
        }
        L.focus = minv;
    }

    /* Glare: clipped pixels that clump over the sheet, not scattered specks. */
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++)
            mask[y * w + x] =
                gray->pixels[(size_t)y * gray->stride + (size_t)x] >= IMG_LEG_CLIP_LEVEL;
    L.glare = (double)largest_blob(mask, w, fx0, fy0, fx1, fy1, stack) / n;

    if (!L.has_sheet)
        L.reasons |= IMG_LEG_NO_SHEET;
    if (L.focus < IMG_LEG_FOCUS_MIN)
        L.reasons |= IMG_LEG_BLURRY;
    if (L.luma < IMG_LEG_LUMA_MIN)
        L.reasons |= IMG_LEG_DARK;
    if (L.luma > IMG_LEG_LUMA_MAX)
        L.reasons |= IMG_LEG_BRIGHT;
    if (L.glare > IMG_LEG_GLARE_MAX)
        L.reasons |= IMG_LEG_GLARE;
    if (L.coverage < IMG_LEG_COVERAGE_MIN)
        L.reasons |= IMG_LEG_SMALL;
    L.ok = L.reasons == 0;
    free(mask);
    free(stack);
    free(pa);
    free(pb);
    *ret = L;
    return 0;
}

const char *img_legibility_reason_name(unsigned bit)
{
    switch (bit) {
    case IMG_LEG_BLURRY:
        return "blurry";
    case IMG_LEG_DARK:
        return "dark";
    case IMG_LEG_BRIGHT:
        return "bright";
    case IMG_LEG_GLARE:
        return "glare";
    case IMG_LEG_SMALL:
        return "small_sheet";
    case IMG_LEG_NO_SHEET:
        return "no_sheet";
    default:
        return NULL;
    }
}
