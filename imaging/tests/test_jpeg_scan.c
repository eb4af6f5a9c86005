#include <stdlib.h>
#include <string.h>

#include "img_error.h"
#include "jpeg_scan.h"
#include "testutil.h"

static bool info_eq(const struct img_jpeg_info *a, const struct img_jpeg_info *b)
{
    return a->width == b->width && a->height == b->height && a->components == b->components &&
           a->precision == b->precision && memcmp(a->h_samp, b->h_samp, 4) == 0 &&
           memcmp(a->v_samp, b->v_samp, 4) == 0 && a->progressive == b->progressive &&
           a->arithmetic == b->arithmetic && a->lossless == b->lossless &&
           a->header_done == b->header_done && a->eoi == b->eoi && a->scans == b->scans &&
           a->has_exif == b->has_exif && a->has_icc == b->has_icc && a->has_adobe == b->has_adobe &&
           a->adobe_transform == b->adobe_transform && a->exif_offset == b->exif_offset &&
           a->exif_len == b->exif_len;
}

/* Feeds |buf| in chunks: |mode| 0 one feed, 1 byte by byte, otherwise random sizes seeded by it. */
static int feed(const uint8_t *buf, size_t len, const struct img_limits *lim, uint32_t mode,
                struct img_jpeg_info *ret, const char **why)
{
    struct img_jpeg_scan s;
    size_t off = 0;
    int r = 0;

    img_jpeg_scan_init(&s, lim);
    while (off < len && r == 0) {
        size_t n = mode == 0 ? len : mode == 1 ? 1 : 1 + t_rand(&mode) % 97;

        if (n > len - off)
            n = len - off;
        r = img_jpeg_scan_feed(&s, buf + off, n, why);
        off += n;
    }
    if (r == 0)
        r = img_jpeg_scan_end(&s, why);
    *ret = s.info;
    return r;
}

static void check_valid(const char *name, const uint8_t *buf, size_t len, uint32_t w, uint32_t h,
                        uint8_t comps, bool progressive)
{
    struct img_jpeg_info one, other;
    const char *why = NULL;
    int r;

    r = img_jpeg_probe(buf, len, NULL, &one, &why);
    if (r != 0)
        fprintf(stderr, "%s: probe failed: %s\n", name, why);
    CHECK_EQ(r, 0);
    CHECK_EQ(one.width, w);
    CHECK_EQ(one.height, h);
    CHECK_EQ(one.components, comps);
    CHECK_EQ(one.precision, 8);
    CHECK(one.progressive == progressive);
    CHECK(!one.arithmetic && !one.lossless);
    CHECK(one.header_done && one.eoi);
    CHECK(progressive ? one.scans > 1 : one.scans == 1);

    CHECK_EQ(feed(buf, len, NULL, 1, &other, &why), 0);
    CHECK(info_eq(&one, &other));
    for (uint32_t seed = 2; seed < 40; seed++) {
        CHECK_EQ(feed(buf, len, NULL, seed * 2654435761u, &other, &why), 0);
        CHECK(info_eq(&one, &other));
    }

    /* Every truncation is an error, never 0; the first bytes are NOT_JPEG. */
    for (size_t cut = 0; cut < len; cut++) {
        r = img_jpeg_probe(buf, cut, NULL, &other, &why);
        if (r == 0)
            fprintf(stderr, "%s: truncation at %zu accepted\n", name, cut);
        CHECK(r < 0);
        if (cut < 2)
            CHECK_EQ(r, IMG_E_NOT_JPEG);
        else
            CHECK(r == IMG_E_TRUNCATED || r == IMG_E_MALFORMED);
    }

    /* Bytes after EOI are ignored. */
    {
        uint8_t *more = malloc(len + 5);

        memcpy(more, buf, len);
        memcpy(more + len, "\xFF\xD8junk", 5);
        CHECK_EQ(img_jpeg_probe(more, len + 5, NULL, &other, &why), 0);
        CHECK(info_eq(&one, &other));
        free(more);
    }
}

