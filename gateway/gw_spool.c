#include "gw_spool.h"

#include "gw_file.h"
#include "gw_keys.h"
#include "gw_ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define RECEIPT_MAX 4096

static int open_dir(int at, const char *name)
{
    int fd;

    if (mkdirat(at, name, 0750) < 0 && errno != EEXIST)
        return -errno;
    fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int sync_dir(int dfd)
{
    return fsync(dfd) < 0 ? -errno : 0;
}

static void tmp_name(char *buf, size_t cap, const char *suffix)
{
    uint8_t rnd[12];
    char hex[25];

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* getrandom() does not fail for 12 bytes once the pool is initialised; a clock-based
         * name keeps O_EXCL meaningful anyway. */
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        memcpy(rnd, &ts, sizeof(rnd) < sizeof(ts) ? sizeof(rnd) : sizeof(ts));
    }
    gw_hex(rnd, sizeof(rnd), hex);
    snprintf(buf, cap, "%s%s", hex, suffix);
}

static void empty_dir(int dfd)
{
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            unlinkat(dfd, e->d_name, 0);
    closedir(d);
}

int gw_spool_open(struct gw_spool *s, const char *data_dir)
{
    int spool, store, r;

    s->root = s->tmp = s->pending = s->receipts = s->uploads = s->originals = s->review = -1;
    s->signatures = -1;
    s->ledger = NULL;
    s->key = NULL;
    if (mkdir(data_dir, 0750) < 0 && errno != EEXIST)
        return -errno;
    s->root = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root < 0)
        return -errno;
    spool = open_dir(s->root, "spool");
    if (spool < 0)
        return spool;
    store = open_dir(s->root, "store");
    if (store < 0) {
        close(spool);
        return store;
    }
    s->tmp = open_dir(spool, "tmp");
    s->pending = open_dir(spool, "pending");
    s->receipts = open_dir(spool, "receipts");
    s->uploads = open_dir(spool, "uploads");
    s->signatures = open_dir(spool, "signatures");
    s->originals = open_dir(store, "originals");
    s->review = open_dir(store, "review");
    r = sync_dir(spool);
    if (r == 0)
        r = sync_dir(store);
    if (r == 0)
        r = sync_dir(s->root);
    close(spool);
    close(store);
    if (r < 0)
        return r;
    if (s->tmp < 0)
        return s->tmp;
    if (s->pending < 0)
        return s->pending;
    if (s->receipts < 0)
        return s->receipts;
    if (s->uploads < 0)
        return s->uploads;
    if (s->originals < 0)
        return s->originals;
    if (s->review < 0)
        return s->review;
    if (s->signatures < 0)
        return s->signatures;
    /* Nothing in tmp/ was acknowledged: the phones that sent it will retry. */
    empty_dir(s->tmp);
    return 0;
}

void gw_spool_close(struct gw_spool *s)
{
    int *fds[] = {&s->root,    &s->tmp,       &s->pending, &s->receipts,
                  &s->uploads, &s->originals, &s->review,  &s->signatures};

    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

int gw_spool_file_open(struct gw_spool *s, uint64_t expect, struct gw_spool_file *ret)
{
    struct gw_spool_file f = {.fd = -1};
    int r;

    tmp_name(f.name, sizeof(f.name), ".part");
    f.fd = openat(s->tmp, f.name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (f.fd < 0)
        return -errno;
    if (expect > 0) {
        r = posix_fallocate(f.fd, 0, (off_t)expect);
        /* Filesystems without fallocate (EOPNOTSUPP) still work; only a full disk is fatal. */
        if (r == ENOSPC || r == EDQUOT) {
            gw_spool_file_abort(s, &f);
            return -ENOSPC;
        }
    }
    f.md = EVP_MD_CTX_new();
    if (!f.md || EVP_DigestInit_ex(f.md, EVP_sha256(), NULL) != 1) {
        gw_spool_file_abort(s, &f);
        return -ENOMEM;
    }
    *ret = f;
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int gw_spool_file_write(struct gw_spool_file *f, const void *buf, size_t len)
{
    int r = write_all(f->fd, buf, len);

    if (r < 0)
        return r;
    if (EVP_DigestUpdate(f->md, buf, len) != 1)
        return -ENOMEM;
    f->bytes += len;
    return 0;
}

void gw_spool_file_abort(struct gw_spool *s, struct gw_spool_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        unlinkat(s->tmp, f->name, 0);
    }
    f->fd = -1;
    EVP_MD_CTX_free(f->md);
    f->md = NULL;
}

static int read_small(int dfd, const char *name, char *buf, size_t cap, size_t *ret_len)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    size_t len = 0;

    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;

            close(fd);
            return e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            close(fd);
            return -EFBIG;
        }
    }
    close(fd);
    *ret_len = len;
    return 0;
}

