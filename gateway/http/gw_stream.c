/* gw_stream: the stream API of the protocol layer (gw_h2.h): request headers, in-memory bodies,
 * responses, flow-control credit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_config.h"
#include "gw_error.h"
#include "gw_h2.h"
#include "gw_h2_int.h"
#include "gw_metrics.h"

void gw_stream_ref(struct gw_stream *s)
{
    s->refs++;
}

void gw_stream_unref(struct gw_stream *s)
{
    if (--s->refs > 0)
        return;
    free(s->resp);
    free(s->hdr_buf);
    free(s->body);
    free(s);
}

#define MAKE_NV(n, v, vlen)                                                                        \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen), NGHTTP2_NV_FLAG_NO_COPY_NAME        \
    }

ssize_t gw_h2_body_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
    struct gw_stream *s = source->ptr;
    size_t n = s->resp_len - s->resp_off;

    if (n > length)
        n = length;
    if (n)
        memcpy(buf, s->resp + s->resp_off, n);
    s->resp_off += n;
    if (n)
        s->sent_ms = gw_now_ms();
    if (s->resp_off == s->resp_len) {
        if (!s->streaming || s->stream_eof)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        else if (n == 0)
            return NGHTTP2_ERR_DEFERRED; /* gw_stream_send() resumes it */
    }
    return (ssize_t)n;
}

const char *gw_stream_header(const struct gw_stream *s, const char *name, size_t *ret_len)
{
    for (unsigned i = 0; i < s->nhdr; i++) {
        if (strcmp(s->hdr_buf + s->hdr[i].name, name) == 0) {
            const char *v = s->hdr_buf + s->hdr[i].value;

            if (ret_len)
                *ret_len = strlen(v);
            return v;
        }
    }
    return NULL;
}

void gw_stream_read_body(struct gw_stream *s, size_t max, void (*cb)(struct gw_stream *s))
{
    if (s->content_length >= 0 && (uint64_t)s->content_length > max) {
        s->discard_body = true;
        gw_stream_problem(s, GW_E_TOO_LARGE, "the request body is too large");
        return;
    }
    s->discard_body = false;
    s->body_max = max;
    s->on_body = cb;
    if (s->remote_closed) {
        s->on_body = NULL;
        cb(s);
    }
}

void gw_h2_body_append(struct gw_stream *s, const uint8_t *data, size_t len)
{
    uint8_t *grown;

    if (s->body_len + len > s->body_max) {
        s->discard_body = true;
        s->on_body = NULL;
        gw_stream_problem(s, GW_E_TOO_LARGE, "the request body is too large");
        return;
    }
    grown = realloc(s->body, s->body_len + len + 1);
    if (!grown) {
        s->discard_body = true;
        s->on_body = NULL;
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return;
    }
    s->body = grown;
    memcpy(s->body + s->body_len, data, len);
    s->body_len += len;
    s->body[s->body_len] = '\0'; /* handy for JSON parsers; not counted */
}

void gw_stream_respond_stream(struct gw_stream *s, int status, const char *content_type,
                              const nghttp2_nv *extra, size_t nextra)
{
    nghttp2_nv nv[12];
    size_t n = 0;
    char st[4];
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = gw_h2_body_read};

    if (!s->conn || s->responded || nextra > 8)
        return;
    s->responded = true;
    s->sent_ms = gw_now_ms();
    s->streaming = true;
    s->status = status;
    snprintf(st, sizeof(st), "%d", status);
    nv[n++] = (nghttp2_nv)MAKE_NV(":status", st, strlen(st));
    if (content_type)
        nv[n++] = (nghttp2_nv)MAKE_NV("content-type", content_type, strlen(content_type));
    nv[n++] = (nghttp2_nv)MAKE_NV("request-id", s->request_id, strlen(s->request_id));
    for (size_t i = 0; i < nextra; i++)
        nv[n++] = extra[i];
    if (nghttp2_submit_response(s->conn->h2, s->id, nv, n, &prd) != 0)
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    gw_h2_conn_flush_soon(s->conn);
}

int gw_stream_send(struct gw_stream *s, const void *data, size_t len)
{
    size_t live;

    if (!s->conn || !s->streaming || s->stream_eof)
        return -ENOTCONN;
    /* Drop what was already sent before growing. */
    if (s->resp_off > 0) {
        memmove(s->resp, s->resp + s->resp_off, s->resp_len - s->resp_off);
        s->resp_len -= s->resp_off;
        s->resp_off = 0;
    }
    live = s->resp_len + len;
    if (live > GW_H2_OUTPUT_MAX) {
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_ENHANCE_YOUR_CALM);
        gw_h2_conn_flush_soon(s->conn);
        return -ENOBUFS;
    }
    if (live > s->resp_cap) {
        size_t cap = s->resp_cap ? s->resp_cap : 4096;
        uint8_t *grown;

        while (cap < live)
            cap *= 2;
        grown = realloc(s->resp, cap);
        if (!grown)
            return -ENOMEM;
        s->resp = grown;
        s->resp_cap = cap;
    }
    memcpy(s->resp + s->resp_len, data, len);
    s->resp_len += len;
    nghttp2_session_resume_data(s->conn->h2, s->id);
    gw_h2_conn_flush_soon(s->conn);
    return 0;
}

