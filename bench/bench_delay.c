/* bench_delay.c: see bench_delay.h. */
#include "bench_delay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_clock.h"

#define CHUNK_MAX 65536       /* bytes read at a time */
#define QUEUED_MAX (4u << 20) /* per direction: past it the relay stops reading that side */
#define TICK_MS 100           /* the longest poll, so that a stop is seen */

struct chunk {
    struct chunk *next;
    double due; /* bench_now_ms() when it may go on */
    size_t len, off;
    uint8_t data[];
};

/* One direction of a connection: what was read from |from| and waits to be written to |to|. */
struct dir {
    struct chunk *head, *tail;
    size_t queued;
    bool eof;  /* |from| ended: after the queue, the write side of |to| is shut */
    bool shut; /* ... and it was */
};

struct pair {
    struct pair *next;
    int fd[2];       /* 0: the phone's side, 1: the gateway's */
    struct dir d[2]; /* d[k]: from fd[k] to fd[1 - k] */
    bool connecting; /* fd[1]'s connect is in progress: the phone's bytes wait for it */
};

struct bench_delay {
    int lfd;
    double half_ms;
    struct addrinfo *target;
    struct pair *pairs;
    atomic_bool stop;
    pthread_t thread;
};

static void dir_free(struct dir *d)
{
    while (d->head) {
        struct chunk *c = d->head;

        d->head = c->next;
        free(c);
    }
    d->tail = NULL;
    d->queued = 0;
}

/* Closes both sides; |cut|: with an RST (SO_LINGER 0), as the side that failed did. */
static void pair_close(struct pair *p, bool cut)
{
    for (int k = 0; k < 2; k++) {
        if (cut) {
            struct linger l = {.l_onoff = 1, .l_linger = 0};

            setsockopt(p->fd[k], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        close(p->fd[k]);
        dir_free(&p->d[k]);
    }
}

/* A non-blocking connect to the target: a gateway whose listen queue is full (a flood) must
 * not stall the other phones' bytes. Sets |*ret_pending| when it is still in progress. */
static int connect_target(const struct bench_delay *d, bool *ret_pending)
{
    int rc;

    for (const struct addrinfo *ai = d->target; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);

        if (fd < 0)
            continue;
        rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0 || errno == EINPROGRESS) {
            *ret_pending = rc < 0;
            return fd;
        }
        close(fd);
    }
    return -1;
}

static void accept_one(struct bench_delay *d)
{
    int one = 1, fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), up;
    bool pending = false;
    struct pair *p;

    if (fd < 0)
        return;
    up = connect_target(d, &pending);
    p = up >= 0 ? calloc(1, sizeof(*p)) : NULL;
    if (!p) {
        if (up >= 0)
            close(up);
        close(fd); /* the phone sees its connection refused, as without a route */
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    p->fd[0] = fd;
    p->fd[1] = up;
    p->connecting = pending;
    p->next = d->pairs;
    d->pairs = p;
}

/* The connect of |p| has an answer: false when it failed (the phone's connection is cut). */
static bool connected(struct pair *p)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
        return false;
    p->connecting = false;
    return true;
}

/* Reads what |fd[k]| has into d[k]'s queue. Returns false when the connection is to be cut. */
static bool pull(struct bench_delay *d, struct pair *p, int k)
{
    struct chunk *c = malloc(sizeof(*c) + CHUNK_MAX);
    ssize_t n;

    if (!c)
        return true; /* try again on the next turn */
    n = read(p->fd[k], c->data, CHUNK_MAX);
    if (n <= 0) {
        free(c);
        if (n == 0) {
            p->d[k].eof = true;
            return true;
        }
        return errno == EAGAIN || errno == EINTR;
    }
    if ((size_t)n < CHUNK_MAX / 2) {
        /* A small read keeps a small chunk: QUEUED_MAX counts bytes, not what holds them. */
        struct chunk *small = realloc(c, sizeof(*c) + (size_t)n);

        c = small ? small : c;
    }
    c->next = NULL;
    c->len = (size_t)n;
    c->off = 0;
    c->due = bench_now_ms() + d->half_ms;
    if (p->d[k].tail)
        p->d[k].tail->next = c;
    else
        p->d[k].head = c;
    p->d[k].tail = c;
    p->d[k].queued += c->len;
    return true;
}

