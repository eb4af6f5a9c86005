/* gw_counts: the cap per key, giving back, many keys, no cap, rates and their waits, penalties,
 * and several threads at once. */
#include <pthread.h>
#include <stdio.h>

#include "gw_counts.h"
#include "tap.h"

static struct gw_counts shared;

static void *taker(void *arg)
{
    for (int i = 0; i < 10000; i++) {
        if (gw_counts_take(&shared, arg))
            gw_counts_put(&shared, arg);
    }
    return NULL;
}

int main(void)
{
    struct gw_counts c;
    char key[32];
    pthread_t th[4];
    int taken = 0;

    CHECK(gw_counts_init(&c, 2) == 0);
    CHECK(gw_counts_take(&c, "10.0.0.1"));
    CHECK(gw_counts_take(&c, "10.0.0.1"));
    CHECK(!gw_counts_take(&c, "10.0.0.1")); /* the cap */
    CHECK(gw_counts_take(&c, "10.0.0.2"));  /* another key is not affected */
    gw_counts_put(&c, "10.0.0.1");
    CHECK(gw_counts_take(&c, "10.0.0.1")); /* given back, taken again */
    CHECK(!gw_counts_take(&c, "10.0.0.1"));
    /* Many keys at once: each is counted, and freed slots are reused. */
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "device-%d", i);
        taken += gw_counts_take(&c, key);
    }
    CHECK(taken == 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "device-%d", i);
        gw_counts_put(&c, key);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "other-%d", i);
        CHECK(gw_counts_take(&c, key));
    }
    gw_counts_finish(&c);

    /* No cap: nothing is tracked and everything is admitted. */
    CHECK(gw_counts_init(&c, 0) == 0);
    for (int i = 0; i < 10; i++)
        CHECK(gw_counts_take(&c, "x"));
    gw_counts_put(&c, "x");
    gw_counts_finish(&c);

    /* A rate limit: a burst of 3, then 2 a second. */
    CHECK(gw_counts_init_rate(&c, 3, 2) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(gw_counts_hit(&c, "10.0.0.1", 1000));
    CHECK(!gw_counts_hit(&c, "10.0.0.1", 1000));
    CHECK(gw_counts_hit(&c, "10.0.0.2", 1000));  /* another key has its own bucket */
    CHECK(!gw_counts_hit(&c, "10.0.0.1", 1400)); /* 0.8 of a hit drained: not enough */
    CHECK(gw_counts_hit(&c, "10.0.0.1", 1500));  /* one whole hit drained */
    CHECK(!gw_counts_hit(&c, "10.0.0.1", 1500));
    CHECK(gw_counts_hit(&c, "10.0.0.1", 3000) && gw_counts_hit(&c, "10.0.0.1", 3000) &&
          gw_counts_hit(&c, "10.0.0.1", 3000)); /* drained empty: the whole burst again */
    CHECK(!gw_counts_hit(&c, "10.0.0.1", 3000));
    gw_counts_finish(&c);
    /* How long until a refused key may come back; a penalty refuses it that long. */
    CHECK(gw_counts_init_rate(&c, 2, 4) == 0); /* a burst of 2, then 4 a second */
    CHECK(gw_counts_hit_wait(&c, "d", 0) == 0 && gw_counts_hit_wait(&c, "d", 0) == 0);
    CHECK(gw_counts_hit_wait(&c, "d", 0) == 250); /* a quarter second drains one hit */
    CHECK(gw_counts_hit_wait(&c, "d", 100) == 150);
    CHECK(gw_counts_hit_wait(&c, "d", 250) == 0);
    gw_counts_charge(&c, "d", 1000, 10000);
    CHECK(!gw_counts_hit(&c, "d", 1000) && !gw_counts_hit(&c, "d", 10999));
    CHECK(gw_counts_hit_wait(&c, "d", 11000) == 250);
    CHECK(gw_counts_hit(&c, "d", 11250));
    gw_counts_charge(&c, "new", 0, 5000); /* a key not seen before is charged too */
    CHECK(!gw_counts_hit(&c, "new", 4999) && gw_counts_hit(&c, "new", 5250));
    CHECK(gw_counts_hit(&c, "other", 0)); /* another key is not affected */
    gw_counts_finish(&c);
    CHECK(gw_counts_init(&c, 5) == 0); /* a plain count: no wait, no penalty */
    gw_counts_charge(&c, "x", 0, 1000);
    CHECK(gw_counts_hit_wait(&c, "x", 0) == 0 && gw_counts_take(&c, "x"));
    gw_counts_finish(&c);
    CHECK(gw_counts_init_rate(&c, 0, 5) == 0); /* no limit */
    for (int i = 0; i < 100; i++)
        CHECK(gw_counts_hit(&c, "x", 0));
    gw_counts_finish(&c);

    /* Threads taking and giving back one key leave it with nothing held. */
    CHECK(gw_counts_init(&shared, 1000) == 0);
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, taker, "k");
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 1000; i++)
        CHECK(gw_counts_take(&shared, "k"));
    CHECK(!gw_counts_take(&shared, "k"));
    gw_counts_finish(&shared);
    return TAP_DONE();
}