static void test_valid(void)
{
    uint8_t exif[64];
    size_t exif_len = t_exif_orientation(exif, sizeof(exif), 6);
    uint8_t *px = t_pattern(64, 48, 3), *gray = t_pattern(33, 17, 1);
    struct t_jpeg_opts with_meta = {.app1 = exif, .app1_len = exif_len, .icc = true};
    struct t_jpeg_opts prog = {.progressive = true, .subsample = true, .restart_interval = 2};
    struct t_jpeg_opts rst = {.restart_interval = 1, .quality = 100};
    struct img_jpeg_info info;
    size_t len;
    uint8_t *j;

    j = t_make_jpeg(px, 64, 48, 3, &with_meta, &len);
    check_valid("baseline+exif", j, len, 64, 48, 3, false);
    CHECK_EQ(img_jpeg_probe(j, len, NULL, &info, NULL), 0);
    CHECK(info.has_exif && info.has_icc);
    CHECK_EQ(info.exif_len, exif_len);
    CHECK(info.exif_offset + exif_len <= len);
    CHECK(memcmp(j + info.exif_offset, exif, exif_len) == 0);
    CHECK_EQ(info.h_samp[0], 1);
    CHECK_EQ(info.v_samp[2], 1);
    free(j);

    j = t_make_jpeg(gray, 33, 17, 1, NULL, &len);
    check_valid("gray", j, len, 33, 17, 1, false);
    CHECK_EQ(img_jpeg_probe(j, len, NULL, &info, NULL), 0);
    CHECK(!info.has_exif && !info.has_icc);
    free(j);

    j = t_make_jpeg(px, 64, 48, 3, &prog, &len);
    check_valid("progressive", j, len, 64, 48, 3, true);
    CHECK_EQ(img_jpeg_probe(j, len, NULL, &info, NULL), 0);
    CHECK_EQ(info.h_samp[0], 2);
    CHECK_EQ(info.v_samp[0], 2);
    CHECK_EQ(info.h_samp[1], 1);
    free(j);

    j = t_make_jpeg(px, 64, 48, 3, &rst, &len);
    check_valid("restart", j, len, 64, 48, 3, false);
    free(j);

    free(px);
    free(gray);
}

/* Parameters of a hand-made JPEG skeleton: markers only, a few bytes of fake entropy data. */
struct hj {
    uint8_t sof, precision, nc, samp;
    uint16_t w, h;
    int scans;
    bool sos_first, second_sof, fill, rst;
};

static const struct hj good = {
    .sof = 0xC0, .precision = 8, .nc = 3, .samp = 0x11, .w = 100, .h = 80, .scans = 1};

static void put_sof(struct t_buf *b, const struct hj *o)
{
    t_put16be(b, 0xFF00 | o->sof);
    t_put16be(b, 8 + 3u * o->nc);
    t_put8(b, o->precision);
    t_put16be(b, o->h);
    t_put16be(b, o->w);
    t_put8(b, o->nc);
    for (unsigned i = 0; i < o->nc; i++) {
        t_put8(b, i + 1);
        t_put8(b, i == 0 ? o->samp : 0x11);
        t_put8(b, 0);
    }
}

