#include "gw_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_api.h"
#include "gw_auth.h"
#include "gw_enrol.h"
#include "gw_error.h"
#include "gw_log.h"
#include "gw_throttle.h"
#include "gw_upload.h"

/* Past this much unsent output, nghttp2 is told to wait: a peer that does not read (or floods us
 * with frames that need answers) cannot make the gateway buffer without bound. */
#define OUTPUT_MAX (1u << 20)
/* After an early refusal, at most this much of the rest of a body is read and dropped. */
#define EARLY_DRAIN_MAX (64u << 10)

struct gw_conn {
    struct gw_worker *w;
    struct gw_conn *prev, *next;
    struct bufferevent *bev;
    nghttp2_session *h2;
    struct event *flush;
    struct gw_stream *streams;
    unsigned nstreams;
    uint64_t id, accepted_ms, active_ms;
    bool tls, got_settings;
    uint64_t closing_ms; /* GOAWAY queued at this time; 0 while open */
    char peer[64];
    char addr[INET6_ADDRSTRLEN]; /* |peer| without the port */
};

static uint64_t next_conn_id(void)
{
    static _Atomic uint64_t seq;

    return ++seq;
}

uint64_t gw_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- streams ---- */

static struct gw_stream *stream_new(struct gw_conn *c, int32_t id)
{
    struct gw_stream *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->conn = c;
    s->worker = c->w;
    s->id = id;
    s->refs = 1;
    s->content_length = -1;
    s->start_ms = s->progress_ms = gw_now_ms();
    s->next = c->streams;
    if (c->streams)
        c->streams->prev = s;
    c->streams = s;
    c->nstreams++;
    return s;
}

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

static void log_stream(struct gw_stream *s, uint32_t error_code)
{
    char path[160], peer[80];
    const char *problem = s->err ? gw_err_name(s->err) : "-";

    if (!s->method[0] && !s->path_len)
        return; /* reset before any header: nothing to report */
    gw_log(GW_LOG_INFO,
           "msg=request conn=%llu stream=%d peer=%s method=%s path=%s status=%d problem=%s"
           " req_bytes=%llu resp_bytes=%zu dur_ms=%llu h2_error=%u",
           (unsigned long long)s->conn->id, s->id,
           gw_log_quote(s->conn->peer, strlen(s->conn->peer), peer, sizeof(peer)),
           s->method[0] ? s->method : "-", gw_log_quote(s->path, s->path_len, path, sizeof(path)),
           s->status, problem, (unsigned long long)s->req_bytes, s->resp_off,
           (unsigned long long)(gw_now_ms() - s->start_ms), error_code);
}

/* Unlinks |s| from its connection; work in flight sees s->conn == NULL and stops. */
static void stream_detach(struct gw_stream *s)
{
    struct gw_conn *c = s->conn;

    if (!c)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    c->nstreams--;
    if (s->upload)
        gw_upload_detach(s);
    s->conn = NULL;
    gw_stream_unref(s);
}

static void conn_flush_soon(struct gw_conn *c)
{
    if (c->flush)
        event_active(c->flush, EV_WRITE, 0);
}

#define MAKE_NV(n, v, vlen)                                                                        \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen), NGHTTP2_NV_FLAG_NO_COPY_NAME        \
    }

static ssize_t body_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
    struct gw_stream *s = source->ptr;
    size_t n = s->resp_len - s->resp_off;

    if (n > length)
        n = length;
    if (n)
        memcpy(buf, s->resp + s->resp_off, n);
    s->resp_off += n;
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

/* Called from on_data_chunk for streams reading a small body. */
static void body_append(struct gw_stream *s, const uint8_t *data, size_t len)
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
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = body_read};

    if (!s->conn || s->responded || nextra > 8)
        return;
    s->responded = true;
    s->streaming = true;
    s->status = status;
    snprintf(st, sizeof(st), "%d", status);
    nv[n++] = (nghttp2_nv)MAKE_NV(":status", st, strlen(st));
    if (content_type)
        nv[n++] = (nghttp2_nv)MAKE_NV("content-type", content_type, strlen(content_type));
    for (size_t i = 0; i < nextra; i++)
        nv[n++] = extra[i];
    if (nghttp2_submit_response(s->conn->h2, s->id, nv, n, &prd) != 0)
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    conn_flush_soon(s->conn);
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
    if (live > OUTPUT_MAX) {
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_ENHANCE_YOUR_CALM);
        conn_flush_soon(s->conn);
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
    conn_flush_soon(s->conn);
    return 0;
}

