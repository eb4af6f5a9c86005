/*
 * Helpers shared by the imaging unit tests: check macros that count failures instead of
 * aborting, a byte buffer for hand-crafted hostile inputs, and an in-memory JPEG encoder (libjpeg,
 * jpeg_mem_dest) so every test builds the exact inputs it needs. Test code only.
 */
#ifndef IMG_TESTUTIL_H
#define IMG_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int t_checks, t_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        t_checks++;                                                                                \
        if (a_ != b_) {                                                                            \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, a_, b_);                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        t_checks++;                                                                                \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
        }                                                                                          \
    } while (0)

/* Prints the summary line and returns the process exit status. */
int t_done(const char *name);

/* A growable byte buffer; on allocation failure the test aborts. */
struct t_buf {
    uint8_t *p;
    size_t len, cap;
};
void t_put(struct t_buf *b, const void *data, size_t n);
void t_put8(struct t_buf *b, unsigned v);
void t_put16be(struct t_buf *b, unsigned v);
void t_buf_free(struct t_buf *b);

/* A deterministic pattern: gradients plus a distinct colour in each quadrant. */
uint8_t *t_pattern(uint32_t w, uint32_t h, int channels);

struct t_jpeg_opts {
    int quality;          /* 0 means 90 */
    bool progressive;     /* jpeg_simple_progression */
    int restart_interval; /* in MCUs, 0 none */
    bool subsample;       /* 4:2:0 (default 4:4:4 for exact colours) */
    const uint8_t *app1;  /* APP1 payload to write (e.g. "Exif\0\0..."), or NULL */
    size_t app1_len;
    bool icc;        /* write a small APP2 ICC_PROFILE segment */
    bool arithmetic; /* arithmetic coding (SOF9, SOF10 when progressive) */
    bool ycck;       /* 4 channels: store as YCCK (Adobe transform 2) instead of CMYK */
    bool no_adobe;   /* 4 channels: no Adobe APP14 marker, so the data reads as plain CMYK */
};

/*
 * Encodes |pixels| (|channels| 1 gray, 3 RGB or 4 CMYK) with libjpeg into a malloc'd buffer;
 * |o| may be NULL. Aborts the test on failure. free() the result.
 */
uint8_t *t_make_jpeg(const uint8_t *pixels, uint32_t w, uint32_t h, int channels,
                     const struct t_jpeg_opts *o, size_t *ret_len);

/* A minimal "Exif\0\0" APP1 payload whose IFD0 holds only Orientation = |orientation|. */
size_t t_exif_orientation(uint8_t *buf, size_t cap, uint16_t orientation);

/* Small deterministic PRNG (xorshift32). */
uint32_t t_rand(uint32_t *state);

#endif
