/*
 * gw_clave: INE's CLAVE_ACTA, the identifier of one acta.
 *
 * Layout: state (2 digits), section (4 digits), casilla type (one of B, C, E, S, V), casilla id
 * (2 digits), contiguous extension (2 digits), acta type (1 or 2 digits): 12 or 13 characters,
 * e.g. "140338B010002". Validation only; the catalogue of expected actas is elsewhere.
 */
#ifndef GW_CLAVE_H
#define GW_CLAVE_H

#include <stdbool.h>
#include <stddef.h>

#define GW_CLAVE_MAX 13

/*
 * Returns true when the |len| bytes at |s| are a well-formed CLAVE_ACTA. On false, stores a static
 * reason in |*ret_why| when |ret_why| is not NULL. Thread-safe.
 */
bool gw_clave_valid(const char *s, size_t len, const char **ret_why);

#endif
