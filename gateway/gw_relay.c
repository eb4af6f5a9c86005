#include "gw_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw_cli.h"
#include "gw_evidence.h"
#include "gw_file.h"
#include "gw_ledger.h"
#include "gw_log.h"
#include "gw_pool.h"
#include "gw_relay_sig.h"
#include "pu_h2.h"
#include "pu_url.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define IDLE_POLL_MS 200
#define RELAY_STREAMS_MAX 64
#define LINE_MAX_BYTES 4096

/* One photo on its way to the centre. */
struct item {
    struct gw_ledger_entry e;
    uint64_t end; /* offset in ledger.jsonl just past the entry */
    struct gw_sigrec rec;
    bool has_rec;
    int fd;
    char length[24], relay[GW_RELAY_HDR_MAX];
    struct pu_h2_request req;
};

struct gw_relay {
    const struct gw_config *cfg;
    struct gw_spool *spool;
    const struct gw_key *key;
    struct gw_key central; /* the pinned key of the centre (--upstream-key) */
    struct pu_url url;
    int dir; /* spool/relay/ */
    int ledger_fd;
    uint64_t offset;             /* bytes of ledger.jsonl read */
    struct gw_ledger_entry last; /* the last entry read (seq 0: none) */
    char cursor_hash[GW_SHA256_HEX_LEN + 1];
    struct pu_h2_conn *conn;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool started;
    _Atomic bool stopping;
    _Atomic uint64_t cursor, forwarded, refused, failures;
    _Atomic int up;
};

/* ---- files ---- */

int gw_relay_cursor_load(int root, uint64_t *ret_seq, char *ret_hash)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char hash[GW_SHA256_HEX_LEN + 2];
    unsigned long long seq;
    int r = gw_file_read_at(root, GW_RELAY_DIR "/" GW_RELAY_CURSOR, 256, &buf, &len);

    *ret_seq = 0;
    ret_hash[0] = '\0';
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    buf[len] = '\0';
    if (sscanf((char *)buf, "%llu %65s", &seq, hash) != 2 || strlen(hash) != GW_SHA256_HEX_LEN)
        r = -EINVAL;
    free(buf);
    if (r == 0) {
        *ret_seq = seq;
        memcpy(ret_hash, hash, GW_SHA256_HEX_LEN + 1);
    }
    return r;
}

static int cursor_save(struct gw_relay *r, const struct gw_ledger_entry *e)
{
    char path[4200], text[128];
    int n = snprintf(text, sizeof(text), "%" PRIu64 " %s\n", e->seq, e->hash);

    snprintf(path, sizeof(path), "%s/" GW_RELAY_DIR "/" GW_RELAY_CURSOR, r->cfg->data_dir);
    return gw_file_write_atomic(path, text, (size_t)n, 0600);
}

int gw_relay_central_receipt(int root, const char *photo_id, char **ret_json, size_t *ret_len)
{
    char name[128];
    uint8_t *buf = NULL;
    int r;

    snprintf(name, sizeof(name), GW_RELAY_DIR "/" GW_RELAY_CENTRAL "/%s.json", photo_id);
    r = gw_file_read_at(root, name, GW_RECEIPT_FILE_MAX, &buf, ret_len);
    if (r < 0)
        return r;
    buf[*ret_len] = '\0';
    *ret_json = (char *)buf;
    return 0;
}

/* Keeps |body| as file |photo_id|.json of |sub| (central/ or refused/), durably. */
static int keep(struct gw_relay *r, const char *sub, const char *photo_id, const char *body,
                size_t len)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/" GW_RELAY_DIR "/%s/%s.json", r->cfg->data_dir, sub, photo_id);
    return gw_file_write_atomic(path, body, len, 0600);
}

/* ---- the ledger, read as it grows ---- */

/*
 * Reads the next complete entry after |r->last| into |ret|. Returns 1, 0 when there is none yet,
 * or a negative errno (-EBADMSG: the chain does not hold here, which the gateway would not have
 * started on: stop forwarding rather than send what cannot be vouched for).
 */
static int ledger_next(struct gw_relay *r, struct gw_ledger_entry *ret)
{
    char line[LINE_MAX_BYTES];
    ssize_t n;
    char *nl;

    /* Under the ledger's lock: an entry whose receipt could not be written is taken back out
     * within the same hold (gw_ledger_drop_last), so what is read here is never withdrawn. */
    gw_ledger_lock(r->spool->ledger);
    n = pread(r->ledger_fd, line, sizeof(line) - 1, (off_t)r->offset);
    gw_ledger_unlock(r->spool->ledger);
    if (n < 0)
        return -errno;
    line[n] = '\0';
    nl = memchr(line, '\n', (size_t)n);
    if (!nl)
        return 0; /* nothing new, or a line still being written */
    if (gw_ledger_parse(line, (size_t)(nl - line), ret) < 0 ||
        gw_ledger_check_link(r->last.seq ? &r->last : NULL, ret))
        return -EBADMSG;
    r->offset += (uint64_t)(nl - line) + 1;
    r->last = *ret;
    return 1;
}

