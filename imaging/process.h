/*
 * process: the whole JPEG-to-WebP pipeline that the gateway's workers run on each upload.
 *
 * probe (marker walk and limits, jpeg_scan.h) -> EXIF (exif.h; a malformed EXIF is not fatal)
 * -> scaled decode (decode.h) -> orientation (orient.h) -> resize so the long side fits
 * (resize.h) -> WebP (webp.h); on the upright decoded image, before the resize, the legibility
 * verdict (legibility.h), the duplicate signature (dup.h) and the QR code (qr.h). The result
 * carries the upright WebP plus the JPEG's header facts and EXIF fields for the database. It works
 * on a complete in-memory JPEG; streaming checks while the upload arrives are the gateway's job
 * with img_jpeg_scan_feed(). It does no I/O and keeps no state between calls.
 */
#ifndef IMG_PROCESS_H
#define IMG_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dup.h"
#include "exif.h"
#include "img_limits.h"
#include "jpeg_scan.h"
#include "legibility.h"
#include "qr.h"

#define IMG_PROCESS_DEFAULT_LONG_SIDE 2000u
#define IMG_PROCESS_DEFAULT_WEBP_QUALITY 56
#define IMG_PROCESS_DEFAULT_WEBP_METHOD 2
#define IMG_PROCESS_DEFAULT_JPEG_QUALITY 85

/* Output formats of img_process_jpeg(). */
#define IMG_FORMAT_WEBP 0
#define IMG_FORMAT_JPEG 1

struct img_process_opts {
    struct img_limits limits;
    uint32_t long_side; /* longest side of the WebP (2000), at most 16383; 0 keeps the full size */
    int webp_quality;   /* 0..100 (75) */
    int webp_method;    /* 0..6 (2) */
    bool analyse;       /* legibility, duplicate signature and QR (true) */
    bool encode;        /* resize and encode the WebP (true); false leaves webp NULL */
    int format;         /* IMG_FORMAT_WEBP (default) or IMG_FORMAT_JPEG, the fallback */
    int jpeg_quality;   /* 1..100 (85) for IMG_FORMAT_JPEG */
    size_t max_bytes;   /* 0, or a byte budget: quality steps down until the output fits */
};

/*
 * Sets |o| to the defaults: img_limits_init(), long side 2000, WebP quality 75, method 2,
 * analysis on.
 * Thread-safe.
 */
void img_process_opts_init(struct img_process_opts *o);

struct img_result {
    struct img_jpeg_info info; /* from the probe */
    struct img_exif exif;      /* defaults when there is no EXIF; see exif_ok */
    bool exif_ok;              /* an EXIF segment was present and parsed without error */
    const char *exif_why;      /* static; why the EXIF was refused, NULL if it was not */
    uint8_t *webp;             /* the output (WebP, or JPEG when format says so); owned, release
                                * with img_result_finish() */
    size_t webp_len;
    int format;  /* IMG_FORMAT_* of |webp| */
    int quality; /* the quality the output was encoded at (lower than asked: byte budget) */
    uint32_t width, height; /* of the webp, upright */
    /* With opts.analyse, measured on the upright decoded image before the resize: */
    bool analysed;                    /* false when analysis was off or ran out of memory */
    struct img_legibility legibility; /* verdict and scores (legibility.h) */
    struct img_dup_sig sig;           /* for duplicate checks within a clave (dup.h) */
    bool qr_found;                    /* a QR code was read; its payload is in qr */
    bool qr_full_resolution;          /* ... only from the full-resolution luma */
    bool qr_full_scan;                /* the full-resolution retry ran (found or not) */
    char qr[IMG_QR_MAX];
};

/*
 * Runs the pipeline on the complete JPEG |buf| of |len| bytes (not kept) with |o| (NULL for the
 * defaults of img_process_opts_init()). The image is decoded with DCT scaling to no less than
 * |o->long_side| on its long side, turned upright by the EXIF orientation, resized to fit
 * |o->long_side| (never upscaled) and encoded as WebP (or, with |o->format| IMG_FORMAT_JPEG, as a
 * progressive JPEG with optimised Huffman tables) without any metadata. With |o->max_bytes|, the
 * quality steps down by 10 (to no less than 30) until the output fits; if it never does, the
 * smallest attempt is returned (check |ret->webp_len|).
 *
 * EXIF: when the segment is malformed the call still succeeds with exif_ok false, exif_why set,
 * exif.orientation forced to 1 (the image is left as stored), and the other exif fields holding
 * whatever was validly read before the problem. An EXIF segment larger than
 * |o->limits.max_exif_bytes| is refused by the probe and fails the call (IMG_E_EXIF).
 *
 * On success |ret| is filled and owns |ret->webp|: release it with img_result_finish(). On
 * failure |ret| is untouched, nothing is leaked, and |ret_why| (may be NULL) receives a static
 * string. Thread-safe: no shared state, so several threads may run it at once.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_NOT_JPEG, IMG_E_MALFORMED, IMG_E_TRUNCATED, IMG_E_DIMENSIONS, IMG_E_UNSUPPORTED,
 *   IMG_E_TOO_MANY_SCANS, IMG_E_EXIF  from the probe (see img_jpeg_scan_feed())
 *   IMG_E_DECODE, IMG_E_TRUNCATED, ...  from the decoder (see img_jpeg_decode_scaled())
 *   IMG_E_ENCODE                        libwebp failed
 *   IMG_E_NOMEM                         an allocation failed
 */
int img_process_jpeg(const void *buf, size_t len, const struct img_process_opts *o,
                     struct img_result *ret, const char **ret_why);

/* Frees what |r| owns and zeroes it. Accepts NULL, a zeroed and a finished result. */
void img_result_finish(struct img_result *r);

#endif