static int load_receipt(int dfd, const char *photo_id, struct gw_receipt *ret)
{
    char name[64], buf[RECEIPT_MAX];
    size_t len = 0;
    int r;

    snprintf(name, sizeof(name), "%s.json", photo_id);
    r = read_small(dfd, name, buf, sizeof(buf), &len);
    if (r < 0)
        return r;
    return gw_receipt_parse(buf, len, ret);
}

int gw_spool_receipt_load(struct gw_spool *s, const char *photo_id, struct gw_receipt *ret)
{
    return load_receipt(s->receipts, photo_id, ret);
}

int gw_spool_pending_load(struct gw_spool *s, const char *photo_id, struct gw_receipt *ret)
{
    return load_receipt(s->pending, photo_id, ret);
}

/* Writes |len| bytes durably to a new file in tmp/ whose name goes to |name|. */
static int write_tmp(struct gw_spool *s, const void *buf, size_t len, const char *suffix,
                     char *name, size_t cap)
{
    int fd, r;

    tmp_name(name, cap, suffix);
    fd = openat(s->tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    r = write_all(fd, buf, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    close(fd);
    if (r < 0)
        unlinkat(s->tmp, name, 0);
    return r;
}

/* Links the pending receipt |name| into receipts/; an existing entry is the same receipt. */
static int link_receipt(struct gw_spool *s, const char *name)
{
    if (linkat(s->pending, name, s->receipts, name, 0) < 0 && errno != EEXIST)
        return -errno;
    return sync_dir(s->receipts);
}

/* Signs |r| with the spool's key. */
static int sign_receipt(struct gw_spool *s, struct gw_receipt *r)
{
    char text[GW_RECEIPT_TEXT_MAX];
    uint8_t sig[GW_KEY_SIG_LEN];
    size_t n = gw_receipt_text(r, text, sizeof(text));
    int e = gw_key_sign(s->key, text, n, sig);

    if (e < 0)
        return e;
    gw_b64_encode(sig, sizeof(sig), r->signature);
    memcpy(r->gateway_key, s->key->fingerprint, sizeof(r->gateway_key));
    return 0;
}

/* Writes receipt |r| into pending/ (the commit point) and receipts/. */
static int write_receipt(struct gw_spool *s, struct gw_receipt *r, bool *ret_existed)
{
    char name[64], tmp[40], *json;
    size_t json_len;
    int e;

    json = gw_receipt_json(r, "received", &json_len);
    if (!json)
        return -ENOMEM;
    e = write_tmp(s, json, json_len, ".json", tmp, sizeof(tmp));
    free(json);
    if (e < 0)
        return e;
    snprintf(name, sizeof(name), "%s.json", r->photo_id);
    /* A concurrent upload of the same bytes (no ledger to serialise them) loses the race here
     * with EEXIST and answers with the winner's receipt. */
    if (linkat(s->tmp, tmp, s->pending, name, 0) < 0) {
        e = -errno;
        unlinkat(s->tmp, tmp, 0);
        if (e != -EEXIST)
            return e;
        *ret_existed = true;
        e = sync_dir(s->pending);
        if (e < 0)
            return e;
        /* The winner links receipts/ right after pending/, and ingest may already have removed
         * the pending entry: look in receipts/ first. */
        if (gw_spool_receipt_load(s, r->photo_id, r) == 0)
            return 0;
        e = gw_spool_pending_load(s, r->photo_id, r);
        if (e == 0)
            e = link_receipt(s, name);
        else if (e == -ENOENT)
            e = gw_spool_receipt_load(s, r->photo_id, r);
        return e;
    }
    unlinkat(s->tmp, tmp, 0);
    e = sync_dir(s->pending);
    if (e < 0)
        return e;
    /* And into receipts/, which outlives the pending entry. */
    return link_receipt(s, name);
}

int gw_spool_receipt_with_verdict(struct gw_spool *s, const char *photo_id,
                                  const struct gw_receipt_legibility *l, char **ret_json,
                                  size_t *ret_len)
{
    struct gw_receipt r;
    char *json;
    int e;

    if (!s->key)
        return -EINVAL;
    e = gw_spool_receipt_load(s, photo_id, &r);
    if (e < 0)
        return e;
    r.legibility = *l;
    r.legibility.present = true;
    e = sign_receipt(s, &r);
    if (e < 0)
        return e;
    json = gw_receipt_json(&r, "received", ret_len);
    if (!json)
        return -ENOMEM;
    *ret_json = json;
    return 0;
}

/*
 * The ledger's last entry, for |photo_id|, got no receipt (a full disk, say): unless the receipt
 * reached pending/ after all (the commit point: then it stands), the entry is taken back, so that
 * the chain holds only photos with a receipt. Returns 0, or -EIO when it could not be taken back.
 */
static int drop_unreceipted(struct gw_spool *s, const char *photo_id)
{
    char name[64];

    snprintf(name, sizeof(name), "%s.json", photo_id);
    if (faccessat(s->pending, name, F_OK, 0) == 0 || errno != ENOENT)
        return 0;
    return gw_ledger_drop_last(s->ledger) < 0 ? -EIO : 0;
}

/* Keeps the request signature |sigrec| of |photo_id| in signatures/, replacing what an attempt
 * cut before its receipt left there. */
static int keep_signature(struct gw_spool *s, const char *photo_id, const char *sigrec)
{
    char name[64], tmp[40];
    int e = write_tmp(s, sigrec, strlen(sigrec), ".json", tmp, sizeof(tmp));

    if (e < 0)
        return e;
    snprintf(name, sizeof(name), "%s.json", photo_id);
    if (renameat(s->tmp, tmp, s->signatures, name) < 0) {
        e = -errno;
        unlinkat(s->tmp, tmp, 0);
        return e;
    }
    return sync_dir(s->signatures);
}

/*
 * Issues the receipt of a durable original: under the ledger lock when there is a ledger, so
 * that the ledger order is the commit order and one photo gets one entry. The signature record
 * |sigrec| (may be NULL) is kept first, by the upload that gets the receipt.
 */
static int issue_receipt(struct gw_spool *s, struct gw_receipt *r, const char *sigrec,
                         bool *ret_existed)
{
    struct gw_ledger_entry entry;
    struct timespec now;
    char name[64];
    int e;

    if (gw_spool_receipt_load(s, r->photo_id, r) == 0) {
        *ret_existed = true;
        return 0;
    }
    if (s->ledger && gw_spool_pending_load(s, r->photo_id, r) == 0) {
        *ret_existed = true;
        snprintf(name, sizeof(name), "%s.json", r->photo_id);
        return link_receipt(s, name);
    }
    if (sigrec && (e = keep_signature(s, r->photo_id, sigrec)) < 0)
        return e;
    clock_gettime(CLOCK_REALTIME, &now);
    gw_rfc3339(&now, r->received_at);
    if (s->ledger) {
        memset(&entry, 0, sizeof(entry));
        memcpy(entry.photo_id, r->photo_id, sizeof(entry.photo_id));
        memcpy(entry.clave, r->clave, sizeof(entry.clave));
        snprintf(entry.device, sizeof(entry.device), "%s", r->device);
        memcpy(entry.sha256, r->sha256, sizeof(entry.sha256));
        entry.bytes = r->bytes;
        entry.width = r->width;
        entry.height = r->height;
        memcpy(entry.time, r->received_at, sizeof(entry.time));
        e = gw_ledger_append(s->ledger, &entry);
        if (e < 0)
            return e;
        r->ledger_seq = entry.seq;
        memcpy(r->ledger_prev, entry.prev, sizeof(r->ledger_prev));
        memcpy(r->ledger_hash, entry.hash, sizeof(r->ledger_hash));
        e = sign_receipt(s, r);
        if (e == 0)
            e = write_receipt(s, r, ret_existed);
        if (e < 0 && drop_unreceipted(s, r->photo_id) < 0)
            return -EIO;
        return e;
    }
    return write_receipt(s, r, ret_existed);
}

int gw_spool_attach_ledger(struct gw_spool *s, struct gw_ledger *l, const struct gw_key *key)
{
    const struct gw_ledger_entry *last = &l->last;
    struct gw_receipt r;
    bool existed = false;
    int e = gw_ledger_open(l, s->root);

    if (e < 0)
        return e;
    s->ledger = l;
    s->key = key;
    if (last->seq == 0 || gw_spool_receipt_load(s, last->photo_id, &r) == 0 ||
        gw_spool_pending_load(s, last->photo_id, &r) == 0)
        return 0;
    /* The last entry was appended but its receipt was not written: the original is durable
     * (it is renamed into place before the ledger append), so finish the commit now. */
    memset(&r, 0, sizeof(r));
    memcpy(r.photo_id, last->photo_id, sizeof(r.photo_id));
    memcpy(r.clave, last->clave, sizeof(r.clave));
    memcpy(r.sha256, last->sha256, sizeof(r.sha256));
    snprintf(r.device, sizeof(r.device), "%s", last->device);
    r.bytes = last->bytes;
    r.width = last->width;
    r.height = last->height;
    memcpy(r.received_at, last->time, sizeof(r.received_at));
    r.ledger_seq = last->seq;
    memcpy(r.ledger_prev, last->prev, sizeof(r.ledger_prev));
    memcpy(r.ledger_hash, last->hash, sizeof(r.ledger_hash));
    e = sign_receipt(s, &r);
    if (e == 0)
        e = write_receipt(s, &r, &existed);
    /* No room for it (a full disk): the entry goes instead, and the gateway starts all the same,
     * refusing uploads with 503 until there is room. */
    return e < 0 ? drop_unreceipted(s, r.photo_id) : 0;
}

int gw_spool_commit(struct gw_spool *s, struct gw_spool_file *f, const uint8_t *expect_sha,
                    struct gw_receipt *r, bool *ret_existed)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char orig[80];
    const char *sigrec = f->sigrec;
    int e;

    *ret_existed = false;
    if (fsync(f->fd) < 0) {
        e = -errno;
        gw_spool_file_abort(s, f);
        return e;
    }
    if (EVP_DigestFinal_ex(f->md, md, &mdlen) != 1) {
        gw_spool_file_abort(s, f);
        return -ENOMEM;
    }
    if (expect_sha && memcmp(md, expect_sha, 32) != 0) {
        gw_spool_file_abort(s, f);
        return -EBADMSG;
    }
    gw_hex(md, 32, r->sha256);
    r->bytes = f->bytes;
    e = gw_photo_id(r->clave, r->sha256, r->photo_id);
    if (e < 0) {
        gw_spool_file_abort(s, f);
        return e;
    }

    /* A retry of an upload we already acknowledged: answer with the first receipt. */
    if (gw_spool_receipt_load(s, r->photo_id, r) == 0) {
        gw_spool_file_abort(s, f);
        *ret_existed = true;
        return 0;
    }

    /* 1. The bytes, content-addressed. The same bytes under another clave share the file. */
    snprintf(orig, sizeof(orig), "%s.jpg", r->sha256);
    if (faccessat(s->originals, orig, F_OK, 0) == 0) {
        gw_spool_file_abort(s, f);
    } else {
        if (renameat(s->tmp, f->name, s->originals, orig) < 0) {
            e = -errno;
            gw_spool_file_abort(s, f);
            return e;
        }
        close(f->fd);
        f->fd = -1;
        EVP_MD_CTX_free(f->md);
        f->md = NULL;
    }
    e = sync_dir(s->originals);
    if (e < 0)
        return e;

    if (!r->device[0])
        snprintf(r->device, sizeof(r->device), "%s", "open-upload");
    if (s->ledger) {
        gw_ledger_lock(s->ledger);
        e = issue_receipt(s, r, sigrec, ret_existed);
        gw_ledger_unlock(s->ledger);
        return e;
    }
    return issue_receipt(s, r, sigrec, ret_existed);
}

int gw_spool_pending_list(struct gw_spool *s, char ***ret_ids)
{
    int fd = dup(s->pending);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    char **ids = NULL;
    size_t n = 0, cap = 0;

    if (!d) {
        int err = -errno;

        if (fd >= 0)
            close(fd);
        return err;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len != GW_PHOTO_ID_LEN + 5 || strcmp(e->d_name + GW_PHOTO_ID_LEN, ".json") != 0 ||
            !gw_photo_id_valid(e->d_name, GW_PHOTO_ID_LEN))
            continue;
        /* A crash between the commit point and the receipts/ link: finish the link now. */
        link_receipt(s, e->d_name);
        if (n + 2 > cap) {
            char **grown;

            cap = cap ? cap * 2 : 64;
            grown = realloc(ids, cap * sizeof(*ids));
            if (!grown)
                goto oom;
            ids = grown;
        }
        ids[n] = strndup(e->d_name, GW_PHOTO_ID_LEN);
        if (!ids[n])
            goto oom;
        ids[++n] = NULL;
    }
    closedir(d);
    if (!ids) {
        ids = calloc(1, sizeof(*ids));
        if (!ids)
            return -ENOMEM;
    }
    *ret_ids = ids;
    return (int)n;
oom:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    return -ENOMEM;
}

