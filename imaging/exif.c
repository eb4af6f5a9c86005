#include "exif.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "img_error.h"

enum {
    T_BYTE = 1,
    T_ASCII = 2,
    T_SHORT = 3,
    T_LONG = 4,
    T_RATIONAL = 5,
    T_UNDEFINED = 7,
    T_SLONG = 9,
    T_SRATIONAL = 10,
    T_IFD = 13,
};

enum { IFD_0, IFD_EXIF, IFD_GPS };

/* The TIFF structure after "Exif\0\0"; all offsets in it are relative to |p|. */
struct tiff {
    const uint8_t *p;
    uint32_t len;
    bool be;
    uint32_t visited[3];
    unsigned nvisited;
};

/* One IFD entry whose value is known to lie inside the payload: data at |off|, |count| items. */
struct entry {
    uint16_t tag, type;
    uint32_t count;
    uint32_t off;
};

struct gps {
    bool lat_ok, lon_ok, alt_ok, time_ok;
    char lat_ref, lon_ref;
    uint8_t alt_ref;
    double lat, lon, alt;
    uint8_t hh, mm, ss;
    char date[11]; /* YYYY:MM:DD */
};

static uint16_t rd16(const struct tiff *t, uint32_t off)
{
    const uint8_t *b = t->p + off;

    return t->be ? (uint16_t)(b[0] << 8 | b[1]) : (uint16_t)(b[1] << 8 | b[0]);
}

