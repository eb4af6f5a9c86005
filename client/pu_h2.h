/*
 * pu_h2: a small blocking HTTP/2 client (nghttp2 over one TCP or TLS connection), for prep-upload
 * and for bench/ load generators.
 *
 * One pu_h2_conn is one connection: cleartext h2c with prior knowledge ("http://") or TLS with
 * ALPN "h2" ("https://"), the certificate checked against the system store or a given CA file
 * unless told otherwise. Requests are submitted (several may share the connection, up to the
 * server's stream limit) and then pu_h2_run() drives the connection until each of them has its
 * response or the connection fails. Request bodies come from memory or are streamed from a file
 * descriptor (from any offset, to resume an upload) in the chunks nghttp2 asks for, so a photo is
 * never held whole in memory; response bodies are collected up to a cap. Interim responses (1xx)
 * and the header fields of every response reach the caller through a per-request callback, for
 * the fields it needs (Location of a 104, Upload-Offset); the status and content-type of the
 * final response are kept in the request.
 *
 * Why blocking (poll() on one non-blocking socket) rather than libevent: a phone-like client has
 * nothing else to do while its upload runs, the code stays short enough to audit, and a load
 * generator gets concurrency from several connections in threads or several streams on one
 * connection. Nothing here logs or keeps global state; one connection must be used by one thread
 * at a time. Does not follow redirects, speak HTTP/1.1, or retry: retry policy belongs to the
 * caller (prep-upload), which knows what is safe to repeat. Over TLS a write to a peer that
 * closed raises SIGPIPE (OpenSSL writes with write(2)): programs using this ignore it.
 */
#ifndef PU_H2_H
#define PU_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pu_url.h"

#define PU_H2_MAX_HEADERS 16         /* request header fields besides the pseudo-headers */
#define PU_H2_BODY_MAX_DEFAULT 65536 /* response body cap: receipts and problems are small */

struct pu_h2_opts {
    int connect_timeout_ms; /* TCP connect and TLS handshake */
    int io_timeout_ms;      /* longest wait without any progress on the socket */
    bool insecure;          /* TLS: do not check the certificate */
    const char *cacert;     /* TLS: PEM file of trusted CAs instead of the system store */
    size_t max_body;        /* response body cap per request */
    const char *local_addr; /* NULL, or the numeric address to connect from (bench clients on
                             * 127.0.0.2, apart from the phones' per-address limits) */
    /* NULL, or where to connect instead of the URL's host and port; TLS names and :authority
     * stay the URL's (prep-bench's --rtt relay). */
    const char *connect_host, *connect_port;
};

struct pu_h2_header {
    const char *name, *value; /* lowercase names (HTTP/2) */
};

struct pu_h2_request;

/*
 * Called for each header field of each response to |req|, interim (1xx) ones included, with the
 * |status| of the response it belongs to (trailers: the final status). |name| (lowercase) and
 * |value| are NUL-terminated and valid during the call only. Pseudo-headers are not passed.
 */
typedef void (*pu_h2_header_cb)(struct pu_h2_request *req, int status, const char *name,
                                size_t namelen, const char *value, size_t valuelen, void *arg);

/*
 * One request and, once pu_h2_run() returned, its response. The caller fills the request part
 * and zeroes the rest; the structure must stay at the same address until the run returns.
 * Methods without a body (GET, HEAD, DELETE) set |body_fd| to -1 and leave |body| NULL; a
 * response to HEAD has no body.
 */
