/*
 * gw_h2: the HTTP/2 protocol layer. It knows connections, streams and nghttp2, and no handler.
 *
 * A connection is an nghttp2 server session over a bufferevent (cleartext, or TLS once ALPN
 * chose h2) on one loop thread, for its whole life. Each request becomes a gw_stream; once its
 * headers are complete the worker's gw_h2_ops.on_request callback routes it. A route answers at
 * once (gw_stream_respond, gw_stream_problem), reads a small body into memory
 * (gw_stream_read_body), or installs a gw_stream_handler that receives the body as it arrives,
 * its end, and the stream's detachment (as h2o's lib/http2 hands a request to handlers). The
 * layer never blocks, and never opens a flow-control window by itself: a handler returns each
 * DATA byte with gw_stream_consume() once it is done with it, so a phone sends only as fast as
 * the handler (the disk) takes. Bytes that no handler takes are given back at once.
 *
 * It does not accept sockets, load certificates or run threads (gw_listen does), and does not
 * know what a route does (gw_api does).
 */
#ifndef GW_H2_H
#define GW_H2_H

#include <nghttp2/nghttp2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_loop.h"

struct gw_app;
struct gw_config;
struct gw_conn;
struct gw_counts;
struct gw_stream;
struct bufferevent;
struct sockaddr;

#define GW_PATH_MAX 512
#define GW_REQUEST_ID_LEN 24
#define GW_MAX_HEADERS 64 /* request header fields kept for gw_stream_header() */

/* What the protocol layer calls into; the program that runs it provides them. */
struct gw_h2_ops {
    /*
     * A request's headers are complete: answer |s|, read its body, or give it a handler. Runs on
     * the stream's loop, from inside nghttp2's receive callbacks.
     */
    void (*on_request)(struct gw_stream *s);
};

/* One loop thread and the connections it serves. */
struct gw_worker {
    struct gw_loop loop; /* first */
    const struct gw_config *cfg;
    const struct gw_h2_ops *ops;
    struct gw_app *app; /* the application's state; opaque here, for handlers */
    unsigned id;
    struct gw_conn *conns;
    atomic_uint nconns; /* connections open on this loop, readable from any thread */
    bool draining;      /* gw_h2_worker_goaway() ran: connections end with their streams */
    /* Called as each connection closes, with its client address (or NULL). */
    void (*conn_closed)(struct gw_worker *w, const char *addr);
    /* Called before conn_closed when the connection was cut for a flood (may be NULL). */
    void (*conn_abused)(struct gw_worker *w, const char *addr);
    /* Requests a second per client address and per signing device, shared by every loop
     * (rate-mode gw_counts of --request-rate-per-*; NULL: no limit). */
    struct gw_counts *req_per_addr, *req_per_device;
};

/*
 * A handler takes over a request's body. Every callback runs on the stream's loop thread.
 * |on_data| gets the DATA bytes while the stream is neither answered nor discarding; the handler
 * gives their flow-control credit back with gw_stream_consume() when it is done with them.
 * |on_end| runs once when the peer ends the body (also when the headers carried END_STREAM).
 * |on_detach| runs once when the stream closes or its connection goes; the handler lets go of
 * |s| (it may hold a reference until its own work finishes, but must not respond any more).
 */
struct gw_stream_handler {
    void (*on_data)(struct gw_stream *s, const uint8_t *data, size_t len);
    void (*on_end)(struct gw_stream *s);
    void (*on_detach)(struct gw_stream *s);
};

struct gw_stream {
    struct gw_conn *conn; /* NULL once the stream closed: pending work must not respond */
    struct gw_worker *worker;
    struct gw_stream *prev, *next;
    int32_t id;
    int refs;
    /* This request's id: 24 hex digits, unique across the gateway's runs (a random prefix per
     * process and a counter); in its log line, its Request-Id header and its problem document. */
    char request_id[GW_REQUEST_ID_LEN + 1];
    char method[8];
    char path[GW_PATH_MAX];
    size_t path_len;
    bool path_too_long;
    char content_type[64];
    char if_none_match[72];
    int64_t content_length; /* -1 when absent */
    uint32_t header_bytes;
    bool headers_done, remote_closed, responded, discard_body;
    uint64_t start_ms, progress_ms, req_bytes;
    uint64_t body_ms; /* headers complete: the body may come from then on (--min-body-rate) */
    uint64_t sent_ms; /* the response last sent bytes, or was started (--write-timeout) */
    uint64_t drained; /* body bytes dropped after the response (--refusal-drain) */
    bool drain_stopped, stalled; /* RST_STREAM(NO_ERROR) sent; the body timed out */
    bool cut_body;               /* refused before its body: reset once answered, none read */
    int status, err;
    uint8_t *resp;
    size_t resp_len, resp_off, resp_cap;
    bool streaming, stream_eof; /* gw_stream_respond_stream() */
    /* Every request header field, "name\0value\0", bounded by max_header_bytes. */
    char *hdr_buf;
    size_t hdr_used;
    struct {
        uint32_t name, value; /* offsets into hdr_buf */
    } hdr[GW_MAX_HEADERS];
    unsigned nhdr;
    /* gw_stream_read_body(): small request bodies kept in memory. */
    uint8_t *body;
    size_t body_len, body_max;
    void (*on_body)(struct gw_stream *s);
    const struct gw_stream_handler *handler; /* gw_stream_set_handler() */
    void *data;                              /* the handler's own state */
};