static void put_sos(struct t_buf *b, const struct hj *o)
{
    t_put(b, "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10);
    t_put(b, "\x12\x34\xFF\x00\x56", 5);
    if (o->rst)
        t_put(b, "\xFF\xD0\x78\xFF\xD1\x9A", 6);
}

/* Builds the skeleton; |sos_at| (may be NULL) receives the offset of every SOS marker. */
static void hostile(struct t_buf *b, const struct hj *o, size_t *sos_at)
{
    t_put(b, "\xFF\xD8", 2);
    t_put(b, "\xFF\xE0\x00\x07JFIF\x00", 9);
    if (o->fill)
        t_put(b, "\xFF\xFF\xFF", 3);
    if (o->sos_first)
        put_sos(b, o);
    put_sof(b, o);
    if (o->second_sof)
        put_sof(b, o);
    for (int i = 0; i < o->scans; i++) {
        if (sos_at)
            sos_at[i] = b->len;
        if (o->fill)
            t_put8(b, 0xFF);
        put_sos(b, o);
    }
    t_put(b, "\xFF\xD9", 2);
}

static int probe_hj(const struct hj *o, const struct img_limits *lim, const char **why)
{
    struct t_buf b = {0};
    struct img_jpeg_info one, bytes;
    const char *why1 = NULL;
    int r, r1;

    hostile(&b, o, NULL);
    r = feed(b.p, b.len, lim, 0, &one, why);
    r1 = feed(b.p, b.len, lim, 1, &bytes, &why1);
    CHECK_EQ(r, r1);
    if (r < 0)
        CHECK_STR(*why, why1);
    t_buf_free(&b);
    return r;
}

/* The info a one-call probe of the skeleton gives; the probe must accept it. */
static void hostile_info(const struct hj *o, struct img_jpeg_info *ret)
{
    struct t_buf b = {0};
    const char *why = NULL;

    hostile(&b, o, NULL);
    CHECK_EQ(img_jpeg_probe(b.p, b.len, NULL, ret, &why), 0);
    t_buf_free(&b);
}

static void test_hostile_sof(void)
{
    struct img_limits lim;
    const char *why = NULL;
    struct hj o;

    CHECK_EQ(probe_hj(&good, NULL, &why), 0);
    o = good, o.fill = true, o.rst = true;
    CHECK_EQ(probe_hj(&o, NULL, &why), 0);
    o = good, o.sof = 0xC1;
    CHECK_EQ(probe_hj(&o, NULL, &why), 0);
    /* The skeleton's scan (0..63 at once) is sequential: a progressive file cannot have it. */
    o = good, o.sof = 0xC2;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_MALFORMED);
    CHECK_STR(why, "progressive scan with a bad spectral selection");
    o = good, o.nc = 1;
    CHECK_EQ(probe_hj(&o, NULL, &why), 0);

    o = good, o.w = 0;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_DIMENSIONS);
    CHECK_STR(why, "SOF declares 0 width");
    o = good, o.h = 0;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_DIMENSIONS);
    CHECK_STR(why, "SOF declares 0 height");
    o = good, o.w = 60000, o.h = 60000;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_DIMENSIONS);
    CHECK_STR(why, "image exceeds the pixel limit");
    o = good, o.w = 65535, o.h = 1;
    CHECK_EQ(probe_hj(&o, NULL, &why), 0);
    img_limits_init(&lim);
    lim.max_side = 1000;
    o = good, o.w = 1001, o.h = 10;
    CHECK_EQ(probe_hj(&o, &lim, &why), IMG_E_DIMENSIONS);
    CHECK_STR(why, "image side exceeds the side limit");
    lim.max_side = 65535;
    lim.max_pixels = 7999;
    CHECK_EQ(probe_hj(&good, &lim, &why), IMG_E_DIMENSIONS);
    lim.max_pixels = 8000;
    CHECK_EQ(probe_hj(&good, &lim, &why), 0);

    o = good, o.nc = 4; /* CMYK or YCCK */
    CHECK_EQ(probe_hj(&o, NULL, &why), 0);
    o = good, o.nc = 5;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_UNSUPPORTED);
    o = good, o.nc = 2;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_UNSUPPORTED);
    o = good, o.nc = 0;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_MALFORMED);
    o = good, o.precision = 12;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_UNSUPPORTED);
    CHECK_STR(why, "only 8-bit precision is supported");
    o = good, o.sof = 0xC3;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_UNSUPPORTED);
    CHECK(strstr(why, "lossless") != NULL);
    /* Hierarchical (SOF5..7, SOF13..15) and lossless arithmetic (SOF11) stay refused. */
    for (unsigned m = 0xC5; m <= 0xCF; m++) {
        if (m == 0xC8 || m == 0xC9 || m == 0xCA || m == 0xCC)
            continue;
        o = good, o.sof = (uint8_t)m;
        CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_UNSUPPORTED);
        CHECK(strstr(why, m == 0xCB ? "lossless" : "hierarchical") != NULL);
    }
    {
        struct img_jpeg_info info;

        o = good, o.sof = 0xC9; /* arithmetic, sequential */
        hostile_info(&o, &info);
        CHECK(info.arithmetic && !info.progressive);
    }
    o = good, o.samp = 0x51;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_MALFORMED);
    o = good, o.samp = 0x10;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_MALFORMED);
    o = good, o.samp = 0x44;
    CHECK_EQ(probe_hj(&o, NULL, &why), 0);
    o = good, o.second_sof = true;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_MALFORMED);
    CHECK_STR(why, "second SOF marker");
    o = good, o.sos_first = true;
    CHECK_EQ(probe_hj(&o, NULL, &why), IMG_E_MALFORMED);
    CHECK_STR(why, "SOS marker before SOF");

    /* The streaming user sees the declared size even when it is refused, to log it. */
    {
        struct t_buf b = {0};
        struct img_jpeg_scan s;

        o = good, o.w = 60000, o.h = 60000;
        hostile(&b, &o, NULL);
        img_jpeg_scan_init(&s, NULL);
        CHECK_EQ(img_jpeg_scan_feed(&s, b.p, b.len, &why), IMG_E_DIMENSIONS);
        CHECK_EQ(s.info.width, 60000);
        CHECK(!s.info.header_done);
        t_buf_free(&b);
    }
}

