#include "gw_resume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw_file.h"
#include "gw_spool.h"

#define META_MAX 16384 /* with a signature record (GW_RESUME_SIGREC_MAX, escaped) */
#define SWEEP_EVERY_S 60

struct gw_resume_lease {
    struct gw_resume_lease *next;
    char token[GW_UPLOAD_TOKEN_LEN + 1];
    unsigned gen;       /* __atomic: bumped by each new hold, read under |io| by writers */
    unsigned refs;      /* under the registry's |mu| */
    pthread_mutex_t io; /* writes, offsets, completion and removal */
};

struct gw_resumes {
    struct gw_spool *spool;
    int dir; /* spool/uploads */
    uint32_t max_age;
    pthread_mutex_t mu; /* |leases|, and the sweeper against new holds */
    struct gw_resume_lease *leases;
    pthread_cond_t cond;
    bool stop, started;
    pthread_t sweeper;
};

static int64_t now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

bool gw_resume_token_valid(const char *s, size_t len)
{
    if (len != GW_UPLOAD_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* ---- the registry of holds ---- */

static struct gw_resume_lease *lease_find(struct gw_resumes *rs, const char *token)
{
    for (struct gw_resume_lease *l = rs->leases; l; l = l->next)
        if (strcmp(l->token, token) == 0)
            return l;
    return NULL;
}

/* A new hold on |token|: from now on, older holds can no longer write. */
static struct gw_resume_lease *lease_get(struct gw_resumes *rs, const char *token, unsigned *gen)
{
    struct gw_resume_lease *l;

    pthread_mutex_lock(&rs->mu);
    l = lease_find(rs, token);
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l) {
            pthread_mutex_unlock(&rs->mu);
            return NULL;
        }
        memcpy(l->token, token, sizeof(l->token));
        pthread_mutex_init(&l->io, NULL);
        l->next = rs->leases;
        rs->leases = l;
    }
    l->refs++;
    *gen = __atomic_add_fetch(&l->gen, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&rs->mu);
    return l;
}

static void lease_put(struct gw_resumes *rs, struct gw_resume_lease *l)
{
    pthread_mutex_lock(&rs->mu);
    if (--l->refs == 0) {
        struct gw_resume_lease **p = &rs->leases;

        while (*p != l)
            p = &(*p)->next;
        *p = l->next;
        pthread_mutex_destroy(&l->io);
        free(l);
    }
    pthread_mutex_unlock(&rs->mu);
}

/* Locks the held upload for I/O; fails when a newer hold took it over. */
static int hold_lock(struct gw_resume_hold *h)
{
    pthread_mutex_lock(&h->lease->io);
    if (__atomic_load_n(&h->lease->gen, __ATOMIC_SEQ_CST) != h->gen) {
        pthread_mutex_unlock(&h->lease->io);
        return -ESTALE;
    }
    return 0;
}

static void hold_unlock(struct gw_resume_hold *h)
{
    pthread_mutex_unlock(&h->lease->io);
}

/* ---- the files ---- */

static void file_name(char *buf, size_t cap, const char *token, const char *suffix)
{
    snprintf(buf, cap, "%s%s", token, suffix);
}

static int write_all_at(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int meta_save(struct gw_resumes *rs, const struct gw_resume_meta *m)
{
    char tmp[64], name[64], sha[GW_SHA256_HEX_LEN + 1];
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:b}", "token", m->token, "clave", m->clave, "device",
                  m->device, "created", (json_int_t)m->created, "complete", m->complete);
    char *text;
    int fd, e;

    if (!o)
        return -ENOMEM;
    if (m->has_sha) {
        gw_hex(m->sha, 32, sha);
        json_object_set_new(o, "sha256", json_string(sha));
    }
    if (m->has_length)
        json_object_set_new(o, "length", json_integer((json_int_t)m->length));
    if (m->complete)
        json_object_set_new(o, "photo_id", json_string(m->photo_id));
    if (m->sigrec[0])
        json_object_set_new(o, "signature_record", json_string(m->sigrec));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return -ENOMEM;
    file_name(tmp, sizeof(tmp), m->token, ".json.tmp");
    file_name(name, sizeof(name), m->token, ".json");
    fd = openat(rs->dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    e = fd < 0 ? -errno : write_all_at(fd, text, strlen(text), 0);
    free(text);
    if (e == 0 && fsync(fd) < 0)
        e = -errno;
    if (fd >= 0)
        close(fd);
    if (e == 0 && renameat(rs->dir, tmp, rs->dir, name) < 0)
        e = -errno;
    if (e == 0 && fsync(rs->dir) < 0)
        e = -errno;
    if (e < 0)
        unlinkat(rs->dir, tmp, 0);
    return e;
}