/* Writes d[k]'s due bytes to the other side. Returns false when the connection is to be cut. */
static bool push(struct pair *p, int k, double now)
{
    struct dir *dr = &p->d[k];
    int to = p->fd[1 - k];

    while (dr->head && dr->head->due <= now) {
        struct chunk *c = dr->head;
        ssize_t n = send(to, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);

        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        c->off += (size_t)n;
        dr->queued -= (size_t)n;
        if (c->off < c->len)
            return true;
        dr->head = c->next;
        if (!dr->head)
            dr->tail = NULL;
        free(c);
    }
    if (dr->eof && !dr->head && !dr->shut) {
        shutdown(to, SHUT_WR);
        dr->shut = true;
    }
    return true;
}

static void *relay_main(void *arg)
{
    struct bench_delay *d = arg;
    struct pollfd *pfd = NULL;
    size_t cap = 0;

    while (!atomic_load(&d->stop)) {
        double now = bench_now_ms(), next = now + TICK_MS;
        size_t n = 1, i = 1;
        struct pair **pp;

        for (struct pair *p = d->pairs; p; p = p->next)
            n += 2;
        if (n > cap) {
            struct pollfd *g = realloc(pfd, n * sizeof(*pfd));

            if (!g) {
                bench_sleep_until(now + TICK_MS);
                continue;
            }
            pfd = g;
            cap = n;
        }
        /* pfd[1 + 2j + k] is side k of the j-th pair: read while its queue has room, write once
         * the bytes for it are due; the poll ends when the next ones fall due. */
        pfd[0] = (struct pollfd){.fd = d->lfd, .events = POLLIN};
        for (struct pair *p = d->pairs; p; p = p->next) {
            for (int k = 0; k < 2; k++) {
                const struct dir *in = &p->d[k], *out = &p->d[1 - k];
                short ev = 0;

                if (k == 1 && p->connecting)
                    ev = POLLOUT; /* the connect's answer */
                else {
                    if (!in->eof && in->queued < QUEUED_MAX)
                        ev |= POLLIN;
                    if (out->head && out->head->due <= now)
                        ev |= POLLOUT;
                    else if (out->head && out->head->due < next)
                        next = out->head->due;
                }
                /* Nothing wanted: not polled, or a hung-up side would wake the loop at once. */
                pfd[i++] = (struct pollfd){.fd = ev ? p->fd[k] : -1, .events = ev};
            }
        }
        if (poll(pfd, n, (int)(next - now) + 1) < 0 && errno != EINTR)
            break;
        now = bench_now_ms();
        i = 1;
        pp = &d->pairs;
        while (*pp) {
            struct pair *p = *pp;
            bool ok = true;

            if (p->connecting && pfd[i + 1].revents)
                ok = connected(p);
            for (int k = 0; k < 2 && ok; k++)
                if (!(k == 1 && p->connecting) &&
                    (pfd[i + (size_t)k].revents & (POLLIN | POLLERR | POLLHUP)))
                    ok = pull(d, p, k); /* bytes, the end, or the error */
            for (int k = p->connecting ? 1 : 0; k < 2 && ok; k++)
                ok = push(p, k, now);
            i += 2;
            if (!ok || (p->d[0].shut && p->d[1].shut)) {
                *pp = p->next;
                pair_close(p, !ok);
                free(p);
                continue;
            }
            pp = &p->next;
        }
        /* After the walk, so that the pairs polled and the pollfds still match above. */
        if (pfd[0].revents & POLLIN)
            accept_one(d);
    }
    free(pfd);
    return NULL;
}

int bench_delay_start(const char *host, const char *port, double rtt_ms, char *ret_port,
                      struct bench_delay **ret)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    struct bench_delay *d = calloc(1, sizeof(*d));
    int r;

    if (!d)
        return -ENOMEM;
    d->half_ms = rtt_ms / 2;
    if (getaddrinfo(host, port, &hints, &d->target) != 0) {
        free(d);
        return -ENOENT;
    }
    d->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(d->lfd, 4096) < 0 || getsockname(d->lfd, (struct sockaddr *)&sin, &len) < 0) {
        r = -errno;
        goto fail;
    }
    snprintf(ret_port, 8, "%u", (unsigned)ntohs(sin.sin_port));
    r = -pthread_create(&d->thread, NULL, relay_main, d);
    if (r < 0)
        goto fail;
    *ret = d;
    return 0;
fail:
    if (d->lfd >= 0)
        close(d->lfd);
    freeaddrinfo(d->target);
    free(d);
    return r;
}

void bench_delay_stop(struct bench_delay *d)
{
    if (!d)
        return;
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
    while (d->pairs) {
        struct pair *p = d->pairs;

        d->pairs = p->next;
        pair_close(p, false);
        free(p);
    }
    close(d->lfd);
    freeaddrinfo(d->target);
    free(d);
}
