#include "pu_h2.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS_TRACKED 64

struct pu_h2_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    nghttp2_session *h2;
    struct pu_h2_opts opts;
    char authority[PU_URL_HOST_MAX + 8];
    bool failed;      /* the socket or the session broke: nothing more can be done */
    bool write_block; /* the last write would block: wait for POLLOUT (or POLLIN for TLS) */
    bool read_eof;
    struct pu_h2_request *reqs[MAX_STREAMS_TRACKED];
    unsigned nreqs;
};

void pu_h2_opts_default(struct pu_h2_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->io_timeout_ms = 30000;
    o->max_body = PU_H2_BODY_MAX_DEFAULT;
}

/* ---- the socket ---- */

int64_t pu_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for |events| on |fd| until |deadline| (monotonic ms). Returns revents, 0 on timeout. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int64_t left = deadline - pu_now_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return pfd.revents;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/* Binds |fd| of |family| to the numeric address |local| (port chosen by the system). */
static int bind_local(int fd, int family, const char *local)
{
    struct sockaddr_storage ss = {.ss_family = (sa_family_t)family};
    socklen_t len;

    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        len = sizeof(*in);
        if (inet_pton(AF_INET, local, &in->sin_addr) != 1)
            return -EAFNOSUPPORT;
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        len = sizeof(*in6);
        if (inet_pton(AF_INET6, local, &in6->sin6_addr) != 1)
            return -EAFNOSUPPORT;
    } else {
        return -EAFNOSUPPORT;
    }
    return bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
}

static int tcp_connect(const struct pu_url *u, const struct pu_h2_opts *o, char *why, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int64_t deadline = pu_now_ms() + o->connect_timeout_ms;
    const char *host = o->connect_host ? o->connect_host : u->host;
    const char *port = o->connect_port ? o->connect_port : u->port;
    const char *local = o->local_addr;
    int r, err = -ECONNREFUSED;

    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        snprintf(why, cap, "could not resolve %s: %s", host, gai_strerror(r));
        return r == EAI_MEMORY ? -ENOMEM : -ENOENT;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        int so = 0, ev, one = 1;
        socklen_t solen = sizeof(so);

        if (fd < 0) {
            err = -errno;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (local && (err = bind_local(fd, ai->ai_family, local)) < 0) {
            close(fd);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            err = -errno;
            close(fd);
            continue;
        }
        ev = wait_fd(fd, POLLOUT, deadline);
        if (ev == 0)
            so = ETIMEDOUT;
        else if (ev < 0)
            so = -ev;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &solen) < 0)
            so = errno;
        if (so == 0) {
            freeaddrinfo(res);
            return fd;
        }
        err = -so;
        close(fd);
    }
    freeaddrinfo(res);
    snprintf(why, cap, "could not connect to %s:%s: %s", host, port, strerror(-err));
    return err;
}

static void ssl_why(const char *what, char *why, size_t cap)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (e) {
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(why, cap, "%s: %s", what, buf);
    } else {
        snprintf(why, cap, "%s", what);
    }
    ERR_clear_error();
}

