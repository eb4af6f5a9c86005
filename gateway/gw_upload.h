/*
 * gw_upload: POST /v1/actas/{clave}/photos, from the first DATA frame to the receipt.
 *
 * The body goes from the socket into a spool file on a disk-pool thread, which hashes it and walks
 * its JPEG markers (imaging's streaming scanner) as it writes. Bytes are written in batches of half
 * a stream window (or when they have waited FLUSH_MS, or at the end of the body), and at most one
 * disk job per upload is in flight; bytes that arrive meanwhile wait in a buffer that flow control
 * keeps no larger than the stream window, and the window is reopened only for bytes that reached
 * the file. At the end
 * the spool commits the file (fsync, rename, directory fsync) and only then does the phone get its
 * 201. PostgreSQL is not involved: the ingest stage picks the receipt up later. The body arrives
 * through the stream handler that gw_upload_start() installs (gw_h2's on_data, on_end,
 * on_detach).
 */
#ifndef GW_UPLOAD_H
#define GW_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_stream;

struct gw_upload_auth;

/*
 * What the router read from an upload request's headers. A plain upload has only |clave|. A
 * resumable one (draft-ietf-httpbis-resumable-upload-15, see gw_resumable.h) is either the
 * creation, a POST with Upload-Complete, or an append, a PATCH of upload resource |token| with
 * Upload-Offset |offset|.
 */
struct gw_upload_req {
    const char *clave; /* POST */
    const char *token; /* PATCH */
    bool resumable;    /* the request had Upload-Complete */
    bool complete;     /* ... and its value */
    bool has_length;   /* Upload-Length */
    uint64_t length;
    uint64_t offset; /* PATCH: Upload-Offset */
};

/*
 * Starts receiving the body of |s| (headers already validated by the router) as |req| says.
 * |auth| (copied; NULL for an unsigned upload the configuration allows, and for an append, which
 * the upload resource's token authorises) is checked on a disk-pool thread before the file is
 * created and before the stream's window is widened. The upload becomes |s|'s handler: its body
 * bytes, its end and its closing are the upload's from here on. Loop thread only. On failure
 * responds with a problem itself.
 */
void gw_upload_start(struct gw_stream *s, const struct gw_upload_req *req,
                     const struct gw_upload_auth *auth);

#endif
