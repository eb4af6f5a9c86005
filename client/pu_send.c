#include "pu_send.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
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

static double mb(uint64_t bytes)
{
    return (double)bytes / 1e6;
}

/* The progress line of |up|: "photo.jpg: 42% of 3.3 MB", redrawn at most every 200 ms; a
 * resumed upload's line starts where the gateway's bytes end. */
static void on_progress(const struct pu_h2_request *req, uint64_t sent, void *arg)
{
    struct pu_upload *up = arg;
    uint64_t at = req->body_offset + sent, size = up->photo.size;
    int pct = size ? (int)(at * 100 / size) : 100;
    int64_t now = pu_now_ms();

    if (pct == up->progress_pct || (pct < 100 && now - up->progress_ms < 200))
        return;
    up->progress_pct = pct;
    up->progress_ms = now;
    up->progress_width = fprintf(stderr, "\r%s: %3d%% of %.1f MB", up->photo.file, pct, mb(size));
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

/* One line on stderr about what |up|'s upload does next. */
__attribute__((format(printf, 3, 4))) static void
say(const struct pu_sender *s, const struct pu_upload *up, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: %s: ", s->prog, up->photo.file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/*
 * Sends |req| on |s|'s connection, connecting first when there is no usable one, and waits for
 * its answer. Returns PU_DONE when a response came (|req->status|), else PU_RETRY or PU_FAILED
 * with |up->why| set and the connection dropped.
 */
static enum pu_outcome exchange(struct pu_sender *s, struct pu_upload *up,
                                struct pu_h2_request *req)
{
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
    r = pu_h2_submit(s->conn, req);
    if (r == 0)
        r = pu_h2_run(s->conn);
    progress_clear(up);
    if (r < 0 || req->error) {
        int e = r < 0 ? r : req->error; /* the connection's failure says more */
        uint64_t at = req->body_offset + req->body_sent, size = up->photo.size;

        if ((e == -ECONNRESET || e == -ETIMEDOUT) && req->body_fd >= 0 && at < size)
            snprintf(up->why, sizeof(up->why), "%s at %d%% (%.1f of %.1f MB)",
                     e == -ETIMEDOUT ? "timed out" : "connection lost", (int)(at * 100 / size),
                     mb(at), mb(size));
        else
            snprintf(up->why, sizeof(up->why), "%s",
                     e == -ETIMEDOUT    ? "timed out"
                     : e == -EIO        ? "the file changed while it was being sent"
                     : e == -ECONNRESET ? "connection lost before the answer"
                                        : strerror(-e));
        pu_h2_conn_free(s->conn);
        s->conn = NULL;
        return e == -EIO ? PU_FAILED : PU_RETRY;
    }
    return PU_DONE;
}

/* The final answer |req| to a POST or a completing PATCH of |up|. */
static enum pu_outcome answer(struct pu_sender *s, struct pu_upload *up,
                              const struct pu_h2_request *req)
{
    up->status = req->status;
    snprintf(up->why, sizeof(up->why), "HTTP %d", req->status);
    if (req->status == 200 || req->status == 201) {
        up->location[0] = '\0'; /* complete: the gateway is done with the upload resource */
        return keep_receipt(s, up, req);
    }
    /* 429 (the gateway's request rates, too many uploads in flight) passes: try again later. */
    if (req->status >= 500 || req->status == 429) {
        pu_send_print_problem(s->prog, up->photo.file, req, NULL);
        return PU_RETRY;
    }
    json_decref(up->problem);
    up->problem = NULL;
    pu_send_print_problem(s->prog, up->photo.file, req, &up->problem);
    return PU_FAILED;
}

/* Whether the problem document of |req| has the type |name| (the part after '#' or '/'). */
static bool problem_is(const struct pu_h2_request *req, const char *name)
{
    json_t *doc = req->resp_body ? json_loadb(req->resp_body, req->resp_len, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(doc, "type")), *last;
    bool is;

    last = type ? strrchr(type, '#') : NULL;
    if (type && !last)
        last = strrchr(type, '/');
    is = type && strcmp(last ? last + 1 : type, name) == 0;
    json_decref(doc);
    return is;
}

/* Takes the upload resource and its lifetime from the answers |f| to a request made at |t0|. */
static void learn(struct pu_sender *s, struct pu_upload *up, const struct pu_resume_fields *f,
                  int64_t t0)
{
    const char *why;

    if (f->location[0]) {
        why = pu_resume_location_path(f->location, s->url, up->location, sizeof(up->location));
        if (why) {
            up->location[0] = '\0';
            say(s, up, "cannot resume this upload: %s", why);
        }
    }
    /* max-age counts from the response; from the request is on the safe side. */
    if (up->location[0] && f->max_age >= 0)
        up->expires_ms = t0 + f->max_age * 1000;
}

static void forget(struct pu_upload *up)
{
    up->location[0] = '\0';
    up->expires_ms = 0;
}

/* The signed POST of the whole photo, asking for a resumable upload when |s| does. */
static enum pu_outcome create(struct pu_sender *s, struct pu_upload *up)
{
    struct pu_send_sig sig;
    struct pu_h2_request req;
    struct pu_resume_fields f;
    enum pu_outcome res;
    int64_t t0 = pu_now_ms();

    if (pu_send_request(&up->photo, up->photo.fd, up->path, s->key, s->dev->device_id, &sig, &req) <
        0) {
        snprintf(up->why, sizeof(up->why), "could not sign the request");
        return PU_FAILED;
    }
    pu_resume_fields_init(&f);
    if (s->resume) {
        /* Not signed: they change nothing the gateway keeps, only how it may be delivered. */
        req.headers[req.nheaders++] = (struct pu_h2_header){"upload-complete", "?1"};
        req.headers[req.nheaders++] = (struct pu_h2_header){"upload-length", up->photo.length};
        req.on_header = pu_resume_on_header;
        req.header_arg = &f;
    }
    req.on_progress = up->show_progress ? on_progress : NULL;
    req.progress_arg = up;
    up->resumed_from = 0;
    res = exchange(s, up, &req);
    /* Also, above all, when the connection was lost: the 104 came before the body was read. */
    learn(s, up, &f, t0);
    if (res == PU_DONE)
        res = answer(s, up, &req);
    pu_h2_request_finish(&req);
    return res;
}

#define RESUME_ROUNDS 3 /* offset queries per attempt, when the offset keeps changing */

/*
 * Asks the gateway for the offset of |up|'s upload resource and sends the rest. Sets |*ret_post|
 * when the photo must be POSTed again instead (resource gone, or complete), forgetting the
 * resource.
 */
static enum pu_outcome resume(struct pu_sender *s, struct pu_upload *up, bool *ret_post)
{
    uint64_t size = up->photo.size;
    int round;

    /* Leaving the loop early (break) means starting over with a POST. */
    for (round = 0; round < RESUME_ROUNDS; round++) {
        struct pu_h2_request req;
        struct pu_resume_fields f;
        struct pu_resume_patch_hdrs h;
        enum pu_outcome res;
        int64_t t0 = pu_now_ms();
        uint64_t off;
        int st;

        if (up->expires_ms && t0 >= up->expires_ms) {
            say(s, up,
                "the gateway has dropped the partial upload by now (max-age); sending "
                "the photo again from the start");
            break;
        }
        pu_resume_head_request(up->location, &req);
        pu_resume_fields_init(&f);
        req.on_header = pu_resume_on_header;
        req.header_arg = &f;
        res = exchange(s, up, &req);
        st = req.status;
        pu_h2_request_finish(&req);
        if (res != PU_DONE)
            return res;
        if (st >= 500) {
            snprintf(up->why, sizeof(up->why), "HTTP %d to the offset query", st);
            return PU_RETRY;
        }
        if (st == 404 || st == 410) {
            say(s, up,
                "the gateway no longer holds the partial upload; sending the photo again "
                "from the start");
            break;
        }
        if (st != 204 && st != 200) {
            say(s, up, "HTTP %d to the offset query; sending the photo again from the start", st);
            break;
        }
        if (f.complete == 1) {
            /* Only a signed POST returns the receipt: the gateway knows the photo and answers
             * 200 with the original one. */
            say(s, up, "the gateway has the whole photo already; asking for its receipt");
            break;
        }
        if (f.offset < 0 || (uint64_t)f.offset > size ||
            (f.length >= 0 && (uint64_t)f.length != size)) {
            say(s, up,
                "the gateway's offset answer is unusable; sending the photo again from "
                "the start");
            break;
        }
        if (f.max_age >= 0)
            up->expires_ms = t0 + f.max_age * 1000;
        off = (uint64_t)f.offset;
        say(s, up, "the gateway holds %.1f MB; sending the remaining %.1f MB", mb(off),
            mb(size - off));
        pu_resume_patch_request(up->location, up->photo.fd, off, size, &h, &req);
        pu_resume_fields_init(&f);
        req.on_header = pu_resume_on_header;
        req.header_arg = &f;
        req.on_progress = up->show_progress ? on_progress : NULL;
        req.progress_arg = up;
        up->resumed_from = off;
        res = exchange(s, up, &req);
        /* A 409 is about the upload's state (mismatching-upload-offset, upload-superseded):
         * the offset the gateway answers next is the one to use. */
        if (res == PU_DONE && req.status == 409) {
            say(s, up, "HTTP 409 to the append (%s); asking for the offset again",
                problem_is(&req, "mismatching-upload-offset") || f.offset >= 0
                    ? "the gateway expected another offset"
                    : "the upload is in another state");
            pu_h2_request_finish(&req);
            continue;
        }
        if (res == PU_DONE &&
            (req.status == 404 || (req.status == 400 && problem_is(&req, "completed-upload")))) {
            say(s, up, "HTTP %d to the append: %s; sending the photo again from the start",
                req.status, req.status == 404 ? "the partial upload is gone" : "it is complete");
            pu_h2_request_finish(&req);
            break;
        }
        if (res == PU_DONE)
            res = answer(s, up, &req);
        pu_h2_request_finish(&req);
        return res;
    }
    if (round == RESUME_ROUNDS) {
        snprintf(up->why, sizeof(up->why), "the gateway's offset kept changing");
        return PU_RETRY;
    }
    forget(up);
    *ret_post = true;
    return PU_RETRY;
}

/* Drops |up|'s upload resource at the gateway (best effort), so it does not keep the partial
 * bytes until they expire. */
static void cancel(struct pu_sender *s, struct pu_upload *up)
{
    struct pu_h2_request req;
    char why[sizeof(up->why)];

    memcpy(why, up->why, sizeof(why));
    pu_resume_delete_request(up->location, &req);
    if (exchange(s, up, &req) == PU_DONE && (req.status == 204 || req.status == 200))
        say(s, up, "the gateway dropped the partial upload");
    pu_h2_request_finish(&req);
    memcpy(up->why, why, sizeof(why));
    forget(up);
}

enum pu_outcome pu_send_attempt(struct pu_sender *s, struct pu_upload *up)
{
    enum pu_outcome res = PU_RETRY;
    bool post = !up->location[0];

    if (!post)
        res = resume(s, up, &post);
    if (post)
        res = create(s, up);
    if (res == PU_FAILED && up->location[0])
        cancel(s, up);
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
