/*
 * img_limits: the hard maximums applied to untrusted JPEG input.
 *
 * One struct holds every limit of the imaging library, so the gateway configures them in one
 * place. The scanner (jpeg_scan.h), the decoder (decode.h) and the pipeline (process.h) refuse
 * input beyond them with a specific IMG_E_* code before spending memory or CPU on it. This module
 * only holds numbers; it enforces nothing itself.
 */
#ifndef IMG_LIMITS_H
#define IMG_LIMITS_H

#include <stdint.h>

#define IMG_LIMIT_DEFAULT_MAX_PIXELS 50000000u
#define IMG_LIMIT_DEFAULT_MAX_SIDE 65535u
/*
 * Scans: a count alone cannot tell a bomb from a legal progression, so the scanner refuses any scan
 * that codes nothing new (jpeg_scan.h), which bounds a legal file, and this count caps the CPU of
 * the legal ones. Encoders write 1 to 4 scans (sequential), about 10 (libjpeg's and phones'
 * progressions), at most 100 (jpegtran's -scans scripts); splitting every AC coefficient of 4
 * components into its own scan gives 1 + 4 * 63 = 253. 500 is libjpeg-turbo's own
 * TJFLAG_LIMITSCANS bound: room above all of those, while each scan costs at most one pass over
 * the blocks of its components.
 */
#define IMG_LIMIT_DEFAULT_MAX_SCANS 500u
#define IMG_LIMIT_DEFAULT_MAX_EXIF_BYTES 65536u
#define IMG_LIMIT_DEFAULT_MAX_DECODER_MEMORY (512u * 1024u * 1024u)

struct img_limits {
    uint64_t max_pixels;     /* width * height of the JPEG as declared by its SOF */
    uint32_t max_side;       /* largest accepted width or height */
    uint32_t max_scans;      /* SOS markers; progressive JPEGs have ~10, at most 253 split fully */
    uint32_t max_exif_bytes; /* payload of the APP1 "Exif" segment */
    uint64_t max_decoder_memory; /* libjpeg's max_memory_to_use, in bytes */
};

/*
 * Sets every field of |l| to its default: 50,000,000 pixels, 65535 per side, 500 scans, 65536
 * EXIF bytes and 512 MiB of decoder memory. Never fails. Thread-safe (touches only |l|).
 */
void img_limits_init(struct img_limits *l);

#endif
