#include <stdint.h>

#include "gw_config.h"
#include "tap.h"

int main(void)
{
    struct gw_config c;
    uint64_t v = 0;
    char *ok[] = {"serve", "--h2c", "off",        "--tls", "127.0.0.1:9443", "--cert", "c.pem",
                  "--key", "k.pem", "--max-body", "1MiB",  "--loops",        "3",      NULL};
    char *bad_size[] = {"serve", "--max-body", "-5", NULL};
    char *no_cert[] = {"serve", "--tls", "127.0.0.1:9443", NULL};
    char *both_off[] = {"serve", "--h2c", "off", "--tls", "off", NULL};

    CHECK(gw_parse_size("20MiB", &v) == 0 && v == 20u << 20);
    CHECK(gw_parse_size("512k", &v) == 0 && v == 512u << 10);
    CHECK(gw_parse_size("1048576", &v) == 0 && v == 1048576);
    CHECK(gw_parse_size("12x", &v) < 0);
    CHECK(gw_parse_size("", &v) < 0);
    CHECK(gw_parse_size("99999999999999999999", &v) < 0);
    CHECK(gw_parse_size("99999999999G", &v) < 0);

    gw_config_defaults(&c);
    CHECK(c.max_body == 20u << 20 && c.max_pixels == 50000000 && c.max_streams == 8);
    CHECK(gw_config_parse(&c, 13, ok, stdout) == 0);
    CHECK(c.h2c_addr == NULL && c.max_body == 1u << 20 && c.loops == 3);
    gw_config_defaults(&c);
    CHECK(gw_config_parse(&c, 3, bad_size, stdout) < 0);
    gw_config_defaults(&c);
    CHECK(gw_config_parse(&c, 3, no_cert, stdout) < 0);
    gw_config_defaults(&c);
    CHECK(gw_config_parse(&c, 5, both_off, stdout) < 0);
    return TAP_DONE();
}
