#include "gw_review.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_error.h"
#include "gw_log.h"
#include "gw_receipt.h"
#include "gw_review_job.h"
#include "gw_app.h"
#include "gw_h2.h"
#include "gw_static.h"
#include "gw_throttle.h"

static const char *const reasons[] = {"ilegible", "sin_acta", "no_es_acta", "acta_equivocada",
                                      "incompleta"};

/* ---- pure parts ---- */

static bool is_uuid(const char *s)
{
    return s && strlen(s) == GW_PHOTO_ID_LEN && gw_photo_id_valid(s, GW_PHOTO_ID_LEN);
}

static int copy_member(json_t *o, const char *key, char *dst, size_t cap, bool *ret_present)
{
    json_t *v = json_object_get(o, key);

    *ret_present = false;
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return -EINVAL;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    *ret_present = true;
    return 0;
}

int gw_review_decision_parse(const char *json, size_t len, struct gw_review_decision *ret,
                             const char **ret_why)
{
    struct gw_review_decision d;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    bool has_tok, has_dec, has_reason, has_dup, has_note, ok = false;
    const char *why = "the body must be a JSON object";

    if (!o || !json_is_object(o))
        goto out;
    why = "lease_token, decision, reason, duplicate_of and note must be strings of sane length";
    if (copy_member(o, "lease_token", d.lease_token, sizeof(d.lease_token), &has_tok) < 0 ||
        copy_member(o, "decision", d.decision, sizeof(d.decision), &has_dec) < 0 ||
        copy_member(o, "reason", d.reason, sizeof(d.reason), &has_reason) < 0 ||
        copy_member(o, "duplicate_of", d.duplicate_of, sizeof(d.duplicate_of), &has_dup) < 0 ||
        copy_member(o, "note", d.note, sizeof(d.note), &has_note) < 0)
        goto out;
    why = "lease_token must be the UUID returned by the claim";
    if (!has_tok || !is_uuid(d.lease_token))
        goto out;
    why = "decision must be accept, reject, retake or duplicate";
    if (!has_dec)
        goto out;
    if (strcmp(d.decision, "reject") == 0) {
        why = "a rejection needs a reason: ilegible, sin_acta, no_es_acta, acta_equivocada or "
              "incompleta";
        for (size_t i = 0; has_reason && i < sizeof(reasons) / sizeof(reasons[0]); i++)
            if (strcmp(d.reason, reasons[i]) == 0)
                why = NULL;
        if (why)
            goto out;
    } else if (strcmp(d.decision, "accept") != 0 && strcmp(d.decision, "retake") != 0 &&
               strcmp(d.decision, "duplicate") != 0) {
        goto out;
    } else if (has_reason) {
        why = "reason applies only to reject";
        goto out;
    }
    if (strcmp(d.decision, "duplicate") == 0) {
        why = "duplicate_of must be the photo id of the original";
        if (!has_dup || !is_uuid(d.duplicate_of))
            goto out;
    } else if (has_dup) {
        why = "duplicate_of applies only to duplicate";
        goto out;
    }
    ok = true;
    *ret = d;
out:
    json_decref(o);
    if (!ok)
        *ret_why = why;
    return ok ? 0 : -EINVAL;
}

/* ---- routing ---- */

void gw_review_request_token(const struct gw_stream *s, char *ret_token)
{
    bool bearer;

    if (gw_auth_token_find(gw_stream_header(s, "cookie", NULL),
                           gw_stream_header(s, "authorization", NULL), ret_token, &bearer) < 0)
        ret_token[0] = '\0';
}

void gw_review_method_not_allowed(struct gw_stream *s, const char *allow)
{
    nghttp2_nv nv = GW_REVIEW_NV("allow", allow);

    gw_stream_problem_ext(s, GW_E_METHOD, allow, NULL, &nv, 1);
}

