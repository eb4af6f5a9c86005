#include "jpeg_scan.h"

#include <string.h>

#include "img_error.h"

enum {
    ST_SOI0,        /* expecting FF of SOI */
    ST_SOI1,        /* expecting D8 of SOI */
    ST_MARKER,      /* between segments: expecting FF */
    ST_MARKER_CODE, /* after FF between segments: fill FF or a marker code */
    ST_LEN0,        /* first byte of a segment length */
    ST_LEN1,        /* second byte of a segment length */
    ST_SEGMENT,     /* inside a segment payload */
    ST_ENTROPY,     /* entropy-coded data after an SOS header */
    ST_ENTROPY_FF,  /* after FF in entropy-coded data */
    ST_DONE,        /* EOI seen: the rest is ignored */
};

enum {
    M_SOF0 = 0xC0,
    M_SOF1 = 0xC1,
    M_SOF2 = 0xC2,
    M_SOF3 = 0xC3,
    M_DHT = 0xC4,
    M_SOF15 = 0xCF,
    M_JPG = 0xC8,
    M_DAC = 0xCC,
    M_RST0 = 0xD0,
    M_RST7 = 0xD7,
    M_SOI = 0xD8,
    M_EOI = 0xD9,
    M_SOS = 0xDA,
    M_DQT = 0xDB,
    M_DNL = 0xDC,
    M_DRI = 0xDD,
    M_DHP = 0xDE,
    M_EXP = 0xDF,
    M_APP0 = 0xE0,
    M_APP1 = 0xE1,
    M_APP2 = 0xE2,
    M_APP14 = 0xEE,
    M_APP15 = 0xEF,
    M_COM = 0xFE,
    M_TEM = 0x01,
};

static const uint8_t exif_magic[6] = {'E', 'x', 'i', 'f', 0, 0};
static const uint8_t icc_magic[12] = {'I', 'C', 'C', '_', 'P', 'R', 'O', 'F', 'I', 'L', 'E', 0};
static const uint8_t adobe_magic[5] = {'A', 'd', 'o', 'b', 'e'};

/* coef_al[][] before the first scan that codes the coefficient. */
#define SCAN_UNCODED 0xFF

static int fail(struct img_jpeg_scan *s, int err, const char *why)
{
    s->err = err;
    s->why = why;
    return err;
}

void img_jpeg_scan_init(struct img_jpeg_scan *s, const struct img_limits *lim)
{
    memset(s, 0, sizeof(*s));
    memset(s->coef_al, SCAN_UNCODED, sizeof(s->coef_al));
    s->state = ST_SOI0;
    if (lim)
        s->limits = *lim;
    else
        img_limits_init(&s->limits);
}

static bool is_sof(uint8_t m)
{
    return m >= M_SOF0 && m <= M_SOF15 && m != M_DHT && m != M_JPG && m != M_DAC;
}

/* A marker code other than fill FF, FF 00 stuffing and (in entropy data) RSTn has arrived. */
static int on_marker(struct img_jpeg_scan *s, uint8_t m)
{
    struct img_jpeg_info *in = &s->info;

    if (m == M_SOI)
        return fail(s, IMG_E_MALFORMED, "unexpected SOI marker");
    if (m == M_EOI) {
        if (in->scans == 0)
            return fail(s, IMG_E_MALFORMED, "EOI marker before any scan");
        if (s->entropy_bytes == 0)
            return fail(s, IMG_E_MALFORMED, "no entropy-coded data before EOI");
        in->eoi = true;
        s->state = ST_DONE;
        return 0;
    }
    if (m >= M_RST0 && m <= M_RST7)
        return fail(s, IMG_E_MALFORMED, "restart marker outside entropy-coded data");
    if (m == M_TEM) {
        s->state = ST_MARKER;
        return 0;
    }
    if (is_sof(m)) {
        if (s->sof_seen)
            return fail(s, IMG_E_MALFORMED, "second SOF marker");
        /* The flags are set before refusing, so the caller can log what the phone sent. */
        in->progressive = (m & 0x03) == 2;
        in->lossless = (m & 0x03) == 3;
        in->arithmetic = m >= 0xC9;
        /* SOF5..7 and SOF13..15: differential frames of a hierarchical image. */
        if (m & 0x04)
            return fail(s, IMG_E_UNSUPPORTED, "hierarchical JPEG is not supported");
        if (in->lossless)
            return fail(s, IMG_E_UNSUPPORTED, "lossless JPEG is not supported");
        s->sof_seen = true;
    } else if (m == M_SOS) {
        if (!s->sof_seen)
            return fail(s, IMG_E_MALFORMED, "SOS marker before SOF");
        /* Counted at the marker, before its header, so a scan bomb is refused at the first
         * excess SOS. */
        in->scans++;
        if (in->scans > s->limits.max_scans)
            return fail(s, IMG_E_TOO_MANY_SCANS, "more scans than the scan limit");
    } else if (m == M_DHP || m == M_EXP) {
        return fail(s, IMG_E_UNSUPPORTED, "hierarchical JPEG is not supported");
    } else if (!(m == M_DHT || m == M_DAC || m == M_DQT || m == M_DNL || m == M_DRI ||
                 (m >= M_APP0 && m <= M_APP15) || m == M_COM)) {
        /* libjpeg refuses these too, so accepting them here would only move the error. */
        return fail(s, IMG_E_MALFORMED, "unknown marker");
    }
    s->marker = m;
    s->state = ST_LEN0;
    return 0;
}

