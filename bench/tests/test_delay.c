/*
 * bench_delay against a gateway that does not answer its connects: a listener whose accept queue
 * is full drops the SYNs of the relay's connect. The relay must not hang on it (it can be
 * stopped), and once the queue has room the phone's bytes, held meanwhile, go through.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"
#include "bench_delay.h"
#include "tap.h"

#define FILLERS 4

/* A listener on 127.0.0.1 with an accept queue of one, never accepted from. */
static int listener(char port[8])
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 0) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    snprintf(port, 8, "%u", (unsigned)ntohs(sin.sin_port));
    return fd;
}

static int connect_to(const char *port, int flags)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(port)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Fills the accept queue of the listener on |port| with direct connections: later SYNs to it
 * are dropped. */
static void fill(const char *port, int fillers[FILLERS])
{
    for (int i = 0; i < FILLERS; i++)
        fillers[i] = connect_to(port, SOCK_NONBLOCK);
    bench_sleep_until(bench_now_ms() + 200);
}

/* Closes the fillers and what the listener queued of them: the queue has room again. */
static void drain(int lfd, int fillers[FILLERS])
{
    int fd;

    for (int i = 0; i < FILLERS; i++)
        if (fillers[i] >= 0)
            close(fillers[i]);
    while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
        close(fd);
}

/* A phone through the relay on |rport| that sends "hello". */
static int phone(const char *rport)
{
    int fd = connect_to(rport, 0);

    CHECK(fd >= 0);
    CHECK(fd >= 0 && write(fd, "hello", 5) == 5);
    return fd;
}

static void stop_while_connecting(void)
{
    char port[8], rport[8];
    int fillers[FILLERS], lfd = listener(port), ph;
    struct bench_delay *d = NULL;
    double t;

    CHECK(lfd >= 0);
    fill(port, fillers);
    CHECK(bench_delay_start("127.0.0.1", port, 20, rport, &d) == 0);
    ph = phone(rport);
    bench_sleep_until(bench_now_ms() + 300); /* the relay has taken it and is connecting */
    t = bench_now_ms();
    bench_delay_stop(d); /* a relay blocked in connect(2) would not return for minutes */
    CHECK(bench_now_ms() - t < 2000);
    close(ph);
    drain(lfd, fillers);
    close(lfd);
}

static void bytes_wait_for_the_connect(void)
{
    char port[8], rport[8], buf[16] = {0};
    int fillers[FILLERS], lfd = listener(port), ph, up = -1;
    struct bench_delay *d = NULL;
    struct pollfd p;

    CHECK(lfd >= 0);
    fill(port, fillers);
    CHECK(bench_delay_start("127.0.0.1", port, 20, rport, &d) == 0);
    ph = phone(rport);
    bench_sleep_until(bench_now_ms() + 300);
    drain(lfd, fillers);
    /* The relay's SYN is sent again (after about 1 s) and now lands in the queue. */
    p = (struct pollfd){.fd = lfd, .events = POLLIN};
    CHECK(poll(&p, 1, 10000) == 1);
    up = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    CHECK(up >= 0);
    p = (struct pollfd){.fd = up, .events = POLLIN};
    CHECK(up >= 0 && poll(&p, 1, 5000) == 1);
    CHECK(up >= 0 && read(up, buf, sizeof(buf) - 1) == 5);
    CHECK_STR(buf, "hello");
    bench_delay_stop(d);
    if (up >= 0)
        close(up);
    close(ph);
    close(lfd);
}

int main(void)
{
    stop_while_connecting();
    bytes_wait_for_the_connect();
    return TAP_DONE();
}