/* Skips the entries up to the cursor (forwarded before this start). */
static int ledger_seek(struct gw_relay *r, uint64_t cursor)
{
    struct gw_ledger_entry e;
    int n;

    while (r->last.seq < cursor) {
        n = ledger_next(r, &e);
        if (n <= 0)
            return n < 0 ? n : -EINVAL; /* the cursor is past the ledger */
    }
    if (cursor && strcmp(r->last.hash, r->cursor_hash) != 0)
        return -EINVAL;
    return 0;
}

/* ---- one batch ---- */

static void item_free(struct item *it)
{
    if (it->fd >= 0)
        close(it->fd);
    it->fd = -1;
    pu_h2_request_finish(&it->req);
}

/* Builds the request of entry |it->e|: the phone's signed request, the original, Prep-Relay. */
static int item_prepare(struct gw_relay *r, struct item *it)
{
    char name[128], path[96];
    struct gw_relay_claim c = {.seq = it->e.seq};
    uint8_t *buf = NULL;
    size_t len = 0;
    struct pu_h2_header *h = it->req.headers;
    int e;

    snprintf(name, sizeof(name), "%s.json", it->e.photo_id);
    e = gw_file_read_at(r->spool->signatures, name, 64 << 10, &buf, &len);
    it->has_rec = e == 0 && gw_sigrec_parse((char *)buf, len, &it->rec) == 0;
    free(buf);
    if (e < 0 && e != -ENOENT)
        return e; /* an unsigned upload (--insecure-open-uploads) has no record */
    snprintf(name, sizeof(name), "%s.jpg", it->e.sha256);
    it->fd = openat(r->spool->originals, name, O_RDONLY | O_CLOEXEC);
    if (it->fd < 0)
        return -errno;
    snprintf(c.edge, sizeof(c.edge), "%s", r->cfg->edge_id);
    memcpy(c.hash, it->e.hash, sizeof(c.hash));
    if (gw_relay_sig_make(&c, r->key, it->e.sha256, it->has_rec ? it->rec.signature : "",
                          it->relay) < 0)
        return -ENOMEM;
    snprintf(it->length, sizeof(it->length), "%" PRIu64, it->e.bytes);
    snprintf(path, sizeof(path), "/v1/actas/%s/photos", it->e.clave);
    it->req = (struct pu_h2_request){
        .method = "POST",
        .body_fd = it->fd,
        .body_len = it->e.bytes,
    };
    if (it->has_rec) {
        it->req.path = it->rec.path;
        h[it->req.nheaders++] = (struct pu_h2_header){"content-digest", it->rec.content_digest};
        h[it->req.nheaders++] = (struct pu_h2_header){"signature-input", it->rec.signature_input};
        h[it->req.nheaders++] = (struct pu_h2_header){"signature", it->rec.signature};
    } else {
        snprintf(it->rec.path, sizeof(it->rec.path), "%s", path);
        it->req.path = it->rec.path;
    }
    h[it->req.nheaders++] = (struct pu_h2_header){"content-type", "image/jpeg"};
    h[it->req.nheaders++] = (struct pu_h2_header){"content-length", it->length};
    h[it->req.nheaders++] = (struct pu_h2_header){"prep-relay", it->relay};
    return 0;
}

enum outcome { RELAYED, REFUSED, RETRY };

/* What the centre's answer to |it| means; a receipt is checked and kept, a refusal kept. */
static enum outcome item_settle(struct gw_relay *r, struct item *it)
{
    const struct pu_h2_request *q = &it->req;
    struct gw_receipt rc;
    const char *why;