static int probe_bytes(const void *p, size_t len, const struct img_limits *lim, const char **why);

/* One scan of a hand-made skeleton: |ns| components by id, spectral selection and approximation. */
struct sc {
    uint8_t ns, id[4], ss, se, ah, al;
};

/* SOI, a SOF |sof| of |nc| components (ids 1..nc), the |n| scans of |scans| with a few bytes of
 * fake entropy data each, EOI. |sos_at| (may be NULL) receives the offset of every SOS marker. */
static void skeleton(struct t_buf *b, uint8_t sof, uint8_t nc, const struct sc *scans, size_t n,
                     size_t *sos_at)
{
    struct hj o = good;

    o.sof = sof, o.nc = nc;
    t_put(b, "\xFF\xD8", 2);
    put_sof(b, &o);
    for (size_t i = 0; i < n; i++) {
        const struct sc *c = &scans[i];

        if (sos_at)
            sos_at[i] = b->len;
        t_put16be(b, 0xFFDA);
        t_put16be(b, 6 + 2u * c->ns);
        t_put8(b, c->ns);
        for (unsigned k = 0; k < c->ns; k++) {
            t_put8(b, c->id[k]);
            t_put8(b, 0);
        }
        t_put8(b, c->ss);
        t_put8(b, c->se);
        t_put8(b, (uint8_t)(c->ah << 4 | c->al));
        t_put(b, "\x12\x34", 2);
    }
    t_put(b, "\xFF\xD9", 2);
}

static int probe_scans(uint8_t sof, uint8_t nc, const struct sc *scans, size_t n,
                       const struct img_limits *lim, const char **why)
{
    struct t_buf b = {0};
    int r;

    skeleton(&b, sof, nc, scans, n, NULL);
    r = probe_bytes(b.p, b.len, lim, why);
    t_buf_free(&b);
    return r;
}

/*
 * The longest legal progression of one component: each of the 64 coefficients on its own, first
 * from bit 13, then refined bit by bit down to 0: 64 * 14 = 896 scans, every one coding new bits.
 */
static struct sc longest(size_t i)
{
    unsigned k = (unsigned)(i / 14), step = (unsigned)(i % 14);
    struct sc c = {.ns = 1, .id = {1}, .ss = (uint8_t)k, .se = (uint8_t)k};

    c.ah = (uint8_t)(step == 0 ? 0 : 14 - step);
    c.al = (uint8_t)(13 - step);
    return c;
}

