/*
 * gw_error: the gateway's error codes and their HTTP face.
 *
 * One X-macro table gives every error the gateway can answer with: its code, its stable RFC 9457
 * problem type name, HTTP status and title. Everything that builds a problem response or documents
 * one reads this table; docs/api.md carries a copy that a unit test compares with it. The module
 * only formats: it does not log and does not know about sockets.
 */
#ifndef GW_ERROR_H
#define GW_ERROR_H

#include <stddef.h>

/* XX(code, type name, HTTP status, title) */
#define GW_ERRNO_MAP(XX)                                                                           \
    XX(BAD_REQUEST, "bad-request", 400, "Malformed request")                                       \
    XX(INVALID_CLAVE, "invalid-clave-acta", 400, "Invalid CLAVE_ACTA")                             \
    XX(EMPTY_BODY, "empty-body", 400, "Empty body")                                                \
    XX(DIGEST_MISMATCH, "digest-mismatch", 400, "Content-Digest does not match the body")          \
    XX(UPLOAD_COMPLETED, "completed-upload", 400, "Upload is completed")                           \
    XX(UPLOAD_LENGTH, "inconsistent-upload-length", 400, "Inconsistent upload length values")      \
    XX(UNAUTHENTICATED, "unauthenticated", 401, "Authentication required")                         \
    XX(BAD_CREDENTIALS, "invalid-credentials", 401, "Invalid username or password")                \
    XX(SIGNATURE_REQUIRED, "signature-required", 401, "Signed upload required")                    \
    XX(UNKNOWN_DEVICE, "unknown-device", 401, "Unknown device")                                    \
    XX(DEVICE_REVOKED, "device-revoked", 401, "Device revoked")                                    \
    XX(BAD_SIGNATURE, "bad-signature", 401, "Invalid signature")                                   \
    XX(SIGNATURE_EXPIRED, "signature-expired", 401, "Signature outside the allowed clock skew")    \
    XX(REPLAYED, "replayed-nonce", 401, "Nonce already used")                                      \
    XX(RELAY_REFUSED, "relay-not-trusted", 401, "Relay not trusted")                               \
    XX(FORBIDDEN, "forbidden", 403, "Role not allowed")                                            \
    XX(CSRF, "csrf-token-invalid", 403, "Missing or invalid CSRF token")                           \
    XX(CLAVE_NOT_ENROLLED, "clave-not-enrolled", 403, "Clave outside the device's enrolment")      \
    XX(ENROLMENT_REFUSED, "enrolment-refused", 403, "Enrolment code refused")                      \
    XX(NOT_FOUND, "not-found", 404, "Not found")                                                   \
    XX(NOT_ON_EDGE, "not-on-edge", 404, "Served by the central gateway only")                      \
    XX(UPLOAD_NOT_FOUND, "upload-not-found", 404, "No such upload")                                \
    XX(METHOD, "method-not-allowed", 405, "Method not allowed")                                    \
    XX(TIMEOUT, "request-timeout", 408, "Request timeout")                                         \
    XX(STALE_LEASE, "stale-lease", 409, "Lease not held")                                          \
    XX(ALREADY_DECIDED, "already-decided", 409, "Photo already decided")                           \
    XX(NOT_DECIDED, "not-decided", 409, "Photo not decided")                                       \
    XX(ALREADY_CAPTURED, "already-captured", 409, "Capture already recorded")                      \
    XX(DEVICE_EXISTS, "device-key-enrolled", 409, "Key already enrolled")                          \
    XX(UPLOAD_OFFSET, "mismatching-upload-offset", 409, "Mismatching upload offset")               \
    XX(UPLOAD_SUPERSEDED, "upload-superseded", 409, "Another request took this upload over")       \
    XX(LENGTH_REQUIRED, "length-required", 411, "Content-Length required")                         \
    XX(TOO_LARGE, "payload-too-large", 413, "Payload too large")                                   \
    XX(MEDIA_TYPE, "unsupported-media-type", 415, "Unsupported media type")                        \
    XX(INVALID_JPEG, "invalid-jpeg", 422, "Invalid JPEG")                                          \
    XX(TRUNCATED_JPEG, "truncated-jpeg", 422, "Truncated JPEG")                                    \
    XX(DIMENSIONS, "image-dimensions", 422, "Image dimensions out of range")                       \
    XX(UNSUPPORTED_JPEG, "unsupported-jpeg", 422, "Unsupported JPEG variant")                      \
    XX(TOO_MANY_SCANS, "too-many-scans", 422, "Too many progressive scans")                        \
    XX(INVALID_DECISION, "invalid-decision", 422, "Invalid decision")                              \
    XX(INVALID_CAPTURE, "invalid-capture", 422, "Invalid capture")                                 \
    XX(LOGIN_LOCKED, "login-locked", 429, "Too many failed logins")                                \
    XX(TOO_MANY_UPLOADS, "too-many-uploads", 429, "Too many uploads in flight for this device")    \
    XX(TOO_MANY_REQUESTS, "too-many-requests", 429, "Too many requests")                           \
    XX(HEADERS_TOO_LARGE, "headers-too-large", 431, "Request headers too large")                   \
    XX(INTERNAL, "internal-error", 500, "Internal error")                                          \
    XX(UNAVAILABLE, "service-unavailable", 503, "Service unavailable")                             \
    XX(NOT_READY, "not-ready", 503, "Not ready")                                                   \
    XX(STORAGE, "insufficient-storage", 503, "Insufficient storage")

enum gw_errno {
    GW_OK = 0,
#define XX(code, name, status, title) GW_E_##code,
    GW_ERRNO_MAP(XX)
#undef XX
        GW_E__MAX
};

/*
 * Returns the problem type name of |err| ("invalid-clave-acta"), or "internal-error" for a code
 * outside the table. The string is static.
 */
const char *gw_err_name(int err);

/* Returns the HTTP status of |err|, 500 for a code outside the table. */
int gw_err_status(int err);

/* Returns the problem title of |err|. The string is static. */
const char *gw_err_title(int err);

/*
 * Returns the seconds a client should wait before sending the same request again, for the
 * `Retry-After` header of a problem about a passing condition (a full disk, a database that is
 * away), or 0 when |err| is not one: waiting does not change the answer. Thread-safe.
 */
unsigned gw_err_retry_after(int err);

/* Returns the code whose type name is |name|, or 0 when there is none. */
int gw_err_from_name(const char *name);

/*
 * Formats an RFC 9457 problem document for |err| into a newly allocated NUL-terminated string:
 * type "/problems/<name>", title, status, |detail| (may be NULL) and |instance| (the request path,
 * may be NULL). Stores its length in |*ret_len|. Returns NULL when out of memory. The caller frees
 * the result with free(). Thread-safe.
 */
char *gw_problem_json(int err, const char *detail, const char *instance, size_t *ret_len);

/*
 * Like gw_problem_json() with "request_id": |request_id| (the id of the request answered, which
 * its log line and Request-Id header carry; may be NULL) and the extension members of the JSON
 * object |members| (e.g. {"expected-offset":10}, may be NULL) added after the standard ones, which
 * they cannot replace.
 */
char *gw_problem_json_members(int err, const char *detail, const char *instance,
                              const char *request_id, const char *members, size_t *ret_len);

#endif
