/*
 * pu_send_attempt() against a fake resumable gateway: an nghttp2 server on a loopback port, in a
 * thread, that answers the POST with 104 and a Location, can cut the connection after some body
 * bytes, answers HEAD with its offset, takes PATCH from there, and signs receipts with a key of
 * its own. Each scenario checks what the client sent (how many bytes, which requests) and what
 * it concluded: resume from the offset, start over when the resource is gone or complete, ask
 * again after a 409, plain POSTs from byte 0 without a 104 or with resume off, DELETE on a 4xx.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_keys.h"
#include "gw_receipt.h"
#include "pu_send.h"
#include "tap.h"

#define CLAVE "140338B010002"
#define PHOTO_SIZE (3u << 20)
#define LOCATION "/v1/uploads/0123456789abcdef0123456789abcdef"

/* The fake gateway: its behaviour (set between attempts) and what it saw. */
static struct fake {
    pthread_mutex_t mu;
    int lfd;
    struct gw_key key;
    uint8_t *photo;
    char sha[GW_SHA256_HEX_LEN + 1];
    /* behaviour */
    bool offer;       /* answer a POST with Upload-Complete with 104 */
    uint64_t cut;     /* close the connection once a POST brought this many bytes (0: never) */
    int head_status;  /* 204 normally */
    bool head_done;   /* HEAD says Upload-Complete: ?1 */
    int conflicts;    /* answer this many PATCHes 409 first */
    int final_status; /* answer to a completed upload: 201, or a 4xx */
    /* state and record */
    bool resource;    /* an upload resource exists */
    uint64_t held;    /* its bytes (all match the photo unless |corrupt|) */
    uint64_t body_in; /* request body bytes received, all requests */
    bool corrupt;     /* a byte did not match the photo at its offset */
    bool post_resume; /* the last POST had Upload-Complete: ?1 and Upload-Length */
    int posts, heads, patches, deletes;
} fk = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct fstream {
    char method[8];
    int64_t offset; /* Upload-Offset of a PATCH */
    bool complete, has_length;
    bool cutting; /* this POST is the one to cut */
    uint64_t pos; /* where in the photo the next body byte goes */
    char resp[4096];
    size_t resp_len, resp_off;
    struct fstream *next;
};

struct fconn {
    int fd;
    bool cut;
    struct fstream *streams; /* all of them, freed with the connection */
};

static ssize_t f_send(nghttp2_session *s, const uint8_t *d, size_t len, int flags, void *arg)
{
    struct fconn *c = arg;
    ssize_t n = send(c->fd, d, len, MSG_NOSIGNAL);

    return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int f_begin(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
    struct fconn *c = arg;
    struct fstream *st = calloc(1, sizeof(*st));

    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->offset = -1;
    st->next = c->streams;
    c->streams = st;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
    return 0;
}

static int f_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                    const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
    struct fstream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

    if (!st)
        return 0;
    if (strcmp((const char *)name, ":method") == 0)
        snprintf(st->method, sizeof(st->method), "%s", (const char *)value);
    else if (strcmp((const char *)name, "upload-offset") == 0)
        st->offset = strtoll((const char *)value, NULL, 10);
    else if (strcmp((const char *)name, "upload-complete") == 0)
        st->complete = strcmp((const char *)value, "?1") == 0;
    else if (strcmp((const char *)name, "upload-length") == 0)
        st->has_length = strtoull((const char *)value, NULL, 10) == PHOTO_SIZE;
    return 0;
}

