/*
 * gw_upload_int.h: the upload's state, shared by gw_upload.c (the loop side and plain uploads'
 * disk jobs) and gw_upload_resume.c (resumable uploads' disk jobs). Not for other modules.
 */
#ifndef GW_UPLOAD_INT_H
#define GW_UPLOAD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "gw_devices.h"
#include "gw_pool.h"
#include "gw_receipt.h"
#include "gw_resume.h"
#include "gw_resumable.h"
#include "gw_spool.h"
#include "gw_upload.h"
#include "jpeg_scan.h"

struct event;

enum op { OP_OPEN, OP_WRITE, OP_COMMIT, OP_ABORT };

struct gw_upload {
    struct gw_work work; /* the one disk job in flight */
    struct gw_stream *s; /* referenced until the upload is freed */
    struct gw_app *app;
    enum op op;
    bool busy, opened, ended, failed, committed, detached;
    bool counted; /* holds one of its device's --max-uploads-per-device */
    struct gw_spool_file file;
    struct img_jpeg_scan scan;
    uint64_t expect;
    /*
     * The bytes received and not yet on disk, in a ring of one stream window (and a byte: see
     * on_data): flow control means a peer never has more than that unconsumed, so an upload
     * never holds more. From
     * |head|, the running write job owns |inflight_len| bytes and the loop appends the
     * |pending_len| that arrive meanwhile; the next job takes those.
     */
    uint8_t *ring;
    size_t ring_cap, head, inflight_len, pending_len;
    struct event *flush; /* a write of fewer than a batch's bytes is due (slow phones) */
    bool flush_due;
    /* Job results, read on the loop after |done|. */
    int rc;     /* -errno from the spool */
    int img_rc; /* IMG_E_* from the scanner */
    const char *why;
    struct gw_receipt receipt;
    bool existed;
    /* Signed uploads: what the phone presented, and what the check found. */
    bool signed_upload;
    struct gw_upload_auth auth;
    int auth_err; /* GW_E_* from gw_devices_check(), 0 when authorised */
    uint8_t digest[32];
    /* Resumable uploads (gw_resume): the creating POST or an appending PATCH. */
    struct gw_upload_req req;
    char token[GW_UPLOAD_TOKEN_LEN + 1];
    struct gw_resume_meta meta;
    struct gw_resume_hold hold; /* hold.lease set while this request holds the upload */
    struct evp_md_ctx_st *md;   /* SHA-256 of the whole photo, prefix included */
    uint64_t offset;            /* bytes of the upload before the next write */
    uint64_t expected;          /* 409: the offset the resource has */
    bool invalidate;            /* the bytes were refused: remove the upload resource */
};

/* The running write job's bytes: one span, or two where they wrap around the ring. */
static inline int gw_upload_spans(const struct gw_upload *u, struct iovec span[2])
{
    size_t first = u->ring_cap - u->head;

    span[0].iov_base = u->ring + u->head;
    if (u->inflight_len <= first) {
        span[0].iov_len = u->inflight_len;
        return 1;
    }
    span[0].iov_len = first;
    span[1].iov_base = u->ring;
    span[1].iov_len = u->inflight_len - first;
    return 2;
}

/* Takes one of the device's --max-uploads-per-device, or sets |auth_err|. Pool thread. */
bool gw_upload_take_device_slot(struct gw_upload *u);

/* Runs a resumable upload's disk job |u->op| (gw_resume). Pool thread. */
void gw_upload_resumable_work(struct gw_upload *u);

#ifdef GW_TEST_HOOKS
void gw_upload_test_slow_disk(void);
#endif

#endif
