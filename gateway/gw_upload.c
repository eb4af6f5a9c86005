#include "gw_upload.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_devices.h"
#include "gw_app.h"
#include "gw_error.h"
#include "gw_h2.h"
#include "gw_log.h"
#include "gw_metrics.h"
#include "gw_resumable.h"
#include "gw_resume.h"
#include "gw_stage.h"
#include "gw_upload_int.h"
#include "img_error.h"

/*
 * Bytes arrive a DATA frame (16 KB) at a time, and a disk job per frame costs two thread
 * hand-offs, which for a 4 MB photo cost more CPU than the writes. So bytes are written once half
 * a stream window has collected (the peer can always send that much: nghttp2 reopens the window
 * when half of it is consumed), at the end of the body, or FLUSH_MS after they came, whichever is
 * first: a slow phone's bytes reach the disk, and its window opens, as they arrive. The receipt
 * still waits for every byte to be on disk.
 */
#define FLUSH_MS 10

static void submit(struct gw_upload *u, enum op op);
static void kick(struct gw_upload *u);
static void on_data(struct gw_stream *s, const uint8_t *data, size_t len);
static void on_end(struct gw_stream *s);
static void on_detach(struct gw_stream *s);

static const struct gw_stream_handler upload_handler = {
    .on_data = on_data,
    .on_end = on_end,
    .on_detach = on_detach,
};

#ifdef GW_TEST_HOOKS
/* Test builds only (meson -Dtest_hooks=true, ./test.sh's build-asan): each spool write takes
 * PREP_TEST_SPOOL_WRITE_DELAY_MS longer, a slow disk against which the integration tests check
 * that the stream window opens only as bytes reach the file. */
void gw_upload_test_slow_disk(void)
{
    const char *ms = getenv("PREP_TEST_SPOOL_WRITE_DELAY_MS");

    if (ms && *ms)
        usleep((useconds_t)strtoul(ms, NULL, 10) * 1000);
}
#endif

static int img_to_gw(int img_rc)
{
    switch (img_rc) {
    case IMG_E_NOT_JPEG:
        return GW_E_MEDIA_TYPE;
    case IMG_E_TRUNCATED:
        return GW_E_TRUNCATED_JPEG;
    case IMG_E_DIMENSIONS:
        return GW_E_DIMENSIONS;
    case IMG_E_UNSUPPORTED:
        return GW_E_UNSUPPORTED_JPEG;
    case IMG_E_TOO_MANY_SCANS:
        return GW_E_TOO_MANY_SCANS;
    default:
        return GW_E_INVALID_JPEG;
    }
}

static bool resumable(const struct gw_upload *u)
{
    return u->req.resumable;
}

/* Holds something on disk that a pool job must release. */
static bool holds_disk(const struct gw_upload *u)
{
    return u->file.fd >= 0 || u->hold.lease;
}

static void upload_free(struct gw_upload *u)
{
    atomic_fetch_sub(&u->app->buffered, (unsigned long long)u->ring_cap);
    EVP_MD_CTX_free(u->md);
    if (u->counted)
        gw_counts_put(&u->app->uploads, u->receipt.device);
    u->s->data = NULL;
    gw_stream_unref(u->s);
    gw_metrics_in_flight(-1);
    if (u->flush)
        event_free(u->flush);
    free(u->ring);
    free(u);
}

/* Frees |u| once its stream is gone and no job runs; an unfinished file is removed first. */
static void maybe_free(struct gw_upload *u)
{
    if (!u->detached || u->busy)
        return;
    if (holds_disk(u)) {
        submit(u, OP_ABORT);
        return;
    }
    upload_free(u);
}

/* ---- pool thread ---- */

/* A device with more in flight than a phone ever sends is refused before its bytes reach the
 * disk (--max-uploads-per-device). */
bool gw_upload_take_device_slot(struct gw_upload *u)
{
    if (!gw_counts_take(&u->app->uploads, u->receipt.device)) {
        u->auth_err = GW_E_TOO_MANY_UPLOADS;
        u->why = "this device has too many uploads in flight; retry when they finish";
        return false;
    }
    u->counted = true;
    return true;
}