    if (q->error || !q->resp_body)
        return RETRY;
    if (q->status == 200 || q->status == 201) {
        why = gw_receipt_verify(q->resp_body, q->resp_len, &r->central, &rc);
        if (!why &&
            (strcmp(rc.photo_id, it->e.photo_id) != 0 || strcmp(rc.sha256, it->e.sha256) != 0))
            why = "it is the receipt of another photo";
        if (why) {
            gw_log(GW_LOG_ERROR,
                   "msg=\"relay: the centre's receipt does not hold\" photo=%s why=\"%s\"",
                   it->e.photo_id, why);
            return RETRY;
        }
        if (keep(r, GW_RELAY_CENTRAL, it->e.photo_id, q->resp_body, q->resp_len) < 0)
            return RETRY;
        gw_log(GW_LOG_INFO,
               "msg=\"relayed\" photo=%s edge_seq=%" PRIu64 " central_seq=%" PRIu64 " status=%d",
               it->e.photo_id, it->e.seq, rc.ledger_seq, q->status);
        return RELAYED;
    }
    if (q->status == 400 || q->status == 413 || q->status == 415 || q->status == 422) {
        json_t *o = json_pack("{s:i, s:I, s:s, s:s, s:s?}", "status", q->status, "edge_seq",
                              (json_int_t)it->e.seq, "photo_id", it->e.photo_id, "sha256",
                              it->e.sha256, "problem", q->resp_body);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        int e = s ? keep(r, GW_RELAY_REFUSED, it->e.photo_id, s, strlen(s)) : -ENOMEM;

        json_decref(o);
        free(s);
        if (e < 0)
            return RETRY;
        gw_log(GW_LOG_ERROR,
               "msg=\"relay: the centre refused a photo; kept in relay/refused\""
               " photo=%s status=%d",
               it->e.photo_id, q->status);
        return REFUSED;
    }
    gw_log(GW_LOG_WARN,
           "msg=\"relay: the centre did not take the photo; retrying\" photo=%s"
           " status=%d body=\"%.200s\"",
           it->e.photo_id, q->status, q->resp_body);
    return RETRY;
}

/* Connects when needed. Returns 0 or a negative errno. */
static int ensure_conn(struct gw_relay *r)
{
    struct pu_h2_opts o;
    char why[256] = "";
    int e;

    if (r->conn && pu_h2_usable(r->conn))
        return 0;
    pu_h2_conn_free(r->conn);
    r->conn = NULL;
    pu_h2_opts_default(&o);
    o.connect_timeout_ms = 5000;
    o.io_timeout_ms = 20000;
    o.cacert = r->cfg->upstream_ca;
    o.max_body = 16384;
    e = pu_h2_connect(&r->url, &o, &r->conn, why, sizeof(why));
    if (e < 0)
        gw_log(GW_LOG_WARN, "msg=\"relay: cannot reach the centre\" upstream=%s why=\"%s\"",
               r->cfg->upstream, why);
    return e;
}

/* Settles the answered items from |*done| on, in ledger order, until one must be retried. */
static void settle(struct gw_relay *r, struct item *items, unsigned n, unsigned *done)
{
    for (; *done < n && items[*done].req.status; (*done)++) {
        enum outcome o = item_settle(r, &items[*done]);

        if (o == RETRY)
            return;
        atomic_fetch_add(o == RELAYED ? &r->forwarded : &r->refused, 1);
    }
}

/*
 * Forwards up to --relay-streams entries after the cursor. Returns the number settled (relayed
 * or refused; the cursor moved past them), 0 when there was nothing to send, or a negative errno
 * when the batch must be tried again (what was settled before the failure is kept).
 */
static int batch(struct gw_relay *r, struct item *items)
{
    unsigned n = 0, want = r->cfg->relay_streams, done = 0;
    uint64_t start = r->offset;
    struct gw_ledger_entry start_last = r->last;
    int e = 0, got = 0;

    while (n < want && (got = ledger_next(r, &items[n].e)) == 1) {
        items[n].fd = -1;
        items[n].end = r->offset;
        n++;
    }
    if (n == 0)
        return got;
    for (unsigned i = 0; i < n && e == 0; i++)
        if ((e = item_prepare(r, &items[i])) < 0)
            gw_log(GW_LOG_ERROR,
                   "msg=\"relay: cannot read a photo of the spool\" photo=%s"
                   " err=\"%s\"",
                   items[i].e.photo_id, strerror(-e));
    if (e == 0)
        e = ensure_conn(r);
    for (unsigned i = 0; i < n && e == 0; i++)
        e = pu_h2_submit(r->conn, &items[i].req);
    if (e == 0)
        e = pu_h2_run(r->conn);
    atomic_store(&r->up, e == 0 || items[0].req.status != 0);
    settle(r, items, n, &done);
    if (done > 0 && cursor_save(r, &items[done - 1].e) < 0)
        done = 0; /* the cursor could not be kept: send them again (the centre answers 200) */
    if (done > 0) {
        atomic_store(&r->cursor, items[done - 1].e.seq);
        memcpy(r->cursor_hash, items[done - 1].e.hash, sizeof(r->cursor_hash));
        r->offset = items[done - 1].end;
        r->last = items[done - 1].e;
    } else {
        r->offset = start;
        r->last = start_last;
    }
    for (unsigned i = 0; i < n; i++)
        item_free(&items[i]);
    if (done < n) {
        atomic_fetch_add(&r->failures, 1);
        return e < 0 ? e : -EAGAIN;
    }
    return (int)done;
}

/* ---- the thread ---- */

static bool pause_ms(struct gw_relay *r, unsigned ms)
{
    struct timespec ts;

    gw_deadline_after_ms(ms, &ts);
    pthread_mutex_lock(&r->mu);
    if (!atomic_load(&r->stopping))
        pthread_cond_timedwait(&r->cond, &r->mu, &ts);
    pthread_mutex_unlock(&r->mu);
    return atomic_load(&r->stopping);
}