static int unhex32(const char *hex, uint8_t *out)
{
    for (int i = 0; i < 32; i++) {
        unsigned v;

        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        out[i] = (uint8_t)v;
    }
    return 0;
}

static int meta_load(struct gw_resumes *rs, const char *token, struct gw_resume_meta *m)
{
    char name[64];
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *o, *v;
    const char *clave, *device, *sha, *photo, *sigrec;
    int e;

    file_name(name, sizeof(name), token, ".json");
    e = gw_file_read_at(rs->dir, name, META_MAX, &buf, &len);
    if (e < 0)
        return e;
    o = json_loadb((const char *)buf, len, 0, NULL);
    free(buf);
    clave = json_string_value(json_object_get(o, "clave"));
    device = json_string_value(json_object_get(o, "device"));
    sha = json_string_value(json_object_get(o, "sha256"));
    photo = json_string_value(json_object_get(o, "photo_id"));
    sigrec = json_string_value(json_object_get(o, "signature_record"));
    memset(m, 0, sizeof(*m));
    e = -EBADMSG; /* a state file this code did not write: the upload is lost */
    if (!clave || !device || strlen(clave) >= sizeof(m->clave) ||
        strlen(device) >= sizeof(m->device) || (sha && strlen(sha) != GW_SHA256_HEX_LEN) ||
        (sigrec && strlen(sigrec) >= sizeof(m->sigrec)))
        goto out;
    if (sigrec)
        memcpy(m->sigrec, sigrec, strlen(sigrec) + 1);
    memcpy(m->token, token, sizeof(m->token));
    snprintf(m->clave, sizeof(m->clave), "%s", clave);
    snprintf(m->device, sizeof(m->device), "%s", device);
    m->has_sha = sha && unhex32(sha, m->sha) == 0;
    v = json_object_get(o, "length");
    m->has_length = json_is_integer(v) && json_integer_value(v) >= 0;
    m->length = m->has_length ? (uint64_t)json_integer_value(v) : 0;
    m->created = (int64_t)json_integer_value(json_object_get(o, "created"));
    m->complete = json_is_true(json_object_get(o, "complete"));
    if (m->complete && (!photo || strlen(photo) != GW_PHOTO_ID_LEN))
        goto out;
    if (photo && strlen(photo) == GW_PHOTO_ID_LEN)
        memcpy(m->photo_id, photo, sizeof(m->photo_id));
    e = 0;
out:
    json_decref(o);
    return e;
}

/* Removes both files of |token|. Called with the upload's lock held, or by the sweeper. */
static int remove_files(struct gw_resumes *rs, const char *token)
{
    char name[64];
    int e = 0;

    file_name(name, sizeof(name), token, ".part");
    if (unlinkat(rs->dir, name, 0) < 0 && errno != ENOENT)
        e = -errno;
    file_name(name, sizeof(name), token, ".json");
    if (unlinkat(rs->dir, name, 0) < 0 && errno != ENOENT && e == 0)
        e = -errno;
    if (fsync(rs->dir) < 0 && e == 0)
        e = -errno;
    return e;
}

static bool expired(const struct gw_resumes *rs, const struct gw_resume_meta *m, int64_t now)
{
    return now >= m->created + (int64_t)rs->max_age;
}

uint32_t gw_resume_max_age(const struct gw_resumes *rs, const struct gw_resume_meta *m)
{
    int64_t left = m->created + (int64_t)rs->max_age - now_s();

    return left > 0 ? (uint32_t)left : 0;
}

/* ---- the operations ---- */

int gw_resume_create(struct gw_resumes *rs, struct gw_resume_meta *m, struct gw_resume_hold *h)
{
    uint8_t rnd[GW_UPLOAD_TOKEN_LEN / 2];
    char name[64];
    int fd, e;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -EAGAIN;
    gw_hex(rnd, sizeof(rnd), m->token);
    m->created = now_s();
    m->complete = false;
    h->fd = -1;
    h->lease = lease_get(rs, m->token, &h->gen);
    if (!h->lease)
        return -ENOMEM;
    file_name(name, sizeof(name), m->token, ".part");
    fd = openat(rs->dir, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        e = -errno;
        goto fail;
    }
    /* Reserve the space without changing the size, which is the offset. */
    if (m->has_length && m->length > 0 &&
        fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)m->length) < 0 &&
        (errno == ENOSPC || errno == EDQUOT)) {
        e = -ENOSPC;
        goto fail;
    }
    e = meta_save(rs, m);
    if (e < 0)
        goto fail;
    h->fd = fd;
    return 0;
