/*
 * gw_upload: POST /v1/actas/{clave}/photos, from the first DATA frame to the receipt.
 *
 * The body goes from the socket into a spool file on a disk-pool thread, which hashes it and walks
 * its JPEG markers (imaging's streaming scanner) as it writes. At most one disk job per upload is
 * in flight; bytes that arrive meanwhile wait in a buffer that flow control keeps no larger than
 * the stream window, and the window is reopened only for bytes that reached the file. At the end
 * the spool commits the file (fsync, rename, directory fsync) and only then does the phone get its
 * 201. PostgreSQL is not involved: the ingest stage picks the receipt up later. The body arrives
 * through the stream handler that gw_upload_start() installs (gw_h2's on_data, on_end,
 * on_detach).
 */
#ifndef GW_UPLOAD_H
#define GW_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

struct gw_stream;

struct gw_upload_auth;

/*
 * Starts receiving the body of |s| (headers already validated by the router) for the acta
 * |clave|. |auth| (copied; NULL for an unsigned upload the configuration allows) is checked on a
 * disk-pool thread before the file is created and before the stream's window is widened. The
 * upload becomes |s|'s handler: its body bytes, its end and its closing are the upload's from
 * here on. Loop thread only. On failure responds with a problem itself.
 */
void gw_upload_start(struct gw_stream *s, const char *clave, const struct gw_upload_auth *auth);

#endif
