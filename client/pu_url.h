/*
 * pu_url: the server URLs prep-upload and the benchmarks accept, "http://host[:port]" (HTTP/2
 * cleartext with prior knowledge) or "https://host[:port]" (TLS), split into what a connection
 * needs. It does not resolve names, and ignores any path, query or fragment.
 */
#ifndef PU_URL_H
#define PU_URL_H

#include <stdbool.h>

#define PU_URL_HOST_MAX 256

struct pu_url {
    bool tls;                            /* https:// */
    char host[PU_URL_HOST_MAX];          /* without brackets for IPv6 literals */
    char port[8];                        /* "8080"; the scheme's default when absent */
    char authority[PU_URL_HOST_MAX + 8]; /* host[:port] as written, for :authority */
};

/*
 * Parses |url| ("http://host[:port][/...]" or "https://..."; the path is ignored) into |ret|.
 * Returns 0, or -EINVAL with a static reason in |*ret_why|.
 */
int pu_url_parse(const char *url, struct pu_url *ret, const char **ret_why);

#endif
