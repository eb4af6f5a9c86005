#include "gw_static.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_error.h"
#include "gw_receipt.h"
#include "gw_app.h"
#include "gw_h2.h"

int gw_static_resolve(const char *path, size_t len, char *ret, size_t cap, const char **ret_why)
{
    size_t o = 0, seg = 0;

    if (len == 0 || path[0] != '/') {
        *ret_why = "the path must start with /";
        return -EINVAL;
    }
    for (size_t i = 1; i <= len; i++) {
        char c = i < len ? path[i] : '/';

        if (c == '/') {
            if (i - seg == 1 && i < len) {
                *ret_why = "empty path segment";
                return -EINVAL;
            }
            seg = i;
            if (i == len)
                break;
        } else if (c == '.' && i == seg + 1) {
            /* ".", "..", and hidden files alike. */
            *ret_why = "path segments may not start with a dot";
            return -EINVAL;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '-' || c == '_')) {
            *ret_why = "only letters, digits, '.', '-' and '_' are allowed in paths";
            return -EINVAL;
        }
        if (o + 1 >= cap)
            return -ENAMETOOLONG;
        if (i < len)
            ret[o++] = c;
    }
    if (len == 1 || path[len - 1] == '/') {
        static const char idx[] = "index.html";

        if (o + sizeof(idx) > cap)
            return -ENAMETOOLONG;
        memcpy(ret + o, idx, sizeof(idx));
        o += sizeof(idx) - 1;
    }
    ret[o] = '\0';
    return 0;
}

const char *gw_static_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);

        if (n > e && strcmp(name + n - e, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

struct static_job {
    struct gw_work work;
    struct gw_stream *s;
    char file[4096];
    char etag[GW_SHA256_HEX_LEN + 3];
    char client_etag[72];
    const char *ctype;
    uint8_t *body;
    size_t len;
    int status;
};

static void static_work(struct gw_work *w, void *thread_ctx)
{
    struct static_job *j = (struct static_job *)w;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    struct stat st;
    ssize_t got;
    size_t off = 0;
    int fd;

    (void)thread_ctx;
    j->status = 404;
    /* O_NOFOLLOW: a link inside the folder may not point outside it. */
    fd = open(j->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)GW_STATIC_MAX) {
        close(fd);
        return;
    }
    j->body = malloc((size_t)st.st_size + 1);
    while (j->body && off < (size_t)st.st_size) {
        got = read(fd, j->body + off, (size_t)st.st_size - off);
        if (got <= 0)
            break;
        off += (size_t)got;
    }
    close(fd);
    if (!j->body || off != (size_t)st.st_size) {
        j->status = 500;
        return;
    }
    j->len = off;
    EVP_Digest(j->body, j->len, md, &mdlen, EVP_sha256(), NULL);
    j->etag[0] = '"';
    gw_hex(md, 32, j->etag + 1);
    j->etag[GW_SHA256_HEX_LEN + 1] = '"';
    j->etag[GW_SHA256_HEX_LEN + 2] = '\0';
    j->status = strcmp(j->client_etag, j->etag) == 0 ? 304 : 200;
}

#define NV(n, v)                                                                                   \
    (nghttp2_nv)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v),                                      \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                           \
    }

static void static_done(struct gw_work *w)
{
    struct static_job *j = (struct static_job *)w;
    nghttp2_nv nv[7];
    size_t n = 0;

    if (w->cancelled || j->status == 500) {
        gw_stream_problem(j->s, GW_E_INTERNAL, "could not read the file");
    } else if (j->status == 404) {
        gw_stream_problem(j->s, GW_E_NOT_FOUND, "no such page");
    } else {
        nv[n++] = NV("etag", j->etag);
        nv[n++] = NV("cache-control", "no-cache");
        nv[n++] = NV("x-content-type-options", "nosniff");
        nv[n++] = NV("referrer-policy", "no-referrer");
        if (strncmp(j->ctype, "text/html", 9) == 0) {
            nv[n++] = NV("content-security-policy",
                         "default-src 'self'; img-src 'self' blob:; style-src 'self';"
                         " script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
            nv[n++] = NV("x-frame-options", "DENY");
        }
        if (j->status == 304) {
            gw_stream_respond(j->s, 304, NULL, NULL, 0, nv, n);
        } else {
            gw_stream_respond(j->s, 200, j->ctype, j->body, j->len, nv, n);
            j->body = NULL;
        }
    }
    free(j->body);
    gw_stream_unref(j->s);
    free(j);
}

void gw_static_serve(struct gw_stream *s, const char *root, const char *path, size_t len)
{
    char rel[1024];
    const char *why = NULL, *inm;
    struct static_job *j;

    if (!root || gw_static_resolve(path, len, rel, sizeof(rel), &why) < 0) {
        gw_stream_problem(s, GW_E_NOT_FOUND, why ? why : "no web application is configured");
        return;
    }
    j = calloc(1, sizeof(*j));
    if (!j) {
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return;
    }
    j->s = s;
    snprintf(j->file, sizeof(j->file), "%s/%s", root, rel);
    j->ctype = gw_static_content_type(rel);
    inm = gw_stream_header(s, "if-none-match", NULL);
    if (inm)
        snprintf(j->client_etag, sizeof(j->client_etag), "%s", inm);
    gw_stream_ref(s);
    gw_pool_submit(&s->worker->app->disk, &s->worker->loop, &j->work, static_work, static_done);
}