static uint32_t rd32(const struct tiff *t, uint32_t off)
{
    const uint8_t *b = t->p + off;

    if (t->be)
        return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static unsigned type_size(uint16_t type)
{
    switch (type) {
    case T_BYTE:
    case T_ASCII:
    case T_UNDEFINED:
        return 1;
    case T_SHORT:
        return 2;
    case T_LONG:
    case T_SLONG:
    case T_IFD:
        return 4;
    case T_RATIONAL:
    case T_SRATIONAL:
        return 8;
    default:
        return 0;
    }
}

void img_exif_init(struct img_exif *e)
{
    memset(e, 0, sizeof(*e));
    e->orientation = 1;
}

static int fail(const char **ret_why, const char *why)
{
    if (ret_why)
        *ret_why = why;
    return IMG_E_EXIF;
}

/*
 * Locates the value of the entry at |eoff| (already known to be inside the payload). Returns 1
 * with |ret| filled, 0 for a type we do not know (its size is unknown, so it is skipped), or
 * IMG_E_EXIF if the value lies outside the payload.
 */
static int entry_at(const struct tiff *t, uint32_t eoff, struct entry *ret)
{
    unsigned sz;
    uint64_t total;

    ret->tag = rd16(t, eoff);
    ret->type = rd16(t, eoff + 2);
    ret->count = rd32(t, eoff + 4);
    sz = type_size(ret->type);
    if (sz == 0)
        return 0;
    total = (uint64_t)ret->count * sz; /* at most 2^35: no overflow in 64 bits */
    if (total <= 4) {
        ret->off = eoff + 8;
        return 1;
    }
    ret->off = rd32(t, eoff + 8);
    if ((uint64_t)ret->off + total > t->len)
        return IMG_E_EXIF;
    return 1;
}

/* Copies |n| bytes as printable ASCII up to the first NUL; trims trailing spaces. */
static void copy_ascii(char *dst, size_t dstsz, const uint8_t *src, uint32_t n)
{
    size_t i = 0;

    for (; i < n && i + 1 < dstsz && src[i] != 0; i++)
        dst[i] = (src[i] >= 0x20 && src[i] <= 0x7E) ? (char)src[i] : '?';
    while (i > 0 && dst[i - 1] == ' ')
        i--;
    dst[i] = 0;
}

/* Does |s| match |pattern|, where 'd' is a digit and anything else must match exactly? */
static bool shaped(const char *s, const char *pattern)
{
    for (; *pattern; s++, pattern++) {
        if (*pattern == 'd' ? !(*s >= '0' && *s <= '9') : *s != *pattern)
            return false;
    }
    return *s == 0;
}

static void copy_shaped(char *dst, size_t dstsz, const struct tiff *t, const struct entry *en,
                        const char *pattern)
{
    char tmp[32];

    dst[0] = 0;
    if (en->type != T_ASCII)
        return;
    copy_ascii(tmp, sizeof(tmp), t->p + en->off, en->count);
    if (shaped(tmp, pattern) && strlen(tmp) < dstsz)
        memcpy(dst, tmp, strlen(tmp) + 1);
}

static void copy_string(char *dst, size_t dstsz, const struct tiff *t, const struct entry *en)
{
    if (en->type == T_ASCII)
        copy_ascii(dst, dstsz, t->p + en->off, en->count);
}

/* Reads rational |i| of the entry; false if the denominator is 0. */
static bool rational(const struct tiff *t, const struct entry *en, uint32_t i, double *ret)
{
    uint32_t num = rd32(t, en->off + 8 * i), den = rd32(t, en->off + 8 * i + 4);

    if (den == 0)
        return false;
    *ret = (double)num / (double)den;
    return true;
}

static bool degrees(const struct tiff *t, const struct entry *en, double *ret)
{
    double d, m, s;

    if (en->type != T_RATIONAL || en->count < 3)
        return false;
    if (!rational(t, en, 0, &d) || !rational(t, en, 1, &m) || !rational(t, en, 2, &s))
        return false;
    *ret = d + m / 60.0 + s / 3600.0;
    return true;
}

static bool ifd_pointer(const struct tiff *t, const struct entry *en, uint32_t *ret)
{
    if ((en->type != T_LONG && en->type != T_IFD) || en->count != 1)
        return false;
    *ret = rd32(t, en->off);
    return true;
}

static void ifd0_entry(const struct tiff *t, const struct entry *en, struct img_exif *e,
                       uint32_t *exif_ifd, uint32_t *gps_ifd)
{
    switch (en->tag) {
    case 0x0112: /* Orientation */
        if (en->type == T_SHORT && en->count >= 1) {
            uint16_t o = rd16(t, en->off);

            e->orientation = (o >= 1 && o <= 8) ? o : 1;
        }
        break;
    case 0x010F:
        copy_string(e->make, sizeof(e->make), t, en);
        break;
    case 0x0110:
        copy_string(e->model, sizeof(e->model), t, en);
        break;
    case 0x0131:
        copy_string(e->software, sizeof(e->software), t, en);
        break;
    case 0x0132:
        copy_shaped(e->datetime, sizeof(e->datetime), t, en, "dddd:dd:dd dd:dd:dd");
        break;
    case 0x8769:
        if (!ifd_pointer(t, en, exif_ifd))
            *exif_ifd = 0;
        break;
    case 0x8825:
        if (!ifd_pointer(t, en, gps_ifd))
            *gps_ifd = 0;
        break;
    default:
        break;
    }
}

static void exif_entry(const struct tiff *t, const struct entry *en, struct img_exif *e)
{
    if (en->tag == 0x9003)
        copy_shaped(e->datetime_original, sizeof(e->datetime_original), t, en,
                    "dddd:dd:dd dd:dd:dd");
    else if (en->tag == 0x9011) {
        copy_shaped(e->offset_time_original, sizeof(e->offset_time_original), t, en, "+dd:dd");
        if (!e->offset_time_original[0])
            copy_shaped(e->offset_time_original, sizeof(e->offset_time_original), t, en, "-dd:dd");
    }
}

static void gps_entry(const struct tiff *t, const struct entry *en, struct gps *g)
{
    double h, m, s;

    switch (en->tag) {
    case 0x0001: /* GPSLatitudeRef */
    case 0x0003: /* GPSLongitudeRef */
        if (en->type == T_ASCII && en->count >= 1)
            *(en->tag == 0x0001 ? &g->lat_ref : &g->lon_ref) = (char)t->p[en->off];
        break;
    case 0x0002: /* GPSLatitude */
        g->lat_ok = degrees(t, en, &g->lat);
        break;
    case 0x0004: /* GPSLongitude */
        g->lon_ok = degrees(t, en, &g->lon);
        break;
    case 0x0005:
        if ((en->type == T_BYTE || en->type == T_UNDEFINED) && en->count >= 1)
            g->alt_ref = t->p[en->off];
        break;
    case 0x0006:
        g->alt_ok = en->type == T_RATIONAL && en->count >= 1 && rational(t, en, 0, &g->alt);
        break;
    case 0x0007:
        g->time_ok = en->type == T_RATIONAL && en->count >= 3 && rational(t, en, 0, &h) &&
                     rational(t, en, 1, &m) && rational(t, en, 2, &s) && h < 24 && m < 60 && s < 61;
        if (g->time_ok) {
            g->hh = (uint8_t)h;
            g->mm = (uint8_t)m;
            g->ss = s >= 60 ? 59 : (uint8_t)s;
        }
        break;
    case 0x001D:
        copy_shaped(g->date, sizeof(g->date), t, en, "dddd:dd:dd");
        break;
    default:
        break;
    }
}

static void gps_finish(const struct gps *g, struct img_exif *e)
{
    if (g->lat_ok && g->lon_ok && (g->lat_ref == 'N' || g->lat_ref == 'S' || !g->lat_ref) &&
        (g->lon_ref == 'E' || g->lon_ref == 'W' || !g->lon_ref) && g->lat <= 90.0 &&
        g->lon <= 180.0) {
        e->has_gps = true;
        e->gps_lat = g->lat_ref == 'S' ? -g->lat : g->lat;
        e->gps_lon = g->lon_ref == 'W' ? -g->lon : g->lon;
    }
    if (g->alt_ok && isfinite(g->alt)) {
        e->has_gps_alt = true;
        e->gps_alt = g->alt_ref == 1 ? -g->alt : g->alt;
    }
    if (g->time_ok && g->date[0])
        snprintf(e->gps_datetime, sizeof(e->gps_datetime), "%s %02u:%02u:%02u", g->date, g->hh,
                 g->mm, g->ss);
}

static int read_ifd(struct tiff *t, uint32_t off, int which, struct img_exif *e, uint32_t *exif_ifd,
                    uint32_t *gps_ifd, struct gps *g, const char **ret_why)
{
    uint16_t n;

    for (unsigned i = 0; i < t->nvisited; i++)
        if (t->visited[i] == off)
            return fail(ret_why, "IFD offset points to an IFD already read");
    if (t->nvisited < sizeof(t->visited) / sizeof(t->visited[0]))
        t->visited[t->nvisited++] = off;
    if ((uint64_t)off + 2 > t->len)
        return fail(ret_why, "IFD outside the EXIF payload");
    n = rd16(t, off);
    if (n > IMG_EXIF_MAX_IFD_ENTRIES)
        return fail(ret_why, "IFD has too many entries");
    if ((uint64_t)off + 2 + 12 * (uint64_t)n > t->len)
        return fail(ret_why, "IFD entries outside the EXIF payload");
    for (uint32_t i = 0; i < n; i++) {
        struct entry en;
        int r = entry_at(t, off + 2 + 12 * i, &en);

        if (r == 0)
            continue;
        /* Only the values of entries we read are checked: a camera's broken MakerNote offset
         * must not cost us the orientation. */
        switch (which) {
        case IFD_0:
            if (r < 0 && (en.tag == 0x0112 || en.tag == 0x010F || en.tag == 0x0110 ||
                          en.tag == 0x0131 || en.tag == 0x0132))
                return fail(ret_why, "IFD0 value outside the EXIF payload");
            if (r > 0)
                ifd0_entry(t, &en, e, exif_ifd, gps_ifd);
            break;
        case IFD_EXIF:
            if (r < 0 && (en.tag == 0x9003 || en.tag == 0x9011))
                return fail(ret_why, "Exif IFD value outside the EXIF payload");
            if (r > 0)
                exif_entry(t, &en, e);
            break;
        default:
            if (r < 0 && en.tag <= 0x001D)
                return fail(ret_why, "GPS IFD value outside the EXIF payload");
            if (r > 0)
                gps_entry(t, &en, g);
            break;
        }
    }
    return 0;
}

int img_exif_parse(const void *app1, size_t len, struct img_exif *ret, const char **ret_why)
{
    static const uint8_t magic[6] = {'E', 'x', 'i', 'f', 0, 0};
    const uint8_t *p = app1;
    struct tiff t = {0};
    struct gps g = {0};
    uint32_t ifd0, exif_ifd = 0, gps_ifd = 0;
    int r;

    img_exif_init(ret);
    if (len < sizeof(magic) || memcmp(p, magic, sizeof(magic)) != 0)
        return fail(ret_why, "missing Exif signature");
    if (len - sizeof(magic) > UINT32_MAX)
        return fail(ret_why, "EXIF payload too large");
    t.p = p + sizeof(magic);
    t.len = (uint32_t)(len - sizeof(magic));
    if (t.len < 8)
        return fail(ret_why, "TIFF header truncated");
    if (t.p[0] == 'I' && t.p[1] == 'I')
        t.be = false;
    else if (t.p[0] == 'M' && t.p[1] == 'M')
        t.be = true;
    else
        return fail(ret_why, "bad TIFF byte order");
    if (rd16(&t, 2) != 42)
        return fail(ret_why, "bad TIFF magic number");
    ifd0 = rd32(&t, 4);
    r = read_ifd(&t, ifd0, IFD_0, ret, &exif_ifd, &gps_ifd, &g, ret_why);
    /* A zero pointer means "absent": offset 0 is the TIFF header, never an IFD. */
    if (r == 0 && exif_ifd != 0)
        r = read_ifd(&t, exif_ifd, IFD_EXIF, ret, NULL, NULL, &g, ret_why);
    if (r == 0 && gps_ifd != 0) {
        r = read_ifd(&t, gps_ifd, IFD_GPS, ret, NULL, NULL, &g, ret_why);
        if (r == 0)
            gps_finish(&g, ret);
    }
    return r;
}
