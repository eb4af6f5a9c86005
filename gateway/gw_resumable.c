#include "gw_resumable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_app.h"
#include "gw_error.h"
#include "gw_h2.h"
#include "gw_metrics.h"
#include "gw_resume.h"
#include "gw_sfv.h"
#include "gw_upload.h"

/* A field whose value, in a buffer, is filled and measured (valuelen) before it is sent. */
#define NV_COPY(name, value)                                                                       \
    {                                                                                              \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, 0, NGHTTP2_NV_FLAG_NO_COPY_NAME   \
    }

/* The Upload-Limit value: the photo size limit, and how long the resource lives. */
static void limit_value(const struct gw_stream *s, uint32_t max_age, char *buf, size_t cap)
{
    snprintf(buf, cap, "max-size=%llu, max-age=%u",
             (unsigned long long)s->worker->app->cfg->max_body, max_age);
}

static void location_value(const char *token, char *buf, size_t cap)
{
    snprintf(buf, cap, "/v1/uploads/%s", token);
}

void gw_resumable_announce(struct gw_stream *s, const char *token, uint32_t max_age)
{
    char loc[64], limit[64];
    nghttp2_nv nv[2] = {NV_COPY("location", loc), NV_COPY("upload-limit", limit)};

    location_value(token, loc, sizeof(loc));
    limit_value(s, max_age, limit, sizeof(limit));
    nv[0].valuelen = strlen(loc);
    nv[1].valuelen = strlen(limit);
    gw_stream_interim(s, 104, nv, 2);
}

void gw_resumable_acknowledge(struct gw_stream *s, const char *token, uint64_t offset,
                              uint32_t max_age)
{
    char loc[64], limit[64], off[24];
    nghttp2_nv nv[4] = {GW_RESUMABLE_NV("upload-complete", "?0"), NV_COPY("upload-offset", off),
                        NV_COPY("upload-limit", limit), NV_COPY("location", loc)};

    snprintf(off, sizeof(off), "%llu", (unsigned long long)offset);
    limit_value(s, max_age, limit, sizeof(limit));
    nv[1].valuelen = strlen(off);
    nv[2].valuelen = strlen(limit);
    if (token) {
        location_value(token, loc, sizeof(loc));
        nv[3].valuelen = strlen(loc);
        gw_stream_respond(s, 201, NULL, NULL, 0, nv, 4);
    } else {
        gw_stream_respond(s, 204, NULL, NULL, 0, nv, 2);
    }
}

void gw_resumable_problem(struct gw_stream *s, int err, const char *detail, const uint64_t *offsets,
                          bool completing)
{
    char members[96], off[24], retry[12];
    nghttp2_nv nv[3];
    size_t n = 0;
    unsigned wait = gw_err_retry_after(err);

    if (!s->conn || s->responded)
        return;
    members[0] = '\0';
    if (offsets) {
        snprintf(members, sizeof(members), "{\"expected-offset\":%llu,\"provided-offset\":%llu}",
                 (unsigned long long)offsets[0], (unsigned long long)offsets[1]);
        snprintf(off, sizeof(off), "%llu", (unsigned long long)offsets[0]);
        nv[n] = (nghttp2_nv)NV_COPY("upload-offset", off);
        nv[n++].valuelen = strlen(off);
    }
    if (completing)
        nv[n++] = (nghttp2_nv)GW_RESUMABLE_NV("upload-complete", "?1");
    if (wait) {
        snprintf(retry, sizeof(retry), "%u", wait);
        nv[n] = (nghttp2_nv)NV_COPY("retry-after", retry);
        nv[n++].valuelen = strlen(retry);
    }
    gw_stream_problem_ext(s, err, detail, members[0] ? members : NULL, nv, n);
}

