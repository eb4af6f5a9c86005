/*
 * gw_drop: addresses whose packets the kernel drops at the listening sockets.
 *
 * An address penalised for a flood (--flood-penalty) would otherwise cost an accept() and a
 * close() for every connection it opens, and on loopback or a fast link a flooder opens thousands
 * a second, each pushing up to a socket buffer of frames before the close. Here the kernel drops
 * its SYNs instead: a classic BPF filter on the listening socket (SO_ATTACH_FILTER) compares the
 * source address of each packet with a short list, rebuilt whenever the list changes. Accepted
 * connections inherit the filter as it was when they were made, which is harmless: their peer was
 * not on the list then. IPv4 and IPv6, and IPv4 on a dual-stack socket.
 *
 * Best effort: when the filter cannot be attached (an old kernel, a seccomp policy), the accept
 * path still refuses the address, as before. Any thread.
 */
#ifndef GW_DROP_H
#define GW_DROP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_DROP_MAX 200 /* addresses at once: 9 BPF instructions each at most, of 4096 */

struct gw_drop_entry {
    uint32_t addr[4]; /* host order, word by word; IPv4 in [0] */
    bool v6;
    uint64_t until_ms;
};

struct gw_drop {
    pthread_mutex_t mu;
    int fds[2];
    unsigned nfds;
    struct gw_drop_entry e[GW_DROP_MAX];
    unsigned n;
    bool failed; /* attaching failed once: logged, not tried again */
};

void gw_drop_init(struct gw_drop *d);
void gw_drop_free(struct gw_drop *d);

/* Filters listening socket |fd| too (the caller keeps it open for as long as |d| lives). */
void gw_drop_listen(struct gw_drop *d, int fd);

/*
 * Drops packets from numeric address |host| until |until_ms| (gw_now_ms() time), or later if it
 * is already dropped until then. Returns false when it could not be (not an address, the list is
 * full, or no filter could be attached): the caller's own refusal stays the only one.
 */
bool gw_drop_add(struct gw_drop *d, const char *host, uint64_t until_ms);

/* Forgets the addresses whose time has come at |now_ms|; cheap when none has. */
void gw_drop_expire(struct gw_drop *d, uint64_t now_ms);

/* How many addresses are dropped now. */
unsigned gw_drop_count(struct gw_drop *d);

#endif
