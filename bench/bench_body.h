/*
 * bench_body: a distinct body for every upload from a small pool of photos. Upload i's body is
 * its pool photo with one JPEG comment segment (COM) that names the run and i, placed after the
 * photo's leading APPn segments (JFIF, EXIF, ICC stay first, where readers look for them). The
 * bytes and their SHA-256 differ from every other upload's, so the gateway stores and processes
 * each one (identical bytes would hit its content-addressed shortcut), while the pixels, the
 * EXIF and the decoding cost stay those of the pool photo. Thread-safe per object.
 */
#ifndef BENCH_BODY_H
#define BENCH_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "pu_send.h"

/* One upload's body and the hashes a signed request needs. */
struct bench_body {
    uint8_t *data;
    size_t len, cap;       /* |data| is reused from one upload to the next */
    struct pu_photo photo; /* size, SHA-256, Content-Digest of |data|; no file (fd -1) */
};

/* Reads all of |file| into |*ret| (malloc'ed) and |*ret_len|. Returns 0 or a negative errno. */
int bench_body_load(const char *file, uint8_t **ret, size_t *ret_len);

/*
 * Makes |b| the body of upload |i| of run |run| from the JPEG |src| (|n| bytes): |src| with the
 * COM segment inserted, hashed. Returns 0, -EINVAL when |src| does not start with SOI or its
 * APPn segments run past its end, -ENOMEM.
 */
int bench_body_make(struct bench_body *b, const uint8_t *src, size_t n, uint64_t run, long i);

/* Frees |b|'s buffer. */
void bench_body_finish(struct bench_body *b);

#endif
