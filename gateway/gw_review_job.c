#include "gw_review_job.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_review.h"
#include "gw_db.h"
#include "gw_error.h"
#include "gw_events.h"
#include "gw_log.h"
#include "gw_app.h"
#include "gw_h2.h"
#include "gw_throttle.h"

/* ---- the db pool side (the statements are in db/db_review.c) ---- */

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
    if (!gw_auth_role_allows(sess.role, need)) {
        *ret_why = gw_auth_role_need_text(need);
        return GW_E_FORBIDDEN;
    }
    return 0;
}

static void fail(struct gw_review_job *j, int err, const char *detail)
{
    j->err = err;
    snprintf(j->detail, sizeof(j->detail), "%s", detail ? detail : "");
}

static void db_fail(struct gw_review_job *j, int r)
{
    fail(j, r == -EIO ? GW_E_UNAVAILABLE : GW_E_INTERNAL,
         r == -EIO ? "the database is unreachable; retry later" : "database error");
}

static void do_claim(struct gw_review_job *j, PGconn *pg)
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

static void do_decide(struct gw_review_job *j, PGconn *pg)
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

static void do_release(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_review_release(pg, j->photo_id, j->dec.lease_token, j->sess.user_id);

    if (r < 0)
        db_fail(j, r);
    else if (r != GW_DB_REVIEW_OK)
        fail(j, GW_E_STALE_LEASE, "the lease token is not the current one");
    else
        j->status = 204;
}

static void do_reopen(struct gw_review_job *j, PGconn *pg)
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

static void do_history(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_review_history(pg, j->limit, j->filter_photo, j->filter_clave, j->filter_user,
                                 &j->out);

    if (r < 0)
        db_fail(j, r);
    else
        j->status = 200;
}

static void do_priority(struct gw_review_job *j, PGconn *pg)
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

static void do_logout(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_auth_logout(pg, j->token);

    if (r < 0)
        db_fail(j, r);
    else
        j->status = 204;
}

/* The session itself is the answer (GET /v1/session), or starts the event stream. */
static void do_session(struct gw_review_job *j, PGconn *pg)
{
    j->status = 200;
}

static void do_progress(struct gw_review_job *j, PGconn *pg)
{
    int r = gw_db_review_progress_json(pg, &j->out);

    if (r < 0)
        db_fail(j, r);
    else
        j->status = 200;
}

/* What each operation does once the session, role and CSRF token passed (login has none). */
static void (*const operations[])(struct gw_review_job *j, PGconn *pg) = {
    [GW_REVIEW_OP_LOGOUT] = do_logout,     [GW_REVIEW_OP_SESSION] = do_session,
    [GW_REVIEW_OP_EVENTS] = do_session,    [GW_REVIEW_OP_CLAIM] = do_claim,
    [GW_REVIEW_OP_DECIDE] = do_decide,     [GW_REVIEW_OP_RELEASE] = do_release,
    [GW_REVIEW_OP_REOPEN] = do_reopen,     [GW_REVIEW_OP_HISTORY] = do_history,
    [GW_REVIEW_OP_PRIORITY] = do_priority, [GW_REVIEW_OP_PROGRESS] = do_progress,
};