/*
 * Gives the body of |s| to |h| with its state |data| (kept in s->data). Call from a route, at
 * most once per stream; the stream takes no reference for the handler. Loop thread only.
 */
void gw_stream_set_handler(struct gw_stream *s, const struct gw_stream_handler *h, void *data);

/*
 * Returns the value of request header |name| (lowercase, as HTTP/2 sends it) and its length in
 * |*ret_len| (may be NULL), or NULL when the request has no such field. The value lives as long
 * as the stream. Loop thread only.
 */
const char *gw_stream_header(const struct gw_stream *s, const char *name, size_t *ret_len);

/*
 * Reads the request body of |s| into memory (s->body, s->body_len; at most |max| bytes, else a
 * 413 problem) and calls |cb| on the loop once it is complete. For small JSON bodies only: uploads
 * stream through a handler instead. Loop thread only.
 */
void gw_stream_read_body(struct gw_stream *s, size_t max, void (*cb)(struct gw_stream *s));

/*
 * Starts a response whose body is produced over time (Server-Sent Events): |status|,
 * |content_type| and |extra| headers now, then gw_stream_send() for each piece and
 * gw_stream_end() to finish. Loop thread only.
 */
void gw_stream_respond_stream(struct gw_stream *s, int status, const char *content_type,
                              const nghttp2_nv *extra, size_t nextra);

/*
 * Appends |len| bytes to a streaming response. Returns 0, or -ENOBUFS when the peer is not
 * reading and more than 1 MiB waits (the stream is then reset), or -ENOTCONN when the stream is
 * gone. Loop thread only.
 */
int gw_stream_send(struct gw_stream *s, const void *data, size_t len);

/* Ends a streaming response. Loop thread only. */
void gw_stream_end(struct gw_stream *s);

/* Monotonic milliseconds. */
uint64_t gw_now_ms(void);

/* The client's address in text ("192.0.2.1", "2001:db8::1"), without the port; "" once the
 * connection is gone. */
const char *gw_stream_peer_addr(const struct gw_stream *s);

/*
 * Sends a response on |s| with |status|, |content_type| (may be NULL) and the |len| bytes of
 * |body|, which the stream takes over (freed with free()). |extra| holds |nextra| more headers.
 * Does nothing but free |body| when the stream is gone or already answered. Loop thread only.
 */
void gw_stream_respond(struct gw_stream *s, int status, const char *content_type, uint8_t *body,
                       size_t len, const nghttp2_nv *extra, size_t nextra);

/*
 * Sends an interim (1xx) response with |status| and the |nextra| fields of |extra| (copied), e.g.
 * 104 Upload Resumption Supported. Nothing when the stream is gone or answered. Loop thread only.
 */
void gw_stream_interim(struct gw_stream *s, int status, const nghttp2_nv *extra, size_t nextra);

/*
 * Sends the RFC 9457 problem for |err| with |detail| (may be NULL), its instance (the path) and
 * request_id, and Retry-After when the problem passes (a full disk, the database away); counts it
 * in the metrics. Loop thread only.
 */
void gw_stream_problem(struct gw_stream *s, int err, const char *detail);

/*
 * gw_stream_problem() with the extension members of the JSON object |members| (may be NULL) and
 * the header fields |extra| (|nextra|, at most 6; Allow, Retry-After...) instead of the automatic
 * Retry-After. Loop thread only.
 */
void gw_stream_problem_ext(struct gw_stream *s, int err, const char *detail, const char *members,
                           const nghttp2_nv *extra, size_t nextra);

/*
 * Returns |n| bytes of |s|'s request body to the flow-control windows (stream and connection),
 * letting the peer send that much more. Loop thread only.
 */
void gw_stream_consume(struct gw_stream *s, size_t n);

/*
 * Widens |s|'s receive window from the initial (small) one to the full stream window: called once
 * an upload is authorised, so an unauthorised sender never gets more than the first 64 KiB in.
 * Loop thread only.
 */
void gw_stream_open_window(struct gw_stream *s);

/* Reference counting for work in flight; the last unref frees. Loop thread only. */
void gw_stream_ref(struct gw_stream *s);
void gw_stream_unref(struct gw_stream *s);

/*
 * Serves a new connection on worker |w| over |bev| (which it takes over: freed with the
 * connection). |peer| is the client's address. A cleartext connection (|tls| false) starts its
 * session at once; a TLS one once the handshake completed and ALPN chose "h2", else it closes.
 * Returns 0, or -ENOMEM after freeing |bev| (and calling w->conn_closed). |w|'s loop thread
 * only.
 */
int gw_h2_conn_new(struct gw_worker *w, struct bufferevent *bev, bool tls,
                   const struct sockaddr *peer, int peerlen);

/*
 * Enforces the preface, header, body and idle timeouts of every connection of |w| at monotonic
 * time |now_ms| (a connection past one gets GOAWAY, and is closed if it does not read it). Call
 * about once a second. |w|'s loop thread only.
 */
void gw_h2_worker_tick(struct gw_worker *w, uint64_t now_ms);

/*
 * Sends every connection of |w| a GOAWAY (NO_ERROR, naming the last stream it took): no new
 * request starts, the ones in flight go on, and each connection closes once its last stream has.
 * A connection still in its TLS handshake closes at once. |w|'s loop thread only.
 */
void gw_h2_worker_goaway(struct gw_worker *w);

/* Closes every connection of |w| at once. |w|'s loop thread, or any thread once it stopped. */
void gw_h2_worker_close_all(struct gw_worker *w);

#endif