static int end_sof(struct img_jpeg_scan *s)
{
    struct img_jpeg_info *in = &s->info;
    const uint8_t *p = s->seg;

    if (s->seg_len < 8)
        return fail(s, IMG_E_MALFORMED, "SOF segment too short");
    in->precision = p[0];
    in->height = (uint32_t)p[1] << 8 | p[2];
    in->width = (uint32_t)p[3] << 8 | p[4];
    in->components = p[5];
    if (s->seg_len != 8 + 3 * (unsigned)in->components)
        return fail(s, IMG_E_MALFORMED, "SOF length does not match its component count");
    if (in->precision != 8)
        return fail(s, IMG_E_UNSUPPORTED, "only 8-bit precision is supported");
    if (in->components == 0)
        return fail(s, IMG_E_MALFORMED, "SOF declares 0 components");
    if (in->components != 1 && in->components != 3 && in->components != 4)
        return fail(s, IMG_E_UNSUPPORTED,
                    "only 1 (gray), 3 (colour) or 4 (CMYK/YCCK) components are supported");
    for (unsigned i = 0; i < in->components; i++) {
        uint8_t h = p[6 + 3 * i + 1] >> 4, v = p[6 + 3 * i + 1] & 0x0F;

        if (h < 1 || h > 4 || v < 1 || v > 4)
            return fail(s, IMG_E_MALFORMED, "SOF sampling factor out of range 1..4");
        s->comp_id[i] = p[6 + 3 * i];
        in->h_samp[i] = h;
        in->v_samp[i] = v;
    }
    if (in->width == 0)
        return fail(s, IMG_E_DIMENSIONS, "SOF declares 0 width");
    if (in->height == 0)
        return fail(s, IMG_E_DIMENSIONS, "SOF declares 0 height");
    if (in->width > s->limits.max_side || in->height > s->limits.max_side)
        return fail(s, IMG_E_DIMENSIONS, "image side exceeds the side limit");
    if ((uint64_t)in->width * in->height > s->limits.max_pixels)
        return fail(s, IMG_E_DIMENSIONS, "image exceeds the pixel limit");
    return 0;
}

/* Sequential: T.81 codes each component in exactly one scan. A second scan of it would only be
 * decoded over the first, at the cost of a full pass: the sequential form of a scan bomb. */
static int check_sequential(struct img_jpeg_scan *s, unsigned in_scan)
{
    if (s->seq_done & in_scan)
        return fail(s, IMG_E_TOO_MANY_SCANS, "scan adds nothing: its component was already coded");
    s->seq_done |= (uint8_t)in_scan;
    return 0;
}

/*
 * Progressive: the rules of T.81 G.1.1.1 that libjpeg enforces (bad ones are its errors) and the
 * order it expects (a wrong one is its "bogus progression" warning, which our decoder refuses).
 * Every legal scan codes at least one new bit of some coefficient (a first scan from bit Al up,
 * a refinement exactly bit Al), so the legal progressions are finite; a scan whose bits were all
 * coded before adds nothing and is the repeated-scan bomb.
 */