static void job_work(struct gw_work *w, void *thread_ctx)
{
    struct gw_review_job *j = (struct gw_review_job *)w;
    PGconn *pg = gw_db_thread_conn(thread_ctx);
    int r;

    if (!pg) {
        fail(j, GW_E_UNAVAILABLE, "the database is unreachable; retry later");
        return;
    }
    if (j->op == GW_REVIEW_OP_LOGIN) {
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
    if (!gw_auth_role_allows(j->sess.role, j->need)) {
        fail(j, GW_E_FORBIDDEN, gw_auth_role_need_text(j->need));
        return;
    }
    /* Cookies ride along on cross-site requests; the CSRF token does not. */
    if (j->mutating && !j->bearer && !gw_auth_equal(j->csrf, j->sess.csrf)) {
        fail(j, GW_E_CSRF, "send the session's csrf_token in X-CSRF-Token");
        return;
    }
    if (j->run)
        j->run(j, pg);
    else if (j->op < sizeof(operations) / sizeof(operations[0]) && operations[j->op])
        operations[j->op](j, pg);
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

void gw_review_respond_retry_later(struct gw_stream *s, int err, const char *detail,
                                   unsigned retry_s)
{
    char retry[16];
    nghttp2_nv nv[2];

    snprintf(retry, sizeof(retry), "%u", retry_s);
    nv[0] = GW_REVIEW_NV("cache-control", "no-store");
    nv[1] = GW_REVIEW_NV("retry-after", retry);
    gw_stream_problem_ext(s, err, detail, NULL, nv, 2);
}

static void job_done(struct gw_work *w)
{
    struct gw_review_job *j = (struct gw_review_job *)w;
    struct gw_stream *s = j->s;
    struct gw_app *app = s->worker->app;
    char cookie[192];
    nghttp2_nv nv[3];
    size_t n = 0;

    nv[n++] = GW_REVIEW_NV("cache-control", "no-store");
    if (w->cancelled)
        fail(j, GW_E_UNAVAILABLE, "shutting down");
    if (j->op == GW_REVIEW_OP_LOGIN) {
        atomic_fetch_sub(&app->logins_queued, 1);
        /* Wrong user or password: the address pays too (gw_throttle). */
        if (j->err == GW_E_BAD_CREDENTIALS)
            gw_throttle_failed(app->login_throttle, j->peer, gw_now_ms());
    }
    if (j->err == GW_E_LOGIN_LOCKED) {
        gw_review_respond_retry_later(s, j->err, j->detail, j->retry_s);
    } else if (j->err) {
        gw_stream_problem(s, j->err, j->detail[0] ? j->detail : NULL);
    } else if (j->op == GW_REVIEW_OP_LOGIN) {
        char *body = session_json(&j->sess, true);

        snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
                 GW_AUTH_COOKIE, j->sess.token, GW_AUTH_SESSION_S, j->tls ? "; Secure" : "");
        nv[n++] = GW_REVIEW_NV("set-cookie", cookie);
        gw_stream_respond(s, 200, "application/json", (uint8_t *)body, body ? strlen(body) : 0, nv,
                          n);
    } else if (j->op == GW_REVIEW_OP_LOGOUT) {
        snprintf(cookie, sizeof(cookie), "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 GW_AUTH_COOKIE, j->tls ? "; Secure" : "");
        nv[n++] = GW_REVIEW_NV("set-cookie", cookie);
        gw_stream_respond(s, 204, NULL, NULL, 0, nv, n);
    } else if (j->op == GW_REVIEW_OP_SESSION) {
        char *body = session_json(&j->sess, false);

        gw_stream_respond(s, 200, "application/json", (uint8_t *)body, body ? strlen(body) : 0, nv,
                          n);
    } else if (j->op == GW_REVIEW_OP_EVENTS) {
        struct gw_events *ev = s->worker->app->events;

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
    free(j->in);
    gw_stream_unref(s);
    explicit_bzero(j, sizeof(*j));
    free(j);
}

/* ---- the loop side ---- */

struct gw_review_job *gw_review_job_new(struct gw_stream *s, enum gw_review_op op,
                                        enum gw_role need, bool mutating)
{
    struct gw_review_job *j = calloc(1, sizeof(*j));
    const char *v;

    if (!j) {
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return NULL;
    }
    j->s = s;
    j->op = op;
    j->need = need;
    j->mutating = mutating;
    j->lease_s = s->worker->app->cfg->review_lease_s;
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

void gw_review_job_submit(struct gw_review_job *j)
{
    struct gw_app *app = j->s->worker->app;

    gw_stream_ref(j->s);
    /* Logins hash a password (Argon2id, tens of ms): they have their own threads, so a flood of
     * them cannot hold the connections that queue, review and status requests need. */
    gw_pool_submit(j->op == GW_REVIEW_OP_LOGIN ? &app->auth : &app->db, &j->s->worker->loop,
                   &j->work, job_work, job_done);
}
