#include "gw_ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char genesis[GW_SHA256_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

size_t gw_ledger_text(const struct gw_ledger_entry *e, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "prep-casilla ledger v1\nseq=%llu\nprev=%s\nphoto_id=%s\nclave=%s\n"
                     "device=%s\nsha256=%s\nbytes=%llu\nwidth=%u\nheight=%u\ntime=%s\n",
                     (unsigned long long)e->seq, e->prev, e->photo_id, e->clave, e->device,
                     e->sha256, (unsigned long long)e->bytes, e->width, e->height, e->time);

    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

int gw_ledger_hash(struct gw_ledger_entry *e)
{
    char text[1024];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    size_t n = gw_ledger_text(e, text, sizeof(text));

    if (EVP_Digest(text, n, md, &mdlen, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    gw_hex(md, 32, e->hash);
    return 0;
}

char *gw_ledger_json(const struct gw_ledger_entry *e, size_t *ret_len)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:s}", "seq",
                          (json_int_t)e->seq, "prev", e->prev, "hash", e->hash, "photo_id",
                          e->photo_id, "clave_acta", e->clave, "device", e->device, "sha256",
                          e->sha256, "bytes", (json_int_t)e->bytes, "width", (int)e->width,
                          "height", (int)e->height, "time", e->time);
    char *s, *line;
    size_t n;

    if (!o)
        return NULL;
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return NULL;
    n = strlen(s);
    line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *ret_len = n + 1;
    return line;
}

static int get_str(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));

    if (!s || strlen(s) >= cap)
        return -EINVAL;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int get_uint(json_t *o, const char *key, uint64_t max, uint64_t *ret)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
        return -EINVAL;
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

int gw_ledger_parse(const char *buf, size_t len, struct gw_ledger_entry *ret)
{
    json_t *o = json_loadb(buf, len, 0, NULL);
    uint64_t w = 0, h = 0;
    int r = -EINVAL;

    if (!o)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    if (get_uint(o, "seq", INT64_MAX, &ret->seq) == 0 &&
        get_str(o, "prev", ret->prev, sizeof(ret->prev)) == 0 &&
        get_str(o, "hash", ret->hash, sizeof(ret->hash)) == 0 &&
        get_str(o, "photo_id", ret->photo_id, sizeof(ret->photo_id)) == 0 &&
        get_str(o, "clave_acta", ret->clave, sizeof(ret->clave)) == 0 &&
        get_str(o, "device", ret->device, sizeof(ret->device)) == 0 &&
        get_str(o, "sha256", ret->sha256, sizeof(ret->sha256)) == 0 &&
        get_uint(o, "bytes", INT64_MAX, &ret->bytes) == 0 &&
        get_uint(o, "width", UINT32_MAX, &w) == 0 && get_uint(o, "height", UINT32_MAX, &h) == 0 &&
        get_str(o, "time", ret->time, sizeof(ret->time)) == 0) {
        ret->width = (uint32_t)w;
        ret->height = (uint32_t)h;
        r = 0;
    }
    json_decref(o);
    return r;
}

const char *gw_ledger_check_link(const struct gw_ledger_entry *prev,
                                 const struct gw_ledger_entry *e)
{
    struct gw_ledger_entry copy = *e;

    if (e->seq != (prev ? prev->seq + 1 : 1))
        return "sequence number out of order";
    if (strcmp(e->prev, prev ? prev->hash : genesis) != 0)
        return "prev does not match the hash of the previous entry";
    if (gw_ledger_hash(&copy) < 0)
        return "out of memory";
    if (strcmp(copy.hash, e->hash) != 0)
        return "hash does not match the entry's fields";
    return NULL;
}