void gw_stream_end(struct gw_stream *s)
{
    if (!s->conn || !s->streaming || s->stream_eof)
        return;
    s->stream_eof = true;
    nghttp2_session_resume_data(s->conn->h2, s->id);
    conn_flush_soon(s->conn);
}

void gw_stream_respond(struct gw_stream *s, int status, const char *content_type, uint8_t *body,
                       size_t len, const nghttp2_nv *extra, size_t nextra)
{
    nghttp2_nv nv[12];
    size_t n = 0;
    char st[4], clen[24];
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = body_read};

    if (!s->conn || s->responded || nextra > 8) {
        free(body);
        return;
    }
    s->responded = true;
    s->status = status;
    s->resp = body;
    s->resp_len = len;
    snprintf(st, sizeof(st), "%d", status);
    snprintf(clen, sizeof(clen), "%zu", len);
    nv[n++] = (nghttp2_nv)MAKE_NV(":status", st, strlen(st));
    if (content_type)
        nv[n++] = (nghttp2_nv)MAKE_NV("content-type", content_type, strlen(content_type));
    nv[n++] = (nghttp2_nv)MAKE_NV("content-length", clen, strlen(clen));
    for (size_t i = 0; i < nextra; i++)
        nv[n++] = extra[i];
    if (nghttp2_submit_response(s->conn->h2, s->id, nv, n, status == 304 ? NULL : &prd) != 0)
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    conn_flush_soon(s->conn);
}

void gw_stream_problem(struct gw_stream *s, int err, const char *detail)
{
    size_t len = 0;
    char *body;

    if (!s->conn || s->responded)
        return;
    s->err = err;
    gw_metrics_problem(err);
    body = gw_problem_json(err, detail, s->path_len ? s->path : NULL, &len);
    if (!body) {
        nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        conn_flush_soon(s->conn);
        return;
    }
    gw_stream_respond(s, gw_err_status(err), "application/problem+json", (uint8_t *)body, len, NULL,
                      0);
}

void gw_stream_open_window(struct gw_stream *s)
{
    if (!s->conn)
        return;
    nghttp2_session_set_local_window_size(s->conn->h2, NGHTTP2_FLAG_NONE, s->id,
                                          (int32_t)s->worker->srv->cfg->stream_window);
    conn_flush_soon(s->conn);
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
    conn_flush_soon(s->conn);
}

/* ---- nghttp2 callbacks ---- */

static ssize_t on_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *arg)
{
    struct gw_conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (evbuffer_get_length(out) >= OUTPUT_MAX)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_add(out, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
    struct gw_conn *c = arg;
    struct gw_stream *s;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    s = stream_new(c, frame->hd.stream_id);
    if (!s)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, s);
    return 0;
}

