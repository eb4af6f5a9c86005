#include "gw_api.h"

#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db_photos.h"
#include "gw_clave.h"
#include "gw_db.h"
#include "gw_devices.h"
#include "gw_enrol.h"
#include "gw_error.h"
#include "gw_log.h"
#include "gw_originals.h"
#include "gw_metrics.h"
#include "gw_receipt.h"
#include "gw_relay.h"
#include "gw_resumable.h"
#include "gw_capture.h"
#include "gw_review.h"
#include "gw_app.h"
#include "gw_h2.h"
#include "gw_upload.h"

/* The largest review derivative served; they are ~100-300 KB. */
#define REVIEW_MAX (32u << 20)

/* ---- read jobs ---- */

enum job_kind { JOB_PHOTO, JOB_REVIEW, JOB_READY, JOB_METRICS };

struct job {
    struct gw_work work;
    struct gw_stream *s;
    enum job_kind kind;
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char etag[GW_SHA256_HEX_LEN + 3];
    char token[GW_AUTH_TOKEN_LEN + 1]; /* review images: any account (gw_review) */
    bool if_none_match_hit;
    int err;            /* GW_E_* to answer with, or 0 */
    const char *detail; /* static */
    uint8_t *body;
    size_t len;
};

/*
 * Once processed, the photo's metadata holds its processed receipt (the receipt with the
 * legibility verdict, signed again: gw_stage). The status shows it as "receipt", and its verdict
 * as "legibility", so that a phone can tell the official to retake the photo.
 */
static void hoist_receipt(struct job *j)
{
    json_t *doc = json_loadb((const char *)j->body, j->len, 0, NULL);
    json_t *meta = json_object_get(doc, "metadata");
    json_t *rec = json_object_get(meta, "receipt");
    char *body;

    if (json_is_object(rec)) {
        json_object_set(doc, "legibility", json_object_get(rec, "legibility"));
        json_object_set(doc, "receipt", rec);
        json_object_del(meta, "receipt");
        /* The measures carry 3 decimals: print them so (gw_receipt_json does the same). */
        body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        if (body) {
            free(j->body);
            j->body = (uint8_t *)body;
            j->len = strlen(body);
        }
    }
    json_decref(doc);
}

/*
 * An edge relay's answer also carries the central gateway's receipt once the photo got there
 * (gw_relay), as "central_receipt": the phone keeps it as proof that the centre holds the photo.
 */
static void add_central_receipt(struct job *j, struct gw_app *app)
{
    char *central = NULL, *body;
    size_t len = 0;
    json_t *doc, *rec;

    if (gw_relay_central_receipt(app->spool.root, j->photo_id, &central, &len) < 0)
        return;
    doc = json_loadb((const char *)j->body, j->len, 0, NULL);
    rec = json_loadb(central, len, 0, NULL);
    free(central);
    if (json_is_object(doc) && json_is_object(rec) &&
        json_object_set(doc, "central_receipt", rec) == 0 &&
        (body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)))) {
        free(j->body);
        j->body = (uint8_t *)body;
        j->len = strlen(body);
    }
    json_decref(rec);
    json_decref(doc);
}

static void count_state(void *arg, const char *what, const char *state, long long n)
{
    struct gw_metrics_gauges *g = arg;
    bool photos = strcmp(what, "photos") == 0;
    const char *const *names = photos ? gw_metrics_photo_status : gw_metrics_review_state;

    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], state) == 0)
            (photos ? g->photos : g->review)[i] = n;
}

char *gw_api_metrics(struct gw_app *app, PGconn *pg, size_t *ret_len)
{
    struct gw_metrics_gauges g = {.devices = gw_devices_count(app->devices)};

    gw_spool_usage(&app->spool, &g.spool_pending, &g.spool_free_bytes);
    if (app->cfg->upstream) {
        struct gw_relay_stats rs;

        gw_relay_stats(app->relay, &rs);
        g.edge = true;
        g.relay_backlog = (long long)(rs.ledger_seq - rs.cursor);
        g.relay_forwarded = rs.forwarded;
        g.relay_refused = rs.refused;
        g.relay_failures = rs.failures;
        g.relay_up = rs.uplink_up;
    }
    g.database_up = pg && gw_db_state_counts(pg, count_state, &g) >= 0;
    return gw_metrics_text(&g, ret_len);
}

/* GET /metrics: the gauges that need the disk or the database, then the whole text. */
static void metrics_work(struct job *j, PGconn *pg)
{
    j->body = (uint8_t *)gw_api_metrics(j->s->worker->app, pg, &j->len);
    if (!j->body)
        j->err = GW_E_INTERNAL;
}

