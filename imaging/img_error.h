/*
 * img_error: the error codes of the imaging library.
 *
 * Every function of imaging/ that can fail returns 0 (or a count) on success and one of the
 * negative IMG_E_* codes below on failure. The codes come from the single X-macro table
 * IMG_ERRNO_MAP so that consumers (the gateway maps them to HTTP statuses and RFC 9457 problem
 * types) can expand the same table and never fall out of step with the library. This module only
 * names and describes codes; it does not log, format or allocate anything.
 */
#ifndef IMG_ERROR_H
#define IMG_ERROR_H

/*
 * XX(NAME, value, "message"). Messages follow the PostgreSQL style (lowercase, no final
 * period). Values are stable: new codes are appended at the end.
 */
#define IMG_ERRNO_MAP(XX)                                                                          \
    XX(NOT_JPEG, -1, "input is not a JPEG file")                                                   \
    XX(MALFORMED, -2, "malformed JPEG structure")                                                  \
    XX(TRUNCATED, -3, "JPEG data is truncated")                                                    \
    XX(DIMENSIONS, -4, "image dimensions are zero or exceed the limits")                           \
    XX(UNSUPPORTED, -5, "unsupported JPEG variant")                                                \
    XX(TOO_MANY_SCANS, -6, "JPEG has too many scans")                                              \
    XX(DECODE, -7, "could not decode JPEG data")                                                   \
    XX(ENCODE, -8, "could not encode WebP image")                                                  \
    XX(NOMEM, -9, "out of memory")                                                                 \
    XX(EXIF, -10, "malformed or oversized EXIF data")

enum img_errno {
#define IMG_ERR_ENUM_(name, value, msg) IMG_E_##name = (value),
    IMG_ERRNO_MAP(IMG_ERR_ENUM_)
#undef IMG_ERR_ENUM_
};

/* Number of codes in IMG_ERRNO_MAP (they run from -1 down to -IMG_E_COUNT). */
#define IMG_E_COUNT 10

/*
 * Returns the human-readable message of |err| (one of the IMG_E_* codes), or "unknown imaging
 * error" for any other value, including 0. The string is static: never free or modify it.
 * Thread-safe.
 */
const char *img_strerror(int err);

/*
 * Returns the bare name of |err|, e.g. "NOT_JPEG" for IMG_E_NOT_JPEG, or "UNKNOWN" for a value
 * that is not in IMG_ERRNO_MAP. The string is static. Thread-safe.
 */
const char *img_err_name(int err);

#endif