static void test_scan_count(void)
{
    enum { N = 896 };
    static struct sc scans[N];
    static size_t sos_at[N];
    struct t_buf b = {0};
    struct img_jpeg_scan s;
    struct img_limits lim;
    const char *why = NULL;
    size_t i;
    int r = 0;

    for (i = 0; i < N; i++)
        scans[i] = longest(i);
    img_limits_init(&lim);
    lim.max_scans = N;
    CHECK_EQ(probe_scans(0xC2, 1, scans, N, &lim, &why), 0);
    CHECK_EQ(probe_scans(0xCA, 1, scans, N, &lim, &why), 0); /* arithmetic: the same rules */

    /* Legal or not, the default limit refuses exactly when the marker code of SOS 501 arrives. */
    skeleton(&b, 0xC2, 1, scans, N, sos_at);
    CHECK_EQ(probe_bytes(b.p, b.len, NULL, &why), IMG_E_TOO_MANY_SCANS);
    CHECK_STR(why, "more scans than the scan limit");
    img_jpeg_scan_init(&s, NULL);
    for (i = 0; i < b.len && r == 0; i++)
        r = img_jpeg_scan_feed(&s, b.p + i, 1, &why);
    CHECK_EQ(r, IMG_E_TOO_MANY_SCANS);
    CHECK_EQ(i, sos_at[500] + 2);
    CHECK_EQ(s.info.scans, 501);
    /* Stuck: the same error and why from now on. */
    {
        const char *again = NULL;

        CHECK_EQ(img_jpeg_scan_feed(&s, "\xFF\xD9", 2, &again), IMG_E_TOO_MANY_SCANS);
        CHECK_STR(again, why);
        again = NULL;
        CHECK_EQ(img_jpeg_scan_end(&s, &again), IMG_E_TOO_MANY_SCANS);
        CHECK_STR(again, why);
    }
    t_buf_free(&b);

    CHECK_EQ(probe_scans(0xC2, 1, scans, 500, NULL, &why), 0);
    img_limits_init(&lim);
    lim.max_scans = 3;
    CHECK_EQ(probe_scans(0xC2, 1, scans, 4, &lim, &why), IMG_E_TOO_MANY_SCANS);
    CHECK_EQ(probe_scans(0xC2, 1, scans, 3, &lim, &why), 0);
}