static void copy_field(char *dst, size_t cap, const uint8_t *v, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    struct gw_conn *c = arg;
    struct gw_stream *s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);

    if (!s || frame->hd.type != NGHTTP2_HEADERS || s->headers_done)
        return 0;
    /* RFC 9113's accounting for SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32 per field. We
     * keep only a few bounded fields; the cap stops a request from making us decode forever. */
    s->header_bytes += (uint32_t)(namelen + valuelen + 32);
    if (s->header_bytes > c->w->srv->cfg->max_header_bytes) {
        s->err = GW_E_HEADERS_TOO_LARGE;
        return 0;
    }
    if (s->nhdr < GW_MAX_HEADERS) {
        size_t need = namelen + valuelen + 2;

        if (!s->hdr_buf)
            s->hdr_buf = malloc(c->w->srv->cfg->max_header_bytes);
        /* header_bytes counts 32 more per field than we store, so this always fits. */
        if (s->hdr_buf && s->hdr_used + need <= c->w->srv->cfg->max_header_bytes) {
            s->hdr[s->nhdr].name = (uint32_t)s->hdr_used;
            memcpy(s->hdr_buf + s->hdr_used, name, namelen);
            s->hdr_buf[s->hdr_used + namelen] = '\0';
            s->hdr[s->nhdr].value = (uint32_t)(s->hdr_used + namelen + 1);
            memcpy(s->hdr_buf + s->hdr_used + namelen + 1, value, valuelen);
            s->hdr_buf[s->hdr_used + need - 1] = '\0';
            s->hdr_used += need;
            s->nhdr++;
        }
    }
    if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        copy_field(s->method, sizeof(s->method), value, valuelen);
    } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        if (valuelen >= sizeof(s->path)) {
            s->path_too_long = true;
            valuelen = sizeof(s->path) - 1;
        }
        memcpy(s->path, value, valuelen);
        s->path[valuelen] = '\0';
        s->path_len = valuelen;
    } else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
        copy_field(s->content_type, sizeof(s->content_type), value, valuelen);
    } else if (namelen == 13 && memcmp(name, "if-none-match", 13) == 0) {
        copy_field(s->if_none_match, sizeof(s->if_none_match), value, valuelen);
    } else if (namelen == 14 && memcmp(name, "content-length", 14) == 0) {
        /* nghttp2 has already checked that it is a number and will hold DATA to it. */
        char buf[24];

        copy_field(buf, sizeof(buf), value, valuelen);
        s->content_length = strtoll(buf, NULL, 10);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
    struct gw_conn *c = arg;
    struct gw_stream *s;

    c->active_ms = gw_now_ms();
    if (frame->hd.type == NGHTTP2_SETTINGS)
        c->got_settings = true;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!s)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !s->headers_done) {
        s->headers_done = true;
        s->remote_closed = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        if (s->err == GW_E_HEADERS_TOO_LARGE) {
            s->discard_body = true;
            gw_stream_problem(s, s->err, "request headers exceed the limit");
        } else {
            gw_api_route(s);
        }
        if (s->remote_closed && s->upload)
            gw_upload_end(s);
        return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        s->remote_closed = true;
        if (s->upload)
            gw_upload_end(s);
        if (s->on_body) {
            void (*cb)(struct gw_stream *) = s->on_body;

            s->on_body = NULL;
            cb(s);
        }
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *arg)
{
    struct gw_conn *c = arg;
    struct gw_stream *s = nghttp2_session_get_stream_user_data(h2, stream_id);

    c->active_ms = gw_now_ms();
    if (s) {
        s->req_bytes += len;
        s->progress_ms = c->active_ms;
    }
    if (s && s->upload && !s->responded && !s->discard_body) {
        gw_upload_data(s, data, len);
        return 0;
    }
    if (s && s->on_body && !s->discard_body)
        body_append(s, data, len);
    /* Nobody wants these bytes: give the window back at once so other streams keep flowing. */
    nghttp2_session_consume(h2, stream_id, len);
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
    struct gw_stream *s;

    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!s || s->remote_closed)
        return 0;
    /* The response is complete but the peer is still sending a body we will not use (an early
     * refusal). A short remainder is read and dropped: some clients (curl 7.88) lose the response
     * when the stream is reset under them. A long one is stopped with RST_STREAM(NO_ERROR), as
     * RFC 9113 section 8.1 allows, so a phone on a slow link does not send megabytes for nothing.
     */
    if (s->content_length < 0 || (uint64_t)s->content_length - s->req_bytes > EARLY_DRAIN_MAX)
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t stream_id, uint32_t error_code, void *arg)
{
    struct gw_stream *s = nghttp2_session_get_stream_user_data(h2, stream_id);

    if (!s)
        return 0;
    log_stream(s, error_code);
    nghttp2_session_set_stream_user_data(h2, stream_id, NULL);
    stream_detach(s);
    return 0;
}

/* ---- connections ---- */

static void conn_free(struct gw_conn *c)
{
    struct gw_worker *w = c->w;

    while (c->streams)
        stream_detach(c->streams);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    nghttp2_session_del(c->h2);
    if (c->flush)
        event_free(c->flush);
    if (c->bev)
        bufferevent_free(c->bev);
    gw_log(GW_LOG_DEBUG, "msg=\"connection closed\" conn=%llu", (unsigned long long)c->id);
    free(c);
}

/* Sends what nghttp2 has queued; frees |c| when the session is over. Never call it from inside
 * an nghttp2 callback. Returns -1 when |c| was freed. */
