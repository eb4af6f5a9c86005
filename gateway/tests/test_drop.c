/* gw_drop on real loopback sockets: a listed address cannot connect and the others can, IPv4,
 * IPv6 and IPv4 on a dual-stack socket, a full list, and expiry. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_drop.h"
#include "tap.h"

/* A listening socket on loopback (|family|), its port in |port|; dual-stack when IPv6. */
static int listener(int family, uint16_t *port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), zero = 0;

    if (fd < 0)
        return -1;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* 1 when a connection from |src| to |dst|:|port| is made within 300 ms, 0 when not (its SYN was
 * dropped), -1 when the test cannot run it (no such address here). */
static int connects(const char *src, const char *dst, uint16_t port)
{
    struct sockaddr_storage from = {0}, to = {0};
    socklen_t len;
    int family = strchr(dst, ':') ? AF_INET6 : AF_INET, fd, r = -1;
    struct pollfd p;

    if (family == AF_INET6) {
        struct sockaddr_in6 *f = (struct sockaddr_in6 *)&from, *t = (struct sockaddr_in6 *)&to;

        f->sin6_family = t->sin6_family = AF_INET6;
        t->sin6_port = htons(port);
        if (inet_pton(AF_INET6, src, &f->sin6_addr) != 1 ||
            inet_pton(AF_INET6, dst, &t->sin6_addr) != 1)
            return -1;
        len = sizeof(*f);
    } else {
        struct sockaddr_in *f = (struct sockaddr_in *)&from, *t = (struct sockaddr_in *)&to;

        f->sin_family = t->sin_family = AF_INET;
        t->sin_port = htons(port);
        if (inet_pton(AF_INET, src, &f->sin_addr) != 1 ||
            inet_pton(AF_INET, dst, &t->sin_addr) != 1)
            return -1;
        len = sizeof(*f);
    }
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&from, len) < 0)
        goto out;
    if (connect(fd, (struct sockaddr *)&to, len) == 0) {
        r = 1;
        goto out;
    }
    if (errno != EINPROGRESS)
        goto out;
    p = (struct pollfd){.fd = fd, .events = POLLOUT};
    r = poll(&p, 1, 300) == 1 ? 1 : 0;
out:
    if (fd >= 0)
        close(fd);
    return r;
}

/* Takes the connections the tests made off the accept queue. */
static void drain(int fd)
{
    int c, fl = fcntl(fd, F_GETFL);

    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    while ((c = accept(fd, NULL, NULL)) >= 0)
        close(c);
    fcntl(fd, F_SETFL, fl);
}

int main(void)
{
    struct gw_drop d;
    uint16_t p4 = 0, p6 = 0;
    int l4 = listener(AF_INET, &p4), l6 = listener(AF_INET6, &p6), v6;
    char host[64];

    CHECK(l4 >= 0);
    gw_drop_init(&d);
    CHECK(!gw_drop_add(&d, "127.0.0.2", 1000)); /* no socket to filter yet */
    gw_drop_listen(&d, l4);
    if (l6 >= 0)
        gw_drop_listen(&d, l6);

    CHECK(connects("127.0.0.2", "127.0.0.1", p4) == 1);
    CHECK(gw_drop_add(&d, "127.0.0.2", 1000));
    CHECK(gw_drop_add(&d, "127.0.0.2", 2000)); /* again: later, still one entry */
    CHECK(gw_drop_count(&d) == 1);
    CHECK(connects("127.0.0.2", "127.0.0.1", p4) == 0);
    CHECK(connects("127.0.0.1", "127.0.0.1", p4) == 1);
    CHECK(connects("127.0.0.3", "127.0.0.1", p4) == 1);
    CHECK(!gw_drop_add(&d, "not-an-address", 1000));
    CHECK(!gw_drop_add(&d, "127.0.0", 1000));

    /* IPv6, and IPv4 peers of the dual-stack socket listed as IPv4-mapped addresses. */
    v6 = l6 >= 0 ? connects("::1", "::1", p6) : -1;
    if (v6 == 1) {
        CHECK(gw_drop_add(&d, "::1", 2000));
        CHECK(gw_drop_add(&d, "::ffff:127.0.0.4", 2000));
        CHECK(connects("::1", "::1", p6) == 0);
        CHECK(connects("127.0.0.4", "127.0.0.1", p6) == 0);
        CHECK(connects("127.0.0.4", "127.0.0.1", p4) == 0); /* the same address on IPv4 */
        CHECK(connects("127.0.0.2", "127.0.0.1", p6) == 0);
        CHECK(connects("127.0.0.1", "127.0.0.1", p6) == 1);
    } else {
        fprintf(stderr, "# no IPv6 loopback here: its cases are skipped\n");
        CHECK(gw_drop_add(&d, "::1", 2000));
        CHECK(gw_drop_add(&d, "127.0.0.4", 2000));
    }

    /* Expiry: 127.0.0.2 until 2000, the others until 2000 too. */
    gw_drop_expire(&d, 1500);
    CHECK(gw_drop_count(&d) == 3);
    CHECK(connects("127.0.0.2", "127.0.0.1", p4) == 0);
    gw_drop_expire(&d, 2000);
    CHECK(gw_drop_count(&d) == 0);
    CHECK(connects("127.0.0.2", "127.0.0.1", p4) == 1);
    CHECK(connects("127.0.0.4", "127.0.0.1", p4) == 1);
    if (v6 == 1)
        CHECK(connects("::1", "::1", p6) == 1);

    /* A full list, IPv6 entries before the IPv4 one, so that every jump spans the longest
     * program; the next address does not fit. */
    for (unsigned i = 0; i + 2 < GW_DROP_MAX; i++) {
        snprintf(host, sizeof(host), "2001:db8::%x", i + 1);
        CHECK(gw_drop_add(&d, host, 5000));
    }
    CHECK(gw_drop_add(&d, "127.0.0.2", 5000));
    CHECK(gw_drop_add(&d, "::1", 5000));
    CHECK(gw_drop_count(&d) == GW_DROP_MAX);
    CHECK(!gw_drop_add(&d, "127.0.0.5", 5000));
    CHECK(connects("127.0.0.2", "127.0.0.1", p4) == 0);
    CHECK(connects("127.0.0.5", "127.0.0.1", p4) == 1);
    if (v6 == 1) {
        CHECK(connects("::1", "::1", p6) == 0);
        CHECK(connects("127.0.0.5", "127.0.0.1", p6) == 1);
    }
    gw_drop_expire(&d, 5000);
    CHECK(connects("127.0.0.2", "127.0.0.1", p4) == 1);

    drain(l4);
    close(l4);
    if (l6 >= 0) {
        drain(l6);
        close(l6);
    }
    gw_drop_free(&d);
    return TAP_DONE();
}
