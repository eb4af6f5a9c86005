/*
 * jpeg_scan: a streaming, allocation-free walk over the markers of a JPEG file.
 *
 * The gateway feeds the bytes of an upload as they arrive from the network, in chunks of any size
 * (down to one byte), and learns as early as possible whether the upload is a JPEG it is willing to
 * decode: dimensions, component count, sampling, progressive or not, how many scans, where the
 * EXIF segment is. Everything beyond the limits of img_limits.h is refused as soon as the offending
 * marker has arrived, so a scan bomb or a 60000x60000 header never reaches the decoder. It also
 * follows the progression: a scan that codes no new coefficient bit (a repeat, the cheap way to
 * make a scan bomb) is refused at its SOS header, whatever the count. The
 * scanner checks the marker structure only: it never decodes Huffman data or pixels, so a file it
 * accepts may still fail in decode.h. It keeps no pointer into the fed buffers and allocates
 * nothing.
 */
#ifndef IMG_JPEG_SCAN_H
#define IMG_JPEG_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img_limits.h"

struct img_jpeg_info {
    uint32_t width, height;
    uint8_t components, precision; /* from SOFn */
    uint8_t h_samp[4], v_samp[4];  /* sampling factors of the first |components| components */
    bool progressive, arithmetic, lossless;
    bool has_adobe;          /* an APP14 "Adobe" segment: 4-component data is stored inverted */
    uint8_t adobe_transform; /* its transform flag: 0 none (RGB/CMYK), 1 YCbCr, 2 YCCK */
    bool header_done;        /* SOF and first SOS seen: dimensions are final */
    bool eoi;                /* EOI seen after entropy data */
    uint32_t scans;          /* SOS markers seen */
    bool has_exif, has_icc;
    uint64_t exif_offset; /* first APP1 "Exif\0\0" payload (after the 2-byte length), offset */
    uint32_t exif_len;    /* from the start of the stream; exif_len bytes long */
};

/* Bytes of a segment kept for parsing; a SOF with 255 components is 2 + 6 + 765 = 773 bytes. */
#define IMG_JPEG_SCAN_SEGBUF 776

struct img_jpeg_scan {
    /* private: use the functions below */
    int state;
    int err;
    const char *why;
    uint8_t marker;
    bool sof_seen;
    uint8_t comp_id[4]; /* component identifiers of the SOF, to resolve SOS selectors */
    uint8_t seq_done;   /* sequential: bit i set once component i has had its scan */
    /* Progressive: for component i and coefficient k, the Al of the last scan that coded it, or
     * SCAN_UNCODED. 256 bytes, so that a repeated scan is recognised without allocating. */
    uint8_t coef_al[4][64];
    uint16_t seg_len, seg_left, seg_have;
    uint64_t pos, seg_start, entropy_bytes;
    uint8_t seg[IMG_JPEG_SCAN_SEGBUF];
    /* public, read-only */
    struct img_limits limits;
    struct img_jpeg_info info; /* filled as markers arrive; also read it after an error */
};

/*
 * Prepares |s| for a new stream. |lim| is copied; NULL means the defaults of img_limits_init().
 * |s| holds no resources, so there is no finish function: just drop it. Thread-safe (touches
 * only |s|); one scanner must not be fed from two threads at once.
 */
void img_jpeg_scan_init(struct img_jpeg_scan *s, const struct img_limits *lim);

/*
 * Feeds the next |len| bytes of the stream in |buf| (any chunking; |len| may be 0). The bytes are
 * not retained. Bytes after the EOI marker are accepted and ignored. s->info is updated as markers
 * complete; info.header_done says when the dimensions are final. On error the scanner is stuck:
 * every later call to img_jpeg_scan_feed() or img_jpeg_scan_end() returns the same error and why.
 *
 * |ret_why| (may be NULL) receives, on error only, a static lowercase string saying what was wrong
 * ("missing SOI marker", "SOF declares 0 width", ...); never free it.
 *
 * Returns 0 (keep feeding), or one of these negative codes:
 *   IMG_E_NOT_JPEG        the stream does not start with FF D8
 *   IMG_E_MALFORMED       bad segment length, SOS before SOF, a second SOF, bad SOF/SOS contents
 *                         (unknown or repeated component, spectral or successive-approximation
 *                         parameters that libjpeg refuses, a refinement out of order), an unknown
 *                         or misplaced marker, garbage between segments
 *   IMG_E_UNSUPPORTED     lossless or hierarchical coding; precision other than 8; other than 1,
 *                         3 or 4 components
 *   IMG_E_DIMENSIONS      zero width or height, a side above max_side, more than max_pixels
 *   IMG_E_TOO_MANY_SCANS  the (max_scans + 1)th SOS marker arrived, or a scan that adds nothing:
 *                         it codes coefficient bits an earlier scan already coded (progressive)
 *                         or a component that already had its scan (sequential)
 *   IMG_E_EXIF            the first APP1 Exif payload is larger than max_exif_bytes
 */
int img_jpeg_scan_feed(struct img_jpeg_scan *s, const void *buf, size_t len, const char **ret_why);

/*
 * Tells |s| the stream has ended. |ret_why| as for img_jpeg_scan_feed().
 *
 * Returns 0 if a complete image was seen (SOI, SOF, SOS, entropy-coded data, EOI), the stuck error
 * of an earlier feed, or one of these negative codes:
 *   IMG_E_NOT_JPEG   no bytes at all, or no complete SOI
 *   IMG_E_TRUNCATED  the stream stopped inside a segment, inside entropy-coded data, or between
 *                    scans before EOI
 *   IMG_E_MALFORMED  the stream stopped between segments without ever having had a SOF or SOS
 */
int img_jpeg_scan_end(struct img_jpeg_scan *s, const char **ret_why);

/*
 * Scans the whole JPEG in |buf| (|len| bytes) in one call: img_jpeg_scan_init() with |lim| (NULL
 * for the defaults), one feed, then end. On success copies the info to |ret_info| (may be NULL);
 * on failure |ret_info| is untouched and |ret_why| (may be NULL) gets a static string.
 * Thread-safe.
 *
 * Returns 0, or any negative code of img_jpeg_scan_feed() or img_jpeg_scan_end().
 */
int img_jpeg_probe(const void *buf, size_t len, const struct img_limits *lim,
                   struct img_jpeg_info *ret_info, const char **ret_why);

#endif
