#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gw_sfv.h"
#include "tap.h"

static uint64_t uint_or(const char *s, uint64_t fallback)
{
    uint64_t v = 0;

    return gw_sfv_uint(s, strlen(s), &v) == 0 ? v : fallback;
}

static int bool_of(const char *s)
{
    bool b = false;

    return gw_sfv_bool(s, strlen(s), &b) == 0 ? b : -1;
}

int main(void)
{
    const uint64_t bad = UINT64_MAX;

    CHECK(uint_or("0", bad) == 0);
    CHECK(uint_or("4718592", bad) == 4718592);
    CHECK(uint_or("  42 ", bad) == 42);
    CHECK(uint_or("999999999999999", bad) == 999999999999999ull); /* 15 digits: the maximum */
    CHECK(uint_or("42;a=1;b;c=\"x\";d=?1;e=:AQ==:;f=tok", bad) == 42);
    CHECK(uint_or("1000000000000000", bad) == bad); /* 16 digits */
    CHECK(uint_or("", bad) == bad);
    CHECK(uint_or("-1", bad) == bad);
    CHECK(uint_or("1.5", bad) == bad);
    CHECK(uint_or("0x10", bad) == bad);
    CHECK(uint_or("12 34", bad) == bad);
    CHECK(uint_or("12,13", bad) == bad); /* a list is not an item */
    CHECK(uint_or("12;", bad) == bad);
    CHECK(uint_or("12;A=1", bad) == bad); /* keys are lowercase */
    CHECK(uint_or("12;a=\"unterminated", bad) == bad);
    CHECK(uint_or("12;a=", bad) == bad);
    CHECK(gw_sfv_uint("12\0", 3, &(uint64_t){0}) < 0); /* embedded NUL */

    CHECK(bool_of("?1") == 1);
    CHECK(bool_of("?0") == 0);
    CHECK(bool_of(" ?1 ") == 1);
    CHECK(bool_of("?1;x") == 1);
    CHECK(bool_of("?2") == -1);
    CHECK(bool_of("1") == -1);
    CHECK(bool_of("true") == -1);
    CHECK(bool_of("?") == -1);
    CHECK(bool_of("?10") == -1);
    CHECK(bool_of("") == -1);
    return TAP_DONE();
}
