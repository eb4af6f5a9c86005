/*
 * bench_queued: the time from each receipt until the photo is `queued` (processed, in the clerks'
 * queue), as the phones see it: one poller thread polls each device that waits for a photo with
 * the request the officials' app makes every 4 s, a signed GET /v1/devices/self/photos, and the
 * first poll that finds a photo queued ends its wait. The precision is the poll interval; the
 * load is one request per waiting device per interval, whatever the backlog.
 */
#ifndef BENCH_QUEUED_H
#define BENCH_QUEUED_H

#include <pthread.h>

#include "bench_hist.h"
#include "pu_h2.h"
#include "pu_url.h"

struct gw_key;
struct bench_queued;

/*
 * Makes a tracker for at most |max| photos that polls |url| every |interval_ms| (its own
 * connection, opened with |o|) and records each wait in |hist| (microseconds, under the caller's
 * |lock| as prep-bench's other histograms). Starts its thread. Returns 0, -ENOMEM or -errno.
 */
int bench_queued_start(const struct pu_url *url, const struct pu_h2_opts *o, double interval_ms,
                       long max, struct bench_hist *hist, pthread_mutex_t *lock,
                       struct bench_queued **ret);

/*
 * Waits for |photo_id| of the device |device_id| with key |key| (both must outlive the tracker),
 * received at |t_ms| (CLOCK_MONOTONIC ms). Thread-safe. Returns 0, or -ENOSPC past |max|.
 */
int bench_queued_track(struct bench_queued *q, const struct gw_key *key, const char *device_id,
                       const char *photo_id, double t_ms);

/* Photos tracked, and of them those seen queued so far. Thread-safe. */
void bench_queued_counts(struct bench_queued *q, long *ret_tracked, long *ret_queued);

/*
 * No more photos will be tracked: waits until every one is queued or |timeout_ms| passed, stops
 * the thread and frees |q|; the counts go to |*ret_tracked| and |*ret_queued|, the polls that
 * got no list (a 429 when --poll is faster than the gateway's --request-rate-per-device, a 503,
 * a lost connection) to |*ret_refused|.
 */
void bench_queued_finish(struct bench_queued *q, double timeout_ms, long *ret_tracked,
                         long *ret_queued, long *ret_refused);

#endif
