#include "dup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "img_error.h"

/* Bilinear sub-samples per cell side when averaging a cell of the ink map: 4 per side of a
 * ~7-pixel cell sees every pixel. */
#define SUB 4

/* Cells of the ink map whose alignment is searched together, per side, and the search: offsets
 * of -SHIFT_MAX..SHIFT_MAX quarter cells in x, then in y. */
#define BLOCK 16
#define SHIFT_MAX 2

/* The window, in cells, in which the compare looks for the largest difference: part of one
 * handwritten digit, taller than wide like the digits. Each cell's difference is first reduced by
 * a quarter of the local edge strength (what a quarter-cell misalignment of a printed line leaves
 * over) and by one ink level: a cell whose ink sits at a level boundary rounds one way in one shot
 * and the other way in the next, and a window of such cells would otherwise weigh as much as a
 * faint stroke. */
#define TOLERANCE 0.25f
#define LEVEL_SLACK 1.0f
#define WIN_W 2
#define WIN_H 3

/* How far, in cells, a cell looks for its paper. Two cells reach the paper around a printed box
 * three cells thick, whose middle would otherwise see only the box's own edges and read a few
 * levels light or dark depending on how the cells fall on it. */
#define PAPER_REACH 2

/* Tiles (in cells per side) for the paper of cells that see no paper nearby. */
#define TILE 8
#define TILES_W ((IMG_DUP_INK_W + TILE - 1) / TILE)
#define TILES_H ((IMG_DUP_INK_H + TILE - 1) / TILE)

#define CELLS (IMG_DUP_INK_W * IMG_DUP_INK_H)

struct homography {
    double a, b, c, d, e, f, g, h;
};

/* The projective map of the unit square onto the quadrilateral |q| (top-left, top-right,
 * bottom-right, bottom-left): exact for a flat sheet seen through a pinhole, which the bilinear
 * map is not once the phone is tilted. */
static bool square_to_quad(const double q[8], struct homography *ret)
{
    double dx1 = q[2] - q[4], dx2 = q[6] - q[4], dx3 = q[0] - q[2] + q[4] - q[6];
    double dy1 = q[3] - q[5], dy2 = q[7] - q[5], dy3 = q[1] - q[3] + q[5] - q[7];
    double den = dx1 * dy2 - dx2 * dy1;
    struct homography H;

    if (fabs(den) < 1e-9)
        return false;
    H.g = (dx3 * dy2 - dx2 * dy3) / den;
    H.h = (dx1 * dy3 - dx3 * dy1) / den;
    H.a = q[2] - q[0] + H.g * q[2];
    H.b = q[6] - q[0] + H.h * q[6];
    H.c = q[0];
    H.d = q[3] - q[1] + H.g * q[3];
    H.e = q[7] - q[1] + H.h * q[7];
    H.f = q[1];
    *ret = H;
    return true;
}

/* |gray| at (x, y), bilinear, clamped to the image (at least 2x2). */
static double sample(const struct img_image *gray, double x, double y)
{
    double xm = (double)gray->width - 1.001, ym = (double)gray->height - 1.001;
    long ix, iy;
    double fx, fy;
    const uint8_t *p;

    x = x < 0.0 ? 0.0 : x > xm ? xm : x;
    y = y < 0.0 ? 0.0 : y > ym ? ym : y;
    ix = (long)x;
    iy = (long)y;
    fx = x - (double)ix;
    fy = y - (double)iy;
    p = gray->pixels + (size_t)iy * gray->stride + (size_t)ix;
    return (p[0] + (p[1] - p[0]) * fx) * (1.0 - fy) +
           (p[gray->stride] + (p[gray->stride + 1] - p[gray->stride]) * fx) * fy;
}

/*
 * The ink map of the sheet |quad| in |gray| into |ret|: each cell's mean luma through the
 * homography, against as its paper the brightest quarter-cell within the 5x5 cells around it, so
 * that a shadow or a gradient across the sheet changes the paper, not the ink. A cell with no
 * paper that close (inside the fiducial, a logo) takes the brightest paper of the tiles around
 * it instead: its own "paper" would be ink, and its ink would swing with the light.
 */