static void work(struct gw_work *w, void *ctx)
{
    struct gw_upload *u = (struct gw_upload *)w;
    struct gw_spool *spool = &u->app->spool;

    if (resumable(u)) {
        gw_upload_resumable_work(u);
        return;
    }
    switch (u->op) {
    case OP_OPEN:
        /* The signature is checked before the file exists and before the window widens. */
        if (u->signed_upload) {
            u->auth_err =
                gw_devices_check(u->app->devices, &u->auth, u->receipt.device, u->digest, &u->why);
            if (u->auth_err || !gw_upload_take_device_slot(u))
                break;
        }
        u->rc = gw_spool_file_open(spool, u->expect, &u->file);
        break;
    case OP_WRITE: {
        struct iovec span[2];
        int n = gw_upload_spans(u, span);

#ifdef GW_TEST_HOOKS
        gw_upload_test_slow_disk();
#endif
        /* The marker walk runs here, beside the write, so the loop never parses image bytes;
         * a body that is not a sane JPEG is refused after its first bytes. */
        u->img_rc = u->rc = 0;
        for (int i = 0; i < n && u->img_rc == 0 && u->rc == 0; i++) {
            u->img_rc = img_jpeg_scan_feed(&u->scan, span[i].iov_base, span[i].iov_len, &u->why);
            if (u->img_rc == 0)
                u->rc = gw_spool_file_write(&u->file, span[i].iov_base, span[i].iov_len);
        }
        /* A refused body is removed before the refusal is sent. */
        if (u->img_rc < 0 || u->rc < 0)
            gw_spool_file_abort(spool, &u->file);
        break;
    }
    case OP_COMMIT:
        u->img_rc = img_jpeg_scan_end(&u->scan, &u->why);
        if (u->img_rc < 0) {
            gw_spool_file_abort(spool, &u->file);
            break;
        }
        u->receipt.width = u->scan.info.width;
        u->receipt.height = u->scan.info.height;
        /* Kept with the photo (docs/evidence.md); meta holds it, as a resumable upload's. */
        if (u->signed_upload &&
            (u->rc = gw_devices_sigrec(&u->auth, u->meta.sigrec, sizeof(u->meta.sigrec))) < 0) {
            gw_spool_file_abort(spool, &u->file);
            break;
        }
        u->file.sigrec = u->signed_upload ? u->meta.sigrec : NULL;
        u->rc = gw_spool_commit(spool, &u->file, u->signed_upload ? u->digest : NULL, &u->receipt,
                                &u->existed);
        if (u->rc == 0 && !u->existed)
            gw_stage_received(u->app->stage, u->receipt.photo_id);
        break;
    case OP_ABORT:
        gw_spool_file_abort(spool, &u->file);
        break;
    }
}

/* ---- loop thread ---- */

static void fail(struct gw_upload *u, int err, const char *detail)
{
    u->failed = true;
    if (u->s->conn) {
        u->s->discard_body = true;
        /* Bytes held back for the disk are not wanted any more: free their window. */
        gw_stream_consume(u->s, u->pending_len);
        u->pending_len = 0;
        if (resumable(u))
            gw_resumable_problem(
                u->s, err, detail,
                err == GW_E_UPLOAD_OFFSET ? (uint64_t[]){u->expected, u->req.offset} : NULL,
                u->op == OP_COMMIT && u->req.complete);
        else
            gw_stream_problem(u->s, err, detail);
    }
}

static void respond_receipt(struct gw_upload *u)
{
    char location[64];
    size_t len = 0;
    char *json = gw_receipt_json(&u->receipt, "received", &len);
    nghttp2_nv nv[2] = {
        {(uint8_t *)"location", (uint8_t *)location, 8, 0, NGHTTP2_NV_FLAG_NO_COPY_NAME},
        GW_RESUMABLE_NV("upload-complete", "?1")};

    if (!json) {
        gw_stream_problem(u->s, GW_E_INTERNAL, NULL);
        return;
    }
    nv[0].valuelen =
        (size_t)snprintf(location, sizeof(location), "/v1/photos/%s", u->receipt.photo_id);
    gw_metrics_upload(!u->existed, u->receipt.bytes, (double)(gw_now_ms() - u->s->start_ms) / 1e3);
    /* A resumable upload's final answer says it is complete (the draft), and is the receipt. */
    gw_stream_respond(u->s, u->existed ? 200 : 201, "application/json", (uint8_t *)json, len, nv,
                      resumable(u) ? 2 : 1);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct gw_upload *u = arg;

    (void)fd;
    (void)what;
    u->flush_due = true;
    kick(u);
}