int gw_spool_pending_done(struct gw_spool *s, const char *photo_id)
{
    char name[64];

    snprintf(name, sizeof(name), "%s.json", photo_id);
    /* No directory fsync: if the removal is lost in a crash, ingesting again is harmless. */
    if (unlinkat(s->pending, name, 0) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int gw_spool_original_read(struct gw_spool *s, const char *sha_hex, size_t max, uint8_t **ret_buf,
                           size_t *ret_len)
{
    char name[80];

    snprintf(name, sizeof(name), "%s.jpg", sha_hex);
    return gw_file_read_at(s->originals, name, max, ret_buf, ret_len);
}

int gw_spool_review_read(struct gw_spool *s, const char *sha_hex, size_t max, uint8_t **ret_buf,
                         size_t *ret_len)
{
    char name[80];

    snprintf(name, sizeof(name), "%s.webp", sha_hex);
    return gw_file_read_at(s->review, name, max, ret_buf, ret_len);
}

int gw_spool_review_write(struct gw_spool *s, const uint8_t *buf, size_t len, char *ret_sha)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char tmp[40], name[80];
    int e;

    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    gw_hex(md, 32, ret_sha);
    snprintf(name, sizeof(name), "%s.webp", ret_sha);
    if (faccessat(s->review, name, F_OK, 0) == 0)
        return 0;
    e = write_tmp(s, buf, len, ".webp", tmp, sizeof(tmp));
    if (e < 0)
        return e;
    if (renameat(s->tmp, tmp, s->review, name) < 0) {
        e = -errno;
        unlinkat(s->tmp, tmp, 0);
        return e;
    }
    return sync_dir(s->review);
}

int gw_spool_check_writable(struct gw_spool *s)
{
    char name[40];
    int e = write_tmp(s, "ready", 5, ".probe", name, sizeof(name));

    if (e == 0)
        unlinkat(s->tmp, name, 0);
    return e;
}

void gw_spool_usage(struct gw_spool *s, long long *ret_pending, long long *ret_free_bytes)
{
    /* A descriptor of its own: a dup() would share its directory offset with the ingest's. */
    int fd = openat(s->pending, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct statvfs v;
    struct dirent *e;
    long long n = 0;

    if (!d) {
        if (fd >= 0)
            close(fd);
        *ret_pending = -1;
    } else {
        while ((e = readdir(d)))
            n += strlen(e->d_name) == GW_PHOTO_ID_LEN + 5 &&
                 strcmp(e->d_name + GW_PHOTO_ID_LEN, ".json") == 0;
        closedir(d);
        *ret_pending = n;
    }
    *ret_free_bytes =
        fstatvfs(s->root, &v) == 0 ? (long long)v.f_bavail * (long long)v.f_frsize : -1;
}