struct pu_h2_request {
    /* request */
    const char *method, *path;
    struct pu_h2_header headers[PU_H2_MAX_HEADERS];
    unsigned nheaders;
    int body_fd;          /* >= 0: the body is |body_len| bytes of this file from |body_offset| */
    uint64_t body_offset; /* where in |body_fd| the body starts (resuming an upload) */
    const void *body;     /* else: |body_len| bytes in memory (NULL and 0: no body) */
    uint64_t body_len;
    /* May be NULL: called each time nghttp2 takes a chunk of the body (as fast as the server's
     * flow-control window lets it), with the bytes of the body taken so far. */
    void (*on_progress)(const struct pu_h2_request *req, uint64_t sent, void *arg);
    void *progress_arg;
    pu_h2_header_cb on_header; /* may be NULL */
    void *header_arg;
    /* response */
    int status;             /* HTTP status of the final response; 0 when none arrived */
    char content_type[128]; /* truncated when longer */
    char *resp_body;        /* NUL-terminated, malloc'ed; freed by pu_h2_request_finish() */
    size_t resp_len;
    uint64_t body_sent; /* bytes of the request body taken by nghttp2 (not all reached the peer) */
    int error; /* 0 when the response is complete; -ECONNRESET (stream reset or connection lost
                * first), -EMSGSIZE (body over the cap), -EIO (the body file could not be read) */
    /* private */
    int32_t stream_id;
    int header_status; /* :status of the header block being received */
    bool done, complete;
    size_t resp_cap;
};

/* Fills |o| with the defaults: 10 s to connect, 30 s without progress, verified TLS, 64 KiB. */
void pu_h2_opts_default(struct pu_h2_opts *o);

/* The monotonic clock the client's deadlines and timings use, in milliseconds. */
int64_t pu_now_ms(void);

struct pu_h2_conn;

/*
 * Connects to |u| (trying each address the name resolves to) and, for https, completes the TLS
 * handshake, checks the certificate and that the server chose "h2". The HTTP/2 preface and
 * SETTINGS go out with the first run. |o| is copied. On success stores the new connection in
 * |*ret|. Returns 0, or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -ENOENT for a
 * name that does not resolve, -EPROTO for a TLS failure or no ALPN h2, -ENOMEM) with a reason in
 * |ret_why| (|why_cap| bytes) when it is not NULL.
 */
int pu_h2_connect(const struct pu_url *u, const struct pu_h2_opts *o, struct pu_h2_conn **ret,
                  char *ret_why, size_t why_cap);

/*
 * Queues request |req| on |c|; it is sent by the next pu_h2_run(). |req| is borrowed until that
 * run returns (its headers, path and body too). Returns 0, -E2BIG (too many headers), -EPIPE
 * (the connection is closed or going away: connect again) or -ENOMEM.
 */
int pu_h2_submit(struct pu_h2_conn *c, struct pu_h2_request *req);

/*
 * Drives |c| until every submitted request is done (each has a complete response or its own
 * |error|). Returns 0, or a negative errno when the connection itself failed (-ETIMEDOUT after
 * the io timeout without progress, -ECONNRESET, -EPROTO for an HTTP/2 protocol error); the
 * requests not done then have |error| -ECONNRESET. After a failure the connection is unusable.
 */
int pu_h2_run(struct pu_h2_conn *c);

/* True while new requests may be submitted on |c| (no GOAWAY, no failure). */
bool pu_h2_usable(const struct pu_h2_conn *c);

/*
 * True when the peer sent |c| something not read yet (a frame, a close): a request's pacing
 * callback, which must not read itself, stops waiting so that the run reads it.
 */
bool pu_h2_conn_readable(const struct pu_h2_conn *c);

/*
 * Cuts |c| as a lost network would, for load generators' fault injection: nothing more is sent
 * (no GOAWAY, no TLS close_notify), the run in progress ends with its requests' |error|
 * -ECONNRESET, and pu_h2_conn_free() resets the TCP connection. Safe from a request's
 * on_progress callback.
 */
void pu_h2_conn_cut(struct pu_h2_conn *c);

/* Closes the connection (a GOAWAY first when possible). Accepts NULL. */
void pu_h2_conn_free(struct pu_h2_conn *c);

/* Frees |req|'s response body and clears the response part, so |req| can be submitted again. */
void pu_h2_request_finish(struct pu_h2_request *req);

#endif
