/*
 * gw_counts: how many of something each key holds at once, under a cap: the connections of one
 * client address (gw_listen), the uploads in flight of one device (gw_upload).
 *
 * A fixed open-addressing table under one mutex, so any thread may take and give back. Keys are
 * short strings (an address, a device id). A key whose count falls to 0 frees its slot. When the
 * table is too full to track a new key, that key is admitted untracked (fails open): the caps
 * are against one key flooding, and thousands of keys at once are another limit's business.
 */
#ifndef GW_COUNTS_H
#define GW_COUNTS_H

#include <pthread.h>
#include <stdbool.h>

#define GW_COUNTS_SLOTS 8192 /* keys tracked at once */
#define GW_COUNTS_PROBES 64  /* slots looked at per key */
#define GW_COUNTS_KEY_MAX 63 /* longer keys are cut to this */

struct gw_counts_slot {
    char key[GW_COUNTS_KEY_MAX + 1];
    unsigned n; /* 0: a free slot (its key stays so that lookups go on past it) */
};

struct gw_counts {
    pthread_mutex_t mu;
    struct gw_counts_slot *slots;
    unsigned cap; /* at most this many per key; 0: no cap, nothing is tracked */
};

/* Prepares |c| in caller memory for at most |cap| per key (0: no cap). Returns 0 or -ENOMEM. */
int gw_counts_init(struct gw_counts *c, unsigned cap);

/* Frees what gw_counts_init() made. Accepts a zeroed |c|. */
void gw_counts_finish(struct gw_counts *c);

/*
 * Takes one for |key|: returns true, or false when |key| already holds the cap (nothing taken).
 * Every true must be given back with gw_counts_put(). Any thread.
 */
bool gw_counts_take(struct gw_counts *c, const char *key);

/* Gives back one taken for |key|. Any thread. */
void gw_counts_put(struct gw_counts *c, const char *key);

#endif
