#include "bench_resume.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ATTEMPTS 3

/* The gateway's offset for |path| by HEAD, in |*ret|. */
static int head_offset(struct pu_h2_conn *c, const char *path, uint64_t size, uint64_t *ret,
                       char *why, size_t cap)
{
    struct pu_resume_fields f;
    struct pu_h2_request q;
    int e = 0;

    pu_resume_fields_init(&f);
    pu_resume_head_request(path, &q);
    q.on_header = pu_resume_on_header;
    q.header_arg = &f;
    if (pu_h2_submit(c, &q) < 0) {
        snprintf(why, cap, "resume: HEAD not submitted");
        return -EPROTO;
    }
    pu_h2_run(c);
    if (q.error != 0 || q.status != 204 || f.offset < 0 || (uint64_t)f.offset > size ||
        f.complete == 1) {
        snprintf(why, cap, "resume: HEAD answered %d%s", q.status,
                 q.error           ? " (connection lost)"
                 : f.complete == 1 ? " (already complete)"
                                   : "");
        e = -EPROTO;
    } else {
        *ret = (uint64_t)f.offset;
    }
    pu_h2_request_finish(&q);
    return e;
}

int bench_resume(const struct pu_url *url, const struct pu_h2_opts *o, const char *location,
                 const struct bench_resume_body *b, struct pu_h2_conn **conn,
                 struct bench_resume *ret, char *why, size_t cap)
{
    const char *bad;
    int e;

    if (!location[0]) {
        snprintf(why, cap, "resume: no upload resource (no 104 before the cut)");
        return -ENOENT;
    }
    bad = pu_resume_location_path(location, url, ret->path, sizeof(ret->path));
    if (bad) {
        snprintf(why, cap, "resume: Location refused: %s", bad);
        return -EINVAL;
    }
    for (int i = 0; i < ATTEMPTS; i++) {
        if (!*conn || !pu_h2_usable(*conn)) {
            pu_h2_conn_free(*conn);
            *conn = NULL;
            if (pu_h2_connect(url, o, conn, why, cap) < 0)
                return -ECONNREFUSED;
        }
        e = head_offset(*conn, ret->path, b->size, &ret->offset, why, cap);
        if (e < 0)
            return e;
        pu_resume_patch_request(ret->path, b->fd, ret->offset, b->size, &ret->hdrs, &ret->patch);
        if (b->fd < 0)
            ret->patch.body = b->data + ret->offset;
        if (pu_h2_submit(*conn, &ret->patch) < 0) {
            snprintf(why, cap, "resume: PATCH not submitted");
            return -EPROTO;
        }
        pu_h2_run(*conn);
        /* The offset moved under the HEAD (the cut connection's last write): ask again. */
        if (ret->patch.error != 0 || ret->patch.status != 409 || i + 1 == ATTEMPTS)
            return 0;
        pu_h2_request_finish(&ret->patch);
    }
    return 0;
}
