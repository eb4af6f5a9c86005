#include <string.h>

#include "gw_clave.h"
#include "tap.h"

static int valid(const char *s)
{
    return gw_clave_valid(s, strlen(s), NULL);
}

int main(void)
{
    const char *why = NULL;

    CHECK(valid("140338B010002")); /* 13: two-digit acta type */
    CHECK(valid("140338B01002"));  /* 12: one-digit acta type */
    CHECK(valid("010001C990199"));
    for (const char *t = "BCESV"; *t; t++) {
        char s[] = "140338B010002";

        s[6] = *t;
        CHECK(valid(s));
    }
    CHECK(!valid(""));
    CHECK(!valid("14033B010002"));   /* short section */
    CHECK(!valid("140338X010002"));  /* unknown casilla type */
    CHECK(!valid("140338b010002"));  /* lowercase type */
    CHECK(!valid("140338B0100023")); /* too long */
    CHECK(!valid("1403380010002"));  /* digit for type */
    CHECK(!valid("140338B01000A"));
    CHECK(!valid("A40338B010002"));
    CHECK(!gw_clave_valid("140338B01000\0", 13, NULL)); /* embedded NUL */
    CHECK(!gw_clave_valid("140338X010002", 13, &why));
    CHECK_STR(why, "casilla type must be one of B, C, E, S, V");
    return TAP_DONE();
}
