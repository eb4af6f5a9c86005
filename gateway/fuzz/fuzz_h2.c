/*
 * Fuzz target: the HTTP/2 protocol layer (gateway/http/) as a phone or browser reaches it. The
 * bytes follow a valid client preface and an empty SETTINGS frame, so the fuzzer starts past
 * the preface, and go into a real server connection (gw_h2_conn_new) over a bufferevent pair:
 * no socket, TLS, PostgreSQL or disk. The routes below use every way gw_h2.h offers to answer
 * (at once, a problem, a body read into memory, a body handler that refuses early, a streaming
 * response), so frames reach each of them. After the loop is idle the connection's timeouts
 * fire (a tick far in the future), then the worker says GOAWAY and closes everything, as the
 * gateway does when it stops; ASan's leak check then sees any stream or connection left over.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gw_config.h"
#include "gw_error.h"
#include "gw_h2.h"
#include "gw_log.h"

/* Loop passes per phase: enough for every exchange the corpus makes, bounded for ping-pong. */
#define FUZZ_H2_PASSES 64

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                 "\x00\x00\x00\x04\x00\x00\x00\x00\x00";

static bool starts(const struct gw_stream *s, const char *prefix)
{
    return strncmp(s->path, prefix, strlen(prefix)) == 0;
}

static void respond_text(struct gw_stream *s, int status, const char *text)
{
    size_t len = strlen(text);
    uint8_t *body = malloc(len);

    if (body)
        memcpy(body, text, len);
    gw_stream_respond(s, status, "text/plain", body, body ? len : 0, NULL, 0);
}

static void on_body(struct gw_stream *s)
{
    respond_text(s, s->body_len ? 200 : 204, s->body_len ? (const char *)s->body : "");
}

/* An upload: bytes are "written" at once; past 4 KiB it is refused while the body still comes,
 * which is the early-refusal and drain path of a real upload. */
static void upload_data(struct gw_stream *s, const uint8_t *data, size_t len)
{
    gw_stream_consume(s, len);
    if (s->req_bytes > 4096)
        gw_stream_problem(s, GW_E_TOO_LARGE, "the upload is too large");
}

static void upload_end(struct gw_stream *s)
{
    respond_text(s, 201, "stored");
}

/* No state of its own, so nothing to let go of on detach. */
static const struct gw_stream_handler upload = {.on_data = upload_data, .on_end = upload_end};

static void on_request(struct gw_stream *s)
{
    gw_stream_header(s, "authorization", NULL);
    if (starts(s, "/healthz")) {
        respond_text(s, 200, "ok");
    } else if (starts(s, "/body")) {
        gw_stream_read_body(s, 1024, on_body);
    } else if (starts(s, "/upload")) {
        gw_stream_set_handler(s, &upload, NULL);
        if (gw_stream_header(s, "signature", NULL))
            gw_stream_open_window(s);
    } else if (starts(s, "/events")) {
        gw_stream_respond_stream(s, 200, "text/event-stream", NULL, 0);
        gw_stream_send(s, "data: 1\n\n", 9);
    } else {
        gw_stream_problem(s, GW_E_NOT_FOUND, NULL);
    }
}

static const struct gw_h2_ops ops = {.on_request = on_request};

/* The client end reads and drops what the server sends, so the server is never blocked. */
static void client_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);

    evbuffer_drain(in, evbuffer_get_length(in));
}

static void run(struct event_base *base)
{
    for (int i = 0; i < FUZZ_H2_PASSES; i++)
        if (event_base_loop(base, EVLOOP_NONBLOCK) != 0)
            break;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gw_config cfg;
    static struct event_base *base;
    struct gw_worker w = {0};
    struct bufferevent *pair[2];
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};

    if (!base) {
        gw_log_set_level(GW_LOG_ERROR); /* a line per request would slow the fuzzer down */
        gw_config_defaults(&cfg);
        base = event_base_new();
        if (!base)
            abort();
    }
    w.loop.base = base;
    w.cfg = &cfg;
    w.ops = &ops;
    peer.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
    if (bufferevent_pair_new(base, 0, pair) != 0)
        abort();
    bufferevent_setcb(pair[1], client_read, NULL, NULL, NULL);
    bufferevent_enable(pair[1], EV_READ | EV_WRITE);
    if (gw_h2_conn_new(&w, pair[0], false, (struct sockaddr *)&peer, sizeof(peer)) != 0) {
        bufferevent_free(pair[1]);
        return 0;
    }
    bufferevent_write(pair[1], preface, sizeof(preface) - 1);
    bufferevent_write(pair[1], data, size);
    run(base);
    gw_h2_worker_tick(&w, gw_now_ms() + 3600 * 1000);
    run(base);
    gw_h2_worker_goaway(&w);
    run(base);
    gw_h2_worker_close_all(&w);
    bufferevent_free(pair[1]);
    run(base);
    return 0;
}
