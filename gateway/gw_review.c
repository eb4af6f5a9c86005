#include "gw_review.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_api.h"
#include "db_review.h"
#include "gw_db.h"
#include "gw_error.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_receipt.h"
#include "gw_server.h"
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

/* ---- db side (the statements are in db/db_review.c) ---- */

int gw_review_check(PGconn *pg, const char *token, enum gw_role need, const char **ret_why)
{
    struct gw_session sess;
    int r;

    if (!token[0]) {
        *ret_why = "log in first: POST /v1/login";
        return GW_E_UNAUTHENTICATED;
    }
    if (!pg) {
        *ret_why = "the database is unreachable; retry later";
        return GW_E_UNAVAILABLE;
    }
    r = gw_auth_session_load(pg, token, &sess);
    if (r == -ENOENT) {
        *ret_why = "the session has expired or ended; log in again";
        return GW_E_UNAUTHENTICATED;
    }
    if (r < 0) {
        *ret_why = "the database is unreachable; retry later";
        return GW_E_UNAVAILABLE;
    }
    if (sess.role < need) {
        *ret_why = need == GW_ROLE_CLERK ? "this needs a clerk account"
                                         : "this needs a supervisor account";
        return GW_E_FORBIDDEN;
    }
    return 0;
}

/* ---- jobs ---- */

enum op {
    OP_LOGIN,
    OP_LOGOUT,
    OP_SESSION,
    OP_CLAIM,
    OP_DECIDE,
    OP_RELEASE,
    OP_REOPEN,
    OP_HISTORY,
    OP_PRIORITY,
    OP_PROGRESS,
    OP_EVENTS,
};

struct job {
    struct gw_work work; /* first */
    struct gw_stream *s;
    enum op op;
    enum gw_role need;
    bool mutating, bearer, tls;
    char token[GW_AUTH_TOKEN_LEN + 1];
    char csrf[GW_AUTH_TOKEN_LEN + 1]; /* X-CSRF-Token as sent */
    char photo_id[GW_PHOTO_ID_LEN + 1];
    unsigned lease_s;
    /* inputs parsed on the loop */
    char username[65];
    char password[GW_AUTH_PASSWORD_MAX + 1];
    struct gw_review_decision dec;
    char filter_photo[GW_PHOTO_ID_LEN + 1], filter_clave[24], filter_user[65];
    int limit;
    long prio_state, prio_district, prio_weight;
    char prio_municipality[128];
    /* results */
    struct gw_session sess;
    int err;
    char detail[200];
    int status;
    char *out; /* JSON, malloc'd */
    unsigned retry_s;
    char peer[GW_THROTTLE_ADDR_MAX]; /* OP_LOGIN: the client's address, for gw_throttle */
};

static void fail(struct job *j, int err, const char *detail)
{
    j->err = err;
    snprintf(j->detail, sizeof(j->detail), "%s", detail ? detail : "");
}

static void db_fail(struct job *j, int r)
{
    fail(j, r == -EIO ? GW_E_UNAVAILABLE : GW_E_INTERNAL,
         r == -EIO ? "the database is unreachable; retry later" : "database error");
}

static void do_claim(struct job *j, PGconn *pg)
{
    struct gw_db_review_lease l;
    json_t *doc;
    char *detail = NULL;
    int r;

    r = gw_db_review_claim(pg, j->sess.user_id, j->lease_s, &l);
    if (r < 0) {
        db_fail(j, r);
        return;
    }
    if (r == 0) {
        j->status = 204;
        return;
    }
    r = gw_db_review_claim_detail(pg, l.photo_id, l.clave, &detail);
    if (r < 0) {
        db_fail(j, r);
        return;
    }
    doc = json_loads(detail, 0, NULL);
    free(detail);
    if (!doc) {
        fail(j, GW_E_INTERNAL, "could not build the claim");
        return;
    }
    json_object_set_new(doc, "photo_id", json_string(l.photo_id));
    json_object_set_new(doc, "clave_acta", json_string(l.clave));
    json_object_set_new(doc, "lease_token", json_string(l.lease_token));
    json_object_set_new(doc, "lease_expires", json_string(l.lease_expires));
    json_object_set_new(doc, "flag", l.has_flag ? json_string(l.flag) : json_null());
    j->out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!j->out)
        fail(j, GW_E_INTERNAL, NULL);
    j->status = 200;
}

