#include "gw_scrape.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gw_api.h"
#include "gw_app.h"
#include "gw_db.h"
#include "gw_listen.h"
#include "gw_log.h"

#define REQUEST_MAX 4096
#define IO_TIMEOUT_S 5

struct gw_scrape {
    struct gw_app *app;
    int fd;      /* the listening socket */
    int stop[2]; /* a pipe: closing its write end stops the thread */
    pthread_t thread;
    PGconn *pg; /* made when a scrape needs it, dropped when it fails */
};

static void send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the scraper went away, or timed out: nothing to tell it */
        p += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, type, len);

    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* Reads the request head (up to the blank line) into |buf|. Returns its length, or -1. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return (ssize_t)len;
    }
    return -1;
}

static void serve_one(struct gw_scrape *s, int fd)
{
    struct timeval tv = {IO_TIMEOUT_S, 0};
    char req[REQUEST_MAX], method[8], path[256];
    size_t len = 0;
    char *text;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (read_head(fd, req, sizeof(req)) < 0 ||
        sscanf(req, "%7s %255s HTTP/1.", method, path) != 2) {
        respond(fd, "400 Bad Request", "text/plain", "bad request\n", 12);
        return;
    }
    path[strcspn(path, "?")] = '\0';
    if (strcmp(path, "/metrics") != 0 && strcmp(path, "/healthz") != 0) {
        respond(fd, "404 Not Found", "text/plain", "/metrics or /healthz\n", 20);
        return;
    }
    if (strcmp(method, "GET") != 0) {
        respond(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        respond(fd, "200 OK", "application/json", "{\"status\":\"ok\"}", 15);
        return;
    }
    if (s->pg && PQstatus(s->pg) != CONNECTION_OK) {
        PQfinish(s->pg);
        s->pg = NULL;
    }
    if (!s->pg)
        s->pg = gw_db_connect(s->app->cfg->db, NULL, 0);
    text = gw_api_metrics(s->app, s->pg, &len);
    if (!text) {
        respond(fd, "500 Internal Server Error", "text/plain", "out of memory\n", 14);
        return;
    }
    respond(fd, "200 OK", "text/plain; version=0.0.4", text, len);
    free(text);
}

static void *scrape_main(void *arg)
{
    struct gw_scrape *s = arg;
    struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop[0], .events = POLLIN}};

    for (;;) {
        int c;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break; /* the stop pipe closed */
        c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        /* The listener is non-blocking; the connection is served blocking, with timeouts. */
        fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
        serve_one(s, c);
        close(c);
    }
    PQfinish(s->pg);
    s->pg = NULL;
    return NULL;
}

int gw_scrape_start(struct gw_app *app, const char *addr, struct gw_scrape **ret)
{
    struct gw_scrape *s;
    int r;

    *ret = NULL;
    if (!addr)
        return 0;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->app = app;
    s->stop[0] = s->stop[1] = -1;
    s->fd = gw_listen_socket(addr);
    if (s->fd < 0) {
        r = s->fd;
        gw_log(GW_LOG_ERROR, "msg=\"could not listen\" addr=%s what=metrics err=\"%s\"", addr,
               strerror(-r));
        free(s);
        return r;
    }
    if (pipe2(s->stop, O_CLOEXEC) < 0) {
        r = -errno;
        goto fail;
    }
    r = -pthread_create(&s->thread, NULL, scrape_main, s);
    if (r < 0)
        goto fail;
    gw_log(GW_LOG_INFO, "msg=\"metrics listening\" addr=%s", addr);
    *ret = s;
    return 0;
fail:
    close(s->fd);
    if (s->stop[0] >= 0) {
        close(s->stop[0]);
        close(s->stop[1]);
    }
    free(s);
    return r;
}

void gw_scrape_stop(struct gw_scrape *s)
{
    if (!s)
        return;
    close(s->stop[1]);
    pthread_join(s->thread, NULL);
    close(s->stop[0]);
    close(s->fd);
    free(s);
}
