/*
 * pu_send: the upload of one photo as a phone does it (see prep-upload.c for the protocol): one
 * pass over the file for its SHA-256, Content-Digest and expected photo id; for each attempt a
 * freshly signed POST /v1/actas/<clave>/photos streamed from disk over a kept HTTP/2
 * connection; the receipt verified against the gateway key and kept in the state folder; the
 * retry policy's backoff. bench/prep-load builds its requests with the same functions, so that
 * the load it makes is what phones send.
 *
 * Resumable uploads (pu_resume.h): when the sender asks for them, the POST carries
 * Upload-Complete and the upload keeps the upload resource the gateway names in its 104 answer
 * across attempts. An attempt after an interruption then asks the gateway how much it holds
 * (HEAD) and sends only the rest (PATCH), answered with the same receipt; it starts again with a
 * POST when the resource is gone or the photo is complete already, and drops the resource
 * (DELETE, best effort) when the photo is given up. A gateway that never sends 104 gets plain
 * POSTs, each attempt from byte 0.
 *
 * It does not loop over retries or print results (prep-upload does); it prints the server's
 * problem documents on stderr, prefixed by the program's name. Not thread-safe per object; the
 * functions that take only their arguments may run on any thread.
 */
#ifndef PU_SEND_H
#define PU_SEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_keys.h"
#include "gw_receipt.h"
#include "gw_sig.h"
#include "pu_h2.h"
#include "pu_resume.h"
#include "pu_state.h"

/* A photo file, hashed once. */
struct pu_photo {
    const char *file;
    int fd; /* open for the upload; -1 when closed */
    uint64_t size;
    char length[24]; /* content-length value */
    char sha_hex[GW_SHA256_HEX_LEN + 1];
    char digest[64]; /* Content-Digest value */
};

/*
 * Opens |file| (a regular file) and reads it once for |ret|'s size, SHA-256 and Content-Digest,
 * leaving it open in |ret->fd| (pu_photo_close() closes it). Returns 0, or a negative errno with
 * the reason ("could not open: ...") in |why| (|cap| bytes).
 */
int pu_photo_open(struct pu_photo *ret, const char *file, char *why, size_t cap);

/* Closes |p|'s file; safe to call twice. */
void pu_photo_close(struct pu_photo *p);

/* The header values of one signed request; they must live as long as the request. */
struct pu_send_sig {
    char input[GW_SIG_PARAMS_MAX + 16];
    char signature[GW_KEY_SIG_B64 + 16];
};

/*
 * Fills |ret| with a signed POST of |p| to |path| (/v1/actas/<clave>/photos) by device
 * |device_id| with key |k|, the body streamed from |fd| (|p|'s, or another descriptor of the
 * same file); the signature headers go to |sig|. Each call signs anew (fresh created and
 * nonce). Returns 0, or pu_sign_upload()'s negative errno.
 */
int pu_send_request(const struct pu_photo *p, int fd, const char *path, const struct gw_key *k,
                    const char *device_id, struct pu_send_sig *sig, struct pu_h2_request *ret);

enum pu_outcome { PU_DONE, PU_FAILED, PU_RETRY };

/* What the attempts of one program share: who sends, to where, and the connection kept. */
struct pu_sender {
    const char *prog; /* prefix of messages */
    const char *state;
    const struct pu_device *dev;
    const struct gw_key *key;
    const struct pu_url *url;
    struct pu_h2_opts opts;
    bool resume;             /* ask for resumable uploads; false: plain POSTs, as old gateways */
    struct pu_h2_conn *conn; /* opened, reused and dropped by pu_send_attempt(); free it with
                              * pu_h2_conn_free() */
};

/* One photo's upload, across its attempts. */
struct pu_upload {
    struct pu_photo photo;
    const char *clave;
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char path[64]; /* :path */
    /* progress line on stderr */
    bool show_progress;
    int64_t progress_ms;
    int progress_pct, progress_width;
    /* resumable upload */
    char location[PU_RESUME_PATH_MAX]; /* path of the upload resource; "" while there is none */
    int64_t expires_ms;                /* monotonic ms when the gateway drops it; 0: unknown */
    uint64_t resumed_from;             /* where the last attempt's body started (0: a POST) */
    /* result */
    int status;
    char receipt_path[4200];
    char why[512];
    json_t *problem; /* the last 4xx problem document, or NULL; the caller json_decref()s it */
};

/*
 * Prepares |ret| to send |file| as a photo of acta |clave|: hashes it and works out the photo id
 * the receipt must carry. Returns 0, or a negative errno with the reason in |ret->why|;
 * pu_upload_finish() in both cases.
 */
int pu_upload_init(struct pu_upload *ret, const char *file, const char *clave, bool progress);

/* Closes |up|'s file and frees its problem document. */
void pu_upload_finish(struct pu_upload *up);

/*
 * One attempt of |up| through |s|: (re)connects when needed, signs, sends (or, with an upload
 * resource from an earlier attempt, asks for its offset and sends the rest), and on 200 or 201
 * verifies the receipt and keeps it in the state folder. Says on stderr, one line each, when it
 * resumes or starts again. Returns PU_DONE, PU_RETRY (network error, timeout, 429, 5xx: |up->why|
 * says which) or PU_FAILED (4xx, a bad receipt, a certificate refused, the file changed; an upload
 * resource is then cancelled).
 */
enum pu_outcome pu_send_attempt(struct pu_sender *s, struct pu_upload *up);

/* The |n|th (0-based) retry's delay in ms: half of min(0.5 s * 2^n, 8 s) plus a random part of
 * the other half. Thread-safe. */
long pu_send_backoff_ms(int n);

/* Sleeps |ms| milliseconds, through signals. */
void pu_send_sleep_ms(long ms);

/*
 * Prints the RFC 9457 problem (or whatever body came) of answer |req| to |what| on stderr,
 * prefixed by |prog|; stores a reference to the problem document in |*ret_problem| when it is
 * an object and |ret_problem| is not NULL.
 */
void pu_send_print_problem(const char *prog, const char *what, const struct pu_h2_request *req,
                           json_t **ret_problem);

#endif