void gw_stream_end(struct gw_stream *s)
{
    if (!s->conn || !s->streaming || s->stream_eof)
        return;
    s->stream_eof = true;
    nghttp2_session_resume_data(s->conn->h2, s->id);
    gw_h2_conn_flush_soon(s->conn);
}

void gw_stream_respond(struct gw_stream *s, int status, const char *content_type, uint8_t *body,
                       size_t len, const nghttp2_nv *extra, size_t nextra)
{
    nghttp2_nv nv[12];
    size_t n = 0;
    char st[4], clen[24];
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = gw_h2_body_read};

    if (!s->conn || s->responded || nextra > 8) {
        free(body);
        return;
    }
    s->responded = true;
    s->sent_ms = gw_now_ms();
    s->status = status;
    s->resp = body;
    s->resp_len = len;
    snprintf(st, sizeof(st), "%d", status);
    snprintf(clen, sizeof(clen), "%zu", len);
    nv[n++] = (nghttp2_nv)MAKE_NV(":status", st, strlen(st));
    if (content_type)
        nv[n++] = (nghttp2_nv)MAKE_NV("content-type", content_type, strlen(content_type));
    nv[n++] = (nghttp2_nv)MAKE_NV("request-id", s->request_id, strlen(s->request_id));
    /* 204 has no content (RFC 9110 8.6); an answer to HEAD only says what a GET would carry. */
    if (status != 204)
        nv[n++] = (nghttp2_nv)MAKE_NV("content-length", clen, strlen(clen));
    for (size_t i = 0; i < nextra; i++)
        nv[n++] = extra[i];
    if (nghttp2_submit_response(
            s->conn->h2, s->id, nv, n,
            status == 304 || status == 204 || strcmp(s->method, "HEAD") == 0 ? NULL : &prd) != 0)
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    gw_h2_conn_flush_soon(s->conn);
}

void gw_stream_interim(struct gw_stream *s, int status, const nghttp2_nv *extra, size_t nextra)
{
    nghttp2_nv nv[9];
    size_t n = 0;
    char st[4];

    if (!s->conn || s->responded || status < 100 || status > 199 || nextra > 8)
        return;
    snprintf(st, sizeof(st), "%d", status);
    nv[n++] = (nghttp2_nv)MAKE_NV(":status", st, strlen(st));
    for (size_t i = 0; i < nextra; i++)
        nv[n++] = extra[i];
    /* A HEADERS frame without END_STREAM before the final one; nghttp2 copies the fields. */
    nghttp2_submit_headers(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NULL, nv, n, NULL);
    gw_h2_conn_flush_soon(s->conn);
}

void gw_stream_problem_ext(struct gw_stream *s, int err, const char *detail, const char *members,
                           const nghttp2_nv *extra, size_t nextra)
{
    size_t len = 0;
    char *body;

    if (!s->conn || s->responded)
        return;
    s->err = err;
    gw_metrics_problem(err);
    body = gw_problem_json_members(err, detail, s->path_len ? s->path : NULL, s->request_id,
                                   members, &len);
    if (!body || nextra > 6) {
        free(body);
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        gw_h2_conn_flush_soon(s->conn);
        return;
    }
    gw_stream_respond(s, gw_err_status(err), "application/problem+json", (uint8_t *)body, len,
                      extra, nextra);
}

void gw_stream_problem(struct gw_stream *s, int err, const char *detail)
{
    unsigned retry_s = gw_err_retry_after(err);
    char retry[16];
    nghttp2_nv nv[1];

    /* A full disk or an absent database passes: say when to come back (RFC 9110 10.2.3). */
    snprintf(retry, sizeof(retry), "%u", retry_s);
    nv[0] = (nghttp2_nv)MAKE_NV("retry-after", retry, strlen(retry));
    gw_stream_problem_ext(s, err, detail, NULL, nv, retry_s > 0 ? 1 : 0);
}

void gw_stream_open_window(struct gw_stream *s)
{
    if (!s->conn)
        return;
    nghttp2_session_set_local_window_size(s->conn->h2, NGHTTP2_FLAG_NONE, s->id,
                                          (int32_t)s->worker->cfg->stream_window);
    gw_h2_conn_flush_soon(s->conn);
}

const char *gw_stream_peer_addr(const struct gw_stream *s)
{
    return s->conn ? s->conn->addr : "";
}

void gw_stream_consume(struct gw_stream *s, size_t n)
{
    if (!s->conn || n == 0)
        return;
    nghttp2_session_consume(s->conn->h2, s->id, n);
    s->progress_ms = gw_now_ms();
    gw_h2_conn_flush_soon(s->conn);
}

void gw_stream_set_handler(struct gw_stream *s, const struct gw_stream_handler *h, void *data)
{
    s->handler = h;
    s->data = data;
    s->discard_body = false;
}
