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
#include <stdbool.h>
#include <stdint.h>

#include "gw_config.h"
#include "gw_loop.h"
#include "gw_pool.h"
#include "gw_spool.h"

struct gw_stage;
struct gw_conn;
struct gw_upload;
struct bufferevent;
struct evconnlistener;
struct ssl_ctx_st;

#define GW_PATH_MAX 512

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
    struct gw_pool disk; /* spool writes and reads */
    struct gw_pool db;   /* PostgreSQL reads for GET requests; each thread has its PGconn */
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
    size_t resp_len, resp_off;
    struct gw_upload *upload;
};

/* Monotonic milliseconds. */
uint64_t gw_now_ms(void);

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