static int check_progressive(struct img_jpeg_scan *s, const uint8_t *comp, unsigned ns, unsigned ss,
                             unsigned se, unsigned ah, unsigned al)
{
    if (ss == 0 ? se != 0 : (se < ss || se > 63 || ns != 1))
        return fail(s, IMG_E_MALFORMED, "progressive scan with a bad spectral selection");
    if (al > 13 || (ah != 0 && al + 1 != ah))
        return fail(s, IMG_E_MALFORMED, "progressive scan with a bad successive approximation");
    for (unsigned i = 0; i < ns; i++) {
        uint8_t *coded = s->coef_al[comp[i]];

        if (ss > 0 && coded[0] == SCAN_UNCODED)
            return fail(s, IMG_E_MALFORMED, "progressive AC scan before its DC scan");
        for (unsigned k = ss; k <= se; k++) {
            if (ah == 0 ? coded[k] != SCAN_UNCODED : (coded[k] != SCAN_UNCODED && coded[k] <= al))
                return fail(s, IMG_E_TOO_MANY_SCANS,
                            "scan adds nothing: its coefficient bits were already coded");
            if (ah != 0 && coded[k] != ah)
                return fail(s, IMG_E_MALFORMED, "progressive refinement scan out of order");
            coded[k] = (uint8_t)al;
        }
    }
    return 0;
}

static int end_sos(struct img_jpeg_scan *s)
{
    const uint8_t *p = s->seg;
    unsigned ns = s->seg_len >= 3 ? p[0] : 0, in_scan = 0;
    uint8_t comp[4];
    int r;

    if (ns < 1 || ns > 4 || ns > s->info.components)
        return fail(s, IMG_E_MALFORMED, "SOS component count out of range");
    if (s->seg_len != 6 + 2 * ns)
        return fail(s, IMG_E_MALFORMED, "SOS length does not match its component count");
    for (unsigned i = 0; i < ns; i++) {
        unsigned c = 0;

        /* Like libjpeg, a selector takes the first component of that id not yet in this scan,
         * which tolerates the files that give two components the same id. */
        while (c < s->info.components && (s->comp_id[c] != p[1 + 2 * i] || (in_scan & (1u << c))))
            c++;
        if (c == s->info.components)
            return fail(s, IMG_E_MALFORMED, "SOS names a component the SOF does not declare");
        in_scan |= 1u << c;
        comp[i] = (uint8_t)c;
    }
    p += 1 + 2 * ns;
    if (s->info.progressive)
        r = check_progressive(s, comp, ns, p[0], p[1], p[2] >> 4, p[2] & 0x0F);
    else
        r = check_sequential(s, in_scan);
    if (r < 0)
        return r;
    s->info.header_done = true;
    s->state = ST_ENTROPY;
    return 0;
}

static int end_segment(struct img_jpeg_scan *s)
{
    struct img_jpeg_info *in = &s->info;

    s->state = ST_MARKER;
    if (is_sof(s->marker))
        return end_sof(s);
    if (s->marker == M_SOS)
        return end_sos(s);
    if (s->marker == M_DRI && s->seg_len != 4)
        return fail(s, IMG_E_MALFORMED, "DRI segment length is not 4");
    if (s->marker == M_APP1 && !in->has_exif && s->seg_have >= sizeof(exif_magic) &&
        memcmp(s->seg, exif_magic, sizeof(exif_magic)) == 0) {
        in->has_exif = true;
        in->exif_offset = s->seg_start;
        in->exif_len = (uint32_t)s->seg_len - 2;
        if (in->exif_len > s->limits.max_exif_bytes)
            return fail(s, IMG_E_EXIF, "EXIF segment exceeds the EXIF size limit");
    }
    /* libjpeg needs 12 bytes to take the marker, and the last one wins. */
    if (s->marker == M_APP14 && s->seg_have >= 12 &&
        memcmp(s->seg, adobe_magic, sizeof(adobe_magic)) == 0) {
        in->has_adobe = true;
        in->adobe_transform = s->seg[11];
    }
    if (s->marker == M_APP2 && s->seg_have >= sizeof(icc_magic) &&
        memcmp(s->seg, icc_magic, sizeof(icc_magic)) == 0)
        in->has_icc = true;
    return 0;
}

static int done(struct img_jpeg_scan *s, int r, const char **ret_why)
{
    if (r < 0 && ret_why)
        *ret_why = s->why;
    return r;
}

