#include "gw_h2.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "gw_config.h"
#include "gw_error.h"
#include "gw_h2_int.h"
#include "gw_log.h"
#include "gw_metrics.h"

/* Doubly linked lists through the |prev| and |next| members (systemd's LIST_*). */
#define LIST_PREPEND(head, item)                                                                   \
    do {                                                                                           \
        (item)->prev = NULL;                                                                       \
        (item)->next = (head);                                                                     \
        if (head)                                                                                  \
            (head)->prev = (item);                                                                 \
        (head) = (item);                                                                           \
    } while (0)
#define LIST_REMOVE(head, item)                                                                    \
    do {                                                                                           \
        if ((item)->prev)                                                                          \
            (item)->prev->next = (item)->next;                                                     \
        else                                                                                       \
            (head) = (item)->next;                                                                 \
        if ((item)->next)                                                                          \
            (item)->next->prev = (item)->prev;                                                     \
        (item)->prev = (item)->next = NULL;                                                        \
    } while (0)

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

/* The next request id: the process's random prefix, then a counter. Any loop thread. */
static void request_id_next(char *out)
{
    static atomic_uint prefix;
    static atomic_ullong counter;
    unsigned p = atomic_load(&prefix);

    while (p == 0) {
        unsigned fresh = 0;

        if (getrandom(&fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh) || fresh == 0)
            fresh = (unsigned)time(NULL) | 1u;
        atomic_compare_exchange_strong(&prefix, &p, fresh);
        p = atomic_load(&prefix);
    }
    snprintf(out, GW_REQUEST_ID_LEN + 1, "%08x%016llx", p, atomic_fetch_add(&counter, 1) + 1);
}

static struct gw_stream *stream_new(struct gw_conn *c, int32_t id)
{
    struct gw_stream *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    request_id_next(s->request_id);
    s->conn = c;
    s->worker = c->w;
    s->id = id;
    s->refs = 1;
    s->content_length = -1;
    s->start_ms = s->progress_ms = gw_now_ms();
    c->requests++;
    LIST_PREPEND(c->streams, s);
    c->nstreams++;
    return s;
}

static void log_stream(struct gw_stream *s, uint32_t error_code)
{
    char path[160], peer[80];
    const char *problem = s->err ? gw_err_name(s->err) : "-";

    if (!s->method[0] && !s->path_len)
        return; /* reset before any header: nothing to report */
    gw_log(GW_LOG_INFO,
           "msg=request request_id=%s conn=%llu stream=%d peer=%s method=%s path=%s status=%d"
           " problem=%s req_bytes=%llu resp_bytes=%zu dur_ms=%llu h2_error=%u",
           s->request_id, (unsigned long long)s->conn->id, s->id,
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
    LIST_REMOVE(c->streams, s);
    c->nstreams--;
    if (s->handler && s->handler->on_detach)
        s->handler->on_detach(s);
    s->conn = NULL;
    gw_stream_unref(s);
}

void gw_h2_conn_flush_soon(struct gw_conn *c)
{
    if (c->flush)
        event_active(c->flush, EV_WRITE, 0);
}

/* ---- nghttp2 callbacks ---- */

static ssize_t on_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *arg)
{
    struct gw_conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (evbuffer_get_length(out) >= GW_H2_OUTPUT_MAX)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_get_length(out) == 0)
        c->drained_ms = gw_now_ms(); /* the write-stall clock starts with the first byte queued */
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
    if (s->header_bytes > c->w->cfg->max_header_bytes) {
        s->err = GW_E_HEADERS_TOO_LARGE;
        return 0;
    }
    if (s->nhdr < GW_MAX_HEADERS) {
        size_t need = namelen + valuelen + 2;

        if (!s->hdr_buf)
            s->hdr_buf = malloc(c->w->cfg->max_header_bytes);
        /* header_bytes counts 32 more per field than we store, so this always fits. */
        if (s->hdr_buf && s->hdr_used + need <= c->w->cfg->max_header_bytes) {
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
    /* Stop at the first frame over the limit: the rest of what was read is not looked at. */
    if (gw_h2_control_flood(c, frame))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!s)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !s->headers_done) {
        s->headers_done = true;
        s->body_ms = c->active_ms;
        s->remote_closed = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        if (s->err == GW_E_HEADERS_TOO_LARGE) {
            s->discard_body = true;
            gw_stream_problem(s, s->err, "request headers exceed the limit");
        } else if (gw_h2_admit(c, s)) { /* else refused for its rate, before any routing */
            c->w->ops->on_request(s);
        } else if (c->abuse) {
            return NGHTTP2_ERR_CALLBACK_FAILURE; /* the rest of its frames is not looked at */
        }
        if (s->remote_closed && s->handler && s->handler->on_end)
            s->handler->on_end(s);
        return 0;
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        s->remote_closed = true;
        if (s->handler && s->handler->on_end)
            s->handler->on_end(s);
        if (s->on_body) {
            void (*cb)(struct gw_stream *) = s->on_body;

            s->on_body = NULL;
            cb(s);
        }
    }
    return 0;
}

