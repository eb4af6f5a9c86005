/*
 * bench_hist: a log-linear latency histogram in the manner of HdrHistogram, for prep-bench.
 *
 * Values are microseconds (0 to about 2^40, 12 days). Below 128 every value has its own bucket;
 * above, each power of two is split in 64 equal buckets, so a recorded value is known to within
 * 1/64 (1.6%) whatever its size, in a fixed 21 KiB. The exact minimum, maximum, count and sum are
 * kept beside the buckets. Percentiles answer the bucket's midpoint (never above the maximum), so
 * p99 of a run whose every value is 2 s reads 2 s and not an average of fast and slow. Recording
 * is not synchronised: one histogram per thread, or a lock around it; bench_hist_add() merges.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB 64    /* buckets per power of two */
#define BENCH_HIST_SHIFTS 34 /* powers of two above the linear part */
#define BENCH_HIST_BUCKETS (2 * BENCH_HIST_SUB + BENCH_HIST_SHIFTS * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t count, sum_us, min_us, max_us;
    uint64_t buckets[BENCH_HIST_BUCKETS];
};

/* Empties |h|. */
void bench_hist_init(struct bench_hist *h);

/* Records one value of |us| microseconds (values past the range count in the last bucket). */
void bench_hist_record(struct bench_hist *h, uint64_t us);

/* Adds every value of |from| to |h|. */
void bench_hist_add(struct bench_hist *h, const struct bench_hist *from);

/* The |p|th percentile (0 < p <= 100) in microseconds: the smallest bucket holding at least
 * ceil(p% of count) values, as its midpoint capped by the maximum; 0 when |h| is empty. p 100 is
 * the exact maximum. */
uint64_t bench_hist_pct(const struct bench_hist *h, double p);

/* How many recorded values were at least |us| (to bucket precision: the values in |us|'s bucket
 * count when the bucket's lowest value is at least |us|, and the maximum is exact). */
uint64_t bench_hist_count_above(const struct bench_hist *h, uint64_t us);

/* The bucket index of |us| and the lowest value of bucket |i| (for tests and plots). */
unsigned bench_hist_index(uint64_t us);
uint64_t bench_hist_lowest(unsigned i);

#endif
