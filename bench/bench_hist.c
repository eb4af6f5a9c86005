#include "bench_hist.h"

#include <string.h>

void bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
}

unsigned bench_hist_index(uint64_t us)
{
    unsigned shift;

    if (us < 2 * BENCH_HIST_SUB)
        return (unsigned)us;
    /* 2^(shift + 6) <= us < 2^(shift + 7): us >> shift is 64..127 */
    shift = (unsigned)(63 - __builtin_clzll(us)) - 6;
    if (shift > BENCH_HIST_SHIFTS)
        return BENCH_HIST_BUCKETS - 1;
    return 2 * BENCH_HIST_SUB + (shift - 1) * BENCH_HIST_SUB +
           (unsigned)((us >> shift) - BENCH_HIST_SUB);
}

uint64_t bench_hist_lowest(unsigned i)
{
    unsigned shift;

    if (i < 2 * BENCH_HIST_SUB)
        return i;
    shift = (i - 2 * BENCH_HIST_SUB) / BENCH_HIST_SUB + 1;
    return ((uint64_t)BENCH_HIST_SUB + (i - 2 * BENCH_HIST_SUB) % BENCH_HIST_SUB) << shift;
}

void bench_hist_record(struct bench_hist *h, uint64_t us)
{
    h->buckets[bench_hist_index(us)]++;
    if (h->count == 0 || us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
    h->count++;
    h->sum_us += us;
}

void bench_hist_add(struct bench_hist *h, const struct bench_hist *from)
{
    if (from->count == 0)
        return;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        h->buckets[i] += from->buckets[i];
    if (h->count == 0 || from->min_us < h->min_us)
        h->min_us = from->min_us;
    if (from->max_us > h->max_us)
        h->max_us = from->max_us;
    h->count += from->count;
    h->sum_us += from->sum_us;
}

uint64_t bench_hist_pct(const struct bench_hist *h, double p)
{
    uint64_t want, seen = 0;

    if (h->count == 0)
        return 0;
    if (p >= 100)
        return h->max_us;
    want = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
    if (want == 0)
        want = 1;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= want) {
            uint64_t lo = bench_hist_lowest(i);
            uint64_t hi = i + 1 < BENCH_HIST_BUCKETS ? bench_hist_lowest(i + 1) : lo + 1;
            uint64_t mid = lo + (hi - lo) / 2;

            if (mid < h->min_us)
                mid = h->min_us;
            return mid > h->max_us ? h->max_us : mid;
        }
    }
    return h->max_us;
}

uint64_t bench_hist_count_above(const struct bench_hist *h, uint64_t us)
{
    uint64_t n = 0;

    if (h->count == 0 || us > h->max_us)
        return 0;
    for (unsigned i = bench_hist_index(us); i < BENCH_HIST_BUCKETS; i++)
        if (bench_hist_lowest(i) >= us || i + 1 == BENCH_HIST_BUCKETS ||
            bench_hist_lowest(i + 1) > h->max_us)
            n += h->buckets[i];
    return n;
}
