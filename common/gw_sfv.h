/*
 * gw_sfv: the two Structured Field items (RFC 9651) that the resumable-upload fields use, an
 * Integer (Upload-Offset, Upload-Length) and a Boolean (Upload-Complete).
 *
 * Strict parsing, as RFC 9651 section 4.2 asks: leading and trailing spaces are dropped, the bare
 * item must be exactly an sf-integer or sf-boolean, and any parameters after it (";key" or
 * ";key=value") must be well-formed; they are ignored. Anything else fails, and the caller then
 * ignores the whole field (the draft's rule). No allocation, no state: thread-safe.
 */
#ifndef GW_SFV_H
#define GW_SFV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses the |len| bytes at |v| as an Item whose bare item is a non-negative Integer (at most 15
 * digits). Returns 0 and the value in |*ret|, or -EINVAL.
 */
int gw_sfv_uint(const char *v, size_t len, uint64_t *ret);

/* Parses the |len| bytes at |v| as an Item whose bare item is a Boolean ("?0", "?1"). Returns 0
 * and the value in |*ret|, or -EINVAL. */
int gw_sfv_bool(const char *v, size_t len, bool *ret);

#endif
