#include "pu_url.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pu_url_parse(const char *url, struct pu_url *ret, const char **ret_why)
{
    struct pu_url u = {0};
    const char *p, *host, *host_end, *port = NULL, *end;
    size_t n;

    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        u.tls = true;
        p = url + 8;
    } else {
        *ret_why = "the URL must start with http:// or https://";
        return -EINVAL;
    }
    end = p + strcspn(p, "/?#");
    if (end == p) {
        *ret_why = "no host in the URL";
        return -EINVAL;
    }
    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end) {
            *ret_why = "unterminated IPv6 literal in the URL";
            return -EINVAL;
        }
        if (host_end + 1 < end) {
            if (host_end[1] != ':') {
                *ret_why = "junk after the IPv6 literal in the URL";
                return -EINVAL;
            }
            port = host_end + 2;
        }
    } else {
        host = p;
        host_end = memchr(p, ':', (size_t)(end - p));
        if (host_end)
            port = host_end + 1;
        else
            host_end = end;
    }
    n = (size_t)(host_end - host);
    if (n == 0 || n >= sizeof(u.host) || (size_t)(end - p) >= sizeof(u.authority)) {
        *ret_why = "the URL's host is empty or too long";
        return -EINVAL;
    }
    memcpy(u.host, host, n);
    memcpy(u.authority, p, (size_t)(end - p));
    if (port) {
        size_t pn = (size_t)(end - port);
        char *e;
        long v;

        if (pn == 0 || pn >= sizeof(u.port) || strspn(port, "0123456789") < pn) {
            *ret_why = "the URL's port is not a number";
            return -EINVAL;
        }
        memcpy(u.port, port, pn);
        errno = 0;
        v = strtol(u.port, &e, 10);
        if (errno || *e || v < 1 || v > 65535) {
            *ret_why = "the URL's port is out of range";
            return -EINVAL;
        }
    } else {
        memcpy(u.port, u.tls ? "443" : "80", u.tls ? 4 : 3);
    }
    *ret = u;
    return 0;
}