static void do_decide(struct job *j, PGconn *pg)
{
    int r = gw_db_review_decide(pg, j->photo_id, j->dec.lease_token, j->sess.user_id,
                                j->dec.decision, j->dec.reason, j->dec.duplicate_of, j->dec.note);

    if (r == -ENOENT) {
        fail(j, GW_E_INVALID_DECISION, "duplicate_of names no known photo");
    } else if (r == -EINVAL) {
        fail(j, GW_E_INVALID_DECISION, "a photo cannot be a duplicate of itself");
    } else if (r < 0) {
        db_fail(j, r);
    } else if (r == GW_DB_REVIEW_OK) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "photo_id", j->photo_id, "decision",
                              j->dec.decision, "decided_by", j->sess.username);

        j->out = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        j->status = j->out ? 200 : 0;
        if (!j->out)
            fail(j, GW_E_INTERNAL, NULL);
    } else if (r == GW_DB_REVIEW_NOT_FOUND) {
        fail(j, GW_E_NOT_FOUND, "this photo is not in the verification queue");
    } else if (r == GW_DB_REVIEW_DECIDED) {
        fail(j, GW_E_ALREADY_DECIDED, "this photo was already decided; claim another");
    } else {
        fail(j, GW_E_STALE_LEASE,
             "the lease token is not the current one (expired, released or taken over)");
    }
}

static void do_release(struct job *j, PGconn *pg)
{
    int r = gw_db_review_release(pg, j->photo_id, j->dec.lease_token, j->sess.user_id);

    if (r < 0)
        db_fail(j, r);
    else if (r != GW_DB_REVIEW_OK)
        fail(j, GW_E_STALE_LEASE, "the lease token is not the current one");
    else
        j->status = 204;
}

static void do_reopen(struct job *j, PGconn *pg)
{
    int r = gw_db_review_reopen(pg, j->photo_id, j->sess.user_id, j->dec.note);

    if (r < 0) {
        db_fail(j, r);
    } else if (r == GW_DB_REVIEW_NOT_FOUND) {
        fail(j, GW_E_NOT_FOUND, "this photo is not in the verification queue");
    } else if (r == GW_DB_REVIEW_WAITING) {
        fail(j, GW_E_NOT_DECIDED, "this photo is waiting already");
    } else {
        j->out = strdup("{\"state\":\"waiting\"}");
        j->status = j->out ? 200 : 0;
        if (!j->out)
            fail(j, GW_E_INTERNAL, NULL);
    }
}

static void do_history(struct job *j, PGconn *pg)
{
    int r = gw_db_review_history(pg, j->limit, j->filter_photo, j->filter_clave, j->filter_user,
                                 &j->out);

    if (r < 0)
        db_fail(j, r);
    else
        j->status = 200;
}

static void do_priority(struct job *j, PGconn *pg)
{
    int r = gw_db_review_priority(pg, j->prio_state, j->prio_district, j->prio_municipality,
                                  j->prio_weight, j->sess.user_id, &j->out);

    if (r == -ENOMEM)
        fail(j, GW_E_INTERNAL, NULL);
    else if (r < 0)
        db_fail(j, r);
    else
        j->status = 200;
}