/* Whether the bytes collected should be written now, or wait for more (arming the flush). */
static bool write_now(struct gw_upload *u)
{
    static const struct timeval delay = {0, FLUSH_MS * 1000};

    if (u->ended || u->flush_due || u->pending_len >= u->app->cfg->stream_window / 2)
        return true;
    if (!u->flush)
        u->flush = evtimer_new(u->s->worker->loop.base, on_flush, u);
    /* Without a timer (no memory) the bytes go now, one job per frame as before. */
    if (!u->flush)
        return true;
    if (!evtimer_pending(u->flush, NULL) && evtimer_add(u->flush, &delay) < 0)
        return true;
    return false;
}

static void kick(struct gw_upload *u)
{
    if (u->busy || u->failed || u->committed || !u->opened || u->detached)
        return;
    if (u->s->responded) {
        /* Answered by someone else (the body timeout): this upload must not be kept. */
        u->failed = true;
        if (holds_disk(u))
            submit(u, OP_ABORT);
        return;
    }
    if (u->pending_len > 0) {
        if (!write_now(u))
            return;
        u->flush_due = false;
        /* The job writes what arrived; new bytes collect behind it in the ring. */
        u->inflight_len = u->pending_len;
        u->pending_len = 0;
        submit(u, OP_WRITE);
    } else if (u->ended) {
        submit(u, OP_COMMIT);
    }
}

static void done(struct gw_work *w)
{
    struct gw_upload *u = (struct gw_upload *)w;

    u->busy = false;
    if (w->cancelled) {
        /* Shutting down: nothing will answer the phone, which retries; drop the partial file
         * (a resumable upload's stays, for the append after the restart). */
        gw_spool_file_abort(&u->app->spool, &u->file);
        gw_resume_drop(u->app->resumes, &u->hold);
        u->detached = true;
        maybe_free(u);
        return;
    }
    switch (u->op) {
    case OP_OPEN:
        if (u->auth_err) {
            gw_log(GW_LOG_INFO, "msg=\"upload refused\" problem=%s reason=\"%s\"",
                   gw_err_name(u->auth_err), u->why);
            fail(u, u->auth_err, u->why);
        } else if (u->rc < 0) {
            gw_log(GW_LOG_ERROR, "msg=\"could not create spool file\" err=\"%s\"",
                   strerror(-u->rc));
            fail(u, u->rc == -ENOSPC ? GW_E_STORAGE : GW_E_INTERNAL,
                 u->rc == -ENOSPC ? "the gateway's disk is full" : NULL);
        } else if (u->invalidate) {
            fail(u, img_to_gw(u->img_rc), u->why);
        } else {
            u->opened = true;
            /* The upload resource exists: tell the phone where, before its bytes come. */
            if (resumable(u) && !u->req.token)
                gw_resumable_announce(u->s, u->token, gw_resume_max_age(u->app->resumes, &u->meta));
            gw_stream_open_window(u->s);
        }
        break;
    case OP_WRITE:
        gw_stream_consume(u->s, u->inflight_len);
        u->head = (u->head + u->inflight_len) % u->ring_cap;
        u->inflight_len = 0;
        if (u->img_rc < 0) {
            fail(u, img_to_gw(u->img_rc), u->why);
        } else if (u->auth_err) {
            fail(u, u->auth_err, u->why);
        } else if (u->rc == -ESTALE) {
            fail(u, GW_E_UPLOAD_SUPERSEDED, "a newer request on this upload took it over");
        } else if (u->rc < 0) {
            gw_log(GW_LOG_ERROR, "msg=\"could not write spool file\" err=\"%s\"", strerror(-u->rc));
            fail(u, u->rc == -ENOSPC ? GW_E_STORAGE : GW_E_INTERNAL, NULL);
        }
        break;
    case OP_COMMIT:
        if (u->img_rc < 0) {
            fail(u, img_to_gw(u->img_rc), u->why);
        } else if (u->auth_err) {
            fail(u, u->auth_err, u->why);
        } else if (u->rc == -ESTALE) {
            fail(u, GW_E_UPLOAD_SUPERSEDED, "a newer request on this upload took it over");
        } else if (u->rc == -EBADMSG) {
            fail(u, GW_E_DIGEST_MISMATCH,
                 "the body's SHA-256 is not the one Content-Digest "
                 "announced; nothing was kept");
        } else if (u->rc < 0) {
            gw_log(GW_LOG_ERROR, "msg=\"could not commit upload\" err=\"%s\"", strerror(-u->rc));
            fail(u, u->rc == -ENOSPC ? GW_E_STORAGE : GW_E_INTERNAL, NULL);
        } else if (resumable(u) && !u->req.complete) {
            u->committed = true;
            gw_resumable_acknowledge(u->s, u->req.token ? NULL : u->token, u->offset,
                                     gw_resume_max_age(u->app->resumes, &u->meta));
        } else {
            u->committed = true;
            respond_receipt(u);
        }
        break;
    case OP_ABORT:
        break;
    }
    if (u->failed && holds_disk(u) && !u->detached) {
        submit(u, OP_ABORT);
        return;
    }
    if (u->detached) {
        maybe_free(u);
        return;
    }
    kick(u);
}