int img_jpeg_scan_feed(struct img_jpeg_scan *s, const void *buf, size_t len, const char **ret_why)
{
    const uint8_t *start = buf, *p = buf, *end;
    uint64_t base = s->pos;
    int r = 0;

    if (s->err)
        return done(s, s->err, ret_why);
    if (len == 0) /* |buf| may be NULL then, and NULL + 0 is undefined */
        return 0;
    end = p + len;
    while (p < end && r == 0) {
        switch (s->state) {
        case ST_SOI0:
            if (*p++ != 0xFF)
                r = fail(s, IMG_E_NOT_JPEG, "missing SOI marker");
            s->state = ST_SOI1;
            break;
        case ST_SOI1:
            if (*p++ != M_SOI)
                r = fail(s, IMG_E_NOT_JPEG, "missing SOI marker");
            s->state = ST_MARKER;
            break;
        case ST_MARKER:
            if (*p++ != 0xFF)
                r = fail(s, IMG_E_MALFORMED, "garbage between segments");
            s->state = ST_MARKER_CODE;
            break;
        case ST_MARKER_CODE: {
            uint8_t c = *p++;

            if (c == 0xFF) /* fill byte */
                break;
            if (c == 0x00)
                r = fail(s, IMG_E_MALFORMED, "invalid marker FF 00");
            else
                r = on_marker(s, c);
            break;
        }
        case ST_LEN0:
            s->seg_len = (uint16_t)(*p++ << 8);
            s->state = ST_LEN1;
            break;
        case ST_LEN1:
            s->seg_len |= *p++;
            if (s->seg_len < 2) {
                r = fail(s, IMG_E_MALFORMED, "segment length is less than 2");
                break;
            }
            s->seg_left = s->seg_len - 2;
            s->seg_have = 0;
            s->seg_start = base + (uint64_t)(p - start);
            s->state = ST_SEGMENT;
            if (s->seg_left == 0)
                r = end_segment(s);
            break;
        case ST_SEGMENT: {
            size_t n = (size_t)(end - p), keep;

            if (n > s->seg_left)
                n = s->seg_left;
            keep = sizeof(s->seg) - s->seg_have;
            if (keep > n)
                keep = n;
            memcpy(s->seg + s->seg_have, p, keep);
            s->seg_have += (uint16_t)keep;
            s->seg_left -= (uint16_t)n;
            p += n;
            if (s->seg_left == 0)
                r = end_segment(s);
            break;
        }
        case ST_ENTROPY: {
            const uint8_t *ff = memchr(p, 0xFF, (size_t)(end - p));

            if (!ff) {
                s->entropy_bytes += (uint64_t)(end - p);
                p = end;
            } else {
                s->entropy_bytes += (uint64_t)(ff - p);
                p = ff + 1;
                s->state = ST_ENTROPY_FF;
            }
            break;
        }
        case ST_ENTROPY_FF: {
            uint8_t c = *p++;

            if (c == 0xFF) /* fill byte before a marker */
                break;
            if (c == 0x00) { /* stuffed FF data byte */
                s->entropy_bytes++;
                s->state = ST_ENTROPY;
            } else if (c >= M_RST0 && c <= M_RST7) {
                s->state = ST_ENTROPY;
            } else {
                r = on_marker(s, c);
            }
            break;
        }
        case ST_DONE:
        default:
            p = end;
            break;
        }
    }
    s->pos = base + len;
    return done(s, r, ret_why);
}

int img_jpeg_scan_end(struct img_jpeg_scan *s, const char **ret_why)
{
    int r = 0;

    if (s->err)
        return done(s, s->err, ret_why);
    switch (s->state) {
    case ST_DONE:
        return 0;
    case ST_SOI0:
        r = fail(s, IMG_E_NOT_JPEG, "empty input");
        break;
    case ST_SOI1:
        r = fail(s, IMG_E_NOT_JPEG, "missing SOI marker");
        break;
    case ST_MARKER:
    case ST_MARKER_CODE:
        if (!s->sof_seen)
            r = fail(s, IMG_E_MALFORMED, "missing SOF marker");
        else if (s->info.scans == 0)
            r = fail(s, IMG_E_MALFORMED, "missing SOS marker");
        else
            r = fail(s, IMG_E_TRUNCATED, "missing EOI marker");
        break;
    case ST_ENTROPY:
    case ST_ENTROPY_FF:
        r = fail(s, IMG_E_TRUNCATED, "end of input inside entropy-coded data");
        break;
    default:
        r = fail(s, IMG_E_TRUNCATED, "end of input inside a segment");
        break;
    }
    return done(s, r, ret_why);
}

int img_jpeg_probe(const void *buf, size_t len, const struct img_limits *lim,
                   struct img_jpeg_info *ret_info, const char **ret_why)
{
    struct img_jpeg_scan s;
    int r;

    img_jpeg_scan_init(&s, lim);
    r = img_jpeg_scan_feed(&s, buf, len, ret_why);
    if (r == 0)
        r = img_jpeg_scan_end(&s, ret_why);
    if (r == 0 && ret_info)
        *ret_info = s.info;
    return r;
}
