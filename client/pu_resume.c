#include "pu_resume.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw_sfv.h"

void pu_resume_fields_init(struct pu_resume_fields *f)
{
    memset(f, 0, sizeof(*f));
    f->offset = f->length = -1;
    f->complete = -1;
    f->max_size = f->max_age = -1;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace around [*v, *v + *len). */
static void trim(const char **v, size_t *len)
{
    while (*len > 0 && is_ows(**v)) {
        (*v)++;
        (*len)--;
    }
    while (*len > 0 && is_ows((*v)[*len - 1]))
        (*len)--;
}

/* An sf-integer Item, as a signed value for the fields' "absent" (-1). */
static int parse_uint(const char *v, size_t len, int64_t *ret)
{
    uint64_t n;

    if (gw_sfv_uint(v, len, &n) < 0)
        return -EINVAL;
    *ret = (int64_t)n; /* at most 15 digits */
    return 0;
}

/* The end of the dictionary member starting at |v|: the next comma outside a quoted string. */
static const char *member_end(const char *v, const char *end)
{
    bool quoted = false;

    for (; v < end; v++) {
        if (quoted && *v == '\\' && v + 1 < end)
            v++;
        else if (*v == '"')
            quoted = !quoted;
        else if (!quoted && *v == ',')
            return v;
    }
    return end;
}

static bool is_key_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || c == '*' ||
           (!first && ((c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'));
}

int pu_resume_parse_limit(const char *v, size_t len, int64_t *ret_max_size, int64_t *ret_max_age)
{
    const char *end = v + len;
    int64_t size = -1, age = -1;

    while (v < end) {
        const char *m = v, *me = member_end(v, end), *eq;
        size_t mlen = (size_t)(me - m), klen = 0;
        int64_t n;

        trim(&m, &mlen);
        while (klen < mlen && is_key_char(m[klen], klen == 0))
            klen++;
        if (klen == 0)
            return -EINVAL;
        eq = m + klen;
        /* A key alone (boolean true) or with parameters only: not one of ours. */
        if (klen < mlen && *eq != '=' && *eq != ';')
            return -EINVAL;
        if (klen < mlen && *eq == '=') {
            bool is_size = klen == 8 && memcmp(m, "max-size", 8) == 0;
            bool is_age = klen == 7 && memcmp(m, "max-age", 7) == 0;

            if ((is_size || is_age) && parse_uint(eq + 1, mlen - klen - 1, &n) == 0) {
                if (is_size)
                    size = n;
                else
                    age = n;
            } else if (is_size || is_age) {
                return -EINVAL;
            }
        }
        v = me < end ? me + 1 : end;
    }
    *ret_max_size = size;
    *ret_max_age = age;
    return 0;
}

void pu_resume_on_header(struct pu_h2_request *req, int status, const char *name, size_t namelen,
                         const char *value, size_t valuelen, void *arg)
{
    struct pu_resume_fields *f = arg;

#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)
    if (status == 104 && IS("location")) {
        if (valuelen < sizeof(f->location))
            memcpy(f->location, value, valuelen + 1);
        else
            f->location[0] = '\0';
    } else if (IS("upload-limit")) {
        pu_resume_parse_limit(value, valuelen, &f->max_size, &f->max_age);
    } else if (status < 200) {
        return;
    } else if (IS("upload-offset")) {
        if (parse_uint(value, valuelen, &f->offset) < 0)
            f->offset = -1;
    } else if (IS("upload-length")) {
        if (parse_uint(value, valuelen, &f->length) < 0)
            f->length = -1;
    } else if (IS("upload-complete")) {
        bool b;

        f->complete = gw_sfv_bool(value, valuelen, &b) == 0 ? b : -1;
    }
#undef IS
}

const char *pu_resume_location_path(const char *location, const struct pu_url *u, char *ret,
                                    size_t cap)
{
    const char *p = location, *scheme = u->tls ? "https://" : "http://";
    size_t n, alen = strlen(u->authority);

    for (const char *c = location; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return "the Location has spaces or control characters";
    if (strncasecmp(p, scheme, strlen(scheme)) == 0) {
        p += strlen(scheme);
        if (strncasecmp(p, u->authority, alen) != 0 || p[alen] != '/')
            return "the Location names another server";
        p += alen;
    } else if (p[0] != '/' || p[1] == '/') {
        return "the Location is not a path";
    }
    n = strcspn(p, "#");
    if (n >= cap)
        return "the Location is too long";
    memcpy(ret, p, n);
    ret[n] = '\0';
    return NULL;
}

void pu_resume_head_request(const char *path, struct pu_h2_request *ret)
{
    *ret = (struct pu_h2_request){.method = "HEAD", .path = path, .body_fd = -1};
}

void pu_resume_patch_request(const char *path, int fd, uint64_t offset, uint64_t size,
                             struct pu_resume_patch_hdrs *h, struct pu_h2_request *ret)
{
    snprintf(h->offset, sizeof(h->offset), "%llu", (unsigned long long)offset);
    snprintf(h->length, sizeof(h->length), "%llu", (unsigned long long)(size - offset));
    *ret = (struct pu_h2_request){
        .method = "PATCH",
        .path = path,
        .headers = {{"content-type", "application/partial-upload"},
                    {"upload-offset", h->offset},
                    {"upload-complete", "?1"},
                    {"content-length", h->length}},
        .nheaders = 4,
        .body_fd = fd,
        .body_offset = offset,
        .body_len = size - offset,
    };
}

void pu_resume_delete_request(const char *path, struct pu_h2_request *ret)
{
    *ret = (struct pu_h2_request){.method = "DELETE", .path = path, .body_fd = -1};
}
