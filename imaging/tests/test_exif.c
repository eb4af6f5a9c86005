#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exif.h"
#include "img_error.h"
#include "testutil.h"

/* An IFD entry to write: ASCII from |str|, other types from |v| (rationals as num, den pairs). A
 * pointer tag (0x8769, 0x8825) gets the offset of IFD number v[0] (1 Exif, 2 GPS). */
struct ent {
    uint16_t tag, type;
    uint32_t count;
    const char *str;
    uint32_t v[6];
};

struct ifd {
    const struct ent *e;
    int n;
};

static void w16(uint8_t *p, bool be, uint32_t v)
{
    p[be ? 0 : 1] = (uint8_t)(v >> 8);
    p[be ? 1 : 0] = (uint8_t)v;
}

static void w32(uint8_t *p, bool be, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

static unsigned tsize(uint16_t type)
{
    return type == 3 ? 2 : type == 4 ? 4 : type == 5 ? 8 : 1;
}

/* Writes "Exif\0\0" + TIFF with IFD0, Exif and GPS IFDs laid out one after the other. */
static size_t build(uint8_t *out, size_t cap, bool be, const struct ifd ifds[3])
{
    uint8_t *t = out + 6;
    uint32_t ifd_off[3], data;

    memset(out, 0, cap);
    memcpy(out, "Exif\0\0", 6);
    t[0] = t[1] = be ? 'M' : 'I';
    w16(t + 2, be, 42);
    ifd_off[0] = 8;
    for (int i = 1; i < 3; i++)
        ifd_off[i] = ifd_off[i - 1] + 2 + 12 * (uint32_t)ifds[i - 1].n + 4;
    data = ifd_off[2] + 2 + 12 * (uint32_t)ifds[2].n + 4;
    w32(t + 4, be, ifd_off[0]);
    for (int i = 0; i < 3; i++) {
        uint8_t *p = t + ifd_off[i];

        w16(p, be, (uint32_t)ifds[i].n);
        for (int k = 0; k < ifds[i].n; k++) {
            const struct ent *e = &ifds[i].e[k];
            uint8_t *en = p + 2 + 12 * k, *val;
            uint32_t count =
                e->type == 2 && e->count == 0 ? (uint32_t)strlen(e->str) + 1 : e->count;
            uint32_t size = count * tsize(e->type);

            w16(en, be, e->tag);
            w16(en + 2, be, e->type);
            w32(en + 4, be, count);
            if (count > 1024) { /* a hostile size: point it past everything, write no data */
                w32(en + 8, be, 0xFFFFFFF0u);
                continue;
            }
            if (size <= 4) {
                val = en + 8;
            } else {
                val = t + data;
                w32(en + 8, be, data);
                data += (size + 1) & ~1u;
            }
            if (e->tag == 0x8769 || e->tag == 0x8825)
                w32(val, be, ifd_off[e->v[0]]);
            else if (e->type == 2)
                memcpy(val, e->str, strlen(e->str) < count ? strlen(e->str) : count);
            else
                for (uint32_t j = 0; j < count * (e->type == 5 ? 2 : 1) && j < 6; j++) {
                    if (e->type == 3)
                        w16(val + 2 * j, be, e->v[j]);
                    else if (e->type == 4 || e->type == 5)
                        w32(val + 4 * j, be, e->v[j]);
                    else
                        val[j] = (uint8_t)e->v[j];
                }
        }
    }
    if (data + 6 > cap)
        abort();
    return data + 6;
}

static const struct ent ifd0_full[] = {
    {0x010F, 2, 0, "Motorola", {0}},
    {0x0110, 2, 0, "moto g(7) power", {0}},
    {0x0112, 3, 1, NULL, {6}},
    {0x0131, 2, 0, "Android ", {0}},
    {0x0132, 2, 0, "2024:06:02 18:05:01", {0}},
    {0x8769, 4, 1, NULL, {1}},
    {0x8825, 4, 1, NULL, {2}},
};
static const struct ent exif_full[] = {
    {0x9003, 2, 0, "2024:06:02 18:05:00", {0}},
    {0x9011, 2, 0, "-06:00", {0}},
    {0x927C, 7, 0xFFFFFFF0u, NULL, {0}}, /* MakerNote with an absurd size: never followed */
};
/* Latitude, longitude and time stamp are rationals: three num/den pairs do not fit in v[6]... */
static const struct ent gps_full[] = {
    {0x0001, 2, 0, "N", {0}},
    {0x0002, 5, 3, NULL, {19, 1, 25, 1, 573, 10}},
    {0x0003, 2, 0, "W", {0}},
    {0x0004, 5, 3, NULL, {99, 1, 8, 1, 35, 10}},
    {0x0005, 1, 1, NULL, {0}},
    {0x0006, 5, 1, NULL, {22405, 10}},
    {0x0007, 5, 3, NULL, {23, 1, 59, 1, 5999, 100}},
    {0x001D, 2, 0, "2024:06:03", {0}},
};

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

static bool near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

static size_t full(uint8_t *buf, size_t cap, bool be)
{
    struct ifd ifds[3] = {
        {ifd0_full, N(ifd0_full)}, {exif_full, N(exif_full)}, {gps_full, N(gps_full)}};

    return build(buf, cap, be, ifds);
}

static void check_full(const struct img_exif *e)
{
    CHECK_EQ(e->orientation, 6);
    CHECK_STR(e->make, "Motorola");
    CHECK_STR(e->model, "moto g(7) power");
    CHECK_STR(e->software, "Android");
    CHECK_STR(e->datetime, "2024:06:02 18:05:01");
    CHECK_STR(e->datetime_original, "2024:06:02 18:05:00");
    CHECK_STR(e->offset_time_original, "-06:00");
    CHECK(e->has_gps);
    CHECK(near(e->gps_lat, 19.0 + 25.0 / 60 + 57.3 / 3600));
    CHECK(near(e->gps_lon, -(99.0 + 8.0 / 60 + 3.5 / 3600)));
    CHECK(e->has_gps_alt);
    CHECK(near(e->gps_alt, 2240.5));
    CHECK_STR(e->gps_datetime, "2024:06:03 23:59:59");
}

/* Parses from an exact-size heap copy so ASan catches any read past the end. */
static int parse(const uint8_t *p, size_t len, struct img_exif *e, const char **why)
{
    uint8_t *copy = malloc(len ? len : 1);
    int r;

    memcpy(copy, p, len);
    r = img_exif_parse(copy, len, e, why);
    free(copy);
    CHECK(e->orientation >= 1 && e->orientation <= 8);
    CHECK(memchr(e->make, 0, sizeof(e->make)) && memchr(e->model, 0, sizeof(e->model)));
    CHECK(memchr(e->gps_datetime, 0, sizeof(e->gps_datetime)));
    return r;
}

static void test_valid(void)
{
    uint8_t buf[1024];
    struct img_exif e;
    const char *why = NULL;
    size_t len;

    img_exif_init(&e);
    CHECK_EQ(e.orientation, 1);
    CHECK_STR(e.make, "");
    CHECK(!e.has_gps);

    len = full(buf, sizeof(buf), false);
    CHECK_EQ(parse(buf, len, &e, &why), 0);
    check_full(&e);
    len = full(buf, sizeof(buf), true);
    CHECK_EQ(parse(buf, len, &e, &why), 0);
    check_full(&e);
    CHECK_EQ(buf[6], 'M');

    /* The helper used by the other tests. */
    len = t_exif_orientation(buf, sizeof(buf), 8);
    CHECK_EQ(parse(buf, len, &e, &why), 0);
    CHECK_EQ(e.orientation, 8);
    CHECK_STR(e.make, "");
    CHECK(!e.has_gps);
}

static void test_values(void)
{
    char longname[101];
    uint8_t buf[1024];
    struct img_exif e;
    const char *why;
    size_t len;

    memset(longname, 'x', 100);
    longname[100] = 0;
    {
        const struct ent i0[] = {
            {0x0112, 3, 1, NULL, {9}},     {0x010F, 2, 0, "Ca\x01non\xFF", {0}},
            {0x0110, 2, 0, longname, {0}}, {0x0132, 2, 0, "2024-06-02 18:05:00", {0}},
            {0x8769, 4, 1, NULL, {1}},     {0x8825, 4, 1, NULL, {2}},
        };
        const struct ent ex[] = {{0x9003, 2, 0, "    :  :     :  :  ", {0}},
                                 {0x9011, 2, 0, "06:00", {0}}};
        const struct ent gps[] = {
            {0x0001, 2, 0, "S", {0}},
            {0x0002, 5, 3, NULL, {33, 1, 0, 0, 0, 1}}, /* zero denominator */
            {0x0004, 5, 3, NULL, {70, 1, 30, 1, 0, 1}},
            {0x0005, 1, 1, NULL, {1}},
            {0x0006, 5, 1, NULL, {12, 1}},
            {0x0007, 5, 3, NULL, {24, 1, 0, 1, 0, 1}}, /* hour 24 */
        };
        struct ifd ifds[3] = {{i0, N(i0)}, {ex, N(ex)}, {gps, N(gps)}};

        len = build(buf, sizeof(buf), false, ifds);
        CHECK_EQ(parse(buf, len, &e, &why), 0);
        CHECK_EQ(e.orientation, 1);
        CHECK_STR(e.make, "Ca?non?");
        CHECK_EQ(strlen(e.model), 63);
        CHECK_STR(e.datetime, "");
        CHECK_STR(e.datetime_original, "");
        CHECK_STR(e.offset_time_original, "");
        CHECK(!e.has_gps);
        CHECK(e.has_gps_alt);
        CHECK(near(e.gps_alt, -12.0));
        CHECK_STR(e.gps_datetime, "");
    }
    {
        const struct ent i0[] = {{0x0112, 3, 1, NULL, {0}}, {0x8825, 4, 1, NULL, {2}}};
        const struct ent gps[] = {
            {0x0002, 5, 3, NULL, {95, 1, 0, 1, 0, 1}}, /* out of range */
            {0x0004, 5, 3, NULL, {70, 1, 30, 1, 0, 1}},
        };
        struct ifd ifds[3] = {{i0, N(i0)}, {NULL, 0}, {gps, N(gps)}};

        len = build(buf, sizeof(buf), true, ifds);
        CHECK_EQ(parse(buf, len, &e, &why), 0);
        CHECK_EQ(e.orientation, 1);
        CHECK(!e.has_gps);
    }
    {
        /* Missing refs default to north/east; wrong types are ignored, not fatal. */
        const struct ent i0[] = {{0x0112, 4, 1, NULL, {3}}, {0x8825, 4, 1, NULL, {2}}};
        const struct ent gps[] = {
            {0x0002, 5, 3, NULL, {10, 1, 30, 1, 0, 1}},
            {0x0004, 5, 3, NULL, {20, 1, 15, 1, 0, 1}},
            {0x0006, 4, 1, NULL, {7}},
        };
        struct ifd ifds[3] = {{i0, N(i0)}, {NULL, 0}, {gps, N(gps)}};

        len = build(buf, sizeof(buf), false, ifds);
        CHECK_EQ(parse(buf, len, &e, &why), 0);
        CHECK_EQ(e.orientation, 1);
        CHECK(e.has_gps);
        CHECK(near(e.gps_lat, 10.5));
        CHECK(near(e.gps_lon, 20.25));
        CHECK(!e.has_gps_alt);
    }
}

/* Offsets inside a payload built by full(): TIFF starts at 6, IFD0 at TIFF + 8. */
#define TIFF 6
#define IFD0_ENTRY(i) (TIFF + 8 + 2 + 12 * (i))

static void test_hostile(void)
{
    uint8_t good[1024], buf[1024];
    struct img_exif e;
    const char *why = NULL;
    size_t len = full(good, sizeof(good), false);

#define MUTATE(stmt)                                                                               \
    do {                                                                                           \
        memcpy(buf, good, len);                                                                    \
        stmt;                                                                                      \
    } while (0)

    CHECK_EQ(parse((const uint8_t *)"", 0, &e, &why), IMG_E_EXIF);
    CHECK_EQ(parse((const uint8_t *)"Exif\0\0", 6, &e, &why), IMG_E_EXIF);
    CHECK_EQ(parse((const uint8_t *)"Exif\0\0II*\0", 10, &e, &why), IMG_E_EXIF);
    CHECK_EQ(parse((const uint8_t *)"Exif\0\0II*\0\x08\0\0\0", 14, &e, &why), IMG_E_EXIF);
    CHECK_EQ(parse((const uint8_t *)"Exif\0\0II*\0\x08\0\0\0\0\0", 16, &e, &why), 0);
    MUTATE(buf[0] = 'e');
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    CHECK_STR(why, "missing Exif signature");
    MUTATE(buf[TIFF] = 'X');
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    MUTATE(buf[TIFF + 2] = 43);
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    /* IFD0 offset far away, and near 2^32 (overflow of off + 2 in 32 bits). */
    MUTATE(w32(buf + TIFF + 4, false, 5000));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    MUTATE(w32(buf + TIFF + 4, false, 0xFFFFFFFFu));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    /* Entry counts: above the cap, and within the cap but past the end. */
    MUTATE(w16(buf + TIFF + 8, false, 0xFFFF));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    CHECK_STR(why, "IFD has too many entries");
    MUTATE(w16(buf + TIFF + 8, false, 200));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    /* Make: value offset past the end / wrapping, count of 4G. */
    MUTATE(w32(buf + IFD0_ENTRY(0) + 8, false, 0xFFFFFFFFu));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    MUTATE(w32(buf + IFD0_ENTRY(0) + 8, false, (uint32_t)len));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    MUTATE(w32(buf + IFD0_ENTRY(0) + 4, false, 0xFFFFFFFFu));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    /* Exif IFD pointer back to IFD0: a loop is refused, what IFD0 gave is kept. */
    MUTATE(w32(buf + IFD0_ENTRY(5) + 8, false, 8));
    CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
    CHECK_STR(why, "IFD offset points to an IFD already read");
    CHECK_EQ(e.orientation, 6);
    CHECK_STR(e.make, "Motorola");
    CHECK(!e.has_gps);
    /* GPS pointer to the Exif IFD. */
    {
        uint32_t exif_ifd = 8 + 2 + 12 * N(ifd0_full) + 4;

        MUTATE(w32(buf + IFD0_ENTRY(6) + 8, false, exif_ifd));
        CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
        CHECK_STR(e.datetime_original, "2024:06:02 18:05:00");
        /* A latitude whose count * 8 overflows 32 bits. */
        MUTATE(w32(buf + TIFF + exif_ifd + 2 + 12 * N(exif_full) + 4 + 2 + 12 * 1 + 4, false,
                   0x20000000u));
        CHECK_EQ(parse(buf, len, &e, &why), IMG_E_EXIF);
        CHECK(!e.has_gps);
    }
    /* A pointer of the wrong type is ignored, not followed. */
    MUTATE(w16(buf + IFD0_ENTRY(6) + 2, false, 3));
    CHECK_EQ(parse(buf, len, &e, &why), 0);
    CHECK(!e.has_gps);

    /* Every truncation: no crash, no out-of-bounds read (ASan), never a bogus orientation. */
    for (size_t cut = 0; cut < len; cut++) {
        int r = parse(good, cut, &e, &why);

        CHECK(r == 0 || r == IMG_E_EXIF);
    }
    /* Random mutations, little- and big-endian. */
    {
        uint32_t seed = 99;

        for (int iter = 0; iter < 20000; iter++) {
            size_t l = full(good, sizeof(good), iter % 2);
            int r;

            memcpy(buf, good, l);
            for (int f = 0; f < 1 + iter % 6; f++)
                buf[6 + t_rand(&seed) % (l - 6)] = (uint8_t)t_rand(&seed);
            r = parse(buf, l, &e, &why);
            CHECK(r == 0 || r == IMG_E_EXIF);
        }
    }
#undef MUTATE
}

int main(void)
{
    test_valid();
    test_values();
    test_hostile();
    return t_done("imaging-exif");
}