static bool ink_map(const struct img_image *gray, const double quad[8], uint8_t *ret)
{
    uint8_t bright[CELLS], tile[TILES_W * TILES_H];
    uint8_t *mean = ret; /* the output doubles as the cell means until the last pass */
    struct homography H;

    if (!square_to_quad(quad, &H))
        return false;
    memset(tile, 0, sizeof(tile));
    for (int gy = 0; gy < IMG_DUP_INK_H; gy++) {
        for (int gx = 0; gx < IMG_DUP_INK_W; gx++) {
            double quarter[4] = {0.0, 0.0, 0.0, 0.0}, best;
            uint8_t *t = &tile[(gy / TILE) * TILES_W + gx / TILE];

            for (int sy = 0; sy < SUB; sy++) {
                double v = (gy + (sy + 0.5) / SUB) / IMG_DUP_INK_H;

                for (int sx = 0; sx < SUB; sx++) {
                    double u = (gx + (sx + 0.5) / SUB) / IMG_DUP_INK_W;
                    double den = H.g * u + H.h * v + 1.0;

                    quarter[(sy >= SUB / 2) * 2 + (sx >= SUB / 2)] += sample(
                        gray, (H.a * u + H.b * v + H.c) / den, (H.d * u + H.e * v + H.f) / den);
                }
            }
            best = quarter[0];
            for (int k = 1; k < 4; k++)
                best = quarter[k] > best ? quarter[k] : best;
            mean[gy * IMG_DUP_INK_W + gx] =
                (uint8_t)lround((quarter[0] + quarter[1] + quarter[2] + quarter[3]) / (SUB * SUB));
            bright[gy * IMG_DUP_INK_W + gx] = (uint8_t)lround(best / (SUB * SUB / 4));
            *t = bright[gy * IMG_DUP_INK_W + gx] > *t ? bright[gy * IMG_DUP_INK_W + gx] : *t;
        }
    }
    for (int gy = 0; gy < IMG_DUP_INK_H; gy++) {
        for (int gx = 0; gx < IMG_DUP_INK_W; gx++) {
            int paper = 0, far = 0, ty = gy / TILE, tx = gx / TILE;
            double ink;

            for (int y = gy - PAPER_REACH; y <= gy + PAPER_REACH; y++)
                for (int x = gx - PAPER_REACH; x <= gx + PAPER_REACH; x++)
                    if (x >= 0 && y >= 0 && x < IMG_DUP_INK_W && y < IMG_DUP_INK_H &&
                        bright[y * IMG_DUP_INK_W + x] > paper)
                        paper = bright[y * IMG_DUP_INK_W + x];
            for (int y = ty - 1; y <= ty + 1; y++)
                for (int x = tx - 1; x <= tx + 1; x++)
                    if (x >= 0 && y >= 0 && x < TILES_W && y < TILES_H &&
                        tile[y * TILES_W + x] > far)
                        far = tile[y * TILES_W + x];
            paper = 2 * paper < far ? far : paper;
            ink = paper > 0 ? (double)(paper - mean[gy * IMG_DUP_INK_W + gx]) / paper : 0.0;
            ink = ink < 0.0 ? 0.0 : ink > 1.0 ? 1.0 : ink;
            ret[gy * IMG_DUP_INK_W + gx] = (uint8_t)lround(IMG_DUP_INK_MAX * ink);
        }
    }
    return true;
}

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
    s.has_sheet = leg->has_sheet && w >= 2 && h >= 2 && ink_map(gray, leg->corners, s.ink);
    s.version = s.has_sheet ? IMG_DUP_VERSION : 0;
    *ret = s;
    return 0;
}

/* |m| at cell (x, y) plus (qx, qy) quarter cells, bilinear, clamped to the map. */
static float shifted(const uint8_t *m, int x, int y, int qx, int qy)
{
    int fx = 4 * x + qx, fy = 4 * y + qy, ix, iy, rx, ry;
    const uint8_t *p;

    fx = fx < 0 ? 0 : fx > 4 * (IMG_DUP_INK_W - 1) ? 4 * (IMG_DUP_INK_W - 1) : fx;
    fy = fy < 0 ? 0 : fy > 4 * (IMG_DUP_INK_H - 1) ? 4 * (IMG_DUP_INK_H - 1) : fy;
    ix = fx / 4;
    iy = fy / 4;
    rx = fx % 4;
    ry = fy % 4;
    p = m + iy * IMG_DUP_INK_W + ix;
    if (rx == 0 && ry == 0)
        return p[0];
    {
        int right = ix + 1 < IMG_DUP_INK_W ? 1 : 0,
            down = iy + 1 < IMG_DUP_INK_H ? IMG_DUP_INK_W : 0;
        int top = p[0] * (4 - rx) + p[right] * rx, bot = p[down] * (4 - rx) + p[down + right] * rx;

        return (float)(top * (4 - ry) + bot * ry) / 16.0f;
    }
}

static float block_sad(const uint8_t *a, const uint8_t *b, int x0, int y0, int x1, int y1, int qx,
                       int qy)
{
    float sad = 0.0f;

    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            sad += fabsf(a[y * IMG_DUP_INK_W + x] - shifted(b, x, y, qx, qy));
    return sad;
}

/*
 * The ink distance: |b| is aligned on |a| block by block (the quarter-cell shift, first along x
 * then along y, that fits the block best, which takes up what the corner fit and the lens leave
 * over), and the distance is the largest mean difference over a window the size of part of a
 * digit, as a share of full ink. A global sum would drown a changed digit in the rest of the
 * sheet; the largest local difference is what tells an altered figure from a second shot. The
 * outermost ring of cells is left out: it holds the sheet's edge, where the table shows through
 * a corner fitted a pixel off.
 */