fail:
    if (fd >= 0) {
        close(fd);
        unlinkat(rs->dir, name, 0);
    }
    lease_put(rs, h->lease);
    h->lease = NULL;
    return e;
}

int gw_resume_take(struct gw_resumes *rs, const char *token, struct gw_resume_meta *m,
                   struct gw_resume_hold *h, uint64_t *ret_offset)
{
    char name[64];
    struct stat st;
    int e;

    h->fd = -1;
    *ret_offset = 0;
    h->lease = lease_get(rs, token, &h->gen);
    if (!h->lease)
        return -ENOMEM;
    /* Waits for a write of an older hold that is under way; later ones of it fail. */
    pthread_mutex_lock(&h->lease->io);
    e = meta_load(rs, token, m);
    if (e == 0 && expired(rs, m, now_s()))
        e = -EBADMSG;
    if (e == 0 && m->complete) {
        *ret_offset = m->length;
        goto out;
    }
    if (e == 0) {
        file_name(name, sizeof(name), token, ".part");
        h->fd = openat(rs->dir, name, O_RDWR | O_CLOEXEC);
        if (h->fd < 0)
            e = errno == ENOENT ? -EBADMSG : -errno;
    }
    if (e == 0 && (fdatasync(h->fd) < 0 || fstat(h->fd, &st) < 0))
        e = -errno;
    if (e == 0)
        *ret_offset = (uint64_t)st.st_size;
    if (e == -EBADMSG) {
        /* Expired, or part of its state is gone: the draft wants it deactivated. */
        remove_files(rs, token);
        e = -ENOENT;
    }
out:
    pthread_mutex_unlock(&h->lease->io);
    if (e < 0) {
        if (h->fd >= 0)
            close(h->fd);
        h->fd = -1;
        lease_put(rs, h->lease);
        h->lease = NULL;
    }
    return e;
}

int gw_resume_read(struct gw_resume_hold *h, uint64_t len,
                   int (*cb)(void *arg, const uint8_t *buf, size_t n), void *arg)
{
    uint8_t buf[65536];
    uint64_t off = 0;

    while (off < len) {
        size_t want = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
        ssize_t n = pread(h->fd, buf, want, (off_t)off);
        int e;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        e = cb(arg, buf, (size_t)n);
        if (e < 0)
            return e;
        off += (uint64_t)n;
    }
    return 0;
}

int gw_resume_write(struct gw_resume_hold *h, uint64_t offset, const void *buf, size_t len)
{
    int e = hold_lock(h);

    if (e < 0)
        return e;
    e = write_all_at(h->fd, buf, len, offset);
    hold_unlock(h);
    return e;
}

int gw_resume_sync(struct gw_resume_hold *h)
{
    int e = hold_lock(h);

    if (e < 0)
        return e;
    if (fdatasync(h->fd) < 0)
        e = -errno;
    hold_unlock(h);
    return e;
}

int gw_resume_save(struct gw_resumes *rs, struct gw_resume_hold *h, const struct gw_resume_meta *m)
{
    int e = hold_lock(h);

    if (e < 0)
        return e;
    e = meta_save(rs, m);
    hold_unlock(h);
    return e;
}

int gw_resume_complete(struct gw_resumes *rs, struct gw_resume_hold *h, struct gw_resume_meta *m,
                       struct gw_spool_file *f, int (*commit)(void *arg, struct gw_spool_file *f),
                       void *arg, const char *photo_id)
{
    uint8_t rnd[12];
    char part[64];
    int e = hold_lock(h);

    if (e < 0)
        return e;
    /* The spool commits from tmp/: a second name for the same bytes, so that the part file stays
     * until the state says complete, and a crash in between leaves an upload to complete again
     * (the spool then answers with the receipt it already issued). */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        e = -EAGAIN;
        goto out;
    }
    gw_hex(rnd, sizeof(rnd), f->name);
    strcat(f->name, ".part");
    file_name(part, sizeof(part), m->token, ".part");
    if (linkat(rs->dir, part, rs->spool->tmp, f->name, 0) < 0) {
        e = -errno;
        goto out;
    }
    f->fd = dup(h->fd);
    if (f->fd < 0) {
        e = -errno;
        unlinkat(rs->spool->tmp, f->name, 0);
        goto out;
    }
    e = commit(arg, f);
    if (e < 0)
        goto out;
    /* The photo is committed (its receipt issued) whatever follows. Should the state not be
     * saved (a full disk), the part stays and the upload still looks incomplete at its full
     * length: an empty completing append then gets the same receipt from the spool. */
    m->complete = true;
    snprintf(m->photo_id, sizeof(m->photo_id), "%s", photo_id);
    if (meta_save(rs, m) == 0)
        unlinkat(rs->dir, part, 0);