static void job_work(struct gw_work *w, void *thread_ctx)
{
    struct job *j = (struct job *)w;
    struct gw_app *app = j->s->worker->app;
    PGconn *pg = gw_db_thread_conn(thread_ctx);
    struct gw_receipt r;
    char sha[GW_SHA256_HEX_LEN + 1];
    int rc;

    switch (j->kind) {
    case JOB_METRICS:
        metrics_work(j, pg);
        return;
    case JOB_READY:
        if (!pg || gw_db_ping(pg) < 0) {
            j->err = GW_E_NOT_READY;
            j->detail = "database unreachable";
        } else if ((rc = gw_spool_check_writable(&app->spool)) < 0) {
            j->err = GW_E_NOT_READY;
            j->detail = rc == -ENOSPC || rc == -EDQUOT ? "spool full: no space left on its disk"
                                                       : "spool not writable";
        }
        return;
    case JOB_PHOTO:
        rc = pg ? gw_db_photo_json(pg, j->photo_id, (char **)&j->body, &j->len) : -EIO;
        if (rc == 0) {
            hoist_receipt(j);
            if (app->cfg->upstream)
                add_central_receipt(j, app);
            return;
        }
        /* Not in PostgreSQL (yet), or PostgreSQL is away: the spool still knows what it
         * acknowledged, and says so. */
        if (gw_spool_receipt_load(&app->spool, j->photo_id, &r) == 0) {
            j->body = (uint8_t *)gw_receipt_json(&r, "received", &j->len);
            if (!j->body)
                j->err = GW_E_INTERNAL;
            else if (app->cfg->upstream)
                add_central_receipt(j, app);
            return;
        }
        if (rc == -ENOENT) {
            j->err = GW_E_NOT_FOUND;
            j->detail = "no photo with this id";
        } else {
            j->err = GW_E_UNAVAILABLE;
            j->detail = "the photo database is unreachable; retry later";
        }
        return;
    case JOB_REVIEW:
        j->err = gw_review_check(pg, j->token, GW_ROLE_ANY, &j->detail);
        if (j->err)
            return;
        rc = pg ? gw_db_review_sha(pg, j->photo_id, sha) : -EIO;
        if (rc == -ENOENT) {
            j->err = GW_E_NOT_FOUND;
            j->detail = "no review image for this photo (unknown, or not processed yet)";
            return;
        }
        if (rc < 0) {
            j->err = GW_E_UNAVAILABLE;
            j->detail = "the photo database is unreachable; retry later";
            return;
        }
        if (j->etag[0] && strncmp(j->etag + 1, sha, GW_SHA256_HEX_LEN) == 0) {
            j->if_none_match_hit = true;
            return;
        }
        snprintf(j->etag, sizeof(j->etag), "\"%s\"", sha);
        /* Processed by another gateway: the database's copy. */
        if (gw_review_load(&app->spool, pg, sha, REVIEW_MAX, &j->body, &j->len) < 0) {
            j->err = GW_E_INTERNAL;
            j->detail = "review image missing from the store";
        }
        return;
    }
}

