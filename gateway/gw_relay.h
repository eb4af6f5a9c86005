/*
 * gw_relay: the forwarding stage of a CATD edge relay (`serve --upstream URL`).
 *
 * An edge takes phones' uploads exactly as the central gateway does (signature checked, receipt
 * once durable in its own spool and ledger); this stage then forwards every acknowledged photo to
 * the central gateway over HTTP/2, in the order of the edge's ledger, as the phone signed it (its
 * Signature-Input, Signature and Content-Digest untouched, so the centre verifies the phone
 * itself) plus a Prep-Relay field naming the edge's ledger entry, signed by the edge's key
 * (gw_relay_sig). Up to --relay-streams photos are in flight on one connection; a photo counts
 * as relayed once the central receipt is back, checked (signature, photo id, SHA-256) and kept
 * in spool/relay/central/<photo_id>.json, which the phone's next status poll shows. While the
 * uplink is down the edge keeps acknowledging and this stage retries with backoff (0.25 s
 * doubling to 30 s); retries are safe because the centre answers a photo it holds with the same
 * receipt (200).
 *
 * The position is spool/relay/cursor (the seq and hash of the last ledger entry forwarded,
 * written atomically), so a restart resumes where it stopped. A photo the centre refuses for
 * what it is (400, 413, 415, 422) is kept in spool/relay/refused/<photo_id>.json with the
 * problem and skipped; any other answer (401, 403, 5xx, no answer) is retried, so a
 * misconfiguration holds the queue rather than dropping photos. `prep-gateway relay status` and
 * `relay verify` read these files. One thread, blocking I/O (client/pu_h2): never an event loop.
 */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "gw_config.h"
#include "gw_keys.h"
#include "gw_spool.h"

#define GW_RELAY_DIR "relay"
#define GW_RELAY_CURSOR "cursor"
#define GW_RELAY_CENTRAL "central"
#define GW_RELAY_REFUSED "refused"

struct gw_relay;

/*
 * Starts forwarding |spool|'s ledger to |cfg->upstream|, vouching with |key| as edge
 * |cfg->edge_id| (all three outlive the relay). Returns 0 and the relay in |*ret|, or a negative
 * errno.
 */
int gw_relay_start(const struct gw_config *cfg, struct gw_spool *spool, const struct gw_key *key,
                   struct gw_relay **ret);

/* Stops and joins the thread; what was not forwarded is forwarded after the next start. */
void gw_relay_stop(struct gw_relay *r);

struct gw_relay_stats {
    uint64_t ledger_seq; /* last entry of the edge's ledger seen */
    uint64_t cursor;     /* last entry forwarded (or refused) */
    uint64_t forwarded, refused, failures;
    int uplink_up; /* the last attempt reached the centre */
};

/* A snapshot of |r|'s counters (for /metrics). Any thread. Accepts NULL (all zero). */
void gw_relay_stats(struct gw_relay *r, struct gw_relay_stats *ret);

/*
 * The central receipt kept for |photo_id| in the spool whose root directory fd is |root|, into
 * a new buffer |*ret_json| (NUL-terminated, caller frees). Returns 0, -ENOENT (not relayed yet),
 * or another negative errno. Blocking; any thread.
 */
int gw_relay_central_receipt(int root, const char *photo_id, char **ret_json, size_t *ret_len);

/*
 * Reads spool/relay/cursor under |root|: the seq and hash of the last entry forwarded. Returns 0
 * (seq 0 when nothing was forwarded yet) or a negative errno (-EINVAL: unreadable).
 */
int gw_relay_cursor_load(int root, uint64_t *ret_seq, char *ret_hash);

#endif
