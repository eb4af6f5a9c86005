#include "pu_send.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pu_sign.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 8000

int pu_photo_open(struct pu_photo *ret, const char *file, char *why, size_t cap)
{
    uint8_t buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx;
    struct stat st;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    ret->file = file;
    ret->fd = open(file, O_RDONLY | O_CLOEXEC);
    if (ret->fd < 0 || fstat(ret->fd, &st) < 0) {
        r = -errno;
        snprintf(why, cap, "could not open: %s", strerror(-r));
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, cap, "not a regular file");
        return -EINVAL;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t n = read(ret->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            snprintf(why, cap, "could not read: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        ret->size += (uint64_t)n;
    }
    if (r == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        r = -ENOMEM;
    EVP_MD_CTX_free(ctx);
    if (r < 0)
        return r;
    gw_hex(md, 32, ret->sha_hex);
    gw_sig_digest_value(md, ret->digest, sizeof(ret->digest));
    snprintf(ret->length, sizeof(ret->length), "%llu", (unsigned long long)ret->size);
    return 0;
}

void pu_photo_close(struct pu_photo *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

int pu_send_request(const struct pu_photo *p, int fd, const char *path, const struct gw_key *k,
                    const char *device_id, struct pu_send_sig *sig, struct pu_h2_request *ret)
{
    int r = pu_sign_upload(k, device_id, path, p->digest, sig->input, sizeof(sig->input),
                           sig->signature, sizeof(sig->signature));

    if (r < 0)
        return r;
    *ret = (struct pu_h2_request){
        .method = "POST",
        .path = path,
        .headers = {{"content-type", "image/jpeg"},
                    {"content-length", p->length},
                    {"content-digest", p->digest},
                    {"signature-input", sig->input},
                    {"signature", sig->signature}},
        .nheaders = 5,
        .body_fd = fd,
        .body_len = p->size,
    };
    return 0;
}

int pu_upload_init(struct pu_upload *ret, const char *file, const char *clave, bool progress)
{
    int r;

    memset(ret, 0, sizeof(*ret));
    ret->clave = clave;
    ret->show_progress = progress;
    ret->progress_pct = -1;
    snprintf(ret->path, sizeof(ret->path), "/v1/actas/%s/photos", clave);
    r = pu_photo_open(&ret->photo, file, ret->why, sizeof(ret->why));
    if (r == 0 && gw_photo_id(clave, ret->photo.sha_hex, ret->photo_id) < 0)
        r = -ENOMEM;
    return r;
}

void pu_upload_finish(struct pu_upload *up)
{
    pu_photo_close(&up->photo);
    json_decref(up->problem);
    up->problem = NULL;
}

void pu_send_print_problem(const char *prog, const char *what, const struct pu_h2_request *req,
                           json_t **ret_problem)
{
    json_t *doc = req->resp_body ? json_loadb(req->resp_body, req->resp_len, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(doc, "type"));
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *detail = json_string_value(json_object_get(doc, "detail"));

    if (type || title)
        fprintf(stderr, "%s: %s: HTTP %d %s: %s%s%s\n", prog, what, req->status, type ? type : "",
                title ? title : "", detail ? ": " : "", detail ? detail : "");
    else
        fprintf(stderr, "%s: %s: HTTP %d: %.200s\n", prog, what, req->status,
                req->resp_body ? req->resp_body : "");
    if (ret_problem && json_is_object(doc))
        *ret_problem = json_incref(doc);
    json_decref(doc);
}

/* Checks the receipt in |req|'s body and keeps it. */
static enum pu_outcome keep_receipt(struct pu_sender *s, struct pu_upload *up,
                                    const struct pu_h2_request *req)
{
    struct gw_receipt r;
    const char *why;
    int e;

    if (!req->resp_body || req->resp_len >= GW_RECEIPT_FILE_MAX) {
        snprintf(up->why, sizeof(up->why), "HTTP %d without a receipt", req->status);
        return PU_FAILED;
    }
    why = gw_receipt_verify(req->resp_body, req->resp_len, &s->dev->gateway, &r);
    if (why) {
        snprintf(up->why, sizeof(up->why), "the gateway's receipt does not verify: %s", why);
        return PU_FAILED;
    }
    if (strcmp(r.photo_id, up->photo_id) != 0 || strcmp(r.sha256, up->photo.sha_hex) != 0 ||
        r.bytes != up->photo.size || strcmp(r.clave, up->clave) != 0) {
        snprintf(up->why, sizeof(up->why), "the receipt is for other bytes or another clave");
        return PU_FAILED;
    }
    /* The gateway's bytes exactly as received: they are what it signed and what we verified. */
    e = pu_state_keep_receipt(s->state, r.photo_id, req->resp_body, req->resp_len, up->receipt_path,
                              sizeof(up->receipt_path));
    if (e < 0) {
        snprintf(up->why, sizeof(up->why), "could not store the receipt %.300s: %s",
                 up->receipt_path, strerror(-e));
        up->receipt_path[0] = '\0';
        return PU_FAILED;
    }
    return PU_DONE;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The progress line of |up|: "photo.jpg: 42% of 3.3 MB", redrawn at most every 200 ms. */
static void on_progress(const struct pu_h2_request *req, uint64_t sent, void *arg)
{
    struct pu_upload *up = arg;
    int pct = req->body_len ? (int)(sent * 100 / req->body_len) : 100;
    int64_t now = now_ms();

    if (pct == up->progress_pct || (pct < 100 && now - up->progress_ms < 200))
        return;
    up->progress_pct = pct;
    up->progress_ms = now;
    up->progress_width =
        fprintf(stderr, "\r%s: %3d%% of %.1f MB", up->photo.file, pct, (double)req->body_len / 1e6);
    fflush(stderr);
}

/* Clears the progress line, if one is shown. */
static void progress_clear(struct pu_upload *up)
{
    if (up->progress_width > 0)
        fprintf(stderr, "\r%*s\r", up->progress_width, "");
    up->progress_width = 0;
    up->progress_pct = -1;
}

enum pu_outcome pu_send_attempt(struct pu_sender *s, struct pu_upload *up)
{
    struct pu_send_sig sig;
    struct pu_h2_request req;
    enum pu_outcome res;
    int r;

    if (s->conn && !pu_h2_usable(s->conn)) {
        pu_h2_conn_free(s->conn);
        s->conn = NULL;
    }
    if (!s->conn) {
        r = pu_h2_connect(s->url, &s->opts, &s->conn, up->why, sizeof(up->why));
        if (r < 0) {
            s->conn = NULL;
            /* A bad certificate will not get better by retrying. */
            return r == -EPROTO && s->url->tls ? PU_FAILED : PU_RETRY;
        }
    }
    if (pu_send_request(&up->photo, up->photo.fd, up->path, s->key, s->dev->device_id, &sig, &req) <
        0) {
        snprintf(up->why, sizeof(up->why), "could not sign the request");
        return PU_FAILED;
    }
    req.on_progress = up->show_progress ? on_progress : NULL;
    req.progress_arg = up;
    r = pu_h2_submit(s->conn, &req);
    if (r == 0)
        r = pu_h2_run(s->conn);
    progress_clear(up);
    if (r < 0 || req.error) {
        int e = r < 0 ? r : req.error; /* the connection's failure says more */

        snprintf(up->why, sizeof(up->why), "%s",
                 e == -ETIMEDOUT    ? "timed out"
                 : e == -EIO        ? "the file changed while it was being sent"
                 : e == -ECONNRESET ? "connection lost before the answer"
                                    : strerror(-e));
        pu_h2_request_finish(&req);
        pu_h2_conn_free(s->conn);
        s->conn = NULL;
        return e == -EIO ? PU_FAILED : PU_RETRY;
    }
    up->status = req.status;
    if (req.status == 200 || req.status == 201) {
        res = keep_receipt(s, up, &req);
    } else if (req.status >= 500) {
        snprintf(up->why, sizeof(up->why), "HTTP %d", req.status);
        pu_send_print_problem(s->prog, up->photo.file, &req, NULL);
        res = PU_RETRY;
    } else {
        snprintf(up->why, sizeof(up->why), "HTTP %d", req.status);
        json_decref(up->problem);
        up->problem = NULL;
        pu_send_print_problem(s->prog, up->photo.file, &req, &up->problem);
        res = PU_FAILED;
    }
    pu_h2_request_finish(&req);
    return res;
}

long pu_send_backoff_ms(int n)
{
    uint32_t rnd = 0;
    long ms = BACKOFF_FIRST_MS;

    for (int i = 0; i < n && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    if (RAND_bytes((uint8_t *)&rnd, sizeof(rnd)) != 1)
        rnd = (uint32_t)getpid();
    return ms / 2 + (long)(rnd % (uint32_t)(ms / 2 + 1));
}

void pu_send_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}