static bool is_json_type(const char *ct)
{
    size_t n = strcspn(ct, ";");

    while (n > 0 && ct[n - 1] == ' ')
        n--;
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

json_t *gw_review_body_object(struct gw_stream *s)
{
    json_t *o;

    if (s->body_len == 0)
        return json_object();
    if (!is_json_type(s->content_type)) {
        gw_stream_problem(s, GW_E_MEDIA_TYPE, "send the body as application/json");
        return NULL;
    }
    o = json_loadb((const char *)s->body, s->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        gw_stream_problem(s, GW_E_BAD_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

static bool get_str(json_t *o, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, key);

    dst[0] = '\0';
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return false;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static void on_login_body(struct gw_stream *s)
{
    struct gw_app *app = s->worker->app;
    const char *peer = gw_stream_peer_addr(s);
    unsigned wait = gw_throttle_wait(app->login_throttle, peer, gw_now_ms());
    json_t *o;
    struct gw_review_job *j;

    if (wait > 0) {
        gw_review_respond_retry_later(
            s, GW_E_LOGIN_LOCKED,
            "too many failed logins from this address; wait before trying again", wait);
        return;
    }
    if (atomic_load(&app->logins_queued) >= GW_REVIEW_LOGINS_QUEUED_MAX) {
        gw_review_respond_retry_later(s, GW_E_UNAVAILABLE,
                                      "too many logins at once; retry in a second", 1);
        return;
    }
    o = gw_review_body_object(s);
    if (!o)
        return;
    j = gw_review_job_new(s, GW_REVIEW_OP_LOGIN, GW_ROLE_NONE, false);
    if (j && (!get_str(o, "username", j->username, sizeof(j->username)) ||
              !get_str(o, "password", j->password, sizeof(j->password)) || !j->username[0] ||
              !j->password[0] || s->body_len == 0)) {
        gw_stream_problem(s, GW_E_BAD_REQUEST, "send {\"username\": ..., \"password\": ...}");
        free(j);
        j = NULL;
    }
    json_decref(o);
    if (j) {
        snprintf(j->peer, sizeof(j->peer), "%s", peer);
        atomic_fetch_add(&app->logins_queued, 1);
        gw_review_job_submit(j);
    }
    if (s->body)
        explicit_bzero(s->body, s->body_len);
}

/* Parses /v1/review/{photo_id}/{decision|release|reopen}. Returns false for other paths. */
static bool photo_op(const char *path, size_t len, enum gw_review_op *ret_op,
                     enum gw_role *ret_need)
{
    const char *p = path + 11;

    if (strncmp(path, "/v1/review/", 11) != 0 || len <= 11 + GW_PHOTO_ID_LEN ||
        !gw_photo_id_valid(p, GW_PHOTO_ID_LEN) || p[GW_PHOTO_ID_LEN] != '/')
        return false;
    *ret_need = GW_ROLE_CLERK;
    p += GW_PHOTO_ID_LEN;
    if (strcmp(p, "/decision") == 0 || strncmp(p, "/decision?", 10) == 0) {
        *ret_op = GW_REVIEW_OP_DECIDE;
    } else if (strcmp(p, "/release") == 0 || strncmp(p, "/release?", 9) == 0) {
        *ret_op = GW_REVIEW_OP_RELEASE;
    } else if (strcmp(p, "/reopen") == 0 || strncmp(p, "/reopen?", 8) == 0) {
        *ret_op = GW_REVIEW_OP_REOPEN;
        *ret_need = GW_ROLE_SUPERVISOR;
    } else {
        return false;
    }
    return true;
}

/* The job is made only once the body is complete (a stream that closes before owns nothing);
 * the operation and photo id are read again from the path. */
static void on_photo_body(struct gw_stream *s)
{
    struct gw_review_job *j;
    json_t *o;
    const char *why = NULL;
    enum gw_review_op op;
    enum gw_role need;

    if (!photo_op(s->path, strlen(s->path), &op, &need)) {
        gw_stream_problem(s, GW_E_NOT_FOUND, "no such endpoint");
        return;
    }
    j = gw_review_job_new(s, op, need, true);
    if (!j)
        return;
    memcpy(j->photo_id, s->path + 11, GW_PHOTO_ID_LEN);
    j->photo_id[GW_PHOTO_ID_LEN] = '\0';
    if (j->op == GW_REVIEW_OP_DECIDE) {
        if (gw_review_decision_parse((const char *)(s->body ? (char *)s->body : ""), s->body_len,
                                     &j->dec, &why) < 0) {
            if (s->body_len && !is_json_type(s->content_type))
                gw_stream_problem(s, GW_E_MEDIA_TYPE, "send the body as application/json");
            else
                gw_stream_problem(s, GW_E_INVALID_DECISION, why);
            free(j);
            return;
        }
        gw_review_job_submit(j);
        return;
    }
    o = gw_review_body_object(s);
    if (!o) {
        free(j);
        return;
    }
    if (j->op == GW_REVIEW_OP_RELEASE) {
        if (!get_str(o, "lease_token", j->dec.lease_token, sizeof(j->dec.lease_token)) ||
            !is_uuid(j->dec.lease_token))
            why = "send {\"lease_token\": ...} as returned by the claim";
    } else if (j->op == GW_REVIEW_OP_REOPEN) {
        if (!get_str(o, "note", j->dec.note, sizeof(j->dec.note)))
            why = "note must be a string of at most 500 bytes";
    }
    json_decref(o);
    if (why) {
        gw_stream_problem(s, GW_E_BAD_REQUEST, why);
        free(j);
        return;
    }
    gw_review_job_submit(j);
}

static void on_priority_body(struct gw_stream *s)
{
    struct gw_review_job *j;
    json_t *o = gw_review_body_object(s);
    json_t *st, *di, *we;
    bool ok;

    if (!o)
        return;
    j = gw_review_job_new(s, GW_REVIEW_OP_PRIORITY, GW_ROLE_SUPERVISOR, true);
    if (!j) {
        json_decref(o);
        return;
    }
    st = json_object_get(o, "state");
    di = json_object_get(o, "district");
    we = json_object_get(o, "weight");
    ok = json_is_integer(st) && json_integer_value(st) >= 1 && json_integer_value(st) <= 32 &&
         get_str(o, "municipality", j->prio_municipality, sizeof(j->prio_municipality)) &&
         (!di || (json_is_integer(di) && json_integer_value(di) > 0)) &&
         (!di != !j->prio_municipality[0]) &&
         (!we ||
          (json_is_integer(we) && json_integer_value(we) >= 1 && json_integer_value(we) <= 1000));
    if (ok) {
        j->prio_state = (long)json_integer_value(st);
        j->prio_district = di ? (long)json_integer_value(di) : 0;
        j->prio_weight = we ? (long)json_integer_value(we) : 10;
    }
    json_decref(o);
    if (!ok) {
        gw_stream_problem(s, GW_E_BAD_REQUEST,
                          "send {\"state\": N, \"district\": N} or {\"state\": N, "
                          "\"municipality\": \"...\"}, optional \"weight\" 1-1000");
        free(j);
        return;
    }
    gw_review_job_submit(j);
}

/* Copies query parameter |name| of |s->path| into |dst|; false when absent or too long. */
static bool query_param(const struct gw_stream *s, const char *name, char *dst, size_t cap)
{
    const char *q = strchr(s->path, '?');
    size_t nl = strlen(name);

    dst[0] = '\0';
    while (q && *q) {
        const char *kv = q + 1;
        size_t len = strcspn(kv, "&");

        if (len > nl && memcmp(kv, name, nl) == 0 && kv[nl] == '=') {
            if (len - nl - 1 >= cap)
                return false;
            memcpy(dst, kv + nl + 1, len - nl - 1);
            dst[len - nl - 1] = '\0';
            return true;
        }
        q = kv[len] ? kv + len : NULL;
    }
    return false;
}

static void route_history(struct gw_stream *s)
{
    struct gw_review_job *j = gw_review_job_new(s, GW_REVIEW_OP_HISTORY, GW_ROLE_SUPERVISOR, false);
    char limit[8];
    char *end;
    long v = 100;

    if (!j)
        return;
    if (query_param(s, "limit", limit, sizeof(limit))) {
        v = strtol(limit, &end, 10);
        if (*end || v < 1 || v > GW_REVIEW_HISTORY_MAX)
            v = -1;
    }
    query_param(s, "photo_id", j->filter_photo, sizeof(j->filter_photo));
    query_param(s, "clave", j->filter_clave, sizeof(j->filter_clave));
    query_param(s, "user", j->filter_user, sizeof(j->filter_user));
    if (v < 0 || (j->filter_photo[0] && !is_uuid(j->filter_photo))) {
        gw_stream_problem(s, GW_E_BAD_REQUEST, "limit is 1-500; photo_id a UUID");
        free(j);
        return;
    }
    j->limit = (int)v;
    gw_review_job_submit(j);
}

static bool is_page(const char *path, size_t len)
{
    static const char *const prefixes[] = {"/login/",   "/review/", "/dashboard/", "/history/",
                                           "/capture/", "/static/", "/app/"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);

        if (len >= n && memcmp(path, prefixes[i], n) == 0)
            return true;
        /* "/review" without its slash: the redirect below. */
        if (len == n - 1 && memcmp(path, prefixes[i], n - 1) == 0)
            return true;
    }
    return false;
}

static void redirect(struct gw_stream *s, const char *to)
{
    nghttp2_nv nv = GW_REVIEW_NV("location", to);

    gw_stream_respond(s, 303, NULL, NULL, 0, &nv, 1);
}

/*
 * The fixed API paths: a POST or a GET, answered by reading a JSON body (|on_body|), by a route
 * of its own (|serve|), or else by the db-pool job |op| for a session of at least |need| (a POST
 * also needs the CSRF token).
 */
struct route {
    const char *path;
    bool post;
    void (*on_body)(struct gw_stream *s);
    void (*serve)(struct gw_stream *s);
    enum gw_review_op op;
    enum gw_role need;
};

static const struct route routes[] = {
    {"/v1/login", true, on_login_body, NULL, GW_REVIEW_OP_LOGIN, GW_ROLE_NONE},
    {"/v1/logout", true, NULL, NULL, GW_REVIEW_OP_LOGOUT, GW_ROLE_ANY},
    {"/v1/session", false, NULL, NULL, GW_REVIEW_OP_SESSION, GW_ROLE_ANY},
    {"/v1/progress", false, NULL, NULL, GW_REVIEW_OP_PROGRESS, GW_ROLE_CLERK},
    {"/v1/review/events", false, NULL, NULL, GW_REVIEW_OP_EVENTS, GW_ROLE_CLERK},
    {"/v1/review/claim", true, NULL, NULL, GW_REVIEW_OP_CLAIM, GW_ROLE_CLERK},
    {"/v1/review/history", false, NULL, route_history, GW_REVIEW_OP_HISTORY, GW_ROLE_SUPERVISOR},
    {"/v1/review/priority", true, on_priority_body, NULL, GW_REVIEW_OP_PRIORITY,
     GW_ROLE_SUPERVISOR},
};

bool gw_review_route(struct gw_stream *s, const char *path, size_t len)
{
    bool get = strcmp(s->method, "GET") == 0, post = strcmp(s->method, "POST") == 0;
    struct gw_review_job *j;

    if (strcmp(path, "/") == 0 || is_page(path, len)) {
        if (!get && strcmp(s->method, "HEAD") != 0) {
            gw_review_method_not_allowed(s, "GET");
        } else if (strcmp(path, "/") == 0) {
            redirect(s, "/review/");
        } else if (path[len - 1] != '/' && !strchr(path + 1, '/')) {
            char to[32];

            snprintf(to, sizeof(to), "%s/", path);
            redirect(s, to);
        } else {
            gw_static_serve(s, s->worker->app->cfg->web_dir, path, len);
        }
        return true;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *rt = &routes[i];

        if (strcmp(path, rt->path) != 0)
            continue;
        if (!(rt->post ? post : get))
            gw_review_method_not_allowed(s, rt->post ? "POST" : "GET");
        else if (rt->on_body)
            gw_stream_read_body(s, GW_REVIEW_BODY_MAX, rt->on_body);
        else if (rt->serve)
            rt->serve(s);
        else if ((j = gw_review_job_new(s, rt->op, rt->need, rt->post)))
            gw_review_job_submit(j);
        return true;
    }
    {
        enum gw_review_op op;
        enum gw_role need;

        if (!photo_op(path, len, &op, &need))
            return false;
        if (!post)
            gw_review_method_not_allowed(s, "POST");
        else
            gw_stream_read_body(s, GW_REVIEW_BODY_MAX, on_photo_body);
        return true;
    }
}