static int conn_send(struct gw_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (!c->h2) /* TLS handshake still running */
        return 0;
    if (nghttp2_session_send(c->h2) != 0) {
        conn_free(c);
        return -1;
    }
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
        evbuffer_get_length(out) == 0) {
        conn_free(c);
        return -1;
    }
    return 0;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    conn_send(arg);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct gw_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v[8];
    int n;

    if (!c->h2)
        return;
    n = evbuffer_peek(in, -1, NULL, v, 8);
    if (n > 8)
        n = 8;
    for (int i = 0; i < n; i++) {
        ssize_t r = nghttp2_session_mem_recv(c->h2, v[i].iov_base, v[i].iov_len);

        if (r < 0) {
            gw_log(GW_LOG_INFO, "msg=\"closing connection\" conn=%llu reason=\"%s\"",
                   (unsigned long long)c->id, nghttp2_strerror((int)r));
            conn_free(c);
            return;
        }
        evbuffer_drain(in, (size_t)r);
    }
    if (conn_send(c) < 0)
        return;
    /* Data beyond the first 8 chunks: run again. */
    if (evbuffer_get_length(in) > 0)
        bufferevent_trigger(bev, EV_READ, 0);
}

/* The output drained: nghttp2 may have more that it held back with WOULDBLOCK. */
static void on_write(struct bufferevent *bev, void *arg)
{
    conn_send(arg);
}

static int session_init(struct gw_conn *c)
{
    const struct gw_config *cfg = c->w->srv->cfg;
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->max_streams},
        /* Small until an upload's signature is checked; gw_stream_open_window() widens it. */
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->initial_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg->max_header_bytes},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    int r;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -ENOMEM;
    }
    /* Windows open only when bytes reach the disk (gw_stream_consume). */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    /* Flood protections: answers to PING/SETTINGS we must queue, SETTINGS entries, rapid resets
     * (CVE-2023-44487), CONTINUATION floods (CVE-2024-27316 class). */
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
    nghttp2_option_set_max_continuations(opt, 8);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    r = nghttp2_session_server_new2(&c->h2, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (r != 0)
        return -ENOMEM;
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)cfg->conn_window) != 0)
        return -ENOMEM;
    return 0;
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    struct gw_conn *c = arg;

    if (events & BEV_EVENT_CONNECTED) {
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        const unsigned char *alpn = NULL;
        unsigned alpnlen = 0;

        if (ssl)
            SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
        if (alpnlen != 2 || memcmp(alpn, "h2", 2) != 0) {
            gw_log(GW_LOG_INFO, "msg=\"closing connection\" conn=%llu reason=\"no ALPN h2\"",
                   (unsigned long long)c->id);
            conn_free(c);
            return;
        }
        if (session_init(c) < 0) {
            conn_free(c);
            return;
        }
        conn_send(c);
        return;
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct gw_worker *w = arg;
    struct gw_server *srv = w->srv;
    bool tls = l == w->tls;
    struct gw_conn *c = calloc(1, sizeof(*c));
    struct event_base *base = w->loop.base;
    int one = 1;
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";

    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
    snprintf(c->addr, sizeof(c->addr), "%s", host);
    c->w = w;
    c->id = next_conn_id();
    c->tls = tls;
    c->accepted_ms = c->active_ms = gw_now_ms();
    if (tls) {
        SSL *ssl = SSL_new(srv->ssl_ctx);

        c->bev =
            ssl ? bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
                : NULL;
        if (!c->bev && ssl)
            SSL_free(ssl);
    } else {
        c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    }
    c->flush = event_new(base, -1, 0, on_flush, c);
    if (!c->bev || !c->flush) {
        if (!c->bev)
            evutil_closesocket(fd);
        if (c->bev)
            bufferevent_free(c->bev);
        if (c->flush)
            event_free(c->flush);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    gw_log(GW_LOG_DEBUG, "msg=\"connection accepted\" conn=%llu peer=%s tls=%d",
           (unsigned long long)c->id, c->peer, tls);
    if (!tls) {
        if (session_init(c) < 0) {
            conn_free(c);
            return;
        }
        conn_send(c);
    }
}

/* Once a second: enforce the idle, header and body timeouts. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct gw_worker *w = arg;
    const struct gw_config *cfg = w->srv->cfg;
    uint64_t now = gw_now_ms();
    struct gw_conn *c, *next;

    for (c = w->conns; c; c = next) {
        const char *why = NULL;

        next = c->next;
        if (c->closing_ms) {
            /* GOAWAY was queued: a peer that does not read it loses the connection anyway. */
            if (now - c->closing_ms > 2000)
                conn_free(c);
            continue;
        }
        if (!c->got_settings && now - c->accepted_ms > cfg->header_timeout * 1000ull) {
            why = "no HTTP/2 preface in time";
        } else if (c->nstreams == 0 && now - c->active_ms > cfg->idle_timeout * 1000ull) {
            why = "idle";
        } else {
            for (struct gw_stream *s = c->streams; s; s = s->next) {
                if (!s->headers_done && now - s->start_ms > cfg->header_timeout * 1000ull) {
                    why = "header block not finished in time";
                    break;
                }
                if (!s->headers_done || s->remote_closed ||
                    now - s->progress_ms <= cfg->body_timeout * 1000ull)
                    continue;
                if (!s->responded)
                    gw_stream_problem(s, GW_E_TIMEOUT, "the body stalled");
                else /* refused earlier, and the rest of the body never came */
                    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
                conn_flush_soon(c);
            }
        }
        if (why && c->h2) {
            gw_log(GW_LOG_INFO, "msg=\"closing connection\" conn=%llu reason=\"%s\"",
                   (unsigned long long)c->id, why);
            /* GOAWAY, then the connection closes once it is written (conn_send). */
            c->closing_ms = now;
            nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
            conn_send(c);
        } else if (why) {
            conn_free(c);
        }
    }
}

