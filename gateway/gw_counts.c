#include "gw_counts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_counts_init(struct gw_counts *c, unsigned cap)
{
    memset(c, 0, sizeof(*c));
    c->cap = cap;
    if (!cap)
        return 0;
    c->slots = calloc(GW_COUNTS_SLOTS, sizeof(*c->slots));
    if (!c->slots)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    return 0;
}

int gw_counts_init_rate(struct gw_counts *c, unsigned burst, unsigned per_s)
{
    int r = gw_counts_init(c, burst && per_s ? burst : 0);

    /* In rate mode a hit weighs 1000 and |per_s| * 1000 drain each second: whole numbers. */
    c->cap *= 1000;
    c->per_s = c->cap ? per_s : 0;
    return r;
}

void gw_counts_finish(struct gw_counts *c)
{
    if (!c->slots)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    c->slots = NULL;
}

static size_t first_slot(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % GW_COUNTS_SLOTS;
}

/* Rate mode: what |s| held drains at c->per_s hits a second since it was last looked at. */
static void drain(const struct gw_counts *c, struct gw_counts_slot *s, uint64_t now_ms)
{
    uint64_t gone = now_ms > s->last_ms ? (now_ms - s->last_ms) * c->per_s : 0;

    s->n = gone >= s->n ? 0 : s->n - gone;
    s->last_ms = now_ms;
}

/* The slot holding |key| (n > 0), else NULL; |*ret_free| gets the first free slot seen. */
static struct gw_counts_slot *find(struct gw_counts *c, const char *key, uint64_t now_ms,
                                   struct gw_counts_slot **ret_free)
{
    size_t i = first_slot(key);

    *ret_free = NULL;
    for (size_t probe = 0; probe < GW_COUNTS_PROBES; probe++, i = (i + 1) % GW_COUNTS_SLOTS) {
        struct gw_counts_slot *s = &c->slots[i];

        if (c->per_s && s->n > 0)
            drain(c, s, now_ms);
        if (s->n > 0 && strncmp(s->key, key, GW_COUNTS_KEY_MAX) == 0)
            return s;
        if (s->n == 0 && !*ret_free)
            *ret_free = s;
        if (!s->key[0])
            break; /* never used: |key| is not further on */
    }
    return NULL;
}

bool gw_counts_take(struct gw_counts *c, const char *key)
{
    struct gw_counts_slot *s, *free_slot;
    bool ok = true;

    if (!c->slots)
        return true;
    pthread_mutex_lock(&c->mu);
    s = find(c, key, 0, &free_slot);
    if (s) {
        ok = s->n < c->cap;
        s->n += ok;
    } else if (free_slot) {
        snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
        free_slot->n = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

void gw_counts_put(struct gw_counts *c, const char *key)
{
    struct gw_counts_slot *s, *free_slot;

    if (!c->slots)
        return;
    pthread_mutex_lock(&c->mu);
    s = find(c, key, 0, &free_slot);
    if (s)
        s->n--;
    pthread_mutex_unlock(&c->mu);
}

uint64_t gw_counts_hit_wait(struct gw_counts *c, const char *key, uint64_t now_ms)
{
    struct gw_counts_slot *s, *free_slot;
    uint64_t wait = 0;

    if (!c->slots || !c->per_s) /* no limit (a plain count is not a rate) */
        return 0;
    pthread_mutex_lock(&c->mu);
    s = find(c, key, now_ms, &free_slot);
    if (s && s->n + 1000 > c->cap) {
        /* |per_s| drain a millisecond: this long until a whole hit fits under the cap. */
        wait = (s->n + 1000 - c->cap + c->per_s - 1) / c->per_s;
    } else if (s) {
        s->n += 1000;
    } else if (free_slot) {
        snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
        free_slot->n = 1000;
        free_slot->last_ms = now_ms;
    }
    pthread_mutex_unlock(&c->mu);
    return wait;
}

bool gw_counts_hit(struct gw_counts *c, const char *key, uint64_t now_ms)
{
    return gw_counts_hit_wait(c, key, now_ms) == 0;
}

void gw_counts_charge(struct gw_counts *c, const char *key, uint64_t now_ms, uint64_t ms)
{
    struct gw_counts_slot *s, *free_slot;

    if (!c->slots || !c->per_s)
        return;
    pthread_mutex_lock(&c->mu);
    s = find(c, key, now_ms, &free_slot);
    if (!s && free_slot) {
        s = free_slot;
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->last_ms = now_ms;
    }
    /* Over the cap by what drains in |ms|: refused that long, and until a hit has drained. */
    if (s)
        s->n = c->cap + ms * c->per_s;
    pthread_mutex_unlock(&c->mu);
}