/* Parses header |name| as a Structured Field Integer; absent leaves |*has| false. */
static int field_uint(struct gw_stream *s, const char *name, bool *has, uint64_t *v)
{
    size_t len = 0;
    const char *text = gw_stream_header(s, name, &len);

    *has = false;
    if (!text)
        return 0;
    if (gw_sfv_uint(text, len, v) < 0)
        return -EINVAL;
    *has = true;
    return 0;
}

static int field_bool(struct gw_stream *s, const char *name, bool *has, bool *v)
{
    size_t len = 0;
    const char *text = gw_stream_header(s, name, &len);

    *has = false;
    if (!text)
        return 0;
    if (gw_sfv_bool(text, len, v) < 0)
        return -EINVAL;
    *has = true;
    return 0;
}

int gw_resumable_fields(struct gw_stream *s, struct gw_upload_req *req)
{
    uint64_t max = s->worker->app->cfg->max_body;
    char detail[96];

    if (field_bool(s, "upload-complete", &req->resumable, &req->complete) < 0 ||
        field_uint(s, "upload-length", &req->has_length, &req->length) < 0) {
        gw_stream_problem(s, GW_E_BAD_REQUEST,
                          "Upload-Complete must be ?0 or ?1 and Upload-Length an integer "
                          "(RFC 9651 Structured Fields)");
        return -1;
    }
    if (req->has_length && req->length > max) {
        snprintf(detail, sizeof(detail), "the limit is %llu bytes", (unsigned long long)max);
        gw_stream_problem(s, GW_E_TOO_LARGE, detail);
        return -1;
    }
    return 0;
}

void gw_resumable_options(struct gw_stream *s)
{
    char limit[64];
    nghttp2_nv nv[3] = {GW_RESUMABLE_NV("accept-patch", "application/partial-upload"),
                        NV_COPY("upload-limit", limit), GW_RESUMABLE_NV("allow", "OPTIONS, POST")};

    limit_value(s, s->worker->app->cfg->upload_expiry, limit, sizeof(limit));
    nv[1].valuelen = strlen(limit);
    s->discard_body = true;
    gw_stream_respond(s, 204, NULL, NULL, 0, nv, 3);
}

/* ---- HEAD and DELETE, on the disk pool ---- */

struct job {
    struct gw_work work;
    struct gw_stream *s;
    bool cancel;
    char token[GW_UPLOAD_TOKEN_LEN + 1];
    int err; /* 0, -ENOENT or another -errno */
    struct gw_resume_meta meta;
    uint64_t offset;
    uint32_t max_age;
};

static void job_work(struct gw_work *w, void *ctx)
{
    struct job *j = (struct job *)w;
    struct gw_resumes *rs = j->s->worker->app->resumes;
    struct gw_resume_hold h = {.fd = -1};

    (void)ctx;
    /* Taking the upload ends any older request on it: the offset answered is the one the next
     * append must use, even when a dead connection still holds the old one. */
    j->err = gw_resume_take(rs, j->token, &j->meta, &h, &j->offset);
    if (j->err == 0 && j->cancel)
        j->err = gw_resume_delete(rs, &h);
    if (j->err == 0)
        j->max_age = gw_resume_max_age(rs, &j->meta);
    gw_resume_drop(rs, &h);
}

static void job_done(struct gw_work *w)
{
    struct job *j = (struct job *)w;
    struct gw_stream *s = j->s;
    char off[24], len[24], limit[64];
    nghttp2_nv nv[5] = {GW_RESUMABLE_NV("cache-control", "no-store"),
                        GW_RESUMABLE_NV("upload-complete", "?0"), NV_COPY("upload-offset", off),
                        NV_COPY("upload-limit", limit), NV_COPY("upload-length", len)};

    if (w->cancelled)
        gw_stream_problem(s, GW_E_UNAVAILABLE, "shutting down");
    else if (j->err == -ENOENT)
        gw_stream_problem(s, GW_E_UPLOAD_NOT_FOUND,
                          "no such upload: it expired, was cancelled, or never existed");
    else if (j->err < 0)
        gw_stream_problem(s, j->err == -ENOSPC ? GW_E_STORAGE : GW_E_INTERNAL, NULL);
    else if (j->cancel)
        gw_stream_respond(s, 204, NULL, NULL, 0, NULL, 0);
    else {
        snprintf(off, sizeof(off), "%llu", (unsigned long long)j->offset);
        snprintf(len, sizeof(len), "%llu", (unsigned long long)j->meta.length);
        limit_value(s, j->max_age, limit, sizeof(limit));
        if (j->meta.complete)
            nv[1] = (nghttp2_nv)GW_RESUMABLE_NV("upload-complete", "?1");
        nv[2].valuelen = strlen(off);
        nv[3].valuelen = strlen(limit);
        nv[4].valuelen = strlen(len);
        gw_stream_respond(s, 204, NULL, NULL, 0, nv, j->meta.has_length ? 5 : 4);
    }
    gw_stream_unref(s);
    free(j);
}

