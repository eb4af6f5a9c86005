/*
 * gw_resumable: the HTTP face of resumable uploads, draft-ietf-httpbis-resumable-upload-15
 * ("Resumable Uploads for HTTP", November 2026).
 *
 * The photo endpoint creates an upload resource when a POST carries Upload-Complete: it answers
 * 104 (Upload Resumption Supported) with the resource's Location and Upload-Limit once the
 * signature verified, then the receipt as for a plain upload. The resource, /v1/uploads/{token},
 * answers HEAD (the offset), PATCH with application/partial-upload (an append from
 * Upload-Offset) and DELETE (cancel). The bytes go through gw_upload and live in the spool
 * (gw_resume). Loop thread only, except the jobs it submits to the disk pool.
 */
#ifndef GW_RESUMABLE_H
#define GW_RESUMABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

struct gw_stream;
struct gw_upload_req;

/* A header field with a literal name and value. */
#define GW_RESUMABLE_NV(name, value)                                                               \
    {                                                                                              \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, sizeof(value) - 1,                \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                           \
    }

/*
 * Reads the resumable-upload fields of an upload POST into |req| (req->resumable stays false
 * without Upload-Complete). Returns 0, or -1 after answering a problem (a malformed field).
 */
int gw_resumable_fields(struct gw_stream *s, struct gw_upload_req *req);

/* Routes /v1/uploads/{token}: |rest| is the |len| bytes after "/v1/uploads/". */
void gw_resumable_route(struct gw_stream *s, const char *rest, size_t len);

/* Answers OPTIONS on the photo endpoint: Accept-Patch and Upload-Limit, as the draft asks. */
void gw_resumable_options(struct gw_stream *s);

/* Sends the 104 interim response for the new upload resource |token|. */
void gw_resumable_announce(struct gw_stream *s, const char *token, uint32_t max_age);

/*
 * Answers a request that did not complete its upload: 201 with Location for the creation
 * (|token| not NULL), 204 for an append; both with Upload-Complete: ?0 and the durable |offset|.
 */
void gw_resumable_acknowledge(struct gw_stream *s, const char *token, uint64_t offset,
                              uint32_t max_age);

/*
 * Answers problem |err| on a resumable request: for a mismatching offset, |offsets| holds the
 * expected and the provided one (members and Upload-Offset field); |completing| adds
 * Upload-Complete: ?1 (the answer to the request that completed the upload).
 */
void gw_resumable_problem(struct gw_stream *s, int err, const char *detail, const uint64_t *offsets,
                          bool completing);

#endif
