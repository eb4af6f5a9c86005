/* bench_hist: bucket boundaries, precision over the whole range, percentiles against a sort. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_hist.h"
#include "tap.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int main(void)
{
    static struct bench_hist h, a, b;
    static uint64_t v[100000];
    uint64_t x = 88172645463325252ull;

    /* every value falls in the bucket whose lowest value is at most it, within 1/64 */
    for (uint64_t us = 0; us < (1ull << 40); us = us * 5 / 4 + 1) {
        unsigned i = bench_hist_index(us);

        CHECK(bench_hist_lowest(i) <= us);
        CHECK(i + 1 == BENCH_HIST_BUCKETS || bench_hist_lowest(i + 1) > us);
        CHECK((double)(us - bench_hist_lowest(i)) <= (double)us / 64.0 + 1e-9);
    }
    for (unsigned i = 1; i < BENCH_HIST_BUCKETS; i++)
        CHECK(bench_hist_lowest(i) > bench_hist_lowest(i - 1));

    /* percentiles of a skewed random sample against the exact ones from a sort */
    bench_hist_init(&h);
    bench_hist_init(&a);
    bench_hist_init(&b);
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = (x % 1000) < 980 ? 2000 + x % 50000 : 2000000 + x % 100000; /* 2% near 2 s */
        bench_hist_record(&h, v[i]);
        bench_hist_record(i % 2 ? &a : &b, v[i]);
    }
    bench_hist_add(&a, &b);
    qsort(v, 100000, sizeof(v[0]), cmp_u64);
    CHECK(h.count == 100000 && a.count == 100000);
    CHECK(h.max_us == v[99999] && h.min_us == v[0]);
    static const double ps[] = {50, 90, 99, 99.9};
    for (unsigned k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        uint64_t exact = v[(size_t)(ps[k] / 100.0 * 100000 + 0.999999) - 1];
        uint64_t got = bench_hist_pct(&h, ps[k]);

        CHECK(got == bench_hist_pct(&a, ps[k]));
        CHECK((double)(got > exact ? got - exact : exact - got) <= (double)exact / 64.0);
    }
    CHECK(bench_hist_pct(&h, 100) == v[99999]);
    CHECK(bench_hist_pct(&h, 99) >= 1900000); /* the slow 2% make p99, not hidden by the mean */
    {
        uint64_t slow = 0;

        for (int i = 0; i < 100000; i++)
            slow += v[i] >= 1000000;
        CHECK(bench_hist_count_above(&h, 1000000) == slow);
        CHECK(bench_hist_count_above(&h, v[99999]) >= 1);
        CHECK(bench_hist_count_above(&h, v[99999] + 1) == 0);
    }
    bench_hist_init(&h);
    CHECK(bench_hist_pct(&h, 99) == 0);
    bench_hist_record(&h, 2000000);
    CHECK(bench_hist_pct(&h, 50) == 2000000);
    return TAP_DONE();
}
