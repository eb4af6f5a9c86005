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

/* The slot holding |key| (n > 0), else NULL; |*ret_free| gets the first free slot seen. */
static struct gw_counts_slot *find(struct gw_counts *c, const char *key,
                                   struct gw_counts_slot **ret_free)
{
    size_t i = first_slot(key);

    *ret_free = NULL;
    for (size_t probe = 0; probe < GW_COUNTS_PROBES; probe++, i = (i + 1) % GW_COUNTS_SLOTS) {
        struct gw_counts_slot *s = &c->slots[i];

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
    s = find(c, key, &free_slot);
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
    s = find(c, key, &free_slot);
    if (s)
        s->n--;
    pthread_mutex_unlock(&c->mu);
}