static ssize_t f_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                      nghttp2_data_source *src, void *arg)
{
    struct fstream *st = src->ptr;
    size_t n = st->resp_len - st->resp_off;

    if (n > len)
        n = len;
    memcpy(buf, st->resp + st->resp_off, n);
    st->resp_off += n;
    if (st->resp_off == st->resp_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

/* Answers |st| with |status| and the body |body| (NULL: none) and two more fields. */
static void respond(nghttp2_session *s, int32_t id, struct fstream *st, const char *status,
                    const char *body, const char *name1, const char *value1)
{
    nghttp2_data_provider prov = {.source.ptr = st, .read_callback = f_read};
    nghttp2_nv nv[3] = {NV(":status", status)};
    size_t n = 1;

    if (name1)
        nv[n++] = (nghttp2_nv){(uint8_t *)name1, (uint8_t *)value1, strlen(name1), strlen(value1),
                               NGHTTP2_NV_FLAG_NONE};
    if (body) {
        st->resp_len = (size_t)snprintf(st->resp, sizeof(st->resp), "%s", body);
        nv[n++] = (nghttp2_nv)NV("content-type", "application/json");
    }
    nghttp2_submit_response(s, id, nv, n, body ? &prov : NULL);
}

/* The signed receipt of the photo, as the gateway makes it. */
static void receipt(char *out, size_t cap)
{
    struct gw_receipt r = {0};
    struct timespec t = {1780000000, 0};
    char text[GW_RECEIPT_TEXT_MAX];
    uint8_t sig[GW_KEY_SIG_LEN];
    size_t len;
    char *json;

    gw_photo_id(CLAVE, fk.sha, r.photo_id);
    snprintf(r.clave, sizeof(r.clave), "%s", CLAVE);
    memcpy(r.sha256, fk.sha, sizeof(r.sha256));
    r.bytes = PHOTO_SIZE;
    gw_rfc3339(&t, r.received_at);
    r.width = 4000;
    r.height = 3000;
    r.ledger_seq = 7;
    memset(r.ledger_prev, 'a', GW_SHA256_HEX_LEN);
    memset(r.ledger_hash, 'b', GW_SHA256_HEX_LEN);
    memcpy(r.gateway_key, fk.key.fingerprint, sizeof(r.gateway_key));
    gw_key_sign(&fk.key, text, gw_receipt_text(&r, text, sizeof(text)), sig);
    gw_b64_encode(sig, sizeof(sig), r.signature);
    json = gw_receipt_json(&r, "received", &len);
    snprintf(out, cap, "%s", json ? json : "");
    free(json);
}

/* The request of |st| is complete (or, for a PATCH conflict, its headers are). */
static void f_request(nghttp2_session *s, int32_t id, struct fstream *st, bool headers)
{
    char body[4096], off[24];
    bool post = strcmp(st->method, "POST") == 0, patch = strcmp(st->method, "PATCH") == 0;

    if (headers && post) {
        fk.posts++;
        fk.post_resume = st->complete && st->has_length;
        fk.held = 0;
        fk.resource = fk.offer && st->complete;
        st->cutting = fk.cut > 0;
        if (fk.resource) {
            nghttp2_nv nv[] = {NV(":status", "104"), NV("location", LOCATION),
                               NV("upload-limit", "max-size=20971520, max-age=3600")};

            nghttp2_submit_headers(s, NGHTTP2_FLAG_NONE, id, NULL, nv, 3, NULL);
        }
    } else if (headers && strcmp(st->method, "HEAD") == 0) {
        fk.heads++;
        snprintf(off, sizeof(off), "%llu", (unsigned long long)fk.held);
        if (!fk.resource || fk.head_status != 204) {
            respond(s, id, st, fk.resource ? "503" : "404", NULL, NULL, NULL);
        } else {
            nghttp2_nv nv[] = {NV(":status", "204"), NV("upload-offset", off),
                               NV("upload-complete", fk.head_done ? "?1" : "?0"),
                               NV("upload-length", "3145728"), NV("cache-control", "no-store")};

            nghttp2_submit_response(s, id, nv, 5, NULL);
        }
    } else if (headers && strcmp(st->method, "DELETE") == 0) {
        fk.deletes++;
        respond(s, id, st, fk.resource ? "204" : "404", NULL, NULL, NULL);
        fk.resource = false;
    } else if (headers && patch) {
        fk.patches++;
        snprintf(off, sizeof(off), "%llu", (unsigned long long)fk.held);
        if (!fk.resource) {
            respond(s, id, st, "404", "{\"type\":\"x#upload-not-found\"}", NULL, NULL);
        } else if (fk.head_done) {
            respond(s, id, st, "400", "{\"type\":\"x#completed-upload\"}", NULL, NULL);
        } else if (fk.conflicts > 0 || st->offset != (int64_t)fk.held) {
            if (fk.conflicts > 0)
                fk.conflicts--;
            respond(s, id, st, "409",
                    "{\"type\":\"https://iana.org/assignments/http-problem-types#mismatching-"
                    "upload-offset\"}",
                    "upload-offset", off);
        } else {
            st->pos = fk.held;
        }
    } else if (!headers && (post || patch) && st->resp_len == 0) {
        if (fk.final_status != 201 || fk.held != PHOTO_SIZE || fk.corrupt) {
            respond(s, id, st, "422", "{\"type\":\"x#not-a-photo\",\"title\":\"no\"}", NULL, NULL);
        } else {
            receipt(body, sizeof(body));
            respond(s, id, st, "201", body, "upload-complete", "?1");
        }
        fk.resource = false;
    }
}

static int f_frame(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
    struct fstream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

    if (!st)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_HEADERS))
        f_request(s, f->hd.stream_id, st, true);
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        f_request(s, f->hd.stream_id, st, false);
    return 0;
}

