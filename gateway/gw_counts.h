/*
 * gw_counts: how many of something each key holds at once, under a cap: the connections of one
 * client address (gw_listen), the uploads in flight of one device (gw_upload). The same table
 * also serves as a rate limit (gw_counts_init_rate()): each key's count then drains by itself at
 * a fixed rate, a leaky bucket (the same meter as a token bucket that refills at that rate), so
 * the cap bounds bursts and the rate the long run: new connections per second from one address,
 * requests per second from one address or one device (gw_h2). A bucket can also be charged
 * with a penalty (gw_counts_charge()): an address cut for flooding is refused for a while.
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
#include <stdint.h>

#define GW_COUNTS_SLOTS 8192 /* keys tracked at once */
#define GW_COUNTS_PROBES 64  /* slots looked at per key */
#define GW_COUNTS_KEY_MAX 63 /* longer keys are cut to this */

struct gw_counts_slot {
    char key[GW_COUNTS_KEY_MAX + 1];
    uint64_t n;       /* 0: a free slot (its key stays so that lookups go on past it) */
    uint64_t last_ms; /* rate mode: when |n| was last drained */
};

struct gw_counts {
    pthread_mutex_t mu;
    struct gw_counts_slot *slots;
    uint64_t cap;   /* at most this much per key; 0: no cap, nothing is tracked */
    unsigned per_s; /* rate mode: hits per second that drain away; 0: a plain count */
};

/* Prepares |c| in caller memory for at most |cap| per key (0: no cap). Returns 0 or -ENOMEM. */
int gw_counts_init(struct gw_counts *c, unsigned cap);

/*
 * Prepares |c| as a rate limit: each key may make |burst| hits at once and |per_s| a second in
 * the long run (0 for either: no limit). Returns 0 or -ENOMEM.
 */
int gw_counts_init_rate(struct gw_counts *c, unsigned burst, unsigned per_s);

/*
 * Counts one hit of |key| at monotonic time |now_ms| on a rate limit: returns true, or false when
 * it is over the limit (nothing counted). Any thread.
 */
bool gw_counts_hit(struct gw_counts *c, const char *key, uint64_t now_ms);

/*
 * Like gw_counts_hit(), for a caller that tells the client when to come back: returns 0 when the
 * hit was counted, else the milliseconds (at least 1) until one would be; nothing is counted
 * then. Any thread.
 */
uint64_t gw_counts_hit_wait(struct gw_counts *c, const char *key, uint64_t now_ms);

/*
 * Fills the bucket of |key| on a rate limit so that it refuses every hit for |ms| from |now_ms|
 * (then it drains as usual): a penalty. Does nothing without a limit, or when the table has no
 * room for |key|. Any thread.
 */
void gw_counts_charge(struct gw_counts *c, const char *key, uint64_t now_ms, uint64_t ms);

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
