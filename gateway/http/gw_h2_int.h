/*
 * gw_h2_int: what gw_h2.c (connections, nghttp2 callbacks) and gw_stream.c (the stream API)
 * share. Private to the protocol layer: nothing outside those two files includes it.
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
    char peer[64];
    char addr[INET6_ADDRSTRLEN]; /* |peer| without the port */
};

/* Asks for nghttp2's queued frames to be sent from the loop, outside any nghttp2 callback. */
void gw_h2_conn_flush_soon(struct gw_conn *c);

/* nghttp2's data source for a stream's response body (s->resp). */
ssize_t gw_h2_body_read(nghttp2_session *h2, int32_t stream_id, uint8_t *buf, size_t length,
                        uint32_t *flags, nghttp2_data_source *source, void *user_data);

/* Appends DATA bytes to the in-memory body of a stream that gw_stream_read_body() set up. */
void gw_h2_body_append(struct gw_stream *s, const uint8_t *data, size_t len);

#endif