static void test_scan_rules(void)
{
    static const struct sc dc3 = {.ns = 3, .id = {1, 2, 3}, .ss = 0, .se = 0, .ah = 0, .al = 1};
    static const struct sc seq1 = {.ns = 1, .id = {1}, .ss = 0, .se = 63};
    const char *why = NULL;

    /* Sequential: each component once, interleaved or not, in any order. */
    {
        const struct sc one[] = {{.ns = 3, .id = {1, 2, 3}, .se = 63}};
        const struct sc split[] = {{.ns = 1, .id = {3}, .se = 63},
                                   {.ns = 2, .id = {1, 2}, .se = 63}};
        const struct sc again[] = {seq1, {.ns = 2, .id = {2, 1}, .se = 63}};
        const struct sc twice[] = {{.ns = 2, .id = {1, 1}, .se = 63}};
        const struct sc unknown[] = {{.ns = 1, .id = {7}, .se = 63}};

        CHECK_EQ(probe_scans(0xC0, 3, one, 1, NULL, &why), 0);
        CHECK_EQ(probe_scans(0xC0, 3, split, 2, NULL, &why), 0);
        CHECK_EQ(probe_scans(0xC9, 3, split, 2, NULL, &why), 0);
        CHECK_EQ(probe_scans(0xC0, 3, again, 2, NULL, &why), IMG_E_TOO_MANY_SCANS);
        CHECK_STR(why, "scan adds nothing: its component was already coded");
        CHECK_EQ(probe_scans(0xC0, 3, twice, 1, NULL, &why), IMG_E_MALFORMED);
        CHECK_EQ(probe_scans(0xC0, 3, unknown, 1, NULL, &why), IMG_E_MALFORMED);
        CHECK_STR(why, "SOS names a component the SOF does not declare");
    }

    /* Progressive: interleaved DC, bands per component, refinements in order. */
    {
        const struct sc legal[] = {
            dc3,
            {.ns = 1, .id = {1}, .ss = 1, .se = 5, .al = 2},
            {.ns = 1, .id = {3}, .ss = 1, .se = 63, .al = 1},
            {.ns = 1, .id = {2}, .ss = 1, .se = 63, .al = 1},
            {.ns = 1, .id = {1}, .ss = 6, .se = 63, .al = 2},
            {.ns = 3, .id = {1, 2, 3}, .ss = 0, .se = 0, .ah = 1, .al = 0},
            {.ns = 1, .id = {1}, .ss = 1, .se = 63, .ah = 2, .al = 1},
            {.ns = 1, .id = {1}, .ss = 1, .se = 63, .ah = 1, .al = 0},
        };

        CHECK_EQ(probe_scans(0xC2, 3, legal, 8, NULL, &why), 0);
        CHECK_EQ(probe_scans(0xCA, 3, legal, 8, NULL, &why), 0);
    }
    /* The bombs: a scan whose every bit was coded before. */
    {
        const struct sc first_twice[] = {dc3, dc3};
        const struct sc refine_twice[] = {
            dc3,
            {.ns = 3, .id = {1, 2, 3}, .ah = 1, .al = 0},
            {.ns = 1, .id = {2}, .ah = 1, .al = 0},
        };
        const struct sc ac_twice[] = {
            dc3,
            {.ns = 1, .id = {1}, .ss = 1, .se = 9},
            {.ns = 1, .id = {1}, .ss = 9, .se = 20},
        };
        const struct sc first_after_refine[] = {
            dc3,
            {.ns = 3, .id = {1, 2, 3}, .ah = 1, .al = 0},
            {.ns = 1, .id = {3}, .al = 0},
        };

        CHECK_EQ(probe_scans(0xC2, 3, first_twice, 2, NULL, &why), IMG_E_TOO_MANY_SCANS);
        CHECK_STR(why, "scan adds nothing: its coefficient bits were already coded");
        CHECK_EQ(probe_scans(0xC2, 3, refine_twice, 3, NULL, &why), IMG_E_TOO_MANY_SCANS);
        CHECK_EQ(probe_scans(0xC2, 3, ac_twice, 3, NULL, &why), IMG_E_TOO_MANY_SCANS);
        CHECK_EQ(probe_scans(0xCA, 3, ac_twice, 3, NULL, &why), IMG_E_TOO_MANY_SCANS);
        CHECK_EQ(probe_scans(0xC2, 3, first_after_refine, 3, NULL, &why), IMG_E_TOO_MANY_SCANS);
    }
    /* What libjpeg calls a bad or bogus progression. */
    {
        const struct sc dc_band[] = {{.ns = 1, .id = {1}, .ss = 0, .se = 5}};
        const struct sc ac_two[] = {dc3, {.ns = 2, .id = {1, 2}, .ss = 1, .se = 63}};
        const struct sc ac_past[] = {dc3, {.ns = 1, .id = {1}, .ss = 1, .se = 64}};
        const struct sc ac_back[] = {dc3, {.ns = 1, .id = {1}, .ss = 9, .se = 8}};
        const struct sc ac_first[] = {{.ns = 1, .id = {1}, .ss = 1, .se = 63}};
        const struct sc refine_first[] = {{.ns = 1, .id = {1}, .ah = 1, .al = 0}};
        const struct sc refine_skip[] = {{.ns = 1, .id = {1}, .al = 5},
                                         {.ns = 1, .id = {1}, .ah = 3, .al = 2}};
        const struct sc refine_two[] = {{.ns = 1, .id = {1}, .al = 5},
                                        {.ns = 1, .id = {1}, .ah = 5, .al = 3}};
        const struct sc al14[] = {{.ns = 1, .id = {1}, .al = 14}};

        CHECK_EQ(probe_scans(0xC2, 3, dc_band, 1, NULL, &why), IMG_E_MALFORMED);
        CHECK_STR(why, "progressive scan with a bad spectral selection");
        CHECK_EQ(probe_scans(0xC2, 3, ac_two, 2, NULL, &why), IMG_E_MALFORMED);
        CHECK_EQ(probe_scans(0xC2, 3, ac_past, 2, NULL, &why), IMG_E_MALFORMED);
        CHECK_EQ(probe_scans(0xC2, 3, ac_back, 2, NULL, &why), IMG_E_MALFORMED);
        CHECK_EQ(probe_scans(0xC2, 3, ac_first, 1, NULL, &why), IMG_E_MALFORMED);
        CHECK_STR(why, "progressive AC scan before its DC scan");
        CHECK_EQ(probe_scans(0xC2, 3, refine_first, 1, NULL, &why), IMG_E_MALFORMED);
        CHECK_STR(why, "progressive refinement scan out of order");
        CHECK_EQ(probe_scans(0xC2, 3, refine_skip, 2, NULL, &why), IMG_E_MALFORMED);
        CHECK_EQ(probe_scans(0xC2, 3, refine_two, 2, NULL, &why), IMG_E_MALFORMED);
        CHECK_STR(why, "progressive scan with a bad successive approximation");
        CHECK_EQ(probe_scans(0xC2, 3, al14, 1, NULL, &why), IMG_E_MALFORMED);
    }
}

