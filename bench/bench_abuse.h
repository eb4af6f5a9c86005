/*
 * bench_abuse: hostile clients beside prep-bench's phones (--abusive N --abuse KIND), so that a
 * capacity test shows what the phones get while someone attacks the gateway. Each client keeps
 * one connection and sends, one after the other until stopped, uploads of a pool photo that the
 * gateway must refuse or cut:
 *   bad-signature  signed by a key the gateway does not know, for an enrolled device's id
 *                  (401 bad-signature; then 429 once the device's request rate is spent)
 *   unsigned       no signature at all (401 signature-required)
 *   slow           properly signed, sent at 2 kbit/s (a 16 KB frame, then the wait 2 kbit/s
 *                  would take, frame after frame): a stream and its buffers held until the
 *                  gateway's --body-timeout and --min-body-rate cut it
 * Their answers are counted by class apart from the phones'; they never enter the phones'
 * latency histograms. Blocking threads; no output.
 */
#ifndef BENCH_ABUSE_H
#define BENCH_ABUSE_H

#include "bench_report.h"
#include "pu_h2.h"
#include "pu_send.h"
#include "pu_url.h"

struct gw_key;
struct bench_abuse;

/* The kind named |name|, or -1. */
int bench_abuse_kind(const char *name);

/* The name of |kind|. */
const char *bench_abuse_name(int kind);

/*
 * Starts |n| clients of |kind| against |url| (connections made with |o|), sending |photo| (its
 * file stays open elsewhere; each upload opens it again) as device |device_id| with |key| (the
 * slow kind signs with it), from CLOCK_MONOTONIC ms |t0_ms| on. Returns 0, -ENOMEM, or -errno
 * (the throwaway key of bad-signature could not be made).
 */
int bench_abuse_start(const struct pu_url *url, const struct pu_h2_opts *o, int kind, int n,
                      const struct pu_photo *photo, const char *device_id, const struct gw_key *key,
                      double t0_ms, struct bench_abuse **ret);

/*
 * Stops the clients (a slow upload is cut), joins them, records what they sent and got in
 * |res|'s abuse fields and frees |a|.
 */
void bench_abuse_stop(struct bench_abuse *a, struct bench_result *res);

#endif
