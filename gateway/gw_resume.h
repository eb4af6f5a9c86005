/*
 * gw_resume: the upload resources of resumable uploads (draft-ietf-httpbis-resumable-upload-15)
 * in the spool, and who may write to each.
 *
 * An upload resource is two files in spool/uploads/: <token>.part, the bytes received so far
 * (its size is the offset), and <token>.json, its state (clave, device, the SHA-256 the signature
 * announced, the length once known, when it was created, and once complete its photo id). The
 * token is 128 random bits in hex: the resource's URL is the capability, issued only after the
 * creating request's signature verified. Both files survive a restart; an upload not completed
 * within the expiry is removed by a sweeper thread, a completed one's state too (its photo lives
 * on in the spool as any other).
 *
 * Concurrency (the draft's section on it): every request on an upload takes a hold, and a new
 * hold takes the upload over from any older one, whose next write then fails with -ESTALE. Writes,
 * the offset and the completion run under the upload's own lock, so an offset once reported is
 * the one the next append must use, and a connection that died mid-upload never leaves it
 * locked. Every function here blocks on the disk: pool threads only.
 */
#ifndef GW_RESUME_H
#define GW_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_clave.h"
#include "gw_receipt.h"

#define GW_UPLOAD_TOKEN_LEN 32

struct gw_spool;
struct gw_spool_file;

#define GW_RESUME_SIGREC_MAX 4096

/* The state of one upload resource, as kept in <token>.json. */
struct gw_resume_meta {
    char token[GW_UPLOAD_TOKEN_LEN + 1];
    char clave[GW_CLAVE_MAX + 1];
    char device[64]; /* "" for an unsigned upload (--open-uploads) */
    bool has_sha;    /* signed: the SHA-256 of the whole photo that Content-Digest announced */
    uint8_t sha[32];
    bool has_length; /* Upload-Length, or offset + Content-Length of a completing request */
    uint64_t length;
    int64_t created; /* Unix seconds */
    bool complete;
    char photo_id[GW_PHOTO_ID_LEN + 1]; /* once complete */
    /* signed: the creating POST's signature record (gw_sigrec JSON), for the spool at the end */
    char sigrec[GW_RESUME_SIGREC_MAX];
};

struct gw_resumes;
struct gw_resume_lease;

/* One request's hold on an upload: its generation and its own descriptor of the part file. */
struct gw_resume_hold {
    struct gw_resume_lease *lease;
    unsigned gen;
    int fd;
};

/*
 * Starts the registry over |spool|'s uploads/ folder, and its sweeper thread, which removes
 * uploads older than |max_age_s| at start and then every minute. Returns 0 and the registry in
 * |*ret|, or a negative errno.
 */
int gw_resumes_start(struct gw_spool *spool, uint32_t max_age_s, struct gw_resumes **ret);

/* Stops the sweeper and frees the registry; no hold may remain. Accepts NULL. */
void gw_resumes_stop(struct gw_resumes *rs);

/* True when |s| is a well-formed token (32 lowercase hex digits). */
bool gw_resume_token_valid(const char *s, size_t len);

/*
 * Creates a new upload resource for |m| (clave, device, sha, length set by the caller; token and
 * created filled here), durable before this returns, and a hold on it in |h|. Returns 0 or a
 * negative errno (-ENOSPC when the disk is full).
 */
int gw_resume_create(struct gw_resumes *rs, struct gw_resume_meta *m, struct gw_resume_hold *h);

/*
 * Takes the upload |token| over: loads its state into |m| and, unless it is complete, makes its
 * bytes durable and stores their count, the offset, in |*ret_offset|; |h| then holds it (also
 * when complete, so that the caller answers consistently; gw_resume_drop() it). Returns 0,
 * -ENOENT (unknown, expired or cancelled) or a negative errno.
 */
int gw_resume_take(struct gw_resumes *rs, const char *token, struct gw_resume_meta *m,
                   struct gw_resume_hold *h, uint64_t *ret_offset);

/*
 * Reads the first |len| bytes of the held upload and passes them, in pieces, to |cb|: how an
 * append rebuilds the hash and the JPEG scan of what came before it. Returns 0 or -errno.
 */
int gw_resume_read(struct gw_resume_hold *h, uint64_t len,
                   int (*cb)(void *arg, const uint8_t *buf, size_t n), void *arg);

/*
 * Writes |len| bytes at |offset| of the held upload. Returns 0, -ESTALE when a newer request took
 * the upload over (nothing written), or -errno (-ENOSPC).
 */
int gw_resume_write(struct gw_resume_hold *h, uint64_t offset, const void *buf, size_t len);

/* Makes what the hold wrote durable (an acknowledged offset). Returns 0, -ESTALE or -errno. */
int gw_resume_sync(struct gw_resume_hold *h);

/* Rewrites the state |m| of the held upload (a length learnt late). Returns 0, -ESTALE, -errno. */
int gw_resume_save(struct gw_resumes *rs, struct gw_resume_hold *h, const struct gw_resume_meta *m);

/*
 * Completes the held upload of |offset| bytes: under the upload's lock, hands its bytes to
 * |commit| (which gets a spool file to pass to gw_spool_commit(), with |f|'s hash context) and,
 * when that succeeds, records the photo id (copied from |photo_id| after |commit| returns 0) and
 * frees the partial bytes. Returns |commit|'s result, -ESTALE or -errno.
 */
int gw_resume_complete(struct gw_resumes *rs, struct gw_resume_hold *h, struct gw_resume_meta *m,
                       struct gw_spool_file *f, int (*commit)(void *arg, struct gw_spool_file *f),
                       void *arg, const char *photo_id);

/* Removes the held upload (cancelled, or its bytes refused). Returns 0, -ESTALE or -errno. */
int gw_resume_delete(struct gw_resumes *rs, struct gw_resume_hold *h);

/* Lets go of |h| (closes its descriptor); safe on a zeroed hold with fd -1. */
void gw_resume_drop(struct gw_resumes *rs, struct gw_resume_hold *h);

/* Seconds left before |m| expires (0 when past). */
uint32_t gw_resume_max_age(const struct gw_resumes *rs, const struct gw_resume_meta *m);

#endif