static int tls_start(struct pu_h2_conn *c, const struct pu_url *u, char *why, size_t cap)
{
    static const unsigned char alpn[] = {2, 'h', '2'};
    int64_t deadline = pu_now_ms() + c->opts.connect_timeout_ms;
    const unsigned char *sel = NULL;
    unsigned sellen = 0;
    unsigned char addr[16];
    bool ip = inet_pton(AF_INET, u->host, addr) == 1 || inet_pton(AF_INET6, u->host, addr) == 1;

    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
        return -ENOMEM;
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    /* nghttp2 may hand a WOULDBLOCK'ed buffer back at another address, and partial writes keep
     * the send callback simple. */
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof(alpn)) != 0)
        return -ENOMEM;
    if (!c->opts.insecure) {
        int ok = c->opts.cacert ? SSL_CTX_load_verify_locations(c->ctx, c->opts.cacert, NULL)
                                : SSL_CTX_set_default_verify_paths(c->ctx);

        if (ok != 1) {
            ssl_why("could not load the trusted certificates", why, cap);
            return -EPROTO;
        }
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
        return -ENOMEM;
    if (!ip)
        SSL_set_tlsext_host_name(c->ssl, u->host);
    if (!c->opts.insecure) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

        if (ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, u->host) != 1
               : SSL_set1_host(c->ssl, u->host) != 1)
            return -ENOMEM;
    }
    for (;;) {
        int r = SSL_connect(c->ssl), e, ev;

        if (r == 1)
            break;
        e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            long vr = SSL_get_verify_result(c->ssl);

            if (vr != X509_V_OK) {
                snprintf(why, cap, "TLS certificate of %s not accepted: %s", u->host,
                         X509_verify_cert_error_string(vr));
                ERR_clear_error();
            } else {
                ssl_why("TLS handshake failed", why, cap);
            }
            return -EPROTO;
        }
        ev = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (ev <= 0) {
            snprintf(why, cap, "TLS handshake with %s timed out", u->host);
            return ev < 0 ? ev : -ETIMEDOUT;
        }
    }
    SSL_get0_alpn_selected(c->ssl, &sel, &sellen);
    if (sellen != 2 || memcmp(sel, "h2", 2) != 0) {
        snprintf(why, cap, "%s did not agree to HTTP/2 (ALPN h2)", u->host);
        return -EPROTO;
    }
    return 0;
}

/* ---- nghttp2 callbacks ---- */