/* ---- listeners and TLS ---- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    /* h2 only: a client that cannot speak it gets a clear no_application_protocol alert. */
    for (unsigned i = 0; i < inlen; i += 1u + in[i]) {
        if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int tls_init(struct gw_server *srv)
{
    const struct gw_config *cfg = srv->cfg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    char err[256];

    if (!ctx)
        return -ENOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* RFC 9113 section 9.2.2: TLS 1.2 with AEAD and ephemeral keys only. */
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ERR_error_string_n(ERR_get_error(), err, sizeof(err));
        gw_log(GW_LOG_ERROR,
               "msg=\"could not load TLS certificate or key\" cert=%s key=%s err=\"%s\"",
               cfg->cert_file, cfg->key_file, err);
        SSL_CTX_free(ctx);
        return -EINVAL;
    }
    srv->ssl_ctx = ctx;
    return 0;
}

static int listen_on(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int fd = -1, one = 1, e;
    size_t hl;

    if (!colon || colon == addr || !colon[1])
        return -EINVAL;
    hl = (size_t)(colon - addr);
    if (addr[0] == '[' && colon[-1] == ']') {
        addr++;
        hl -= 2;
    }
    if (hl >= sizeof(host))
        return -EINVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    e = getaddrinfo(host, colon + 1, &hints, &res);
    if (e != 0)
        return -EINVAL;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = -errno;
        goto out;
    }
    /* SO_REUSEADDR for quick restarts, but not SO_REUSEPORT: a second gateway on the same port
     * must fail to start rather than silently share the traffic. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 511) < 0) {
        e = -errno;
        close(fd);
        goto out;
    }
    e = fd;
out:
    freeaddrinfo(res);
    return e;
}

static int worker_init(struct gw_server *srv, struct gw_worker *w, unsigned id)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE;
    struct timeval one_s = {1, 0};
    int r = gw_loop_init(&w->loop);

    w->srv = srv;
    w->id = id;
    if (r < 0)
        return r;
    /* Every loop accepts on its own dup of the one listening socket; the kernel hands each new
     * connection to one of them. */
    if (srv->h2c_fd >= 0) {
        int fd = dup(srv->h2c_fd);

        w->h2c = fd < 0 ? NULL : evconnlistener_new(w->loop.base, on_accept, w, flags, -1, fd);
        if (!w->h2c) {
            if (fd >= 0)
                close(fd);
            return -ENOMEM;
        }
    }
    if (srv->tls_fd >= 0) {
        int fd = dup(srv->tls_fd);

        w->tls = fd < 0 ? NULL : evconnlistener_new(w->loop.base, on_accept, w, flags, -1, fd);
        if (!w->tls) {
            if (fd >= 0)
                close(fd);
            return -ENOMEM;
        }
    }
    w->tick = event_new(w->loop.base, -1, EV_PERSIST, on_tick, w);
    if (!w->tick || event_add(w->tick, &one_s) < 0)
        return -ENOMEM;
    return 0;
}