static int probe_bytes(const void *p, size_t len, const struct img_limits *lim, const char **why)
{
    struct img_jpeg_info a, b;
    const char *why1 = NULL;
    int r = feed(p, len, lim, 0, &a, why), r1 = feed(p, len, lim, 1, &b, &why1);

    CHECK_EQ(r, r1);
    if (r == 0)
        CHECK(info_eq(&a, &b));
    return r;
}

#define PROBE(lit, lim, why) probe_bytes(lit, sizeof(lit) - 1, lim, why)

/* A complete valid skeleton after the SOI: gray 1x1, one scan, 1 byte of data, EOI. */
#define BODY                                                                                       \
    "\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00"                                         \
    "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x12\xFF\xD9"

static void test_hostile_bytes(void)
{
    struct img_limits lim;
    const char *why = NULL;
    struct img_jpeg_scan s;

    CHECK_EQ(PROBE("\xFF\xD8" BODY, NULL, &why), 0);
    CHECK_EQ(PROBE("", NULL, &why), IMG_E_NOT_JPEG);
    CHECK_STR(why, "empty input");
    CHECK_EQ(PROBE("GIF89a", NULL, &why), IMG_E_NOT_JPEG);
    CHECK_STR(why, "missing SOI marker");
    CHECK_EQ(PROBE("\xFF\xD9", NULL, &why), IMG_E_NOT_JPEG);
    CHECK_EQ(PROBE("\xFF", NULL, &why), IMG_E_NOT_JPEG);
    CHECK_EQ(PROBE("\x89PNG\r\n\x1a\n", NULL, &why), IMG_E_NOT_JPEG);

    /* NOT_JPEG right after a first byte that is not FF. */
    img_jpeg_scan_init(&s, NULL);
    CHECK_EQ(img_jpeg_scan_feed(&s, "G", 1, &why), IMG_E_NOT_JPEG);
    img_jpeg_scan_init(&s, NULL);
    CHECK_EQ(img_jpeg_scan_feed(&s, "\xFF", 1, &why), 0);
    CHECK_EQ(img_jpeg_scan_feed(&s, "", 0, &why), 0);
    CHECK_EQ(img_jpeg_scan_feed(&s, "\xD8", 1, &why), 0);
    CHECK_EQ(img_jpeg_scan_end(&s, &why), IMG_E_MALFORMED);
    CHECK_STR(why, "missing SOF marker");

    /* Segment lengths below 2. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xE0\x00\x00" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_STR(why, "segment length is less than 2");
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xE0\x00\x01" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xFE\x00\x02" BODY, NULL, &why), 0); /* empty COM */
    /* A length running past the end of the input. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xE0\xFF\xFF" BODY, NULL, &why), IMG_E_TRUNCATED);
    /* SOF length that does not match its component count. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x0C\x08\x00\x01\x00\x01\x01\x01\x11\x00\x00"
                   "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x12\xFF\xD9",
                   NULL, &why),
             IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x02" BODY, NULL, &why), IMG_E_MALFORMED);
    /* SOS with a bad component count / length. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00"
                   "\xFF\xDA\x00\x08\x02\x01\x00\x00\x3F\x00\x12\xFF\xD9",
                   NULL, &why),
             IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00"
                   "\xFF\xDA\x00\x02\x12\xFF\xD9",
                   NULL, &why),
             IMG_E_MALFORMED);
    /* Garbage between segments, FF 00 and RST outside entropy data, unknown markers. */
    CHECK_EQ(PROBE("\xFF\xD8\x00" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\x00" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xD0" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC8\x00\x02" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\x02\x00\x02" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xD8" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xDE\x00\x02" BODY, NULL, &why), IMG_E_UNSUPPORTED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xCC\x00\x02" BODY, NULL, &why), 0); /* DAC: arithmetic */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xDD\x00\x03\x00" BODY, NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xDD\x00\x04\x00\x01" BODY, NULL, &why), 0);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\x01" BODY, NULL, &why), 0); /* TEM is standalone */
    /* EOI too early, and scans without data. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xD9", NULL, &why), IMG_E_MALFORMED);
    CHECK_EQ(
        PROBE("\xFF\xD8\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00\xFF\xD9", NULL, &why),
        IMG_E_MALFORMED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00"
                   "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\xFF\xD9",
                   NULL, &why),
             IMG_E_MALFORMED);
    /* Headers complete, data cut. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00"
                   "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x12\x34",
                   NULL, &why),
             IMG_E_TRUNCATED);
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00", NULL, &why),
             IMG_E_MALFORMED);
    CHECK_STR(why, "missing SOS marker");
    /* Stuffing, fill and restart markers inside entropy data; a DHT between scans. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC2\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00"
                   "\xFF\xDA\x00\x08\x01\x01\x00\x00\x00\x00\xFF\x00\xFF\xD7\x01\xFF\xFF\xD0"
                   "\xFF\xC4\x00\x02\xFF\xFF\xDA\x00\x08\x01\x01\x00\x01\x3F\x00\x12\xFF\xFF\xD9",
                   NULL, &why),
             0);
    /* The same two scans in a sequential file: the second decodes the component again. */
    CHECK_EQ(PROBE("\xFF\xD8\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00"
                   "\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\xFF\x00\xFF\xD7\x01\xFF\xFF\xD0"
                   "\xFF\xC4\x00\x02\xFF\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x12\xFF\xFF\xD9",
                   NULL, &why),
             IMG_E_TOO_MANY_SCANS);

    /* EXIF size limit: applies to the Exif APP1 only, not to XMP. */
    {
        struct t_buf b = {0};
        uint8_t pad[200] = {0};

        img_limits_init(&lim);
        lim.max_exif_bytes = 100;
        t_put(&b, "\xFF\xD8\xFF\xE1", 4);
        t_put16be(&b, 2 + 6 + sizeof(pad));
        t_put(&b, "Exif\0\0", 6);
        t_put(&b, pad, sizeof(pad));
        t_put(&b, BODY, sizeof(BODY) - 1);
        CHECK_EQ(probe_bytes(b.p, b.len, &lim, &why), IMG_E_EXIF);
        CHECK_EQ(probe_bytes(b.p, b.len, NULL, &why), 0);
        memcpy(b.p + 6, "Xmp\0\0\0", 6);
        CHECK_EQ(probe_bytes(b.p, b.len, &lim, &why), 0);
        t_buf_free(&b);
    }
}