static int f_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
                  void *arg)
{
    struct fconn *c = arg;
    struct fstream *st = nghttp2_session_get_stream_user_data(s, id);

    fk.body_in += len;
    if (!st || st->resp_len || c->cut)
        return 0;
    if (st->cutting && st->pos + len >= fk.cut) {
        len = (size_t)(fk.cut - st->pos);
        c->cut = true;
        fk.cut = 0; /* only once */
    }
    if (st->pos + len > PHOTO_SIZE || memcmp(fk.photo + st->pos, d, len) != 0)
        fk.corrupt = true;
    else if (fk.resource || strcmp(st->method, "POST") == 0)
        fk.held = st->pos + len;
    st->pos += len;
    return 0;
}

static void serve(int fd)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session *s;
    struct fconn c = {.fd = fd};
    uint8_t buf[16384];

    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, f_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, f_begin);
    nghttp2_session_callbacks_set_on_header_callback(cb, f_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, f_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, f_data);
    nghttp2_session_server_new(&s, cb, &c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
    for (;;) {
        ssize_t n;

        pthread_mutex_lock(&fk.mu);
        n = nghttp2_session_send(s);
        pthread_mutex_unlock(&fk.mu);
        if (n != 0 || (!nghttp2_session_want_read(s) && !nghttp2_session_want_write(s)))
            break;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        pthread_mutex_lock(&fk.mu);
        n = nghttp2_session_mem_recv(s, buf, (size_t)n);
        pthread_mutex_unlock(&fk.mu);
        if (n < 0 || c.cut)
            break;
    }
    nghttp2_session_del(s);
    close(fd);
    while (c.streams) {
        struct fstream *next = c.streams->next;

        free(c.streams);
        c.streams = next;
    }
}