static void job_work(struct gw_work *w, void *thread_ctx)
{
    struct job *j = (struct job *)w;
    PGconn *pg = gw_db_thread_conn(thread_ctx);
    const char *why = NULL;
    int r;

    if (!pg) {
        fail(j, GW_E_UNAVAILABLE, "the database is unreachable; retry later");
        return;
    }
    if (j->op == OP_LOGIN) {
        r = gw_auth_login(pg, j->username, j->password, &j->sess, &j->retry_s);
        explicit_bzero(j->password, sizeof(j->password));
        if (r == -EACCES)
            fail(j, GW_E_BAD_CREDENTIALS, "wrong user name or password");
        else if (r == -EAGAIN)
            fail(j, GW_E_LOGIN_LOCKED, "too many failed logins; wait before trying again");
        else if (r < 0)
            db_fail(j, r);
        else
            j->status = 200;
        return;
    }
    r = j->token[0] ? gw_auth_session_load(pg, j->token, &j->sess) : -ENOENT;
    if (r == -ENOENT) {
        fail(j, GW_E_UNAUTHENTICATED,
             j->token[0] ? "the session has expired or ended; log in again"
                         : "log in first: POST /v1/login");
        return;
    }
    if (r < 0) {
        db_fail(j, r);
        return;
    }
    if (j->sess.role < j->need) {
        fail(j, GW_E_FORBIDDEN,
             j->need == GW_ROLE_CLERK ? "this needs a clerk account"
                                      : "this needs a supervisor account");
        return;
    }
    /* Cookies ride along on cross-site requests; the CSRF token does not. */
    if (j->mutating && !j->bearer && !gw_auth_equal(j->csrf, j->sess.csrf)) {
        fail(j, GW_E_CSRF, "send the session's csrf_token in X-CSRF-Token");
        return;
    }
    switch (j->op) {
    case OP_LOGOUT:
        r = gw_auth_logout(pg, j->token);
        if (r < 0)
            db_fail(j, r);
        else
            j->status = 204;
        return;
    case OP_SESSION:
    case OP_EVENTS:
        j->status = 200;
        return;
    case OP_CLAIM:
        do_claim(j, pg);
        return;
    case OP_DECIDE:
        do_decide(j, pg);
        return;
    case OP_RELEASE:
        do_release(j, pg);
        return;
    case OP_REOPEN:
        do_reopen(j, pg);
        return;
    case OP_HISTORY:
        do_history(j, pg);
        return;
    case OP_PRIORITY:
        do_priority(j, pg);
        return;
    case OP_PROGRESS:
        r = gw_db_review_progress_json(pg, &j->out);
        if (r < 0)
            db_fail(j, r);
        else
            j->status = 200;
        return;
    case OP_LOGIN:
        break;
    }
    (void)why;
}

#define NV(n, v)                                                                                   \
    (nghttp2_nv)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME         \
    }

static char *session_json(const struct gw_session *sess, bool with_token)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "username", sess->username, "role",
                          gw_auth_role_name(sess->role), "csrf_token", sess->csrf, "expires_at",
                          sess->expires_at);
    char *s;

    if (o && with_token)
        json_object_set_new(o, "token", json_string(sess->token));
    s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

/* A problem that tells the client when to try again (429 login-locked, 503 while busy). */
static void respond_retry_later(struct gw_stream *s, int err, const char *detail, unsigned retry_s)
{
    char retry[16];
    nghttp2_nv nv[2];
    size_t len = 0;
    char *body = gw_problem_json(err, detail, s->path, &len);

    snprintf(retry, sizeof(retry), "%u", retry_s);
    nv[0] = NV("cache-control", "no-store");
    nv[1] = NV("retry-after", retry);
    s->err = err;
    gw_stream_respond(s, gw_err_status(err), "application/problem+json", (uint8_t *)body,
                      body ? len : 0, nv, 2);
}

