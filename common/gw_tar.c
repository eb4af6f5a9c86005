#include "gw_tar.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Offsets of the ustar header fields that a bundle uses. */
#define NAME 0
#define MODE 100
#define UID 108
#define GID 116
#define SIZE 124
#define MTIME 136
#define CHKSUM 148
#define TYPEFLAG 156
#define MAGIC 257
#define VERSION 263

static int reserve(struct gw_tar *t, size_t more)
{
    uint8_t *grown;
    size_t cap = t->cap ? t->cap : 65536;

    if (more > SIZE_MAX - t->len)
        return -ENOMEM;
    while (cap < t->len + more) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    if (cap == t->cap)
        return 0;
    grown = realloc(t->buf, cap);
    if (!grown)
        return -ENOMEM;
    t->buf = grown;
    t->cap = cap;
    return 0;
}

static unsigned header_sum(const uint8_t *h)
{
    unsigned sum = 0;

    for (int i = 0; i < GW_TAR_BLOCK; i++)
        sum += (i >= CHKSUM && i < CHKSUM + 8) ? ' ' : h[i];
    return sum;
}

static bool name_ok(const char *name, size_t n)
{
    if (n == 0 || n > GW_TAR_NAME_MAX || name[0] == '/' || strstr(name, "..") != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 0x7f)
            return false;
    return true;
}

int gw_tar_add(struct gw_tar *t, const char *name, const void *data, size_t len, int64_t mtime)
{
    size_t n = strlen(name), padded = (len + GW_TAR_BLOCK - 1) / GW_TAR_BLOCK * GW_TAR_BLOCK;
    uint8_t *h;
    int e;

    if (!name_ok(name, n) || (uint64_t)len > 077777777777ull || mtime < 0 ||
        (uint64_t)mtime > 077777777777ull)
        return -EINVAL;
    e = reserve(t, GW_TAR_BLOCK + padded);
    if (e < 0)
        return e;
    h = t->buf + t->len;
    memset(h, 0, GW_TAR_BLOCK + padded);
    memcpy(h + NAME, name, n);
    memcpy(h + MODE, "0000644", 8);
    memcpy(h + UID, "0000000", 8);
    memcpy(h + GID, "0000000", 8);
    snprintf((char *)h + SIZE, 12, "%011llo", (unsigned long long)len);
    snprintf((char *)h + MTIME, 12, "%011llo", (unsigned long long)mtime);
    h[TYPEFLAG] = '0';
    memcpy(h + MAGIC, "ustar", 6);
    memcpy(h + VERSION, "00", 2);
    snprintf((char *)h + CHKSUM, 8, "%06o", header_sum(h));
    h[CHKSUM + 7] = ' ';
    if (len)
        memcpy(h + GW_TAR_BLOCK, data, len);
    t->len += GW_TAR_BLOCK + padded;
    return 0;
}

int gw_tar_finish(struct gw_tar *t)
{
    int e = reserve(t, 2 * GW_TAR_BLOCK);

    if (e < 0)
        return e;
    memset(t->buf + t->len, 0, 2 * GW_TAR_BLOCK);
    t->len += 2 * GW_TAR_BLOCK;
    return 0;
}

void gw_tar_free(struct gw_tar *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* An octal field of |width| bytes: |width - 1| digits and a NUL, as gw_tar_add() writes it. */
static bool octal(const uint8_t *p, size_t width, uint64_t *ret)
{
    uint64_t v = 0;

    for (size_t i = 0; i + 1 < width; i++) {
        if (p[i] < '0' || p[i] > '7')
            return false;
        v = v * 8 + (uint64_t)(p[i] - '0');
    }
    if (p[width - 1] != '\0')
        return false;
    *ret = v;
    return true;
}

static const char *check_header(const uint8_t *h, uint64_t *ret_size)
{
    uint64_t sum = 0, v = 0;
    size_t n = strnlen((const char *)h + NAME, 100);

    if (!octal(h + CHKSUM, 7, &sum) || h[CHKSUM + 7] != ' ' || sum != header_sum(h))
        return "a member header's checksum does not match";
    if (n > GW_TAR_NAME_MAX || !name_ok((const char *)h + NAME, n) ||
        !all_zero(h + NAME + n, 100 - n))
        return "a member name is not a plain relative name";
    if (memcmp(h + MODE, "0000644", 8) != 0 || memcmp(h + UID, "0000000", 8) != 0 ||
        memcmp(h + GID, "0000000", 8) != 0 || h[TYPEFLAG] != '0' ||
        memcmp(h + MAGIC, "ustar", 6) != 0 || memcmp(h + VERSION, "00", 2) != 0)
        return "a member header is not the ustar regular file a bundle holds";
    if (!octal(h + MTIME, 12, &v) || !octal(h + SIZE, 12, ret_size))
        return "a member header has a malformed size or time";
    /* linkname, uname, gname, devices, prefix and the rest: all unused, all zero. */
    if (!all_zero(h + TYPEFLAG + 1, MAGIC - TYPEFLAG - 1) ||
        !all_zero(h + VERSION + 2, GW_TAR_BLOCK - VERSION - 2))
        return "a member header has fields a bundle does not use";
    return NULL;
}

int gw_tar_read(const uint8_t *buf, size_t len, struct gw_tar_member *ret, size_t max,
                size_t *ret_n, int *ret_at, const char **ret_why)
{
    size_t off = 0, n = 0;

    *ret_at = -1;
    for (;;) {
        const uint8_t *h = buf + off;
        uint64_t size = 0;
        size_t padded;

        if (len - off < GW_TAR_BLOCK) {
            *ret_why = "the archive ends without its end-of-archive blocks (truncated?)";
            return -EINVAL;
        }
        if (all_zero(h, GW_TAR_BLOCK)) {
            if (len - off < 2 * GW_TAR_BLOCK || !all_zero(h + GW_TAR_BLOCK, GW_TAR_BLOCK)) {
                *ret_why = "the archive's end-of-archive blocks are damaged";
                return -EINVAL;
            }
            /* Zero padding after the end (tar's record size) is tolerated, nothing else. */
            if (!all_zero(h + 2 * GW_TAR_BLOCK, len - off - 2 * GW_TAR_BLOCK)) {
                *ret_why = "the archive has bytes after its end";
                return -EINVAL;
            }
            break;
        }
        *ret_at = (int)n;
        *ret_why = check_header(h, &size);
        if (*ret_why)
            return -EINVAL;
        if (n == max) {
            *ret_why = "the archive has too many members";
            return -EINVAL;
        }
        if (size > len - off - GW_TAR_BLOCK) {
            *ret_why = "a member is longer than the archive (truncated?)";
            return -EINVAL;
        }
        padded = ((size_t)size + GW_TAR_BLOCK - 1) / GW_TAR_BLOCK * GW_TAR_BLOCK;
        if (padded > len - off - GW_TAR_BLOCK ||
            !all_zero(h + GW_TAR_BLOCK + size, padded - (size_t)size)) {
            *ret_why = "a member's padding is not zero";
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(ret[i].name, (const char *)h) == 0) {
                *ret_why = "the archive holds a member twice";
                return -EINVAL;
            }
        }
        memcpy(ret[n].name, h, strnlen((const char *)h, GW_TAR_NAME_MAX) + 1);
        ret[n].name[GW_TAR_NAME_MAX] = '\0';
        ret[n].data = h + GW_TAR_BLOCK;
        ret[n].len = (size_t)size;
        n++;
        off += GW_TAR_BLOCK + padded;
    }
    *ret_at = -1;
    *ret_n = n;
    return 0;
}
