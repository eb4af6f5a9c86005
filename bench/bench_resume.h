/*
 * bench_resume: the rest of an upload that prep-bench cut on purpose (--drop), as a phone whose
 * network came back does it: a new connection, HEAD of the upload resource the gateway named in
 * its 104 for the offset it holds, and a PATCH of the bytes from there that completes the upload
 * and is answered with the receipt. A 409 (the offset moved while the cut connection's last
 * bytes were written) is retried from the new offset. Blocking; one thread per call.
 */
#ifndef BENCH_RESUME_H
#define BENCH_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "pu_h2.h"
#include "pu_resume.h"

/* The whole body of the upload: from file |fd| (>= 0) or from memory |data|. */
struct bench_resume_body {
    int fd;
    const uint8_t *data;
    uint64_t size;
};

/* What a resumption keeps for its final request: it must outlive the reading of the answer. */
struct bench_resume {
    char path[PU_RESUME_PATH_MAX];
    struct pu_resume_patch_hdrs hdrs;
    struct pu_h2_request patch; /* the completing PATCH and its answer */
    uint64_t offset;            /* where it started: the bytes the gateway kept across the cut */
};

/*
 * Completes the upload of |b| whose resource is |location| (a 104's Location; "" when none came)
 * on |url|, connecting anew in |*conn| (a connection there is reused if usable; the one left is
 * the caller's to free). On 0 |ret->patch| holds the final answer (its status, body and error,
 * for the caller to check; pu_h2_request_finish() it). Returns 0, or -ENOENT (no resource),
 * -EINVAL (a Location that is not on this server), -ECONNREFUSED (could not connect), -EPROTO
 * (the HEAD was refused or said no offset) with a reason in |why| (|cap| bytes).
 */
int bench_resume(const struct pu_url *url, const struct pu_h2_opts *o, const char *location,
                 const struct bench_resume_body *b, struct pu_h2_conn **conn,
                 struct bench_resume *ret, char *why, size_t cap);

#endif
