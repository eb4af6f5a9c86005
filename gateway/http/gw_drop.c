#include "gw_drop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>

#include "gw_log.h"

/* 9 instructions an IPv6 entry, 2 an IPv4 one, and 9 around them. */
#define PROG_MAX (GW_DROP_MAX * 9 + 9)

#define STMT(code, k) ((struct sock_filter){(uint16_t)(code), 0, 0, (uint32_t)(k)})
#define JEQ(k, jt, jf) ((struct sock_filter){BPF_JMP | BPF_JEQ | BPF_K, (jt), (jf), (uint32_t)(k)})
#define DROP STMT(BPF_RET | BPF_K, 0)
#define KEEP STMT(BPF_RET | BPF_K, 0xffffffffu)

void gw_drop_init(struct gw_drop *d)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
}

void gw_drop_free(struct gw_drop *d)
{
    pthread_mutex_destroy(&d->mu);
}

/*
 * The program: the IP version from the network header, then for each listed address of that
 * version a comparison whose match falls through into "drop"; anything else is kept. The loads
 * are relative to the network header (SKF_NET_OFF) because a TCP socket's filter sees the packet
 * from its TCP header on.
 */
static unsigned build(const struct gw_drop *d, struct sock_filter *p)
{
    unsigned n = 0, jump;

    p[n++] = STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF);
    p[n++] = STMT(BPF_ALU | BPF_RSH | BPF_K, 4);
    p[n++] = JEQ(6, 0, 1);
    jump = n++; /* BPF_JA to the IPv6 part, its offset known once IPv4's is written */
    p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12); /* IPv4 source */
    for (unsigned i = 0; i < d->n; i++) {
        if (d->e[i].v6)
            continue;
        p[n++] = JEQ(d->e[i].addr[0], 0, 1);
        p[n++] = DROP;
    }
    p[n++] = KEEP;
    p[jump] = STMT(BPF_JMP | BPF_JA, n - jump - 1);
    for (unsigned i = 0; i < d->n; i++) {
        if (!d->e[i].v6)
            continue;
        for (unsigned w = 0; w < 4; w++) { /* IPv6 source: 4 words from byte 8 */
            p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8 + 4 * w);
            p[n++] = JEQ(d->e[i].addr[w], 0, (uint8_t)(2 * (3 - w) + 1));
        }
        p[n++] = DROP;
    }
    p[n++] = KEEP;
    return n;
}

/* Puts the list in force on every listening socket. Called with |mu| held. */
static void attach(struct gw_drop *d)
{
    struct sock_filter prog[PROG_MAX];
    struct sock_fprog fp = {.len = 0, .filter = prog};
    int unused = 0; /* SO_DETACH_FILTER takes no value, but the kernel wants an int's length */

    if (d->failed)
        return;
    if (d->n > 0)
        fp.len = (unsigned short)build(d, prog);
    for (unsigned i = 0; i < d->nfds; i++) {
        int r = d->n > 0
                    ? setsockopt(d->fds[i], SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp))
                    : setsockopt(d->fds[i], SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused));

        /* Detaching a socket that has no filter says ENOENT: nothing to undo. */
        if (r < 0 && !(d->n == 0 && errno == ENOENT)) {
            gw_log(GW_LOG_WARN,
                   "msg=\"no packet filter on the listening socket\" err=\"%s\""
                   " effect=\"penalised addresses are refused at accept only\"",
                   strerror(errno));
            d->failed = true;
            return;
        }
    }
}

void gw_drop_listen(struct gw_drop *d, int fd)
{
    pthread_mutex_lock(&d->mu);
    if (d->nfds < sizeof(d->fds) / sizeof(d->fds[0]))
        d->fds[d->nfds++] = fd;
    if (d->n > 0)
        attach(d);
    pthread_mutex_unlock(&d->mu);
}

/* |host| as an entry: IPv4, IPv4-mapped IPv6 (a dual-stack socket's IPv4 peers) or IPv6. */
static bool parse(const char *host, struct gw_drop_entry *e)
{
    struct in_addr a4;
    struct in6_addr a6;

    memset(e, 0, sizeof(*e));
    if (inet_pton(AF_INET, host, &a4) == 1) {
        e->addr[0] = ntohl(a4.s_addr);
        return true;
    }
    if (inet_pton(AF_INET6, host, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(&a4, a6.s6_addr + 12, 4);
        e->addr[0] = ntohl(a4.s_addr);
        return true;
    }
    for (unsigned w = 0; w < 4; w++) {
        uint32_t word;

        memcpy(&word, a6.s6_addr + 4 * w, 4);
        e->addr[w] = ntohl(word);
    }
    e->v6 = true;
    return true;
}

bool gw_drop_add(struct gw_drop *d, const char *host, uint64_t until_ms)
{
    struct gw_drop_entry e;
    bool ok = false;

    if (!parse(host, &e))
        return false;
    e.until_ms = until_ms;
    pthread_mutex_lock(&d->mu);
    for (unsigned i = 0; i < d->n; i++) {
        if (d->e[i].v6 == e.v6 && memcmp(d->e[i].addr, e.addr, sizeof(e.addr)) == 0) {
            if (d->e[i].until_ms < until_ms)
                d->e[i].until_ms = until_ms;
            ok = !d->failed;
            goto out;
        }
    }
    if (d->n < GW_DROP_MAX && d->nfds > 0 && !d->failed) {
        d->e[d->n++] = e;
        attach(d);
        ok = !d->failed;
    }
out:
    pthread_mutex_unlock(&d->mu);
    return ok;
}

void gw_drop_expire(struct gw_drop *d, uint64_t now_ms)
{
    unsigned kept = 0;

    pthread_mutex_lock(&d->mu);
    for (unsigned i = 0; i < d->n; i++) {
        if (d->e[i].until_ms > now_ms)
            d->e[kept++] = d->e[i];
    }
    if (kept != d->n) {
        d->n = kept;
        attach(d);
    }
    pthread_mutex_unlock(&d->mu);
}

unsigned gw_drop_count(struct gw_drop *d)
{
    unsigned n;

    pthread_mutex_lock(&d->mu);
    n = d->n;
    pthread_mutex_unlock(&d->mu);
    return n;
}