static void job_done(struct gw_work *w)
{
    struct job *j = (struct job *)w;
    struct gw_stream *s = j->s;
    nghttp2_nv nv[2];

    if (w->cancelled) {
        j->err = GW_E_UNAVAILABLE;
        j->detail = "shutting down";
    }
    if (j->err) {
        gw_stream_problem(s, j->err, j->detail);
        free(j->body);
    } else if (j->kind == JOB_READY) {
        char *b = strdup("{\"status\":\"ready\",\"database\":\"ok\",\"disk\":\"ok\"}");

        gw_stream_respond(s, 200, "application/json", (uint8_t *)b, b ? strlen(b) : 0, NULL, 0);
    } else if (j->kind == JOB_METRICS) {
        gw_stream_respond(s, 200, "text/plain; version=0.0.4", j->body, j->len, NULL, 0);
    } else if (j->kind == JOB_PHOTO) {
        gw_stream_respond(s, 200, "application/json", j->body, j->len, NULL, 0);
    } else {
        nv[0] = (nghttp2_nv){(uint8_t *)"etag", (uint8_t *)j->etag, 4, GW_SHA256_HEX_LEN + 2,
                             NGHTTP2_NV_FLAG_NO_COPY_NAME};
        nv[1] = (nghttp2_nv){(uint8_t *)"cache-control",
                             (uint8_t *)"private, max-age=31536000, immutable", 13, 36,
                             NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
        if (j->if_none_match_hit) {
            /* j->etag is the client's If-None-Match, equal to the current tag. */
            gw_stream_respond(s, 304, NULL, NULL, 0, nv, 2);
        } else {
            gw_stream_respond(s, 200, "image/webp", j->body, j->len, nv, 2);
        }
    }
    gw_stream_unref(s);
    free(j);
}

static void submit_job(struct gw_stream *s, enum job_kind kind, const char *photo_id,
                       const char *if_none_match)
{
    struct job *j = calloc(1, sizeof(*j));

    if (!j) {
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return;
    }
    j->s = s;
    j->kind = kind;
    if (photo_id)
        snprintf(j->photo_id, sizeof(j->photo_id), "%s", photo_id);
    if (kind == JOB_REVIEW)
        gw_review_request_token(s, j->token);
    if (if_none_match && strlen(if_none_match) == GW_SHA256_HEX_LEN + 2)
        snprintf(j->etag, sizeof(j->etag), "%s", if_none_match);
    gw_stream_ref(s);
    gw_pool_submit(&s->worker->app->db, &s->worker->loop, &j->work, job_work, job_done);
}

/* ---- routing ---- */

static void respond_text(struct gw_stream *s, int status, const char *type, const char *text)
{
    char *b = strdup(text);

    gw_stream_respond(s, status, type, (uint8_t *)b, b ? strlen(b) : 0, NULL, 0);
}

static void method_not_allowed(struct gw_stream *s, const char *allow)
{
    nghttp2_nv nv = {(uint8_t *)"allow", (uint8_t *)allow, 5, strlen(allow),
                     NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    char detail[64];

    snprintf(detail, sizeof(detail), "allowed: %s", allow);
    s->discard_body = true;
    gw_stream_problem_ext(s, GW_E_METHOD, detail, NULL, &nv, 1);
}

static bool is_jpeg_type(const char *ct)
{
    size_t n = strcspn(ct, ";");

    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 10 && strncasecmp(ct, "image/jpeg", 10) == 0;
}

static void route_upload(struct gw_stream *s, const char *clave, size_t clave_len)
{
    const struct gw_config *cfg = s->worker->app->cfg;
    char buf[GW_CLAVE_MAX + 1], detail[128];
    const char *why = NULL, *sig_input, *relay;
    struct gw_upload_auth auth;
    struct gw_upload_req req = {.clave = buf};

    if (!gw_clave_valid(clave, clave_len, &why)) {
        gw_stream_problem(s, GW_E_INVALID_CLAVE, why);
        return;
    }
    memcpy(buf, clave, clave_len);
    buf[clave_len] = '\0';
    sig_input = gw_stream_header(s, "signature-input", NULL);
    if (sig_input) {
        const char *sig = gw_stream_header(s, "signature", NULL);
        const char *digest = gw_stream_header(s, "content-digest", NULL);
        size_t n = (size_t)snprintf(auth.path, sizeof(auth.path), "%.*s",
                                    (int)strcspn(s->path, "?"), s->path);

        snprintf(auth.clave, sizeof(auth.clave), "%s", buf);
        if (!sig || !digest || n >= sizeof(auth.path) ||
            (size_t)snprintf(auth.signature_input, sizeof(auth.signature_input), "%s", sig_input) >=
                sizeof(auth.signature_input) ||
            (size_t)snprintf(auth.signature, sizeof(auth.signature), "%s", sig) >=
                sizeof(auth.signature) ||
            (size_t)snprintf(auth.content_digest, sizeof(auth.content_digest), "%s", digest) >=
                sizeof(auth.content_digest)) {
            gw_stream_problem(
                s, GW_E_BAD_SIGNATURE,
                "a signed upload needs Signature-Input, Signature and Content-Digest");
            return;
        }
        relay = gw_stream_header(s, "prep-relay", NULL);
        if ((size_t)snprintf(auth.relay, sizeof(auth.relay), "%s", relay ? relay : "") >=
            sizeof(auth.relay)) {
            gw_stream_problem(s, GW_E_RELAY_REFUSED, "Prep-Relay is too long");
            return;
        }
    } else if (!cfg->open_uploads) {
        gw_stream_problem(s, GW_E_SIGNATURE_REQUIRED,
                          "sign the upload with an enrolled device (see prep-upload)");
        return;
    }
    if (!is_jpeg_type(s->content_type)) {
        gw_stream_problem(s, GW_E_MEDIA_TYPE, "Content-Type must be image/jpeg");
        return;
    }
    if (s->content_length < 0 && !s->remote_closed) {
        gw_stream_problem(s, GW_E_LENGTH_REQUIRED, "send Content-Length with the photo");
        return;
    }
    if (s->content_length > 0 && (uint64_t)s->content_length > cfg->max_body) {
        snprintf(detail, sizeof(detail), "the limit is %llu bytes",
                 (unsigned long long)cfg->max_body);
        gw_stream_problem(s, GW_E_TOO_LARGE, detail);
        return;
    }
    if (gw_resumable_fields(s, &req) < 0)
        return;
    if (s->content_length < 0)
        s->content_length = 0; /* END_STREAM on the headers */
    /* A resumable upload may begin with no bytes (Upload-Complete: ?0): the draft's "careful
     * creation". A photo cannot be empty. */
    if (s->content_length == 0 && (!req.resumable || req.complete)) {
        gw_stream_problem(s, GW_E_EMPTY_BODY, "the body is empty");
        return;
    }
    gw_upload_start(s, &req, sig_input ? &auth : NULL);
}

/* What an edge relay leaves to the centre: enrolment and the clerks' and capturists' work. */
static bool edge_refuses(const char *path)
{
    static const char *const central[] = {
        "/v1/devices", "/v1/login",   "/v1/logout", "/v1/session", "/v1/progress",
        "/v1/review",  "/v1/capture", "/review",    "/capture",    "/login",
        "/dashboard",  "/history",    "/static"};

    for (size_t i = 0; i < sizeof(central) / sizeof(central[0]); i++) {
        size_t n = strlen(central[i]);

        if (strncmp(path, central[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return strcmp(path, "/") == 0 || strcmp(path, "/v1/photos") == 0;
}

void gw_api_route(struct gw_stream *s)
{
    char path[GW_PATH_MAX];
    size_t len = strcspn(s->path, "?");
    bool get = strcmp(s->method, "GET") == 0;
    const char *p, *end;

    /* Until a handler takes the body, whatever arrives is discarded (and its window returned). */
    s->discard_body = true;
    if (s->path_too_long) {
        gw_stream_problem(s, GW_E_HEADERS_TOO_LARGE, "the path is too long");
        return;
    }
    memcpy(path, s->path, len);
    path[len] = '\0';
    end = path + len;

    if (s->worker->app->cfg->upstream && edge_refuses(path)) {
        gw_stream_problem(s, GW_E_NOT_ON_EDGE,
                          "this gateway is a CATD edge relay: it takes photos and answers their "
                          "status; enrolment, review and capture are at the central gateway");
        return;
    }
    if (gw_enrol_route(s, path))
        return;
    if (strcmp(path, "/healthz") == 0) {
        if (!get)
            method_not_allowed(s, "GET");
        else
            respond_text(s, 200, "application/json", "{\"status\":\"ok\"}");
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        if (!get)
            gw_stream_problem(s, GW_E_METHOD, "allowed: GET");
        else
            submit_job(s, JOB_METRICS, NULL, NULL);
        return;
    }
    if (strcmp(path, "/readyz") == 0) {
        if (!get)
            method_not_allowed(s, "GET");
        else
            submit_job(s, JOB_READY, NULL, NULL);
        return;
    }
    if (strncmp(path, "/problems/", 10) == 0) {
        int err = gw_err_from_name(path + 10);
        char text[256];

        if (!err) {
            gw_stream_problem(s, GW_E_NOT_FOUND, "no such problem type");
            return;
        }
        snprintf(text, sizeof(text), "%s (HTTP %d)\nSee docs/api.md of the PREP casilla gateway.\n",
                 gw_err_title(err), gw_err_status(err));
        respond_text(s, 200, "text/plain; charset=utf-8", text);
        return;
    }
    if (strncmp(path, "/v1/actas/", 10) == 0 && len > 17 && strcmp(end - 7, "/photos") == 0) {
        p = path + 10;
        if (strcmp(s->method, "OPTIONS") == 0) {
            gw_resumable_options(s);
            return;
        }
        if (strcmp(s->method, "POST") != 0) {
            method_not_allowed(s, "POST, OPTIONS");
            return;
        }
        route_upload(s, p, (size_t)(end - 7 - p));
        return;
    }
    if (strncmp(path, "/v1/uploads/", 12) == 0) {
        gw_resumable_route(s, path + 12, len - 12);
        return;
    }
    if (strncmp(path, "/v1/photos/", 11) == 0) {
        p = path + 11;
        if ((size_t)(end - p) == GW_PHOTO_ID_LEN || (size_t)(end - p) == GW_PHOTO_ID_LEN + 12) {
            bool review = (size_t)(end - p) == GW_PHOTO_ID_LEN + 12;

            if (gw_photo_id_valid(p, GW_PHOTO_ID_LEN) &&
                (!review || strcmp(p + GW_PHOTO_ID_LEN, "/review.webp") == 0)) {
                char id[GW_PHOTO_ID_LEN + 1];

                if (!get) {
                    method_not_allowed(s, "GET");
                    return;
                }
                memcpy(id, p, GW_PHOTO_ID_LEN);
                id[GW_PHOTO_ID_LEN] = '\0';
                submit_job(s, review ? JOB_REVIEW : JOB_PHOTO, id, s->if_none_match);
                return;
            }
        }
        gw_stream_problem(s, GW_E_NOT_FOUND, "photo ids are lowercase UUIDs");
        return;
    }
    if (gw_capture_route(s, path, len))
        return;
    if (gw_review_route(s, path, len))
        return;
    gw_stream_problem(s, GW_E_NOT_FOUND, "no such endpoint");
}