static void job_done(struct gw_work *w)
{
    struct job *j = (struct job *)w;
    struct gw_stream *s = j->s;
    struct gw_server *srv = s->worker->srv;
    char cookie[192];
    nghttp2_nv nv[3];
    size_t n = 0;

    nv[n++] = NV("cache-control", "no-store");
    if (w->cancelled)
        fail(j, GW_E_UNAVAILABLE, "shutting down");
    if (j->op == OP_LOGIN) {
        atomic_fetch_sub(&srv->logins_queued, 1);
        /* Wrong user or password: the address pays too (gw_throttle). */
        if (j->err == GW_E_BAD_CREDENTIALS)
            gw_throttle_failed(srv->login_throttle, j->peer, gw_now_ms());
    }
    if (j->err == GW_E_LOGIN_LOCKED) {
        respond_retry_later(s, j->err, j->detail, j->retry_s);
    } else if (j->err) {
        gw_stream_problem(s, j->err, j->detail[0] ? j->detail : NULL);
    } else if (j->op == OP_LOGIN) {
        char *body = session_json(&j->sess, true);

        snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
                 GW_AUTH_COOKIE, j->sess.token, GW_AUTH_SESSION_S, j->tls ? "; Secure" : "");
        nv[n++] = NV("set-cookie", cookie);
        gw_stream_respond(s, 200, "application/json", (uint8_t *)body, body ? strlen(body) : 0, nv,
                          n);
    } else if (j->op == OP_LOGOUT) {
        snprintf(cookie, sizeof(cookie), "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 GW_AUTH_COOKIE, j->tls ? "; Secure" : "");
        nv[n++] = NV("set-cookie", cookie);
        gw_stream_respond(s, 204, NULL, NULL, 0, nv, n);
    } else if (j->op == OP_SESSION) {
        char *body = session_json(&j->sess, false);

        gw_stream_respond(s, 200, "application/json", (uint8_t *)body, body ? strlen(body) : 0, nv,
                          n);
    } else if (j->op == OP_EVENTS) {
        struct gw_events *ev = s->worker->srv->events;

        if (!ev || !s->conn) {
            gw_stream_problem(s, GW_E_UNAVAILABLE, "live events are not available");
        } else {
            gw_stream_respond_stream(s, 200, "text/event-stream", nv, n);
            if (gw_events_subscribe(ev, s) < 0)
                gw_stream_end(s);
        }
    } else if (j->status == 204) {
        gw_stream_respond(s, 204, NULL, NULL, 0, nv, n);
    } else {
        gw_stream_respond(s, j->status, "application/json", (uint8_t *)j->out,
                          j->out ? strlen(j->out) : 0, nv, n);
        j->out = NULL;
    }
    free(j->out);
    gw_stream_unref(s);
    explicit_bzero(j, sizeof(*j));
    free(j);
}

/* ---- routing ---- */

void gw_review_request_token(const struct gw_stream *s, char *ret_token)
{
    bool bearer;

    if (gw_auth_token_find(gw_stream_header(s, "cookie", NULL),
                           gw_stream_header(s, "authorization", NULL), ret_token, &bearer) < 0)
        ret_token[0] = '\0';
}

static struct job *job_new(struct gw_stream *s, enum op op, enum gw_role need, bool mutating)
{
    struct job *j = calloc(1, sizeof(*j));
    const char *v;

    if (!j) {
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return NULL;
    }
    j->s = s;
    j->op = op;
    j->need = need;
    j->mutating = mutating;
    j->lease_s = s->worker->srv->cfg->review_lease_s;
    if (gw_auth_token_find(gw_stream_header(s, "cookie", NULL),
                           gw_stream_header(s, "authorization", NULL), j->token, &j->bearer) < 0)
        j->token[0] = '\0';
    v = gw_stream_header(s, "x-csrf-token", NULL);
    if (v)
        snprintf(j->csrf, sizeof(j->csrf), "%s", v);
    v = gw_stream_header(s, ":scheme", NULL);
    j->tls = v && strcmp(v, "https") == 0;
    return j;
}

static void job_submit(struct job *j)
{
    struct gw_server *srv = j->s->worker->srv;

    gw_stream_ref(j->s);
    /* Logins hash a password (Argon2id, tens of ms): they have their own threads, so a flood of
     * them cannot hold the connections that queue, review and status requests need. */
    gw_pool_submit(j->op == OP_LOGIN ? &srv->auth : &srv->db, &j->s->worker->loop, &j->work,
                   job_work, job_done);
}