int gw_ledger_walk(int fd, struct gw_ledger_entry *ret_last, uint64_t *ret_good_len,
                   uint64_t *ret_bad_seq, const char **ret_why)
{
    struct gw_ledger_entry prev, cur;
    struct stat st;
    char *buf;
    size_t len = 0, start = 0;
    int n = 0;

    if (fstat(fd, &st) < 0)
        return -errno;
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return -ENOMEM;
    while (len < (size_t)st.st_size) {
        ssize_t got = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            free(buf);
            return got < 0 ? -errno : -EIO;
        }
        len += (size_t)got;
    }
    for (;;) {
        char *nl = memchr(buf + start, '\n', len - start);
        const char *why;

        if (!nl)
            break; /* nothing more, or a torn last line */
        if (gw_ledger_parse(buf + start, (size_t)(nl - (buf + start)), &cur) < 0) {
            why = "unreadable entry";
            cur.seq = n > 0 ? prev.seq + 1 : 1;
        } else {
            why = gw_ledger_check_link(n > 0 ? &prev : NULL, &cur);
        }
        if (why) {
            if (ret_bad_seq)
                *ret_bad_seq = cur.seq;
            if (ret_why)
                *ret_why = why;
            free(buf);
            return -EBADMSG;
        }
        prev = cur;
        n++;
        start = (size_t)(nl - buf) + 1;
    }
    free(buf);
    if (ret_last) {
        if (n > 0)
            *ret_last = prev;
        else
            memset(ret_last, 0, sizeof(*ret_last));
    }
    if (ret_good_len)
        *ret_good_len = start;
    return n;
}

int gw_ledger_open(struct gw_ledger *l, int dirfd)
{
    uint64_t good = 0;
    struct stat st;
    int n;

    l->fd = openat(dirfd, GW_LEDGER_FILE, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (l->fd < 0)
        return -errno;
    pthread_mutex_init(&l->mu, NULL);
    n = gw_ledger_walk(l->fd, &l->last, &good, NULL, NULL);
    if (n < 0)
        return n;
    if (fstat(l->fd, &st) < 0)
        return -errno;
    /* A line cut by a crash was never fsynced whole, so no receipt names it. */
    if ((uint64_t)st.st_size != good && (ftruncate(l->fd, (off_t)good) < 0 || fsync(l->fd) < 0))
        return -errno;
    l->size = good;
    if (l->last.seq == 0)
        memcpy(l->last.hash, genesis, sizeof(genesis));
    return 0;
}

void gw_ledger_close(struct gw_ledger *l)
{
    if (l->fd >= 0) {
        close(l->fd);
        pthread_mutex_destroy(&l->mu);
    }
    l->fd = -1;
}

void gw_ledger_lock(struct gw_ledger *l)
{
    pthread_mutex_lock(&l->mu);
}

void gw_ledger_unlock(struct gw_ledger *l)
{
    pthread_mutex_unlock(&l->mu);
}

int gw_ledger_append(struct gw_ledger *l, struct gw_ledger_entry *e)
{
    char *line;
    size_t len = 0, off = 0;
    int r;

    e->seq = l->last.seq + 1;
    memcpy(e->prev, l->last.hash, sizeof(e->prev));
    r = gw_ledger_hash(e);
    if (r < 0)
        return r;
    line = gw_ledger_json(e, &len);
    if (!line)
        return -ENOMEM;
    while (off < len) {
        ssize_t n = write(l->fd, line + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            free(line);
            /* Cut whatever part reached the file, so the next entry follows a whole line. */
            if (ftruncate(l->fd, (off_t)l->size) < 0)
                return -EIO;
            return r;
        }
        off += (size_t)n;
    }
    free(line);
    if (fdatasync(l->fd) < 0) {
        r = -errno;
        if (ftruncate(l->fd, (off_t)l->size) < 0)
            return -EIO;
        return r;
    }
    l->size += len;
    l->last = *e;
    return 0;
}

int gw_ledger_drop_last(struct gw_ledger *l)
{
    char *line, *got;
    size_t len = 0;
    uint64_t good = 0;
    int n, r = 0;

    if (l->last.seq == 0)
        return -EINVAL;
    /* The entry's line is what gw_ledger_json() makes of it: check it is the file's tail. */
    line = gw_ledger_json(&l->last, &len);
    if (!line)
        return -ENOMEM;
    got = len <= l->size ? malloc(len) : NULL;
    if (!got) {
        free(line);
        return len <= l->size ? -ENOMEM : -EINVAL;
    }
    if (pread(l->fd, got, len, (off_t)(l->size - len)) != (ssize_t)len ||
        memcmp(got, line, len) != 0)
        r = -EINVAL;
    free(got);
    free(line);
    if (r < 0)
        return r;
    if (ftruncate(l->fd, (off_t)(l->size - len)) < 0 || fdatasync(l->fd) < 0)
        return -errno;
    n = gw_ledger_walk(l->fd, &l->last, &good, NULL, NULL);
    if (n < 0)
        return n;
    l->size = good;
    if (l->last.seq == 0)
        memcpy(l->last.hash, genesis, sizeof(genesis));
    return 0;
}