static void submit_job(struct gw_stream *s, const char *token, bool cancel)
{
    struct job *j = calloc(1, sizeof(*j));

    if (!j) {
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return;
    }
    j->s = s;
    j->cancel = cancel;
    memcpy(j->token, token, sizeof(j->token));
    gw_stream_ref(s);
    gw_pool_submit(&s->worker->app->disk, &s->worker->loop, &j->work, job_work, job_done);
}

/* ---- PATCH ---- */

static bool is_partial_upload(const char *ct)
{
    size_t n = strcspn(ct, ";");

    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 26 && strncasecmp(ct, "application/partial-upload", 26) == 0;
}

static void route_patch(struct gw_stream *s, const char *token)
{
    struct gw_upload_req req = {.token = token};
    bool has_offset = false;
    char detail[96];

    if (!is_partial_upload(s->content_type)) {
        gw_stream_problem(s, GW_E_MEDIA_TYPE,
                          "an append is Content-Type application/partial-upload");
        return;
    }
    if (gw_resumable_fields(s, &req) < 0)
        return;
    if (field_uint(s, "upload-offset", &has_offset, &req.offset) < 0 || !has_offset ||
        !req.resumable) {
        gw_stream_problem(s, GW_E_BAD_REQUEST,
                          "an append needs Upload-Offset (an integer) and Upload-Complete (?0 or "
                          "?1)");
        return;
    }
    if (s->content_length < 0 && !s->remote_closed) {
        gw_stream_problem(s, GW_E_LENGTH_REQUIRED, "send Content-Length with the bytes");
        return;
    }
    if (s->content_length > 0 && (uint64_t)s->content_length > s->worker->app->cfg->max_body) {
        snprintf(detail, sizeof(detail), "the limit is %llu bytes",
                 (unsigned long long)s->worker->app->cfg->max_body);
        gw_stream_problem(s, GW_E_TOO_LARGE, detail);
        return;
    }
    if (s->content_length < 0)
        s->content_length = 0; /* END_STREAM on the headers: an empty append */
    gw_upload_start(s, &req, NULL);
}

void gw_resumable_route(struct gw_stream *s, const char *rest, size_t len)
{
    char token[GW_UPLOAD_TOKEN_LEN + 1];

    if (!gw_resume_token_valid(rest, len)) {
        gw_stream_problem(s, GW_E_UPLOAD_NOT_FOUND, "upload tokens are 32 lowercase hex digits");
        return;
    }
    memcpy(token, rest, len);
    token[len] = '\0';
    if (strcmp(s->method, "HEAD") == 0) {
        submit_job(s, token, false);
    } else if (strcmp(s->method, "DELETE") == 0) {
        submit_job(s, token, true);
    } else if (strcmp(s->method, "PATCH") == 0) {
        route_patch(s, token);
    } else {
        nghttp2_nv nv = GW_RESUMABLE_NV("allow", "HEAD, PATCH, DELETE");

        gw_stream_problem_ext(s, GW_E_METHOD, "allowed: HEAD, PATCH, DELETE", NULL, &nv, 1);
    }
}