static void *server_main(void *arg)
{
    for (;;) {
        int fd = accept(fk.lfd, NULL, NULL), one = 1;

        if (fd < 0)
            return NULL;
        /* Else each WINDOW_UPDATE waits for the client's delayed ACK. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        serve(fd);
    }
}

/* ---- the client side ---- */

static struct pu_sender snd;
static char err_path[64];

/* One attempt, its stderr kept in |out| (and shown). */
static enum pu_outcome attempt(struct pu_upload *up, char *out, size_t cap)
{
    int saved = dup(STDERR_FILENO), fd = open(err_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    enum pu_outcome res;
    ssize_t n;

    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    res = pu_send_attempt(&snd, up);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    fprintf(stderr, "%s", out);
    return res;
}

/* Sets the fake's behaviour for a new photo upload. */
static void scenario(const char *name, bool offer, uint64_t cut)
{
    pthread_mutex_lock(&fk.mu);
    if (fk.posts)
        fprintf(stderr, "   (%llu body bytes went up)\n", (unsigned long long)fk.body_in);
    fprintf(stderr, "-- %s\n", name);
    fk.offer = offer;
    fk.cut = cut;
    fk.head_status = 204;
    fk.head_done = false;
    fk.conflicts = 0;
    fk.final_status = 201;
    fk.resource = fk.corrupt = false;
    fk.held = fk.body_in = 0;
    fk.posts = fk.heads = fk.patches = fk.deletes = 0;
    pthread_mutex_unlock(&fk.mu);
}

static void lock(void)
{
    pthread_mutex_lock(&fk.mu);
}

static void unlock(void)
{
    pthread_mutex_unlock(&fk.mu);
}

int main(void)
{
    char dir[] = "/tmp/test-send-resume-XXXXXX", path[128], out[4096], url[64];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    struct pu_device dev = {.device_id = "dev-1"};
    struct gw_key devkey;
    struct pu_url u;
    struct pu_upload up;
    pthread_t th;
    const char *why;
    uint8_t md[32];
    unsigned mdlen;
    uint64_t half = PHOTO_SIZE / 2;
    FILE *f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
    snprintf(path, sizeof(path), "%s/gw.pem", dir);
    CHECK(gw_key_load(path, true, &fk.key) == 0);
    CHECK(gw_key_from_public(fk.key.pub, &dev.gateway) == 0);
    snprintf(path, sizeof(path), "%s/dev.pem", dir);
    CHECK(gw_key_load(path, true, &devkey) == 0);
    fk.photo = malloc(PHOTO_SIZE);
    for (uint32_t i = 0, x = 12345; i < PHOTO_SIZE; i++) {
        x = x * 1103515245u + 12345u;
        fk.photo[i] = (uint8_t)(x >> 16);
    }
    EVP_Digest(fk.photo, PHOTO_SIZE, md, &mdlen, EVP_sha256(), NULL);
    gw_hex(md, 32, fk.sha);
    snprintf(path, sizeof(path), "%s/photo.jpg", dir);
    f = fopen(path, "wb");
    CHECK(f && fwrite(fk.photo, 1, PHOTO_SIZE, f) == PHOTO_SIZE);
    fclose(f);

    fk.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(bind(fk.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fk.lfd, 4) == 0);
    CHECK(getsockname(fk.lfd, (struct sockaddr *)&sa, &salen) == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    CHECK(pu_url_parse(url, &u, &why) == 0);
    CHECK(pthread_create(&th, NULL, server_main, NULL) == 0);

    snd = (struct pu_sender){
        .prog = "test", .state = dir, .dev = &dev, .key = &devkey, .url = &u, .resume = true};
    pu_h2_opts_default(&snd.opts);
    snd.opts.io_timeout_ms = 5000;

    /* Cut at half: the retry asks for the offset and sends only the other half. */
    scenario("cut, resumed", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    CHECK_STR(up.location, LOCATION);
    CHECK(up.expires_ms > 0);
    CHECK(strstr(up.why, "connection lost at ") != NULL);
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    CHECK(strstr(out, "the gateway holds 1.6 MB; sending the remaining 1.6 MB") != NULL);
    CHECK(up.status == 201 && up.resumed_from == half && up.receipt_path[0]);
    CHECK(up.location[0] == '\0');
    lock();
    CHECK(fk.post_resume && fk.posts == 1 && fk.heads == 1 && fk.patches == 1);
    CHECK(fk.held == PHOTO_SIZE && !fk.corrupt && fk.deletes == 0);
    /* What went up: the half before the cut (and what was in flight), then the rest only. */
    CHECK(fk.body_in < PHOTO_SIZE + PHOTO_SIZE / 4);
    unlock();
    pu_upload_finish(&up);

    /* No 104 (an older gateway): the retry is a whole POST again. */
    scenario("cut, no 104", false, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    CHECK(up.location[0] == '\0');
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    CHECK(up.resumed_from == 0);
    lock();
    CHECK(fk.posts == 2 && fk.heads == 0 && fk.body_in >= PHOTO_SIZE + half);
    unlock();
    pu_upload_finish(&up);

    /* Resume off: no Upload-Complete, so no resource either. */
    snd.resume = false;
    scenario("resume off", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    CHECK(up.location[0] == '\0');
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    lock();
    CHECK(!fk.post_resume && fk.posts == 2 && fk.heads == 0);
    unlock();
    pu_upload_finish(&up);
    snd.resume = true;

    /* The resource expired: HEAD 404, and the same attempt POSTs again. */
    scenario("resource gone", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    lock();
    fk.resource = false;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    CHECK(strstr(out, "no longer holds the partial upload") != NULL);
    lock();
    CHECK(fk.posts == 2 && fk.heads == 1 && fk.patches == 0);
    unlock();
    pu_upload_finish(&up);

    /* Complete already (the answer was lost): a signed POST gets the receipt. */
    scenario("complete already", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    lock();
    fk.head_done = true;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    CHECK(strstr(out, "has the whole photo already") != NULL);
    lock();
    CHECK(fk.posts == 2 && fk.heads == 1 && fk.patches == 0);
    unlock();
    pu_upload_finish(&up);

    /* A 409 on the PATCH: ask for the offset again, then append from there. */
    scenario("offset conflict", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    lock();
    fk.conflicts = 1;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    CHECK(strstr(out, "(the gateway expected another offset); asking for the offset again") !=
          NULL);
    lock();
    CHECK(fk.posts == 1 && fk.heads == 2 && fk.patches == 2 && !fk.corrupt);
    unlock();
    pu_upload_finish(&up);

    /* The offset keeps changing: the attempt ends for a retry later, the resource kept. */
    scenario("offset keeps changing", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    lock();
    fk.conflicts = 100;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    CHECK_STR(up.location, LOCATION);
    lock();
    fk.conflicts = 0;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    pu_upload_finish(&up);

    /* A HEAD answered 5xx: retried later, the resource kept. */
    scenario("HEAD 503", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    lock();
    fk.head_status = 503;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    CHECK_STR(up.location, LOCATION);
    lock();
    fk.head_status = 204;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_DONE);
    pu_upload_finish(&up);

    /* A 4xx to the completing PATCH is final: the partial upload is cancelled. */
    scenario("refused after resume", true, half);
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_RETRY);
    lock();
    fk.final_status = 422;
    fk.resource = true;
    unlock();
    CHECK(attempt(&up, out, sizeof(out)) == PU_FAILED);
    CHECK(up.status == 422 && up.problem != NULL);
    lock();
    CHECK(fk.patches == 1 && fk.deletes == 1);
    unlock();
    pu_upload_finish(&up);

    /* A 4xx to the POST after its 104: DELETE too. */
    scenario("refused POST", true, 0);
    lock();
    fk.final_status = 422;
    unlock();
    CHECK(pu_upload_init(&up, path, CLAVE, false) == 0);
    CHECK(attempt(&up, out, sizeof(out)) == PU_FAILED);
    CHECK(up.status == 422 && up.location[0] == '\0');
    lock();
    CHECK(fk.posts == 1 && fk.deletes == 1);
    unlock();
    pu_upload_finish(&up);

    pu_h2_conn_free(snd.conn);
    shutdown(fk.lfd, SHUT_RDWR);
    close(fk.lfd);
    pthread_join(th, NULL);
    gw_key_finish(&fk.key);
    gw_key_finish(&devkey);
    gw_key_finish(&dev.gateway);
    free(fk.photo);
    return TAP_DONE();
}
