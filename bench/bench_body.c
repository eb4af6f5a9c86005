/* bench_body: distinct upload bodies from a pool of photos (see bench_body.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_body.h"
#include "gw_receipt.h"
#include "gw_sig.h"

int bench_body_load(const char *file, uint8_t **ret, size_t *ret_len)
{
    struct stat st;
    uint8_t *buf;
    size_t have = 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC), e;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        e = errno ? -errno : -EINVAL;
        close(fd);
        return e;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (have < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + have, (size_t)st.st_size - have);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            e = k < 0 ? -errno : -EIO;
            free(buf);
            close(fd);
            return e;
        }
        have += (size_t)k;
    }
    close(fd);
    *ret = buf;
    *ret_len = have;
    return 0;
}

/* Where the COM segment goes: after SOI and the APPn segments (FFE0-FFEF) that follow it. */
static int insert_at(const uint8_t *src, size_t n, size_t *ret)
{
    size_t pos = 2;

    if (n < 4 || src[0] != 0xFF || src[1] != 0xD8)
        return -EINVAL;
    while (pos + 4 <= n && src[pos] == 0xFF && src[pos + 1] >= 0xE0 && src[pos + 1] <= 0xEF) {
        size_t seg = (size_t)src[pos + 2] << 8 | src[pos + 3];

        if (seg < 2 || pos + 2 + seg > n)
            return -EINVAL;
        pos += 2 + seg;
    }
    *ret = pos;
    return 0;
}

int bench_body_make(struct bench_body *b, const uint8_t *src, size_t n, uint64_t run, long i)
{
    char text[64];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    size_t at, tl, len;
    int e = insert_at(src, n, &at);

    if (e < 0)
        return e;
    tl = (size_t)snprintf(text, sizeof(text), "prep-bench run %016llx upload %ld",
                          (unsigned long long)run, i);
    len = n + 4 + tl;
    if (len > b->cap) {
        uint8_t *p = realloc(b->data, len);

        if (!p)
            return -ENOMEM;
        b->data = p;
        b->cap = len;
    }
    memcpy(b->data, src, at);
    b->data[at] = 0xFF;
    b->data[at + 1] = 0xFE;
    b->data[at + 2] = (uint8_t)((tl + 2) >> 8);
    b->data[at + 3] = (uint8_t)(tl + 2);
    memcpy(b->data + at + 4, text, tl);
    memcpy(b->data + at + 4 + tl, src + at, n - at);
    b->len = len;
    if (EVP_Digest(b->data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    memset(&b->photo, 0, sizeof(b->photo));
    b->photo.fd = -1;
    b->photo.size = len;
    gw_hex(md, 32, b->photo.sha_hex);
    gw_sig_digest_value(md, b->photo.digest, sizeof(b->photo.digest));
    snprintf(b->photo.length, sizeof(b->photo.length), "%zu", len);
    return 0;
}

void bench_body_finish(struct bench_body *b)
{
    free(b->data);
    *b = (struct bench_body){.photo.fd = -1};
}
