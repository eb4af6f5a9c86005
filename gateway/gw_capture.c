#include "gw_capture.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_capture.h"
#include "gw_error.h"
#include "gw_h2.h"
#include "gw_receipt.h"
#include "gw_review.h"
#include "gw_review_job.h"

#define PREFIX "/v1/capture/"
#define PREFIX_LEN 12
#define FIGURE_MAX 100000

/* ---- pure parts ---- */

static bool is_uuid(const char *s)
{
    return s && strlen(s) == GW_PHOTO_ID_LEN && gw_photo_id_valid(s, GW_PHOTO_ID_LEN);
}

static bool figure_ok(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 && json_integer_value(v) <= FIGURE_MAX;
    return json_is_string(v) && (strcmp(json_string_value(v), "ilegible") == 0 ||
                                 strcmp(json_string_value(v), "sin_dato") == 0);
}

int gw_capture_figures_parse(const char *json, size_t len, char *ret_token, char **ret_figures,
                             const char **ret_why)
{
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *tok, *fig, *v;
    const char *key, *why = "the body must be a JSON object";
    char *out;
    int r = -EINVAL;

    if (!o || !json_is_object(o))
        goto out;
    tok = json_object_get(o, "lease_token");
    fig = json_object_get(o, "figures");
    why = "lease_token must be the UUID returned by the claim";
    if (!json_is_string(tok) || !is_uuid(json_string_value(tok)))
        goto out;
    why = "figures must be an object of at most 64 fields";
    if (!json_is_object(fig) || json_object_size(fig) == 0 ||
        json_object_size(fig) > GW_CAPTURE_FIELDS_MAX)
        goto out;
    why = "each figure is a whole number 0-100000, \"ilegible\" or \"sin_dato\"";
    json_object_foreach(fig, key, v)
    {
        if (!figure_ok(v))
            goto out;
    }
    out = json_dumps(fig, JSON_COMPACT | JSON_SORT_KEYS);
    if (!out) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(ret_token, json_string_value(tok), GW_PHOTO_ID_LEN + 1);
    *ret_figures = out;
    r = 0;
out:
    json_decref(o);
    if (r == -EINVAL)
        *ret_why = why;
    return r;
}

/* ---- the db pool side ---- */

static void fail(struct gw_review_job *j, int err, const char *detail)
{
    j->err = err;
    snprintf(j->detail, sizeof(j->detail), "%s", detail ? detail : "");
}

static void db_fail(struct gw_review_job *j, int r)
{
    if (r == -ENOMEM)
        fail(j, GW_E_INTERNAL, NULL);
    else
        fail(j, r == -EIO ? GW_E_UNAVAILABLE : GW_E_INTERNAL,
             r == -EIO ? "the database is unreachable; retry later" : "database error");
}

/* The refusals of an operation under a lease (figures, illegible, release). */
static bool lease_refused(struct gw_review_job *j, int r)
{
    if (r < 0)
        db_fail(j, r);
    else if (r == GW_DB_CAPTURE_NOT_FOUND)
        fail(j, GW_E_NOT_FOUND, "this photo is not in capture");
    else if (r == GW_DB_CAPTURE_DONE)
        fail(j, GW_E_ALREADY_CAPTURED,
             "this lease was used already, or the acta is no longer waiting for it; claim another");
    else if (r == GW_DB_CAPTURE_STALE)
        fail(j, GW_E_STALE_LEASE,
             "the lease token is not a current one of this user (expired, released or another's)");
    else
        return false;
    return true;
}

static void do_claim(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_capture_claim(pg, j->sess.user_id, j->lease_s, j->dispute, &j->out);

    if (r < 0)
        db_fail(j, r);
    else
        j->status = r == 0 ? 204 : 200;
}

static void do_figures(struct gw_review_job *j, PGconn *pg)
{
    char why[200];
    int r = gw_db_capture_submit(pg, j->photo_id, j->dec.lease_token, j->sess.user_id, j->in,
                                 &j->out, why, sizeof(why));

    if (r == GW_DB_CAPTURE_INVALID)
        fail(j, GW_E_INVALID_CAPTURE, why);
    else if (!lease_refused(j, r))
        j->status = 200;
}

static void do_illegible(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_capture_return(pg, j->photo_id, j->dec.lease_token, j->sess.user_id, j->dec.note);

    if (lease_refused(j, r))
        return;
    j->out = strdup("{\"state\":\"returned\",\"review_state\":\"waiting\"}");
    j->status = j->out ? 200 : 0;
    if (!j->out)
        fail(j, GW_E_INTERNAL, NULL);
}

static void do_release(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_capture_release(pg, j->photo_id, j->dec.lease_token, j->sess.user_id);

    if (!lease_refused(j, r))
        j->status = 204;
}

static void do_acta(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_capture_acta_json(pg, j->photo_id, &j->out);

    if (r == -ENOENT)
        fail(j, GW_E_NOT_FOUND, "this photo is not in capture");
    else if (r < 0)
        db_fail(j, r);
    else
        j->status = 200;
}

static void do_counters(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_capture_counters_json(pg, false, &j->out);

    if (r < 0)
        db_fail(j, r);
    else
        j->status = 200;
}

/* ---- the loop side ---- */

static struct gw_review_job *new_job(struct gw_stream *s,
                                     void (*run)(struct gw_review_job *, PGconn *),
                                     enum gw_role need, bool mutating)
{
    struct gw_review_job *j = gw_review_job_new(s, GW_REVIEW_OP_RUN, need, mutating);

    if (j)
        j->run = run;
    return j;
}

