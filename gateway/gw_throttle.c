#include "gw_throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char addr[GW_THROTTLE_ADDR_MAX]; /* "" when free */
    unsigned failures;
    uint64_t last_ms;  /* last failure */
    uint64_t until_ms; /* no attempt before this */
};

struct gw_throttle {
    pthread_mutex_t mu;
    unsigned free, max_wait_s;
    uint64_t forget_ms;
    struct slot slots[GW_THROTTLE_SLOTS];
};

struct gw_throttle *gw_throttle_new(unsigned free, unsigned max_wait_s, unsigned forget_s)
{
    struct gw_throttle *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->free = free;
    t->max_wait_s = max_wait_s;
    t->forget_ms = (uint64_t)forget_s * 1000;
    return t;
}

void gw_throttle_free(struct gw_throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static bool stale(const struct gw_throttle *t, const struct slot *s, uint64_t now_ms)
{
    return !s->addr[0] || (now_ms >= s->until_ms && now_ms - s->last_ms >= t->forget_ms);
}

/* The slot of |addr|, or NULL. With |make|, a new one (the free or oldest slot) when missing. */
static struct slot *find(struct gw_throttle *t, const char *addr, uint64_t now_ms, bool make)
{
    struct slot *spare = NULL;
    bool spare_stale = false;

    for (size_t i = 0; i < GW_THROTTLE_SLOTS; i++) {
        struct slot *s = &t->slots[i];
        bool st = stale(t, s, now_ms);

        if (s->addr[0] && strcmp(s->addr, addr) == 0) {
            if (!st)
                return s;
            s->addr[0] = '\0';
        }
        /* The slot to reuse: a free or forgotten one, else the one whose last failure is oldest. */
        if (!spare || (st && !spare_stale) || (st == spare_stale && s->last_ms < spare->last_ms)) {
            spare = s;
            spare_stale = st;
        }
    }
    if (!make)
        return NULL;
    *spare = (struct slot){0};
    snprintf(spare->addr, sizeof(spare->addr), "%s", addr);
    return spare;
}

unsigned gw_throttle_wait(struct gw_throttle *t, const char *addr, uint64_t now_ms)
{
    struct slot *s;
    unsigned wait = 0;

    pthread_mutex_lock(&t->mu);
    s = find(t, addr, now_ms, false);
    if (s && s->until_ms > now_ms)
        wait = (unsigned)((s->until_ms - now_ms + 999) / 1000);
    pthread_mutex_unlock(&t->mu);
    return wait;
}

unsigned gw_throttle_failed(struct gw_throttle *t, const char *addr, uint64_t now_ms)
{
    struct slot *s;
    unsigned over, wait = 0;

    pthread_mutex_lock(&t->mu);
    s = find(t, addr, now_ms, true);
    s->failures++;
    s->last_ms = now_ms;
    if (s->failures > t->free) {
        over = s->failures - t->free - 1; /* the first failure over the allowance waits 1 s */
        wait = over >= 31 || (1u << over) > t->max_wait_s ? t->max_wait_s : 1u << over;
        s->until_ms = now_ms + (uint64_t)wait * 1000;
    }
    pthread_mutex_unlock(&t->mu);
    return wait;
}