out:
    hold_unlock(h);
    return e;
}

int gw_resume_delete(struct gw_resumes *rs, struct gw_resume_hold *h)
{
    int e = hold_lock(h);

    if (e < 0)
        return e;
    e = remove_files(rs, h->lease->token);
    /* Any other hold is older (a newer one would have taken over): it can no longer write. */
    __atomic_add_fetch(&h->lease->gen, 1, __ATOMIC_SEQ_CST);
    hold_unlock(h);
    return e;
}

void gw_resume_drop(struct gw_resumes *rs, struct gw_resume_hold *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    if (h->lease)
        lease_put(rs, h->lease);
    h->lease = NULL;
}

/* ---- expiry ---- */

/* Removes what expired, and what a crash left half-made. Returns how many uploads went. */
static int sweep(struct gw_resumes *rs)
{
    int fd = dup(rs->dir), n = 0;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    int64_t now = now_s();

    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while ((e = readdir(d))) {
        char token[GW_UPLOAD_TOKEN_LEN + 1], name[64];
        const char *suffix = e->d_name + GW_UPLOAD_TOKEN_LEN;
        struct gw_resume_meta m;
        struct stat st;
        int r;

        if (strlen(e->d_name) <= GW_UPLOAD_TOKEN_LEN ||
            !gw_resume_token_valid(e->d_name, GW_UPLOAD_TOKEN_LEN))
            continue;
        memcpy(token, e->d_name, GW_UPLOAD_TOKEN_LEN);
        token[GW_UPLOAD_TOKEN_LEN] = '\0';
        pthread_mutex_lock(&rs->mu);
        if (lease_find(rs, token)) {
            pthread_mutex_unlock(&rs->mu);
            continue;
        }
        if (strcmp(suffix, ".json") == 0) {
            r = meta_load(rs, token, &m);
            if (r == -EBADMSG || (r == 0 && expired(rs, &m, now))) {
                remove_files(rs, token);
                n++;
            }
        } else if (strcmp(suffix, ".part") == 0 || strcmp(suffix, ".json.tmp") == 0) {
            /* A part without its state (a crash inside gw_resume_create()), or a state being
             * rewritten when a crash came: neither was ever acknowledged. */
            file_name(name, sizeof(name), token, ".json");
            if (fstatat(rs->dir, name, &st, 0) < 0 && errno == ENOENT)
                unlinkat(rs->dir, e->d_name, 0);
            else if (suffix[5] == '.')
                unlinkat(rs->dir, e->d_name, 0);
        }
        pthread_mutex_unlock(&rs->mu);
    }
    closedir(d);
    return n;
}

static void *sweeper_main(void *arg)
{
    struct gw_resumes *rs = arg;
    struct timespec until;

    pthread_mutex_lock(&rs->mu);
    while (!rs->stop) {
        pthread_mutex_unlock(&rs->mu);
        sweep(rs);
        pthread_mutex_lock(&rs->mu);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SWEEP_EVERY_S;
        while (!rs->stop && pthread_cond_timedwait(&rs->cond, &rs->mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&rs->mu);
    return NULL;
}

int gw_resumes_start(struct gw_spool *spool, uint32_t max_age_s, struct gw_resumes **ret)
{
    struct gw_resumes *rs = calloc(1, sizeof(*rs));
    int e;

    if (!rs)
        return -ENOMEM;
    rs->spool = spool;
    rs->dir = spool->uploads;
    rs->max_age = max_age_s;
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cond, NULL);
    e = pthread_create(&rs->sweeper, NULL, sweeper_main, rs);
    if (e) {
        gw_resumes_stop(rs);
        return -e;
    }
    rs->started = true;
    *ret = rs;
    return 0;
}

void gw_resumes_stop(struct gw_resumes *rs)
{
    if (!rs)
        return;
    if (rs->started) {
        pthread_mutex_lock(&rs->mu);
        rs->stop = true;
        pthread_cond_signal(&rs->cond);
        pthread_mutex_unlock(&rs->mu);
        pthread_join(rs->sweeper, NULL);
    }
    pthread_cond_destroy(&rs->cond);
    pthread_mutex_destroy(&rs->mu);
    free(rs);
}
