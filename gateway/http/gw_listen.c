#include "gw_listen.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_config.h"
#include "gw_log.h"
#include "gw_metrics.h"

/* The current TLS context, with a reference for the caller (SSL_CTX_free() it). Any thread. */
static SSL_CTX *tls_ctx_get(struct gw_listen *l)
{
    SSL_CTX *ctx;

    pthread_mutex_lock(&l->tls_mu);
    ctx = l->ssl_ctx;
    if (ctx)
        SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&l->tls_mu);
    return ctx;
}

/* A connection from |addr| closed (gw_h2 calls it on the connection's loop). */
static void addr_release(struct gw_worker *w, const char *addr)
{
    gw_counts_put(&((struct gw_listen_worker *)w)->l->conns_per_addr, addr);
}

/* A connection from |addr| was cut for a flood: for --flood-penalty seconds the kernel drops the
 * address's packets at the listening socket (gw_drop), so a flooder that reconnects costs a
 * dropped SYN, and where that filter is missing its connections are refused at accept, which
 * costs an accept() each but no TLS or HTTP/2 work (gw_h2 calls it on the connection's loop). */
static void addr_penalise(struct gw_worker *w, const char *addr)
{
    struct gw_listen *l = ((struct gw_listen_worker *)w)->l;
    uint64_t now = gw_now_ms(), ms = l->cfg->flood_penalty * 1000ull;
    bool dropped;

    gw_metrics_refusal(GW_REFUSED_FLOOD);
    if (!l->cfg->flood_penalty || !l->cfg->conn_rate_per_address)
        return;
    gw_counts_charge(&l->conn_rate, addr, now, ms);
    dropped = gw_drop_add(&l->drop, addr, now + ms);
    gw_log(GW_LOG_WARN, "msg=\"address penalised\" peer=%s reason=flood seconds=%u refused_at=%s",
           addr, l->cfg->flood_penalty, dropped ? "syn" : "accept");
}

