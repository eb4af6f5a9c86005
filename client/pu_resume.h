/*
 * pu_resume: the client side of resumable uploads (IETF draft-ietf-httpbis-resumable-upload-15)
 * as the gateway offers them. A signed POST that asks for it (Upload-Complete: ?1) makes an
 * upload resource, named by the Location of a 104 interim response sent before the body is read;
 * after an interruption, HEAD on that resource says how many bytes the gateway holds
 * (Upload-Offset), and a PATCH from there sends the rest and completes the upload, answered with
 * the receipt the POST would have had. DELETE drops a resource that will not be completed.
 *
 * This module reads the header fields involved (Structured Field Values, RFC 9651: the integers
 * and booleans with common/gw_sfv, as the gateway does, and the Upload-Limit dictionary) and
 * builds the HEAD, PATCH and DELETE requests. It does
 * no I/O and keeps no state; the policy (when to resume, what to tell the user) is pu_send's.
 * Every function may run on any thread.
 */
#ifndef PU_RESUME_H
#define PU_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pu_h2.h"

#define PU_RESUME_PATH_MAX 256 /* longest upload resource path accepted */

/* What the responses to one request said about its upload resource. */
struct pu_resume_fields {
    char location[PU_RESUME_PATH_MAX]; /* Location of a 104, as sent; "" when none or too long */
    int64_t offset;                    /* Upload-Offset; -1 when absent or not an sf-integer */
    int64_t length;                    /* Upload-Length; -1 likewise */
    int complete;                      /* Upload-Complete: 1 (?1), 0 (?0), -1 absent or invalid */
    int64_t max_size, max_age;         /* Upload-Limit members; -1 when absent */
};

/* Sets every field of |f| to "absent". */
void pu_resume_fields_init(struct pu_resume_fields *f);

/*
 * A pu_h2_header_cb filling the struct pu_resume_fields |arg| from the responses of |req|: the
 * Location of a 104 response, Upload-Limit of any response, Upload-Offset, Upload-Length and
 * Upload-Complete of the final one. A field that does not parse is left absent.
 */
void pu_resume_on_header(struct pu_h2_request *req, int status, const char *name, size_t namelen,
                         const char *value, size_t valuelen, void *arg);

/*
 * Parses the Upload-Limit dictionary at |v| (|len| bytes): stores its max-size and max-age
 * integers in |*ret_max_size| and |*ret_max_age| (-1 for a member that is absent), ignoring the
 * other members (whatever their values). Returns 0, or -EINVAL for a malformed dictionary, or a
 * max-size or max-age that is not a non-negative integer (outputs untouched).
 */
int pu_resume_parse_limit(const char *v, size_t len, int64_t *ret_max_size, int64_t *ret_max_age);

/*
 * The request path of the upload resource named by |location| (a 104's Location) on the server
 * of |u|: a path-absolute reference, or an absolute http(s) URL of the same scheme and
 * authority (any query kept, a fragment dropped). Writes it to |ret| (|cap| bytes). Returns NULL,
 * or a static reason it is refused (another origin, not a path, control characters, too long).
 */
const char *pu_resume_location_path(const char *location, const struct pu_url *u, char *ret,
                                    size_t cap);

/* The header values of a PATCH; they must live as long as the request. */
struct pu_resume_patch_hdrs {
    char offset[24], length[24];
};

/* Fills |ret| with the offset retrieval HEAD of the upload resource |path|. */
void pu_resume_head_request(const char *path, struct pu_h2_request *ret);

/*
 * Fills |ret| with the PATCH of resource |path| that appends bytes |offset|..|size| of file |fd|
 * and completes the upload (Upload-Complete: ?1); its header values go to |h|. |path|, |fd| and
 * |h| must outlive the request.
 */
void pu_resume_patch_request(const char *path, int fd, uint64_t offset, uint64_t size,
                             struct pu_resume_patch_hdrs *h, struct pu_h2_request *ret);

/* Fills |ret| with the cancelling DELETE of the upload resource |path|. */
void pu_resume_delete_request(const char *path, struct pu_h2_request *ret);

#endif