static struct pu_h2_request *find_req(struct pu_h2_conn *c, int32_t stream_id)
{
    for (unsigned i = 0; i < c->nreqs; i++)
        if (c->reqs[i]->stream_id == stream_id)
            return c->reqs[i];
    return NULL;
}

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    struct pu_h2_conn *c = arg;
    ssize_t n;

    if (c->failed) /* cut (pu_h2_conn_cut): nothing more leaves */
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (c->ssl) {
        int r;

        ERR_clear_error();
        r = SSL_write(c->ssl, data, (int)(len > INT32_MAX ? INT32_MAX : len));
        if (r > 0)
            return r;
        r = SSL_get_error(c->ssl, r);
        if (r == SSL_ERROR_WANT_WRITE || r == SSL_ERROR_WANT_READ) {
            c->write_block = true;
            return NGHTTP2_ERR_WOULDBLOCK;
        }
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        c->write_block = true;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    struct pu_h2_request *req = find_req(arg, f->hd.stream_id);

    if (!req || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int st = 0;

        /* nghttp2 has checked that it is three digits. */
        for (size_t i = 0; i < valuelen && i < 3; i++)
            st = st * 10 + (value[i] - '0');
        req->header_status = st;
        /* Informational responses (1xx) are followed by the final one. */
        if (st >= 200)
            req->status = st;
        return 0;
    }
    if (name[0] == ':')
        return 0;
    if (req->header_status >= 200 && namelen == 12 && memcmp(name, "content-type", 12) == 0)
        snprintf(req->content_type, sizeof(req->content_type), "%.*s", (int)valuelen, value);
    if (req->on_header)
        req->on_header(req, req->header_status, (const char *)name, namelen, (const char *)value,
                       valuelen, req->header_arg);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *arg)
{
    struct pu_h2_conn *c = arg;
    struct pu_h2_request *req = find_req(c, stream_id);

    if (!req || req->error)
        return 0;
    if (req->resp_len + len > c->opts.max_body) {
        req->error = -EMSGSIZE;
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
        return 0;
    }
    if (req->resp_len + len + 1 > req->resp_cap) {
        size_t cap = req->resp_cap ? req->resp_cap : 1024;
        char *p;

        while (cap < req->resp_len + len + 1)
            cap *= 2;
        p = realloc(req->resp_body, cap);
        if (!p) {
            req->error = -ENOMEM;
            nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
            return 0;
        }
        req->resp_body = p;
        req->resp_cap = cap;
    }
    memcpy(req->resp_body + req->resp_len, data, len);
    req->resp_len += len;
    req->resp_body[req->resp_len] = '\0';
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
    struct pu_h2_request *req;

    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    req = find_req(arg, f->hd.stream_id);
    if (!req || req->status < 200)
        return 0;
    req->complete = true;
    /* Answered before the whole photo went out (a refusal): the rest would only cost the phone's
     * data plan, since the gateway reads and drops it (--refusal-drain). Stop sending it. */
    if (nghttp2_session_get_stream_local_close(s, f->hd.stream_id) == 0)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_CANCEL);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *arg)
{
    struct pu_h2_request *req = find_req(arg, stream_id);

    if (!req)
        return 0;
    req->done = true;
    /* A server that has answered may reset the rest of our upload (RFC 9113 section 8.1): the
     * response counts. A reset before the whole response did not. */
    if (!req->complete && !req->error)
        req->error = -ECONNRESET;
    return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    struct pu_h2_request *req = src->ptr;
    uint64_t left = req->body_len - req->body_sent;
    size_t want = left < len ? (size_t)left : len;
    ssize_t n = 0;

    if (want > 0) {
        if (req->body_fd >= 0) {
            do
                n = pread(req->body_fd, buf, want, (off_t)(req->body_offset + req->body_sent));
            while (n < 0 && errno == EINTR);
            /* A file that shrank since its length was announced cannot be sent. */
            if (n <= 0) {
                req->error = -EIO;
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            }
        } else {
            n = (ssize_t)want;
            memcpy(buf, (const uint8_t *)req->body + req->body_sent, want);
        }
        req->body_sent += (uint64_t)n;
        if (req->on_progress)
            req->on_progress(req, req->body_sent, req->progress_arg);
    }
    if (req->body_sent == req->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n;
}

/* ---- connections ---- */

static int session_start(struct pu_h2_conn *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    int r;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    r = nghttp2_session_client_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (r != 0)
        return -ENOMEM;
    /* The client preface goes out with this SETTINGS on the first send. */
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
        return -ENOMEM;
    return 0;
}

int pu_h2_connect(const struct pu_url *u, const struct pu_h2_opts *o, struct pu_h2_conn **ret,
                  char *ret_why, size_t why_cap)
{
    char scratch[256];
    char *why = ret_why ? ret_why : scratch;
    size_t cap = ret_why ? why_cap : sizeof(scratch);
    struct pu_h2_conn *c = calloc(1, sizeof(*c));
    int r;

    if (!c) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    c->opts = *o;
    snprintf(c->authority, sizeof(c->authority), "%s", u->authority);
    c->fd = tcp_connect(u, o, why, cap);
    if (c->fd < 0) {
        r = c->fd;
        free(c);
        return r;
    }
    r = u->tls ? tls_start(c, u, why, cap) : 0;
    if (r == 0) {
        r = session_start(c);
        if (r < 0)
            snprintf(why, cap, "out of memory");
    } else if (r == -ENOMEM) {
        snprintf(why, cap, "out of memory");
    }
    if (r < 0) {
        pu_h2_conn_free(c);
        return r;
    }
    *ret = c;
    return 0;
}

bool pu_h2_usable(const struct pu_h2_conn *c)
{
    return !c->failed && !c->read_eof && nghttp2_session_want_read(c->h2) &&
           nghttp2_session_get_remote_settings(c->h2, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) > 0;
}

int pu_h2_submit(struct pu_h2_conn *c, struct pu_h2_request *req)
{
    nghttp2_nv nv[4 + PU_H2_MAX_HEADERS];
    nghttp2_data_provider prov = {.source.ptr = req, .read_callback = read_body};
    const char *pseudo[4][2] = {{":method", req->method},
                                {":scheme", c->ssl ? "https" : "http"},
                                {":authority", c->authority},
                                {":path", req->path}};
    size_t n = 0;
    int32_t id;

    if (req->nheaders > PU_H2_MAX_HEADERS)
        return -E2BIG;
    if (!pu_h2_usable(c) || c->nreqs == MAX_STREAMS_TRACKED)
        return -EPIPE;
    for (int i = 0; i < 4; i++) {
        nv[n++] = (nghttp2_nv){(uint8_t *)pseudo[i][0], (uint8_t *)pseudo[i][1],
                               strlen(pseudo[i][0]), strlen(pseudo[i][1]),
                               NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    }
    for (unsigned i = 0; i < req->nheaders; i++)
        nv[n++] = (nghttp2_nv){(uint8_t *)req->headers[i].name, (uint8_t *)req->headers[i].value,
                               strlen(req->headers[i].name), strlen(req->headers[i].value),
                               NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    req->status = 0;
    req->error = 0;
    req->header_status = 0;
    req->done = req->complete = false;
    req->body_sent = 0;
    id = nghttp2_submit_request(c->h2, NULL, nv, n,
                                req->body_len > 0 || req->body_fd >= 0 ? &prov : NULL, req);
    if (id < 0)
        return id == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPIPE;
    req->stream_id = id;
    c->reqs[c->nreqs++] = req;
    return 0;
}

/* Reads what the socket has and feeds it to nghttp2. Returns 0 or a negative errno. */
static int conn_read(struct pu_h2_conn *c)
{
    uint8_t buf[16384];

    for (;;) {
        ssize_t n;
        ssize_t used;

        if (c->ssl) {
            int r;

            ERR_clear_error();
            r = SSL_read(c->ssl, buf, sizeof(buf));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);

                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    return 0;
                if (e == SSL_ERROR_ZERO_RETURN) {
                    c->read_eof = true;
                    return 0;
                }
                return -ECONNRESET;
            }
            n = r;
        } else {
            n = recv(c->fd, buf, sizeof(buf), 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return 0;
                return -ECONNRESET;
            }
            if (n == 0) {
                c->read_eof = true;
                return 0;
            }
        }
        used = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (used < 0)
            return -EPROTO;
    }
}

static bool all_done(const struct pu_h2_conn *c)
{
    for (unsigned i = 0; i < c->nreqs; i++)
        if (!c->reqs[i]->done)
            return false;
    return true;
}

int pu_h2_run(struct pu_h2_conn *c)
{
    int r = 0;

    while (!c->failed && !all_done(c)) {
        short events = 0;
        int ev;

        c->write_block = false;
        if (nghttp2_session_send(c->h2) != 0) {
            r = -ECONNRESET;
            break;
        }
        if (all_done(c))
            break;
        if (c->read_eof) {
            r = -ECONNRESET;
            break;
        }
        if (nghttp2_session_want_read(c->h2) || c->ssl)
            events |= POLLIN;
        if (c->write_block)
            events |= POLLOUT;
        if (!events) {
            r = -ECONNRESET; /* nghttp2 wants nothing more: the session ended under us */
            break;
        }
        ev = wait_fd(c->fd, events, pu_now_ms() + c->opts.io_timeout_ms);
        if (ev == 0) {
            r = -ETIMEDOUT;
            break;
        }
        if (ev < 0) {
            r = ev;
            break;
        }
        if (ev & (POLLIN | POLLERR | POLLHUP)) {
            r = conn_read(c);
            if (r < 0)
                break;
        }
    }
    if (r < 0)
        c->failed = true;
    for (unsigned i = 0; i < c->nreqs; i++) {
        if (!c->reqs[i]->done) {
            c->reqs[i]->done = true;
            if (!c->reqs[i]->error)
                c->reqs[i]->error = -ECONNRESET;
        }
    }
    c->nreqs = 0;
    return r;
}

bool pu_h2_conn_readable(const struct pu_h2_conn *c)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | POLLRDHUP};

    return (c->ssl && SSL_pending(c->ssl) > 0) || poll(&pfd, 1, 0) > 0;
}

void pu_h2_conn_cut(struct pu_h2_conn *c)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};

    c->failed = true;
    if (c->ssl)
        SSL_set_quiet_shutdown(c->ssl, 1);
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void pu_h2_conn_free(struct pu_h2_conn *c)
{
    if (!c)
        return;
    if (c->h2 && !c->failed) {
        /* Best effort: a GOAWAY tells the server this close is deliberate. */
        c->write_block = false;
        nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
        nghttp2_session_send(c->h2);
    }
    nghttp2_session_del(c->h2);
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

void pu_h2_request_finish(struct pu_h2_request *req)
{
    free(req->resp_body);
    req->resp_body = NULL;
    req->resp_len = req->resp_cap = 0;
    req->status = 0;
    req->content_type[0] = '\0';
    req->error = 0;
    req->done = req->complete = false;
    req->stream_id = 0;
    req->header_status = 0;
    req->body_sent = 0;
}