/* Ends the reading of a refused body: the peer is told to stop sending it. */
static void drain_stop(struct gw_conn *c, struct gw_stream *s)
{
    if (s->drain_stopped)
        return;
    s->drain_stopped = true;
    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
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
    if (s && s->handler && s->handler->on_data && !s->responded && !s->discard_body) {
        s->handler->on_data(s, data, len);
        return 0;
    }
    if (s && s->on_body && !s->discard_body)
        gw_h2_body_append(s, data, len);
    /* Nobody wants these bytes: give the window back at once so other streams keep flowing. */
    nghttp2_session_consume(h2, stream_id, len);
    if (s && s->responded) {
        s->drained += len;
        if (s->drained > c->w->cfg->refusal_drain)
            drain_stop(c, s);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
    struct gw_conn *c = arg;
    struct gw_stream *s;

    /* nghttp2 ends a session by itself over its flood limits (rapid reset: INTERNAL_ERROR);
     * our own GOAWAYs are NO_ERROR, or ENHANCE_YOUR_CALM with c->abuse already set. */
    if (frame->hd.type == NGHTTP2_GOAWAY && !c->abuse &&
        (frame->goaway.error_code == NGHTTP2_INTERNAL_ERROR ||
         frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM))
        c->abuse = "nghttp2 flood limit";
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!s || s->remote_closed)
        return 0;
    /* The response is complete but the peer is still sending a body we will not use (an early
     * refusal). The rest is read and dropped, up to --refusal-drain, because the commonest
     * clients (curl 7.88, and so PHP and many scripts) lose a response whose stream is reset
     * while they send, although RFC 9113 section 8.1 allows it; a body declared longer than that
     * is stopped at once with RST_STREAM(NO_ERROR), so a phone does not send megabytes for
     * nothing. Our own clients stop sending when the answer comes. */
    if (s->cut_body || s->stalled ||
        (s->content_length >= 0 &&
         (uint64_t)s->content_length - s->req_bytes > c->w->cfg->refusal_drain))
        drain_stop(c, s);
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

/* A flood's address is refused new connections for a while (w->conn_abused): once per cut. */
static void penalise(struct gw_conn *c)
{
    if (!c->abuse || c->penalised)
        return;
    c->penalised = true;
    if (c->w->conn_abused)
        c->w->conn_abused(c->w, c->addr);
}

static void conn_free(struct gw_conn *c)
{
    struct gw_worker *w = c->w;

    penalise(c);
    while (c->streams)
        stream_detach(c->streams);
    LIST_REMOVE(w->conns, c);
    atomic_fetch_sub(&w->nconns, 1);
    if (w->conn_closed)
        w->conn_closed(w, c->addr);
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
    if (c->dead) { /* the GOAWAY written by hand is all that is left */
        if (evbuffer_get_length(out) > 0)
            return 0;
        conn_free(c);
        return -1;
    }
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

/*
 * Cuts |c| for the flood c->abuse: GOAWAY(ENHANCE_YOUR_CALM), nothing more is read, its address
 * is penalised, and it closes once the GOAWAY is written, or 2 s later for a peer that does not
 * read (gw_h2_worker_tick). After a fatal nghttp2 error (|failed|) the session may not be used:
 * the GOAWAY is written by hand. Never from inside an nghttp2 callback.
 */
static void conn_cut(struct gw_conn *c, bool failed)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    gw_log(GW_LOG_INFO, "msg=\"closing connection\" conn=%llu reason=\"%s\"",
           (unsigned long long)c->id, c->abuse);
    /* What it sent is not looked at; the kernel's buffers fill and the peer has to wait. */
    bufferevent_disable(c->bev, EV_READ);
    evbuffer_drain(in, evbuffer_get_length(in));
    c->closing_ms = gw_now_ms();
    penalise(c);
    if (failed) {
        /* RFC 9113 section 6.8: length 8, type GOAWAY, stream 0, last stream, error code. */
        uint32_t last = (uint32_t)nghttp2_session_get_last_proc_stream_id(c->h2) & 0x7fffffffu;
        uint8_t f[17] = {0, 0, 8, NGHTTP2_GOAWAY};

        for (int i = 0; i < 4; i++)
            f[9 + i] = (uint8_t)(last >> (24 - 8 * i));
        f[16] = NGHTTP2_ENHANCE_YOUR_CALM;

        c->dead = true;
        evbuffer_add(bufferevent_get_output(c->bev), f, sizeof(f));
    } else {
        nghttp2_session_terminate_session(c->h2, NGHTTP2_ENHANCE_YOUR_CALM);
    }
    conn_send(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct gw_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v[8];
    size_t budget = GW_H2_READ_BUDGET;
    int n;

    if (!c->h2 || c->dead)
        return;
    n = evbuffer_peek(in, -1, NULL, v, 8);
    if (n > 8)
        n = 8;
    for (int i = 0; i < n && budget > 0; i++) {
        size_t len = v[i].iov_len < budget ? v[i].iov_len : budget;
        ssize_t r = nghttp2_session_mem_recv(c->h2, v[i].iov_base, len);

        if (r < 0) {
            /* nghttp2's own flood limits end the session as our control-frame limit does. */
            if (!c->abuse && (r == NGHTTP2_ERR_FLOODED || r == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS))
                c->abuse = nghttp2_strerror((int)r);
            if (c->abuse) {
                conn_cut(c, true);
                return;
            }
            gw_log(GW_LOG_INFO, "msg=\"closing connection\" conn=%llu reason=\"%s\"",
                   (unsigned long long)c->id, nghttp2_strerror((int)r));
            conn_free(c);
            return;
        }
        evbuffer_drain(in, (size_t)r);
        budget -= (size_t)r;
        if (c->abuse) { /* nghttp2's own GOAWAY over its limits (on_frame_send) */
            conn_cut(c, false);
            return;
        }
    }
    if (conn_send(c) < 0)
        return;
    /* More than the budget, or than 8 chunks: run again after the other connections' turn. */
    if (evbuffer_get_length(in) > 0)
        bufferevent_trigger(bev, EV_READ, 0);
}

/* The output drained: nghttp2 may have more that it held back with WOULDBLOCK. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct gw_conn *c = arg;

    c->drained_ms = gw_now_ms();
    conn_send(c);
}

static int session_init(struct gw_conn *c)
{
    const struct gw_config *cfg = c->w->cfg;
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
    /* A handshake that finished while the gateway stops: no request will be taken. */
    if (c->w->draining)
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
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

int gw_h2_conn_new(struct gw_worker *w, struct bufferevent *bev, bool tls,
                   const struct sockaddr *sa, int salen)
{
    struct gw_conn *c = calloc(1, sizeof(*c));
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";

    getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
    if (c)
        c->flush = event_new(w->loop.base, -1, 0, on_flush, c);
    if (!c || !c->flush) {
        free(c);
        bufferevent_free(bev);
        if (w->conn_closed)
            w->conn_closed(w, host);
        return -ENOMEM;
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
    snprintf(c->addr, sizeof(c->addr), "%s", host);
    c->w = w;
    c->bev = bev;
    c->id = next_conn_id();
    c->tls = tls;
    c->accepted_ms = c->active_ms = gw_now_ms();
    LIST_PREPEND(w->conns, c);
    atomic_fetch_add(&w->nconns, 1);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    gw_log(GW_LOG_DEBUG, "msg=\"connection accepted\" conn=%llu peer=%s tls=%d",
           (unsigned long long)c->id, c->peer, tls);
    if (!tls) {
        if (session_init(c) < 0) {
            conn_free(c);
            return -ENOMEM;
        }
        conn_send(c);
    }
    return 0;
}

void gw_h2_worker_tick(struct gw_worker *w, uint64_t now)
{
    struct gw_conn *c, *next;

    for (c = w->conns; c; c = next) {
        const char *why;

        next = c->next;
        if (c->closing_ms) {
            /* GOAWAY was queued: a peer that does not read it loses the connection anyway. */
            if (now - c->closing_ms > 2000)
                conn_free(c);
            continue;
        }
        why = gw_h2_conn_overdue(c, now);
        /* A peer that stopped reading would not read a GOAWAY either. */
        if (why && c->h2 && why != GW_H2_STOPPED_READING) {
            gw_log(GW_LOG_INFO, "msg=\"closing connection\" conn=%llu reason=\"%s\"",
                   (unsigned long long)c->id, why);
            /* GOAWAY, then the connection closes once it is written (conn_send). */
            c->closing_ms = now;
            nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
            conn_send(c);
        } else if (why) {
            gw_log(GW_LOG_INFO, "msg=\"closing connection\" conn=%llu reason=\"%s\"",
                   (unsigned long long)c->id, why);
            conn_free(c);
        }
    }
}

void gw_h2_worker_close_all(struct gw_worker *w)
{
    while (w->conns)
        conn_free(w->conns);
}

void gw_h2_worker_goaway(struct gw_worker *w)
{
    struct gw_conn *c, *next;

    w->draining = true;
    for (c = w->conns; c; c = next) {
        next = c->next;
        if (!c->h2) {
            conn_free(c);
            continue;
        }
        /* Event streams never end by themselves: end them, the browser reconnects elsewhere. */
        for (struct gw_stream *s = c->streams; s; s = s->next)
            if (s->streaming)
                gw_stream_end(s);
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                              NULL, 0);
        conn_send(c); /* frees |c| at once when no stream is open */
    }
}