static void *relay_main(void *arg)
{
    struct gw_relay *r = arg;
    struct item *items = calloc(r->cfg->relay_streams, sizeof(*items));
    unsigned backoff = 0;

    if (!items) {
        gw_log(GW_LOG_ERROR, "msg=\"relay: out of memory; not forwarding\"");
        return NULL;
    }
    while (!atomic_load(&r->stopping)) {
        int n = batch(r, items);

        if (n > 0) {
            backoff = 0;
            continue;
        }
        if (n == -EBADMSG) {
            gw_log(GW_LOG_ERROR, "msg=\"relay: the ledger does not follow the cursor; forwarding"
                                 " stopped: run prep-gateway ledger verify\"");
            break;
        }
        if (n == 0) {
            backoff = 0;
            pause_ms(r, IDLE_POLL_MS);
            continue;
        }
        backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
        if (backoff > BACKOFF_MAX_MS)
            backoff = BACKOFF_MAX_MS;
        pu_h2_conn_free(r->conn);
        r->conn = NULL;
        pause_ms(r, backoff);
    }
    free(items);
    pu_h2_conn_free(r->conn);
    r->conn = NULL;
    return NULL;
}

static int open_dirs(struct gw_relay *r)
{
    mkdirat(r->spool->root, GW_RELAY_DIR, 0700);
    r->dir = openat(r->spool->root, GW_RELAY_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dir < 0)
        return -errno;
    mkdirat(r->dir, GW_RELAY_CENTRAL, 0700);
    mkdirat(r->dir, GW_RELAY_REFUSED, 0700);
    r->ledger_fd = openat(r->spool->root, GW_LEDGER_FILE, O_RDONLY | O_CLOEXEC);
    return r->ledger_fd < 0 ? -errno : 0;
}

int gw_relay_start(const struct gw_config *cfg, struct gw_spool *spool, const struct gw_key *key,
                   struct gw_relay **ret)
{
    struct gw_relay *r = calloc(1, sizeof(*r));
    const char *why = NULL;
    uint64_t cursor = 0;
    int e;

    if (!r)
        return -ENOMEM;
    r->cfg = cfg;
    r->spool = spool;
    r->key = key;
    r->dir = r->ledger_fd = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    e = pu_url_parse(cfg->upstream, &r->url, &why) < 0 ? -EINVAL : 0;
    if (e < 0)
        gw_log(GW_LOG_ERROR, "msg=\"--upstream is not a URL\" why=\"%s\"", why);
    if (e == 0 && (e = gw_cli_parse_pubkey(cfg->upstream_key, &r->central)) < 0)
        gw_log(GW_LOG_ERROR, "msg=\"--upstream-key is not a base64 Ed25519 public key\"");
    if (e == 0 && (e = open_dirs(r)) < 0)
        gw_log(GW_LOG_ERROR, "msg=\"relay: cannot open its folder or the ledger\" err=\"%s\"",
               strerror(-e));
    if (e == 0 && (e = gw_relay_cursor_load(spool->root, &cursor, r->cursor_hash)) == 0)
        e = ledger_seek(r, cursor);
    if (e == 0) {
        atomic_store(&r->cursor, cursor);
        e = -pthread_create(&r->thread, NULL, relay_main, r);
    } else if (e == -EINVAL || e == -EBADMSG) {
        gw_log(GW_LOG_ERROR, "msg=\"relay: spool/relay/cursor does not match the ledger\"");
    }
    if (e < 0) {
        gw_relay_stop(r);
        return e;
    }
    r->started = true;
    gw_log(GW_LOG_INFO,
           "msg=\"relay: forwarding to the centre\" upstream=%s edge=%s cursor=%" PRIu64
           " ledger=%" PRIu64,
           cfg->upstream, cfg->edge_id, cursor, spool->ledger->last.seq);
    *ret = r;
    return 0;
}

void gw_relay_stop(struct gw_relay *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->stopping, true);
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    gw_key_finish(&r->central);
    if (r->ledger_fd >= 0)
        close(r->ledger_fd);
    if (r->dir >= 0)
        close(r->dir);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void gw_relay_stats(struct gw_relay *r, struct gw_relay_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!r)
        return;
    gw_ledger_lock(r->spool->ledger);
    ret->ledger_seq = r->spool->ledger->last.seq;
    gw_ledger_unlock(r->spool->ledger);
    ret->cursor = atomic_load(&r->cursor);
    ret->forwarded = atomic_load(&r->forwarded);
    ret->refused = atomic_load(&r->refused);
    ret->failures = atomic_load(&r->failures);
    ret->uplink_up = atomic_load(&r->up);
}
