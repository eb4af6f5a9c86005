/*
 * gw_throttle: failed logins counted per client address, for every event loop at once.
 *
 * The per-account backoff (gw_auth_backoff_s) stops guessing one clerk's password; it does not
 * stop one client from trying one password on every account, and each attempt costs an Argon2id
 * hash. Here each address gets |free| failed logins; after that it must wait 1, 2, 4, ... s (at
 * most |max_wait_s|) after each further failure. An address is forgotten |forget_s| after its
 * last failure. A success does not reset the count: a CATD shares one address between clerks,
 * and an attacker holding one valid account must not be able to wash its failures away.
 *
 * The table is small and bounded (GW_THROTTLE_SLOTS); when it is full the address whose last
 * failure is oldest is forgotten. Thread-safe; every call takes one mutex for a short scan.
 */
#ifndef GW_THROTTLE_H
#define GW_THROTTLE_H

#include <stdint.h>

#define GW_THROTTLE_SLOTS 1024
#define GW_THROTTLE_ADDR_MAX 48 /* an IPv6 address in text, with room to spare */

struct gw_throttle;

/* Returns a new table, or NULL when out of memory. */
struct gw_throttle *gw_throttle_new(unsigned free, unsigned max_wait_s, unsigned forget_s);
void gw_throttle_free(struct gw_throttle *t);

/* Seconds |addr| must still wait before its next login attempt at |now_ms|; 0: it may try. */
unsigned gw_throttle_wait(struct gw_throttle *t, const char *addr, uint64_t now_ms);

/* Records a failed login from |addr| at |now_ms|; returns the wait that now applies to it. */
unsigned gw_throttle_failed(struct gw_throttle *t, const char *addr, uint64_t now_ms);

#endif
