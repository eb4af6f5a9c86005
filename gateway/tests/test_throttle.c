/* gw_throttle: the per-address allowance, the doubling wait and its cap, forgetting, the bounded
 * table, and several threads failing at once. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "gw_throttle.h"
#include "tap.h"

static void test_allowance_and_backoff(void)
{
    struct gw_throttle *t = gw_throttle_new(3, 8, 60);
    const uint64_t t0 = 1000000;

    CHECK(t != NULL);
    CHECK(gw_throttle_wait(t, "10.0.0.1", t0) == 0);
    /* Three failures are free. */
    for (int i = 0; i < 3; i++)
        CHECK(gw_throttle_failed(t, "10.0.0.1", t0) == 0);
    CHECK(gw_throttle_wait(t, "10.0.0.1", t0) == 0);
    /* Then 1, 2, 4, 8, 8 s; another address is not affected; a wait that is over is still
     * remembered (the next failure waits the most); 60 s after the last failure, once its wait is
     * over, the address is forgotten and the allowance is back. */
    static const struct {
        bool fail; /* gw_throttle_failed(), else gw_throttle_wait() */
        const char *addr;
        uint64_t at; /* ms after t0 */
        unsigned want;
    } steps[] = {
        {true, "10.0.0.1", 0, 1},       {false, "10.0.0.1", 0, 1},
        {false, "10.0.0.1", 999, 1},    {false, "10.0.0.1", 1000, 0},
        {true, "10.0.0.1", 1000, 2},    {false, "10.0.0.1", 1001, 2},
        {true, "10.0.0.1", 3000, 4},    {true, "10.0.0.1", 7000, 8},
        {true, "10.0.0.1", 15000, 8},   {false, "10.0.0.1", 15000, 8},
        {false, "10.0.0.2", 15000, 0},  {true, "10.0.0.2", 15000, 0},
        {false, "10.0.0.1", 74999, 0},  {true, "10.0.0.1", 74999, 8},
        {false, "10.0.0.1", 134998, 0}, {true, "10.0.0.1", 134999, 0},
    };

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        unsigned got = steps[i].fail ? gw_throttle_failed(t, steps[i].addr, t0 + steps[i].at)
                                     : gw_throttle_wait(t, steps[i].addr, t0 + steps[i].at);

        if (got != steps[i].want)
            fprintf(stderr, "# step %zu: %u, not %u\n", i, got, steps[i].want);
        CHECK(got == steps[i].want);
    }
    gw_throttle_free(t);
}

static void test_huge_counts_stay_capped(void)
{
    struct gw_throttle *t = gw_throttle_new(0, 900, 3600);
    unsigned w = 0;

    for (int i = 0; i < 100; i++)
        w = gw_throttle_failed(t, "::1", 5000);
    CHECK(w == 900);
    CHECK(gw_throttle_wait(t, "::1", 5000) == 900);
    gw_throttle_free(t);
}

static void test_full_table_forgets_the_oldest(void)
{
    struct gw_throttle *t = gw_throttle_new(0, 60, 3600);
    const uint64_t t0 = 10000, later = t0 + 2000;
    char addr[GW_THROTTLE_ADDR_MAX];
    unsigned w = 0;

    /* Every slot holds an address that waits 4 s; the first one failed longest ago. */
    for (unsigned i = 0; i < GW_THROTTLE_SLOTS; i++) {
        snprintf(addr, sizeof(addr), "192.0.2.%u/%u", i % 256, i);
        for (int k = 0; k < 3; k++)
            w = gw_throttle_failed(t, addr, t0 + i);
        CHECK(w == 4);
    }
    CHECK(gw_throttle_wait(t, "192.0.2.0/0", later) > 0);
    /* One more address takes the oldest slot... */
    CHECK(gw_throttle_failed(t, "198.51.100.7", later) == 1);
    CHECK(gw_throttle_wait(t, "198.51.100.7", later) == 1);
    CHECK(gw_throttle_wait(t, "192.0.2.0/0", later) == 0);
    /* ...and only that one. */
    CHECK(gw_throttle_wait(t, "192.0.2.1/1", later) > 0);
    snprintf(addr, sizeof(addr), "192.0.2.%u/%u", (GW_THROTTLE_SLOTS - 1) % 256,
             GW_THROTTLE_SLOTS - 1);
    CHECK(gw_throttle_wait(t, addr, later) > 0);
    gw_throttle_free(t);
}

#define THREADS 4
#define PER_THREAD 1000

static struct gw_throttle *shared;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++)
        gw_throttle_failed(shared, "203.0.113.9", 1000);
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[THREADS];

    /* THREADS * PER_THREAD - 1 failures are free; the last one must be the first to wait. */
    shared = gw_throttle_new(THREADS * PER_THREAD - 1, 60, 3600);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK(gw_throttle_wait(shared, "203.0.113.9", 1000) == 1);
    gw_throttle_free(shared);
}

int main(void)
{
    test_allowance_and_backoff();
    test_huge_counts_stay_capped();
    test_full_table_forgets_the_oldest();
    test_threads();
    return TAP_DONE();
}
