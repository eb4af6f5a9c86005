#include "gw_clave.h"

#include <string.h>

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool gw_clave_valid(const char *s, size_t len, const char **ret_why)
{
    const char *why = NULL;

    if (len < GW_CLAVE_MAX - 1 || len > GW_CLAVE_MAX)
        why = "CLAVE_ACTA has 12 or 13 characters";
    else if (!digits(s, 2))
        why = "state must be 2 digits";
    else if (!digits(s + 2, 4))
        why = "section must be 4 digits";
    else if (!memchr("BCESV", s[6], 5) || s[6] == '\0')
        why = "casilla type must be one of B, C, E, S, V";
    else if (!digits(s + 7, 2))
        why = "casilla id must be 2 digits";
    else if (!digits(s + 9, 2))
        why = "contiguous extension must be 2 digits";
    else if (!digits(s + 11, len - 11))
        why = "acta type must be 1 or 2 digits";
    if (why && ret_why)
        *ret_why = why;
    return why == NULL;
}