static void on_accept(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct gw_listen_worker *lw = arg;
    bool tls = el == lw->tls;
    struct event_base *base = lw->w.loop.base;
    struct bufferevent *bev;
    char host[INET6_ADDRSTRLEN] = "?";
    int one = 1;

    getnameinfo(sa, (socklen_t)salen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
    /* A client that reconnects as fast as it is cut (the floods) is turned away here, before
     * any TLS or HTTP/2 work, once past its burst or while penalised for a flood. */
    if (!gw_counts_hit(&lw->l->conn_rate, host, gw_now_ms())) {
        gw_metrics_refusal(GW_REFUSED_CONN_RATE);
        if (gw_now_ms() - lw->refusal_logged_ms > 1000) {
            gw_log(GW_LOG_WARN,
                   "msg=\"connections refused\" peer=%s reason=\"more than %u a"
                   " second, or penalised for a flood\"",
                   host, lw->l->cfg->conn_rate_per_address);
            lw->refusal_logged_ms = gw_now_ms();
        }
        evutil_closesocket(fd);
        return;
    }
    if (!gw_counts_take(&lw->l->conns_per_addr, host)) {
        gw_metrics_refusal(GW_REFUSED_CONN_CAP);
        /* Refused before any TLS or HTTP/2 work: the cheapest answer to a connection flood. */
        if (gw_now_ms() - lw->refusal_logged_ms > 1000) {
            gw_log(GW_LOG_WARN, "msg=\"connections refused\" peer=%s reason=\"more than %u open\"",
                   host, lw->l->cfg->max_conns_per_address);
            lw->refusal_logged_ms = gw_now_ms();
        }
        evutil_closesocket(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (tls) {
        SSL_CTX *ctx = tls_ctx_get(lw->l);
        SSL *ssl = ctx ? SSL_new(ctx) : NULL;

        SSL_CTX_free(ctx); /* |ssl| holds its own reference */

        bev = ssl ? bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
                  : NULL;
        if (!bev && ssl)
            SSL_free(ssl);
    } else {
        bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    }
    if (!bev) {
        evutil_closesocket(fd);
        addr_release(&lw->w, host);
        return;
    }
    gw_h2_conn_new(&lw->w, bev, tls, sa, salen); /* on failure it released |host| already */
}

#ifdef GW_TEST_HOOKS
/* Test builds only: PREP_TEST_STALL_LOOP_AFTER_S=N wedges loop 0 for good N seconds after it
 * started, the stuck loop against which the tests check that the watchdog goes hungry. */
static void test_stall(struct gw_listen_worker *lw, uint64_t now)
{
    static uint64_t started;
    const char *after = getenv("PREP_TEST_STALL_LOOP_AFTER_S");

    if (lw->w.id != 0 || !after || !*after)
        return;
    if (!started)
        started = now;
    if (now - started >= strtoull(after, NULL, 10) * 1000) {
        gw_log(GW_LOG_WARN, "msg=\"test hook: loop 0 stalls\"");
        for (;;)
            pause();
    }
}
#endif

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct gw_listen_worker *lw = arg;
    uint64_t now = gw_now_ms();

#ifdef GW_TEST_HOOKS
    test_stall(lw, now);
#endif
    lw->ticked_ms = now;
    if (lw->w.id == 0)
        gw_drop_expire(&lw->l->drop, now);
    gw_h2_worker_tick(&lw->w, now);
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

/* A TLS context with the certificate and key of |cfg| read now, in |*ret|. */
static int tls_load(const struct gw_config *cfg, SSL_CTX **ret)
{
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
    *ret = ctx;
    return 0;
}

int gw_listen_reload_tls(struct gw_listen *l)
{
    SSL_CTX *ctx = NULL, *old;
    int r;

    if (!l->cfg || !l->cfg->tls_addr)
        return 0;
    r = tls_load(l->cfg, &ctx);
    if (r < 0)
        return r; /* logged; the old certificate stays in use */
    /* New connections take the new context; each open one holds its own reference to the old
     * one through its SSL object, so none is dropped. */
    pthread_mutex_lock(&l->tls_mu);
    old = l->ssl_ctx;
    l->ssl_ctx = ctx;
    pthread_mutex_unlock(&l->tls_mu);
    SSL_CTX_free(old);
    gw_log(GW_LOG_INFO, "msg=\"TLS certificate reloaded\" cert=%s", l->cfg->cert_file);
    return 0;
}

int gw_listen_socket(const char *addr)
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

unsigned gw_listen_stalled(struct gw_listen *l, uint64_t now_ms, uint64_t limit_ms,
                           uint64_t *ret_ms)
{
    for (unsigned i = 0; i < l->nworkers; i++) {
        uint64_t t = l->workers[i].ticked_ms;

        if (now_ms > t && now_ms - t >= limit_ms) {
            *ret_ms = now_ms - t;
            return i + 1;
        }
    }
    return 0;
}

/* A listener on this loop for a dup of |fd|, or NULL. */
static struct evconnlistener *listen_dup(struct gw_listen_worker *lw, int fd)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE;
    int d = dup(fd);
    struct evconnlistener *el =
        d < 0 ? NULL : evconnlistener_new(lw->w.loop.base, on_accept, lw, flags, -1, d);

    if (!el && d >= 0)
        close(d);
    return el;
}

static int worker_init(struct gw_listen *l, struct gw_listen_worker *lw, unsigned id)
{
    struct timeval one_s = {1, 0};
    int r = gw_loop_init(&lw->w.loop);

    lw->l = l;
    lw->w.cfg = l->cfg;
    lw->w.ops = l->ops;
    lw->w.app = l->app;
    lw->w.id = id;
    lw->w.conn_closed = addr_release;
    lw->w.conn_abused = addr_penalise;
    lw->w.req_per_addr = &l->req_per_addr;
    lw->w.req_per_device = &l->req_per_device;
    if (r < 0)
        return r;
    /* Every loop accepts on its own dup of the one listening socket; the kernel hands each new
     * connection to one of them. */
    if ((l->h2c_fd >= 0 && !(lw->h2c = listen_dup(lw, l->h2c_fd))) ||
        (l->tls_fd >= 0 && !(lw->tls = listen_dup(lw, l->tls_fd))))
        return -ENOMEM;
    lw->ticked_ms = gw_now_ms();
    lw->tick = event_new(lw->w.loop.base, -1, EV_PERSIST, on_tick, lw);
    if (!lw->tick || event_add(lw->tick, &one_s) < 0)
        return -ENOMEM;
    return 0;
}

static void worker_finish(struct gw_listen_worker *lw)
{
    gw_h2_worker_close_all(&lw->w);
    if (lw->h2c)
        evconnlistener_free(lw->h2c);
    if (lw->tls)
        evconnlistener_free(lw->tls);
    if (lw->tick)
        event_free(lw->tick);
    gw_loop_finish(&lw->w.loop);
}

int gw_listen_start(struct gw_listen *l, const struct gw_config *cfg, const struct gw_h2_ops *ops,
                    struct gw_app *app)
{
    int r;

    memset(l, 0, sizeof(*l));
    l->cfg = cfg;
    l->ops = ops;
    l->app = app;
    l->h2c_fd = l->tls_fd = -1;
    pthread_mutex_init(&l->tls_mu, NULL);
    gw_drop_init(&l->drop);
    if ((r = gw_counts_init(&l->conns_per_addr, cfg->max_conns_per_address)) < 0 ||
        (r = gw_counts_init_rate(&l->conn_rate, 4 * cfg->conn_rate_per_address,
                                 cfg->conn_rate_per_address)) < 0 ||
        (r = gw_counts_init_rate(&l->req_per_addr, cfg->request_burst_per_address,
                                 cfg->request_rate_per_address)) < 0 ||
        (r = gw_counts_init_rate(&l->req_per_device, cfg->request_burst_per_device,
                                 cfg->request_rate_per_device)) < 0)
        return r;
    if (cfg->tls_addr && (r = tls_load(cfg, &l->ssl_ctx)) < 0)
        return r;
    if (cfg->h2c_addr && (l->h2c_fd = gw_listen_socket(cfg->h2c_addr)) < 0) {
        r = l->h2c_fd;
        gw_log(GW_LOG_ERROR, "msg=\"could not listen\" addr=%s err=\"%s\"", cfg->h2c_addr,
               strerror(-r));
        return r;
    }
    if (cfg->tls_addr && (l->tls_fd = gw_listen_socket(cfg->tls_addr)) < 0) {
        r = l->tls_fd;
        gw_log(GW_LOG_ERROR, "msg=\"could not listen\" addr=%s err=\"%s\"", cfg->tls_addr,
               strerror(-r));
        return r;
    }
    if (l->h2c_fd >= 0)
        gw_drop_listen(&l->drop, l->h2c_fd);
    if (l->tls_fd >= 0)
        gw_drop_listen(&l->drop, l->tls_fd);
    l->workers = calloc(cfg->loops, sizeof(*l->workers));
    if (!l->workers)
        return -ENOMEM;
    for (unsigned i = 0; i < cfg->loops; i++) {
        l->nworkers++;
        r = worker_init(l, &l->workers[i], i);
        if (r == 0)
            r = gw_loop_start(&l->workers[i].w.loop);
        if (r < 0)
            return r;
    }
    gw_log(GW_LOG_INFO, "msg=listening h2c=%s tls=%s loops=%u",
           cfg->h2c_addr ? cfg->h2c_addr : "off", cfg->tls_addr ? cfg->tls_addr : "off",
           cfg->loops);
    return 0;
}

/* On each loop: accept no more, and tell every connection to finish what it has. */
static void drain_task(struct gw_task *t)
{
    struct gw_listen_worker *lw =
        (struct gw_listen_worker *)((char *)t - offsetof(struct gw_listen_worker, drain));

    /* Closing this loop's copies of the listening sockets (the main thread closes the
     * originals) makes new connections fail at once instead of waiting in the backlog. */
    if (lw->h2c)
        evconnlistener_free(lw->h2c);
    if (lw->tls)
        evconnlistener_free(lw->tls);
    lw->h2c = lw->tls = NULL;
    gw_h2_worker_goaway(&lw->w);
}

unsigned gw_listen_drain(struct gw_listen *l, unsigned timeout_ms)
{
    uint64_t deadline = gw_now_ms() + timeout_ms;
    unsigned left;

    for (unsigned i = 0; i < l->nworkers; i++) {
        l->workers[i].drain = (struct gw_task){.cb = drain_task};
        gw_loop_post(&l->workers[i].w.loop, &l->workers[i].drain);
    }
    if (l->h2c_fd >= 0)
        close(l->h2c_fd);
    if (l->tls_fd >= 0)
        close(l->tls_fd);
    l->h2c_fd = l->tls_fd = -1;
    for (;;) {
        left = 0;
        for (unsigned i = 0; i < l->nworkers; i++)
            left += atomic_load(&l->workers[i].w.nconns);
        if (left == 0 || gw_now_ms() >= deadline)
            return left;
        usleep(50 * 1000);
    }
}

struct gw_loop *gw_listen_loop(struct gw_listen *l, unsigned i)
{
    return &l->workers[i].w.loop;
}

void gw_listen_stop(struct gw_listen *l)
{
    for (unsigned i = 0; i < l->nworkers; i++)
        gw_loop_stop(&l->workers[i].w.loop);
    for (unsigned i = 0; i < l->nworkers; i++)
        gw_h2_worker_close_all(&l->workers[i].w);
}

void gw_listen_free(struct gw_listen *l)
{
    if (!l->cfg) /* never started */
        return;
    for (unsigned i = 0; i < l->nworkers; i++) {
        gw_loop_drain(&l->workers[i].w.loop);
        worker_finish(&l->workers[i]);
    }
    free(l->workers);
    l->workers = NULL;
    l->nworkers = 0;
    if (l->h2c_fd >= 0)
        close(l->h2c_fd);
    if (l->tls_fd >= 0)
        close(l->tls_fd);
    l->h2c_fd = l->tls_fd = -1;
    SSL_CTX_free(l->ssl_ctx);
    l->ssl_ctx = NULL;
    pthread_mutex_destroy(&l->tls_mu);
    gw_drop_free(&l->drop);
    gw_counts_finish(&l->conns_per_addr);
    gw_counts_finish(&l->conn_rate);
    gw_counts_finish(&l->req_per_addr);
    gw_counts_finish(&l->req_per_device);
}