/* Random mutations of a real JPEG: never a crash, and chunking never changes the verdict. */
static void test_mutations(void)
{
    uint8_t *px = t_pattern(24, 16, 3);
    struct t_jpeg_opts prog = {.progressive = true};
    size_t len;
    uint8_t *j = t_make_jpeg(px, 24, 16, 3, &prog, &len), *m = malloc(len);
    uint32_t seed = 12345;
    int accepted = 0;

    for (int iter = 0; iter < 3000; iter++) {
        struct img_jpeg_info a, b;
        const char *wa = NULL, *wb = NULL;
        int ra, rb, flips = 1 + (int)(t_rand(&seed) % 4);
        size_t mlen = len;

        memcpy(m, j, len);
        for (int f = 0; f < flips; f++) {
            size_t at = t_rand(&seed) % len;

            if (t_rand(&seed) % 2)
                m[at] = (uint8_t)t_rand(&seed);
            else
                m[at] = 0xFF;
        }
        if (iter % 7 == 0)
            mlen = t_rand(&seed) % len;
        ra = feed(m, mlen, NULL, 0, &a, &wa);
        rb = feed(m, mlen, NULL, 1 + iter % 5, &b, &wb);
        CHECK_EQ(ra, rb);
        if (ra == 0) {
            CHECK(info_eq(&a, &b));
            accepted++;
        } else {
            CHECK_STR(wa, wb);
        }
    }
    CHECK(accepted > 0); /* flips inside entropy data keep the structure */
    free(m);
    free(j);
    free(px);
}

int main(void)
{
    test_valid();
    test_hostile_sof();
    test_scan_count();
    test_scan_rules();
    test_hostile_bytes();
    test_mutations();
    return t_done("imaging-jpeg_scan");
}
