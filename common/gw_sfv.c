#include "gw_sfv.h"

#include <errno.h>

static bool is_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static size_t parse_key(const char *p, const char *end)
{
    const char *q = p;

    if (q == end || !(is_lcalpha(*q) || *q == '*'))
        return 0;
    for (q++; q < end; q++)
        if (!(is_lcalpha(*q) || is_digit(*q) || *q == '_' || *q == '-' || *q == '.' || *q == '*'))
            break;
    return (size_t)(q - p);
}

/* The bare item of a parameter value: we accept what RFC 9651 allows for the simple types
 * (integer or decimal, string, token, byte sequence, boolean) without keeping it. */
static const char *skip_bare_item(const char *p, const char *end)
{
    if (p == end)
        return NULL;
    if (*p == '?')
        return p + 2 <= end && (p[1] == '0' || p[1] == '1') ? p + 2 : NULL;
    if (*p == '"') {
        for (p++; p < end; p++) {
            if (*p == '\\') {
                if (++p == end || (*p != '"' && *p != '\\'))
                    return NULL;
            } else if (*p == '"') {
                return p + 1;
            } else if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
                return NULL;
            }
        }
        return NULL;
    }
    if (*p == ':') {
        for (p++; p < end && *p != ':'; p++)
            if (!(is_lcalpha(*p) || (*p >= 'A' && *p <= 'Z') || is_digit(*p) || *p == '+' ||
                  *p == '/' || *p == '='))
                return NULL;
        return p < end ? p + 1 : NULL;
    }
    if (*p == '-' || is_digit(*p)) {
        const char *d = *p == '-' ? p + 1 : p;
        const char *q = d;

        while (q < end && (is_digit(*q) || *q == '.'))
            q++;
        return q > d && is_digit(*d) && q - d <= 16 ? q : NULL;
    }
    if ((*p >= 'A' && *p <= 'Z') || is_lcalpha(*p) || *p == '*') {
        for (p++; p < end; p++)
            if (*p == ' ' || *p == ';' || *p == ',' || *p == '(' || *p == ')' || *p == '"' ||
                (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                break;
        return p;
    }
    return NULL;
}

/* parameters = *( ";" *SP key [ "=" bare-item ] ), then the end of the field. */
static int check_params(const char *p, const char *end)
{
    while (p < end) {
        size_t k;

        if (*p++ != ';')
            return -EINVAL;
        while (p < end && *p == ' ')
            p++;
        k = parse_key(p, end);
        if (k == 0)
            return -EINVAL;
        p += k;
        if (p < end && *p == '=') {
            p = skip_bare_item(p + 1, end);
            if (!p)
                return -EINVAL;
        }
    }
    return 0;
}

/* Trims the SP that RFC 9651 lets surround a field value. */
static void trim(const char **v, const char **end)
{
    while (*v < *end && **v == ' ')
        (*v)++;
    while (*end > *v && (*end)[-1] == ' ')
        (*end)--;
}

int gw_sfv_uint(const char *v, size_t len, uint64_t *ret)
{
    const char *end = v + len, *p;
    uint64_t n = 0;

    trim(&v, &end);
    for (p = v; p < end && is_digit(*p); p++) {
        if (p - v == 15)
            return -EINVAL;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    /* A decimal ("1.5") or a negative number is not a non-negative Integer. */
    if (p == v || (p < end && *p != ';') || check_params(p, end) < 0)
        return -EINVAL;
    *ret = n;
    return 0;
}

int gw_sfv_bool(const char *v, size_t len, bool *ret)
{
    const char *end = v + len;

    trim(&v, &end);
    if (end - v < 2 || v[0] != '?' || (v[1] != '0' && v[1] != '1') || check_params(v + 2, end) < 0)
        return -EINVAL;
    *ret = v[1] == '1';
    return 0;
}