static void method_not_allowed(struct gw_stream *s, const char *allow)
{
    nghttp2_nv nv = NV("allow", allow);
    size_t len = 0;
    char *body = gw_problem_json(GW_E_METHOD, allow, s->path, &len);

    s->err = GW_E_METHOD;
    gw_stream_respond(s, 405, "application/problem+json", (uint8_t *)body, body ? len : 0, &nv, 1);
}

static bool is_json_type(const char *ct)
{
    size_t n = strcspn(ct, ";");

    while (n > 0 && ct[n - 1] == ' ')
        n--;
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* The body of |s| as a JSON object, or NULL after answering 400/415. Empty bodies are {}. */
static json_t *body_object(struct gw_stream *s)
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
    struct gw_server *srv = s->worker->srv;
    const char *peer = gw_stream_peer_addr(s);
    unsigned wait = gw_throttle_wait(srv->login_throttle, peer, gw_now_ms());
    json_t *o;
    struct job *j;

    if (wait > 0) {
        respond_retry_later(s, GW_E_LOGIN_LOCKED,
                            "too many failed logins from this address; wait before trying again",
                            wait);
        return;
    }
    if (atomic_load(&srv->logins_queued) >= GW_REVIEW_LOGINS_QUEUED_MAX) {
        respond_retry_later(s, GW_E_UNAVAILABLE, "too many logins at once; retry in a second", 1);
        return;
    }
    o = body_object(s);
    if (!o)
        return;
    j = job_new(s, OP_LOGIN, GW_ROLE_NONE, false);
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
        atomic_fetch_add(&srv->logins_queued, 1);
        job_submit(j);
    }
    if (s->body)
        explicit_bzero(s->body, s->body_len);
}