static void submit(struct gw_upload *u, enum op op)
{
    u->op = op;
    u->busy = true;
    gw_pool_submit(&u->app->disk, &u->s->worker->loop, &u->work, work, done);
}

void gw_upload_start(struct gw_stream *s, const struct gw_upload_req *req,
                     const struct gw_upload_auth *auth)
{
    struct gw_app *app = s->worker->app;
    struct gw_upload *u = calloc(1, sizeof(*u));
    struct img_limits lim;

    if (!u) {
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return;
    }
    /* Each upload holds at most one stream window (its ring); all of them together are bounded
     * too, so that many slow phones cannot make the gateway hold more than --max-buffered. */
    if (atomic_load(&app->buffered) >= app->cfg->max_buffered) {
        free(u);
        gw_stream_problem(s, GW_E_UNAVAILABLE,
                          "the gateway holds too many upload bytes in memory; retry shortly");
        return;
    }
    img_limits_init(&lim);
    lim.max_pixels = app->cfg->max_pixels;
    img_jpeg_scan_init(&u->scan, &lim);
    gw_metrics_in_flight(1);
    u->s = s;
    u->app = app;
    u->file.fd = -1;
    u->hold.fd = -1;
    u->expect = (uint64_t)s->content_length;
    snprintf(u->receipt.request_id, sizeof(u->receipt.request_id), "%s", s->request_id);
    u->req = *req;
    u->req.clave = u->req.token = NULL; /* copied below; the caller's strings do not last */
    if (req->clave)
        snprintf(u->receipt.clave, sizeof(u->receipt.clave), "%s", req->clave);
    if (req->token) {
        snprintf(u->token, sizeof(u->token), "%s", req->token);
        u->req.token = u->token;
    }
    if (auth) {
        u->signed_upload = true;
        u->auth = *auth;
    }
    gw_stream_ref(s);
    gw_stream_set_handler(s, &upload_handler, u);
    submit(u, OP_OPEN);
}

/* ---- the stream handler ---- */

static void on_data(struct gw_stream *s, const uint8_t *data, size_t len)
{
    struct gw_upload *u = s->data;
    size_t held, tail, first;

    if (u->failed) {
        gw_stream_consume(s, len);
        return;
    }
    if (!u->ring) {
        /* nghttp2 widens the window from its own view of the stream's initial window, 65535
         * until the peer acknowledges our SETTINGS: its grant can exceed ours by the difference
         * (one byte at our 64 KiB). */
        size_t race = u->app->cfg->initial_window > NGHTTP2_INITIAL_WINDOW_SIZE
                          ? u->app->cfg->initial_window - NGHTTP2_INITIAL_WINDOW_SIZE
                          : 0;
        size_t cap = (size_t)u->app->cfg->stream_window + race;

        u->ring = malloc(cap);
        if (!u->ring) {
            fail(u, GW_E_INTERNAL, NULL);
            gw_stream_consume(s, len);
            return;
        }
        u->ring_cap = cap;
        atomic_fetch_add(&u->app->buffered, (unsigned long long)u->ring_cap);
    }
    held = u->inflight_len + u->pending_len;
    /* nghttp2 enforces the window, so this is impossible for any peer; kept as a guard. */
    if (len > u->ring_cap - held) {
        fail(u, GW_E_BAD_REQUEST, "flow-control window exceeded");
        gw_stream_consume(s, len);
        return;
    }
    tail = (u->head + held) % u->ring_cap;
    first = len < u->ring_cap - tail ? len : u->ring_cap - tail;
    memcpy(u->ring + tail, data, first);
    memcpy(u->ring, data + first, len - first);
    u->pending_len += len;
    kick(u);
}

static void on_end(struct gw_stream *s)
{
    struct gw_upload *u = s->data;

    u->ended = true;
    kick(u);
}

static void on_detach(struct gw_stream *s)
{
    struct gw_upload *u = s->data;

    u->detached = true;
    maybe_free(u);
}
