/* pu_url_parse: the server URLs prep-upload and the benchmarks accept. */
#include <errno.h>

#include "pu_h2.h"
#include "tap.h"

static int parse(const char *s, struct pu_url *u)
{
    const char *why = NULL;
    int r = pu_url_parse(s, u, &why);

    CHECK(r == 0 || why != NULL);
    return r;
}

int main(void)
{
    struct pu_url u;

    CHECK(parse("http://127.0.0.1:8080", &u) == 0);
    CHECK(!u.tls);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_STR(u.port, "8080");
    CHECK_STR(u.authority, "127.0.0.1:8080");

    CHECK(parse("https://gw.example.mx/v1/ignored?x", &u) == 0);
    CHECK(u.tls);
    CHECK_STR(u.host, "gw.example.mx");
    CHECK_STR(u.port, "443");
    CHECK_STR(u.authority, "gw.example.mx");

    CHECK(parse("http://localhost", &u) == 0);
    CHECK_STR(u.port, "80");

    CHECK(parse("https://[::1]:8443/", &u) == 0);
    CHECK_STR(u.host, "::1");
    CHECK_STR(u.port, "8443");
    CHECK_STR(u.authority, "[::1]:8443");

    CHECK(parse("ftp://host", &u) == -EINVAL);
    CHECK(parse("127.0.0.1:8080", &u) == -EINVAL);
    CHECK(parse("http://", &u) == -EINVAL);
    CHECK(parse("http:///path", &u) == -EINVAL);
    CHECK(parse("http://host:", &u) == -EINVAL);
    CHECK(parse("http://host:0", &u) == -EINVAL);
    CHECK(parse("http://host:65536", &u) == -EINVAL);
    CHECK(parse("http://host:80a", &u) == -EINVAL);
    CHECK(parse("http://host:-1", &u) == -EINVAL);
    CHECK(parse("http://[::1", &u) == -EINVAL);
    CHECK(parse("http://[::1]x", &u) == -EINVAL);
    return TAP_DONE();
}
