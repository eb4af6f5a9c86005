/* gw_h2_limits: what one client may ask of the protocol layer (gw_h2_int.h): requests a second
 * per address and per device, SETTINGS and PING a second per connection, and the timeouts of
 * connections and streams. gw_h2.c decides when each check runs and closes the connections. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <string.h>

#include "gw_config.h"
#include "gw_counts.h"
#include "gw_error.h"
#include "gw_h2.h"
#include "gw_h2_int.h"

const char GW_H2_STOPPED_READING[] = "the peer stopped reading";

/* ---- request rates ---- */

/*
 * The keyid parameter of a Signature-Input field value (RFC 9421 section 4.1) into |out|, without
 * checking anything else: the first `;keyid="..."` outside a quoted string. Returns false when
 * there is none, or it is empty, escaped or does not fit |cap| (no device has such an id: the
 * signature check refuses it later, and nothing is counted for it here).
 */
static bool sig_keyid(const char *v, size_t len, char *out, size_t cap)
{
    bool quoted = false;

    for (size_t i = 0; i < len; i++) {
        size_t j = i + 1, n = 0;

        if (quoted) {
            if (v[i] == '\\')
                i++;
            else if (v[i] == '"')
                quoted = false;
            continue;
        }
        if (v[i] == '"')
            quoted = true;
        if (v[i] != ';')
            continue;
        if (len - j < 7 || memcmp(v + j, "keyid=\"", 7) != 0)
            continue;
        for (j += 7; j < len && v[j] != '"'; j++) {
            if (v[j] == '\\' || n + 1 >= cap)
                return false;
            out[n++] = v[j];
        }
        if (j >= len || n == 0)
            return false;
        out[n] = '\0';
        return true;
    }
    return false;
}

/* Answers |s| with 429 too-many-requests, Retry-After |wait_ms| rounded up to seconds. */
static void refuse(struct gw_stream *s, const char *detail, uint64_t wait_ms)
{
    char retry[24];
    nghttp2_nv nv = {(uint8_t *)"retry-after", (uint8_t *)retry, 11, 0,
                     NGHTTP2_NV_FLAG_NO_COPY_NAME};

    nv.valuelen = (size_t)snprintf(retry, sizeof(retry), "%llu",
                                   (unsigned long long)((wait_ms + 999) / 1000));
    /* Nothing of the body is read: the stream is reset once the answer is out (on_frame_send),
     * so a client over its rate costs the headers and this answer, no more. */
    s->discard_body = s->cut_body = true;
    gw_stream_problem_ext(s, GW_E_TOO_MANY_REQUESTS, detail, NULL, &nv, 1);
}

bool gw_h2_admit(struct gw_conn *c, struct gw_stream *s)
{
    const struct gw_worker *w = c->w;
    const char *v;
    char keyid[GW_COUNTS_KEY_MAX + 1];
    uint64_t wait = 0;
    size_t len;

    if (w->req_per_addr && (wait = gw_counts_hit_wait(w->req_per_addr, c->addr, c->active_ms))) {
        refuse(s, "too many requests from this address", wait);
    } else if (w->req_per_device && (v = gw_stream_header(s, "signature-input", &len)) &&
               sig_keyid(v, len, keyid, sizeof(keyid)) &&
               (wait = gw_counts_hit_wait(w->req_per_device, keyid, c->active_ms))) {
        /* Not verified yet (that is for a pool thread): a forged keyid spends the bucket of the
         * device it names, and the per-address limit still holds for the forger. */
        refuse(s, "too many requests for this device", wait);
    }
    if (!wait) {
        c->refused = 0;
        return true;
    }
    /* A client told to wait that goes straight on is a flood: cut it (gw_h2.c, after the
     * frames at hand). */
    if (++c->refused >= GW_H2_REFUSALS_MAX && !c->abuse)
        c->abuse = "requests over the rate after being refused";
    return false;
}

/* ---- floods of frames that need an answer ---- */

bool gw_h2_control_flood(struct gw_conn *c, const nghttp2_frame *frame)
{
    /* SETTINGS and PING that each need an answer: a client may send a few; a flood of them costs
     * the loop an answer apiece, and a peer that does not read them fills the socket buffers
     * with megabytes of ACKs before nghttp2's own queue limit is reached. */
    if ((frame->hd.type != NGHTTP2_SETTINGS && frame->hd.type != NGHTTP2_PING) ||
        (frame->hd.flags & NGHTTP2_FLAG_ACK))
        return false;
    if (c->active_ms - c->ctrl_since_ms >= 1000) {
        c->ctrl_since_ms = c->active_ms;
        c->ctrl_frames = 0;
    }
    if (++c->ctrl_frames <= GW_H2_CONTROL_FRAMES_PER_S)
        return false;
    c->abuse = "control frame flood";
    return true;
}

/* ---- timeouts ---- */

enum overdue { ON_TIME, HEADERS_LATE, NOT_READ, STALLED, TOO_SLOW };

/* Whether stream |s| must be cut at |now|: its header block, a response the peer does not take,
 * its body's progress or rate. */
static enum overdue stream_overdue(const struct gw_config *cfg, const struct gw_stream *s,
                                   uint64_t now)
{
    if (!s->headers_done)
        return now - s->start_ms > cfg->header_timeout * 1000ull ? HEADERS_LATE : ON_TIME;
    if (s->responded && s->resp_off < s->resp_len &&
        now - s->sent_ms > cfg->write_timeout * 1000ull)
        return NOT_READ;
    if (s->remote_closed)
        return ON_TIME;
    if (now - s->progress_ms > cfg->body_timeout * 1000ull)
        return STALLED;
    /* Apache's MinRate rule: after --body-timeout of grace, each --min-body-rate bytes buy one
     * more second. A slow-body attack trickles just enough to beat the progress timeout. */
    if (!s->responded && cfg->min_body_rate &&
        now - s->body_ms > (cfg->body_timeout + s->req_bytes / cfg->min_body_rate) * 1000ull)
        return TOO_SLOW;
    return ON_TIME;
}

const char *gw_h2_conn_overdue(struct gw_conn *c, uint64_t now)
{
    const struct gw_config *cfg = c->w->cfg;
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (!c->h2)
        return now - c->accepted_ms > cfg->tls_handshake_timeout * 1000ull
                   ? "TLS handshake not finished in time"
                   : NULL;
    if (!c->got_settings && now - c->accepted_ms > cfg->header_timeout * 1000ull)
        return "no HTTP/2 preface in time";
    if (c->requests == 0 && now - c->accepted_ms > cfg->first_request_timeout * 1000ull)
        return "no request in time";
    if (c->nstreams == 0 && now - c->active_ms > cfg->idle_timeout * 1000ull)
        return "idle";
    if (evbuffer_get_length(out) > 0 && now - c->drained_ms > cfg->write_timeout * 1000ull)
        return GW_H2_STOPPED_READING;
    for (struct gw_stream *s = c->streams; s; s = s->next) {
        enum overdue o = stream_overdue(cfg, s, now);

        if (o == ON_TIME)
            continue;
        if (o == HEADERS_LATE)
            return "header block not finished in time";
        if (o == NOT_READ) {
            /* A reader that never opens its window holds the response in memory: drop it. */
            nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        } else {
            /* A sender that stalled is not waited for again: reset once answered. */
            s->stalled = true;
            if (!s->responded)
                gw_stream_problem(s, GW_E_TIMEOUT,
                                  o == TOO_SLOW ? "the body arrives too slowly"
                                                : "the body stalled");
            else /* refused earlier, and the rest of the body never came */
                nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        }
        gw_h2_conn_flush_soon(c);
    }
    return NULL;
}
