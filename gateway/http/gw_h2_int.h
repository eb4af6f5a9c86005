/*
 * gw_h2_int: what gw_h2.c (connections, nghttp2 callbacks), gw_stream.c (the stream API) and
 * gw_h2_limits.c (rates, floods, timeouts) share. Private to the protocol layer: nothing outside
 * those files includes it.
 */
#ifndef GW_H2_INT_H
#define GW_H2_INT_H

#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_h2.h"

/* Past this much unsent output, nghttp2 is told to wait: a peer that does not read (or floods us
 * with frames that need answers) cannot make the gateway buffer without bound. */
#define GW_H2_OUTPUT_MAX (1u << 20)
/* SETTINGS and PING frames (not ACKs) one connection may send a second; past it, it is closed. A
 * client sends a handful (its settings, a keep-alive ping now and then). */
#define GW_H2_CONTROL_FRAMES_PER_S 100
/* Requests refused in a row for their rate (429) after which a connection is cut as a flood: a
 * client reads Retry-After and waits; one that sends on regardless is not a phone. */
#define GW_H2_REFUSALS_MAX 100
/* At most this much input is handed to nghttp2 per connection and loop iteration; the rest waits
 * for the next turn, after every other connection ready had its own. */
#define GW_H2_READ_BUDGET (64u << 10)

struct gw_conn {
    struct gw_worker *w;
    struct gw_conn *prev, *next;
    struct bufferevent *bev;
    nghttp2_session *h2;
    struct event *flush;
    struct gw_stream *streams;
    unsigned nstreams;
    uint64_t id, accepted_ms, active_ms;
    uint64_t drained_ms;    /* the output buffer was last empty then (write stall) */
    unsigned requests;      /* streams begun (first request timeout) */
    uint64_t ctrl_since_ms; /* SETTINGS and PING needing an answer: counted per second */
    unsigned ctrl_frames;
    bool tls, got_settings;
    uint64_t closing_ms; /* GOAWAY queued at this time; 0 while open */
    unsigned refused;    /* requests refused for their rate since the last one admitted */
    const char *abuse;   /* why it is cut as a flood (its address is penalised), or NULL */
    bool penalised;      /* w->conn_abused was called */
    bool dead;           /* the session failed: only the output left is written, then closed */
    char peer[64];
    char addr[INET6_ADDRSTRLEN]; /* |peer| without the port */
};

/* What gw_h2_conn_overdue() returns for a peer that does not read: it gets no GOAWAY. */
extern const char GW_H2_STOPPED_READING[];

/*
 * Why connection |c| must be closed at monotonic |now|, or NULL; cuts its overdue streams
 * meanwhile (timeouts of the configuration). Loop thread, outside nghttp2 callbacks.
 */
const char *gw_h2_conn_overdue(struct gw_conn *c, uint64_t now);

/*
 * Counts request |s| (headers complete) against the request rates of its address and, when it
 * is signed, of the device its Signature-Input names. Returns true when it may go on; else it
 * was answered 429 too-many-requests with Retry-After, its body will not be read, and after
 * GW_H2_REFUSALS_MAX refusals in a row c->abuse is set (the connection is then cut at once).
 * From nghttp2's frame callback.
 */
bool gw_h2_admit(struct gw_conn *c, struct gw_stream *s);

/*
 * Counts a received |frame| that needs an answer (SETTINGS, PING). Returns true, and sets
 * c->abuse, when |c| sent more than GW_H2_CONTROL_FRAMES_PER_S in a second. From nghttp2's frame
 * callback.
 */
bool gw_h2_control_flood(struct gw_conn *c, const nghttp2_frame *frame);

/* Asks for nghttp2's queued frames to be sent from the loop, outside any nghttp2 callback. */
void gw_h2_conn_flush_soon(struct gw_conn *c);

/* nghttp2's data source for a stream's response body (s->resp). */
ssize_t gw_h2_body_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *source, void *user_data);

/* Appends DATA bytes to the in-memory body of a stream that gw_stream_read_body() set up. */
void gw_h2_body_append(struct gw_stream *s, const uint8_t *data, size_t len);

#endif