static void drop(struct gw_review_job *j)
{
    free(j->in);
    free(j);
}

/* /v1/capture/{photo_id}/{op}: the operation named by |op|, or NULL. */
static void (*photo_op(const char *path, size_t len))(struct gw_review_job *, PGconn *)
{
    const char *p = path + PREFIX_LEN + GW_PHOTO_ID_LEN;

    if (len <= PREFIX_LEN + GW_PHOTO_ID_LEN ||
        !gw_photo_id_valid(path + PREFIX_LEN, GW_PHOTO_ID_LEN))
        return NULL;
    if (strcmp(p, "/figures") == 0)
        return do_figures;
    if (strcmp(p, "/illegible") == 0)
        return do_illegible;
    if (strcmp(p, "/release") == 0)
        return do_release;
    return NULL;
}

static void on_photo_body(struct gw_stream *s)
{
    char path[PREFIX_LEN + GW_PHOTO_ID_LEN + 16];
    size_t len = strcspn(s->path, "?");
    void (*run)(struct gw_review_job *, PGconn *);
    struct gw_review_job *j;
    const char *why = NULL;
    json_t *o;

    snprintf(path, sizeof(path), "%.*s", (int)len, s->path);
    run = len < sizeof(path) ? photo_op(path, len) : NULL;
    if (!run) {
        gw_stream_problem(s, GW_E_NOT_FOUND, "no such endpoint");
        return;
    }
    j = new_job(s, run, GW_ROLE_CAPTURIST, true);
    if (!j)
        return;
    memcpy(j->photo_id, path + PREFIX_LEN, GW_PHOTO_ID_LEN);
    j->photo_id[GW_PHOTO_ID_LEN] = '\0';
    /* The media type and the JSON object first, as for every body (415, 400); then the shape. */
    o = gw_review_body_object(s);
    if (!o) {
        drop(j);
        return;
    }
    if (run == do_figures) {
        int r = gw_capture_figures_parse(s->body ? (const char *)s->body : "", s->body_len,
                                         j->dec.lease_token, &j->in, &why);

        json_decref(o);
        if (r == -EINVAL)
            gw_stream_problem(s, GW_E_INVALID_CAPTURE, why);
        else if (r < 0)
            gw_stream_problem(s, GW_E_INTERNAL, NULL);
        if (r < 0) {
            drop(j);
            return;
        }
        gw_review_job_submit(j);
        return;
    }
    if (!json_is_string(json_object_get(o, "lease_token")) ||
        !is_uuid(json_string_value(json_object_get(o, "lease_token"))))
        why = "send {\"lease_token\": ...} as returned by the claim";
    else
        memcpy(j->dec.lease_token, json_string_value(json_object_get(o, "lease_token")),
               GW_PHOTO_ID_LEN + 1);
    if (!why && run == do_illegible && json_object_get(o, "note")) {
        json_t *n = json_object_get(o, "note");

        if (!json_is_string(n) || json_string_length(n) > GW_REVIEW_NOTE_MAX)
            why = "note must be a string of at most 500 bytes";
        else
            memcpy(j->dec.note, json_string_value(n), json_string_length(n) + 1);
    }
    json_decref(o);
    if (why) {
        gw_stream_problem(s, GW_E_BAD_REQUEST, why);
        drop(j);
        return;
    }
    gw_review_job_submit(j);
}

/* The fixed paths: method, operation, least role, and whether it is a claim of a dispute. */
struct route {
    const char *path;
    bool post;
    void (*run)(struct gw_review_job *j, PGconn *pg);
    enum gw_role need;
    bool dispute;
};

static const struct route routes[] = {
    {PREFIX "claim", true, do_claim, GW_ROLE_CAPTURIST, false},
    {PREFIX "disputes/claim", true, do_claim, GW_ROLE_SUPERVISOR, true},
    {PREFIX "counters", false, do_counters, GW_ROLE_SUPERVISOR, false},
};

bool gw_capture_route(struct gw_stream *s, const char *path, size_t len)
{
    bool post = strcmp(s->method, "POST") == 0, get = strcmp(s->method, "GET") == 0;
    struct gw_review_job *j;

    if (len < PREFIX_LEN || memcmp(path, PREFIX, PREFIX_LEN) != 0)
        return false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *rt = &routes[i];

        if (strcmp(path, rt->path) != 0)
            continue;
        if (!(rt->post ? post : get)) {
            gw_review_method_not_allowed(s, rt->post ? "POST" : "GET");
        } else if ((j = new_job(s, rt->run, rt->need, rt->post))) {
            j->dispute = rt->dispute;
            gw_review_job_submit(j);
        }
        return true;
    }
    if (len == PREFIX_LEN + GW_PHOTO_ID_LEN &&
        gw_photo_id_valid(path + PREFIX_LEN, len - PREFIX_LEN)) {
        if (!get) {
            gw_review_method_not_allowed(s, "GET");
        } else if ((j = new_job(s, do_acta, GW_ROLE_SUPERVISOR, false))) {
            memcpy(j->photo_id, path + PREFIX_LEN, GW_PHOTO_ID_LEN);
            j->photo_id[GW_PHOTO_ID_LEN] = '\0';
            gw_review_job_submit(j);
        }
        return true;
    }
    if (!photo_op(path, len)) {
        gw_stream_problem(s, GW_E_NOT_FOUND, "no such endpoint");
    } else if (!post) {
        gw_review_method_not_allowed(s, "POST");
    } else {
        gw_stream_read_body(s, GW_REVIEW_BODY_MAX, on_photo_body);
    }
    return true;
}
