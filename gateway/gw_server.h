/*
 * gw_server: the HTTP/2 front end.
 *
 * One event loop per worker thread accepts connections (cleartext h2c with prior knowledge, and
 * TLS with ALPN h2) and runs an nghttp2 server session for each. Streams are routed to the upload
 * handler (gw_upload) or the read handlers (gw_api). Nothing here blocks: disk and PostgreSQL work
 * goes to the pools in struct gw_server and comes back to the stream's loop as a gw_task.
 *
 * Flow control is manual: the session never opens a window by itself. The upload handler calls
 * gw_stream_consume() once bytes are on disk, so a phone sends only as fast as the disk takes.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <nghttp2/nghttp2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_config.h"
#include "gw_loop.h"
#include "gw_pool.h"
#include "gw_spool.h"

struct gw_stage;
struct gw_devices;
struct gw_key;
struct gw_events;
struct gw_throttle;
struct gw_conn;
struct gw_upload;
struct bufferevent;
struct evconnlistener;
struct ssl_ctx_st;

#define GW_PATH_MAX 512
#define GW_MAX_HEADERS 64 /* request header fields kept for gw_stream_header() */

struct gw_worker {
    struct gw_loop loop; /* first */
    struct gw_server *srv;
    unsigned id;
    struct evconnlistener *h2c, *tls;
    struct event *tick;
    struct gw_conn *conns;
};

struct gw_server {
    const struct gw_config *cfg;
    struct gw_spool spool;
    struct gw_stage *stage;
    struct gw_events *events;   /* live counters for SSE (gw_events), NULL until started */
    struct gw_devices *devices; /* enrolled devices, for signed uploads */
    const struct gw_key *key;   /* the gateway's signing key (receipts, GET /v1/gateway-key) */
    struct gw_pool disk;        /* spool writes and reads */
    struct gw_pool db;          /* PostgreSQL reads for GET requests; each thread has its PGconn */
    struct gw_pool auth;        /* logins (Argon2id), apart so that a flood of them stalls no other
                                   request; each thread has its PGconn */
    atomic_uint logins_queued;  /* logins submitted to |auth| and not answered yet */
    struct gw_throttle *login_throttle; /* failed logins per client address */
    struct ssl_ctx_st *ssl_ctx;
    int h2c_fd, tls_fd;
    struct gw_worker *workers;
    unsigned nworkers;
};

struct gw_stream {
    struct gw_conn *conn; /* NULL once the stream closed: pending work must not respond */
    struct gw_worker *worker;
    struct gw_stream *prev, *next;
    int32_t id;
    int refs;
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
    int status, err;
    uint8_t *resp;
    size_t resp_len, resp_off, resp_cap;
    bool streaming, stream_eof; /* gw_stream_respond_stream() */
    struct gw_upload *upload;
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
    void *data; /* the handler's own state */
};

/*
 * Returns the value of request header |name| (lowercase, as HTTP/2 sends it) and its length in
 * |*ret_len| (may be NULL), or NULL when the request has no such field. The value lives as long
 * as the stream. Loop thread only.
 */
const char *gw_stream_header(const struct gw_stream *s, const char *name, size_t *ret_len);

/*
 * Reads the request body of |s| into memory (s->body, s->body_len; at most |max| bytes, else a
 * 413 problem) and calls |cb| on the loop once it is complete. For small JSON bodies only: uploads
 * stream through gw_upload instead. Loop thread only.
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

/* Sends the RFC 9457 problem for |err| with |detail| (may be NULL). Loop thread only. */
void gw_stream_problem(struct gw_stream *s, int err, const char *detail);

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
 * Opens the listeners of |srv->cfg| and the pools, and starts the worker loops. |srv->spool| and
 * |srv->stage| must be ready. Returns 0, or -errno after logging why.
 */
int gw_server_start(struct gw_server *srv);

/* Stops accepting, closes connections, joins every thread and frees. Main thread only. */
void gw_server_stop(struct gw_server *srv);

#endif