/* Parses /v1/review/{photo_id}/{decision|release|reopen}. Returns false for other paths. */
static bool photo_op(const char *path, size_t len, enum op *ret_op, enum gw_role *ret_need)
{
    const char *p = path + 11;

    if (strncmp(path, "/v1/review/", 11) != 0 || len <= 11 + GW_PHOTO_ID_LEN ||
        !gw_photo_id_valid(p, GW_PHOTO_ID_LEN) || p[GW_PHOTO_ID_LEN] != '/')
        return false;
    *ret_need = GW_ROLE_CLERK;
    p += GW_PHOTO_ID_LEN;
    if (strcmp(p, "/decision") == 0 || strncmp(p, "/decision?", 10) == 0) {
        *ret_op = OP_DECIDE;
    } else if (strcmp(p, "/release") == 0 || strncmp(p, "/release?", 9) == 0) {
        *ret_op = OP_RELEASE;
    } else if (strcmp(p, "/reopen") == 0 || strncmp(p, "/reopen?", 8) == 0) {
        *ret_op = OP_REOPEN;
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
    struct job *j;
    json_t *o;
    const char *why = NULL;
    enum op op;
    enum gw_role need;

    if (!photo_op(s->path, strlen(s->path), &op, &need)) {
        gw_stream_problem(s, GW_E_NOT_FOUND, "no such endpoint");
        return;
    }
    j = job_new(s, op, need, true);
    if (!j)
        return;
    memcpy(j->photo_id, s->path + 11, GW_PHOTO_ID_LEN);
    j->photo_id[GW_PHOTO_ID_LEN] = '\0';
    if (j->op == OP_DECIDE) {
        if (gw_review_decision_parse((const char *)(s->body ? (char *)s->body : ""), s->body_len,
                                     &j->dec, &why) < 0) {
            if (s->body_len && !is_json_type(s->content_type))
                gw_stream_problem(s, GW_E_MEDIA_TYPE, "send the body as application/json");
            else
                gw_stream_problem(s, GW_E_INVALID_DECISION, why);
            free(j);
            return;
        }
        job_submit(j);
        return;
    }
    o = body_object(s);
    if (!o) {
        free(j);
        return;
    }
    if (j->op == OP_RELEASE) {
        if (!get_str(o, "lease_token", j->dec.lease_token, sizeof(j->dec.lease_token)) ||
            !is_uuid(j->dec.lease_token))
            why = "send {\"lease_token\": ...} as returned by the claim";
    } else if (j->op == OP_REOPEN) {
        if (!get_str(o, "note", j->dec.note, sizeof(j->dec.note)))
            why = "note must be a string of at most 500 bytes";
    }
    json_decref(o);
    if (why) {
        gw_stream_problem(s, GW_E_BAD_REQUEST, why);
        free(j);
        return;
    }
    job_submit(j);
}

static void on_priority_body(struct gw_stream *s)
{
    struct job *j;
    json_t *o = body_object(s);
    json_t *st, *di, *we;
    bool ok;

    if (!o)
        return;
    j = job_new(s, OP_PRIORITY, GW_ROLE_SUPERVISOR, true);
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
    job_submit(j);
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
    struct job *j = job_new(s, OP_HISTORY, GW_ROLE_SUPERVISOR, false);
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
    job_submit(j);
}

static bool is_page(const char *path, size_t len)
{
    static const char *const prefixes[] = {"/login/", "/review/", "/dashboard/", "/history/",
                                           "/static/"};

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
    nghttp2_nv nv = NV("location", to);

    gw_stream_respond(s, 303, NULL, NULL, 0, &nv, 1);
}

bool gw_review_route(struct gw_stream *s, const char *path, size_t len)
{
    bool get = strcmp(s->method, "GET") == 0, post = strcmp(s->method, "POST") == 0;
    struct job *j;

    if (strcmp(path, "/") == 0 || is_page(path, len)) {
        if (!get && strcmp(s->method, "HEAD") != 0) {
            method_not_allowed(s, "GET");
        } else if (strcmp(path, "/") == 0) {
            redirect(s, "/review/");
        } else if (path[len - 1] != '/' && !strchr(path + 1, '/')) {
            char to[32];

            snprintf(to, sizeof(to), "%s/", path);
            redirect(s, to);
        } else {
            gw_static_serve(s, s->worker->srv->cfg->web_dir, path, len);
        }
        return true;
    }
    if (strcmp(path, "/v1/login") == 0) {
        if (!post)
            method_not_allowed(s, "POST");
        else
            gw_stream_read_body(s, GW_REVIEW_BODY_MAX, on_login_body);
        return true;
    }
    if (strcmp(path, "/v1/logout") == 0) {
        if (!post)
            method_not_allowed(s, "POST");
        else if ((j = job_new(s, OP_LOGOUT, GW_ROLE_CLERK, true)))
            job_submit(j);
        return true;
    }
    if (strcmp(path, "/v1/session") == 0 || strcmp(path, "/v1/progress") == 0 ||
        strcmp(path, "/v1/review/events") == 0) {
        enum op op = path[4] == 's' ? OP_SESSION : path[4] == 'p' ? OP_PROGRESS : OP_EVENTS;

        if (!get)
            method_not_allowed(s, "GET");
        else if ((j = job_new(s, op, op == OP_SESSION ? GW_ROLE_NONE + 1 : GW_ROLE_CLERK, false)))
            job_submit(j);
        return true;
    }
    if (strcmp(path, "/v1/review/claim") == 0) {
        if (!post)
            method_not_allowed(s, "POST");
        else if ((j = job_new(s, OP_CLAIM, GW_ROLE_CLERK, true)))
            job_submit(j);
        return true;
    }
    if (strcmp(path, "/v1/review/history") == 0) {
        if (!get)
            method_not_allowed(s, "GET");
        else
            route_history(s);
        return true;
    }
    if (strcmp(path, "/v1/review/priority") == 0) {
        if (!post)
            method_not_allowed(s, "POST");
        else
            gw_stream_read_body(s, GW_REVIEW_BODY_MAX, on_priority_body);
        return true;
    }
    {
        enum op op;
        enum gw_role need;

        if (!photo_op(path, len, &op, &need))
            return false;
        if (!post)
            method_not_allowed(s, "POST");
        else
            gw_stream_read_body(s, GW_REVIEW_BODY_MAX, on_photo_body);
        return true;
    }
}
