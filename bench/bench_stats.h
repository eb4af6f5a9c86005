/*
 * bench_stats: the latency percentiles the benchmarks print (prep-load, review-clerks), computed
 * the same way in both: sort, then the sample at (n - 1) * p / 100. No allocation, no output.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>

/* Sorts the |n| samples of |v| in ascending order, for bench_stats_pct(). */
void bench_stats_sort(double *v, size_t n);

/* The |p|th percentile (0..100) of the |n| sorted samples |v|; 0 when there are none. */
double bench_stats_pct(const double *v, size_t n, int p);

#endif