static double ink_distance(const uint8_t *a, const uint8_t *b)
{
    float res[CELLS];
    float worst = 0.0f;

    for (int by = 1; by < IMG_DUP_INK_H - 1; by += BLOCK) {
        for (int bx = 1; bx < IMG_DUP_INK_W - 1; bx += BLOCK) {
            int ey = by + BLOCK < IMG_DUP_INK_H - 1 ? by + BLOCK : IMG_DUP_INK_H - 1;
            int ex = bx + BLOCK < IMG_DUP_INK_W - 1 ? bx + BLOCK : IMG_DUP_INK_W - 1;
            int qx = 0, qy = 0;
            float best = block_sad(a, b, bx, by, ex, ey, 0, 0);

            for (int axis = 0; axis < 2; axis++) {
                int base = axis == 0 ? 0 : qx, pick = 0;

                for (int q = -SHIFT_MAX; q <= SHIFT_MAX; q++) {
                    float sad;

                    if (q == 0)
                        continue;
                    sad = axis == 0 ? block_sad(a, b, bx, by, ex, ey, q, 0)
                                    : block_sad(a, b, bx, by, ex, ey, base, q);
                    if (sad < best) {
                        best = sad;
                        pick = q;
                    }
                }
                if (axis == 0)
                    qx = pick;
                else
                    qy = pick;
            }
            for (int y = by; y < ey; y++) {
                for (int x = bx; x < ex; x++) {
                    const uint8_t *p = b + y * IMG_DUP_INK_W + x;
                    float gx = fabsf((float)p[1] - (float)p[-1]) / 2.0f;
                    float gy = fabsf((float)p[IMG_DUP_INK_W] - (float)p[-IMG_DUP_INK_W]) / 2.0f;
                    float d = fabsf(a[y * IMG_DUP_INK_W + x] - shifted(b, x, y, qx, qy));

                    d -= TOLERANCE * (gx + gy) + LEVEL_SLACK;
                    res[y * IMG_DUP_INK_W + x] = d > 0.0f ? d : 0.0f;
                }
            }
        }
    }
    for (int y = 1; y + WIN_H <= IMG_DUP_INK_H - 1; y++) {
        for (int x = 1; x + WIN_W <= IMG_DUP_INK_W - 1; x++) {
            float sum = 0.0f;

            for (int j = 0; j < WIN_H; j++)
                for (int i = 0; i < WIN_W; i++)
                    sum += res[(y + j) * IMG_DUP_INK_W + x + i];
            worst = sum > worst ? sum : worst;
        }
    }
    return worst / (IMG_DUP_INK_MAX * WIN_W * WIN_H);
}

enum img_dup_kind img_dup_compare(const struct img_dup_sig *a, const struct img_dup_sig *b,
                                  double *ret_thumb, double *ret_ink)
{
    uint64_t td = 0;
    double thumb, ink = 1.0;
    bool comparable = a->has_sheet && b->has_sheet && a->version == b->version;

    for (size_t i = 0; i < sizeof(a->thumb); i++)
        td += (uint64_t)abs(a->thumb[i] - b->thumb[i]);
    thumb = (double)td / (double)sizeof(a->thumb);
    if (comparable) {
        double ab = ink_distance(a->ink, b->ink), ba = ink_distance(b->ink, a->ink);

        /* Both ways, the larger: new ink in either photo counts. */
        ink = ab > ba ? ab : ba;
    }
    if (ret_thumb)
        *ret_thumb = thumb;
    if (ret_ink)
        *ret_ink = ink;
    if (thumb <= IMG_DUP_REENCODE_MAX && (!comparable || ink <= IMG_DUP_RESHOT_MAX))
        return IMG_DUP_REENCODE;
    if (!comparable)
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
    PUT(s->has_sheet ? s->version : 0u);
    for (size_t i = 0; i < sizeof(s->thumb); i++)
        PUT(s->thumb[i]);
    for (size_t i = 0; i < sizeof(s->ink); i += 2)
        PUT((unsigned)(s->ink[i] << 4 | s->ink[i + 1]));
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
    if (hex[IMG_DUP_HEX_LEN] != '\0' || bytes[0] > IMG_DUP_VERSION)
        return IMG_E_MALFORMED;
    s.has_sheet = bytes[0] != 0;
    s.version = bytes[0];
    memcpy(s.thumb, bytes + 1, sizeof(s.thumb));
    for (size_t i = 0; i < sizeof(s.ink) / 2; i++) {
        s.ink[2 * i] = bytes[1 + sizeof(s.thumb) + i] >> 4;
        s.ink[2 * i + 1] = bytes[1 + sizeof(s.thumb) + i] & 15;
    }
    *ret = s;
    return 0;
}