static void worker_finish(struct gw_worker *w)
{
    while (w->conns)
        conn_free(w->conns);
    if (w->h2c)
        evconnlistener_free(w->h2c);
    if (w->tls)
        evconnlistener_free(w->tls);
    if (w->tick)
        event_free(w->tick);
    gw_loop_finish(&w->loop);
}

int gw_server_start(struct gw_server *srv)
{
    const struct gw_config *cfg = srv->cfg;
    int r;

    srv->h2c_fd = srv->tls_fd = -1;
    if (cfg->tls_addr && (r = tls_init(srv)) < 0)
        return r;
    if (cfg->h2c_addr && (srv->h2c_fd = listen_on(cfg->h2c_addr)) < 0) {
        gw_log(GW_LOG_ERROR, "msg=\"could not listen\" addr=%s err=\"%s\"", cfg->h2c_addr,
               strerror(-srv->h2c_fd));
        return srv->h2c_fd;
    }
    if (cfg->tls_addr && (srv->tls_fd = listen_on(cfg->tls_addr)) < 0) {
        gw_log(GW_LOG_ERROR, "msg=\"could not listen\" addr=%s err=\"%s\"", cfg->tls_addr,
               strerror(-srv->tls_fd));
        return srv->tls_fd;
    }
    r = gw_pool_start(&srv->disk, "disk", cfg->disk_threads, NULL, NULL, NULL);
    if (r == 0)
        r = gw_pool_start(&srv->db, "db", cfg->db_threads, gw_api_db_thread_init,
                          gw_api_db_thread_fini, (void *)cfg->db);
    if (r == 0)
        r = gw_pool_start(&srv->auth, "auth", cfg->login_threads, gw_api_db_thread_init,
                          gw_api_db_thread_fini, (void *)cfg->db);
    if (r < 0)
        return r;
    srv->login_throttle =
        gw_throttle_new(cfg->login_address_free, GW_AUTH_BACKOFF_MAX_S, GW_AUTH_BACKOFF_MAX_S);
    if (!srv->login_throttle)
        return -ENOMEM;
    srv->workers = calloc(cfg->loops, sizeof(*srv->workers));
    if (!srv->workers)
        return -ENOMEM;
    for (unsigned i = 0; i < cfg->loops; i++) {
        srv->nworkers++;
        r = worker_init(srv, &srv->workers[i], i);
        if (r == 0)
            r = gw_loop_start(&srv->workers[i].loop);
        if (r < 0)
            return r;
    }
    gw_log(GW_LOG_INFO, "msg=listening h2c=%s tls=%s loops=%u",
           cfg->h2c_addr ? cfg->h2c_addr : "off", cfg->tls_addr ? cfg->tls_addr : "off",
           cfg->loops);
    return 0;
}

void gw_server_stop(struct gw_server *srv)
{
    /* Loops first, so no new work is submitted; then the pools finish what they hold and post
     * the completions, which run here (single-threaded now) and release their streams. */
    for (unsigned i = 0; i < srv->nworkers; i++)
        gw_loop_stop(&srv->workers[i].loop);
    for (unsigned i = 0; i < srv->nworkers; i++)
        while (srv->workers[i].conns)
            conn_free(srv->workers[i].conns);
    gw_pool_stop(&srv->disk);
    gw_pool_stop(&srv->db);
    gw_pool_stop(&srv->auth);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        gw_loop_drain(&srv->workers[i].loop);
        worker_finish(&srv->workers[i]);
    }
    free(srv->workers);
    srv->workers = NULL;
    srv->nworkers = 0;
    if (srv->h2c_fd >= 0)
        close(srv->h2c_fd);
    if (srv->tls_fd >= 0)
        close(srv->tls_fd);
    SSL_CTX_free(srv->ssl_ctx);
    srv->ssl_ctx = NULL;
    gw_throttle_free(srv->login_throttle);
    srv->login_throttle = NULL;
}
