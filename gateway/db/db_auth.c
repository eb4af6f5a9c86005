#include "db_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"

static void login_row(void *arg, const PGresult *res, int i)
{
    struct gw_db_login *l = arg;

    memset(l, 0, sizeof(*l));
    l->user_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    snprintf(l->role, sizeof(l->role), "%s", PQgetvalue(res, i, 1));
    snprintf(l->password_hash, sizeof(l->password_hash), "%s", PQgetvalue(res, i, 2));
    l->disabled = PQgetvalue(res, i, 3)[0] == 't';
    l->wait_s = PQgetisnull(res, i, 4) ? 0 : strtol(PQgetvalue(res, i, 4), NULL, 10);
}

int gw_db_auth_user_find(PGconn *c, const char *username, struct gw_db_login *ret)
{
    const char *p[] = {username};
    int r = gw_db_one(c,
                      "SELECT user_id, role, password_hash, disabled,"
                      " ceil(extract(epoch FROM locked_until - now()))::int"
                      " FROM users WHERE username = $1",
                      1, p, -ENOENT, login_row, ret);

    return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

int gw_db_auth_failures_next(PGconn *c, int64_t user_id, int *ret_next)
{
    char uid[24];
    const char *p[] = {uid};
    PGresult *res;
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    r = gw_db_run(c, "SELECT failed_logins + 1 FROM users WHERE user_id = $1", 1, p,
                  PGRES_TUPLES_OK, &res);
    if (r == 0 && PQntuples(res) != 1)
        r = -ENOENT;
    if (r == 0)
        *ret_next = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return r;
}

int gw_db_auth_failed(PGconn *c, int64_t user_id, unsigned wait_s)
{
    char uid[24], secs[16];
    const char *p[] = {uid, secs};
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    snprintf(secs, sizeof(secs), "%u", wait_s);
    r = gw_db_cmd(c,
                  "UPDATE users SET failed_logins = failed_logins + 1,"
                  " locked_until = CASE WHEN $2::int > 0"
                  "   THEN now() + make_interval(secs => $2::int) END"
                  " WHERE user_id = $1",
                  2, p);
    return r < 0 ? r : 0;
}

static void created_row(void *arg, const PGresult *res, int i)
{
    struct gw_db_session *sess = arg;

    snprintf(sess->expires_at, sizeof(sess->expires_at), "%s", PQgetvalue(res, i, 0));
    snprintf(sess->username, sizeof(sess->username), "%s", PQgetvalue(res, i, 1));
}

int gw_db_auth_session_create(PGconn *c, int64_t user_id, const char *token_sha, const char *csrf,
                              int life_s, struct gw_db_session *ret)
{
    char uid[24], life[16];
    const char *p[] = {uid, token_sha, csrf, life};

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    snprintf(life, sizeof(life), "%d", life_s);
    return gw_db_one(c,
                     "WITH u AS (UPDATE users SET failed_logins = 0, locked_until = NULL"
                     "   WHERE user_id = $1 RETURNING user_id, username)"
                     " INSERT INTO sessions (token_sha256, user_id, csrf_token, expires_at)"
                     " SELECT $2::bytea, user_id, $3, now() + make_interval(secs => $4::int)"
                     " FROM u RETURNING to_char(expires_at AT TIME ZONE 'UTC',"
                     "   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                     " (SELECT username FROM users WHERE user_id = $1)",
                     4, p, -EPROTO, created_row, ret);
}

static void session_row(void *arg, const PGresult *res, int i)
{
    struct gw_db_session *sess = arg;

    memset(sess, 0, sizeof(*sess));
    sess->user_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    snprintf(sess->username, sizeof(sess->username), "%s", PQgetvalue(res, i, 1));
    snprintf(sess->role, sizeof(sess->role), "%s", PQgetvalue(res, i, 2));
    snprintf(sess->csrf, sizeof(sess->csrf), "%s", PQgetvalue(res, i, 3));
    snprintf(sess->expires_at, sizeof(sess->expires_at), "%s", PQgetvalue(res, i, 4));
}

int gw_db_auth_session_load(PGconn *c, const char *token_sha, struct gw_db_session *ret)
{
    const char *p[] = {token_sha};

    return gw_db_one(c,
                     "SELECT u.user_id, u.username, u.role, s.csrf_token,"
                     " to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                     " FROM sessions s JOIN users u USING (user_id)"
                     " WHERE s.token_sha256 = $1::bytea AND s.expires_at > now()"
                     " AND NOT u.disabled",
                     1, p, -ENOENT, session_row, ret);
}

int gw_db_auth_session_delete(PGconn *c, const char *token_sha)
{
    const char *p[] = {token_sha};
    int r = gw_db_cmd(c, "DELETE FROM sessions WHERE token_sha256 = $1::bytea", 1, p);

    return r < 0 ? r : 0;
}

int gw_db_auth_user_add(PGconn *c, const char *username, const char *role, const char *hash)
{
    const char *p[] = {username, role, hash};
    PGresult *res;
    int r;

    r = gw_db_run(c,
                  "INSERT INTO users (username, role, password_hash)"
                  " VALUES ($1, $2::user_role, $3) ON CONFLICT (username) DO NOTHING",
                  3, p, PGRES_COMMAND_OK, &res);
    if (r == 0 && strcmp(PQcmdTuples(res), "1") != 0)
        r = -EEXIST;
    else if (r == -EPROTO && gw_db_sqlstate_is(res, "23514"))
        r = -EINVAL; /* check constraint: the user name */
    PQclear(res);
    return r;
}

int gw_db_auth_user_passwd(PGconn *c, const char *username, const char *hash)
{
    const char *p[] = {username, hash};
    int r = gw_db_rows(c,
                       "WITH u AS (UPDATE users SET password_hash = $2, password_set_at = now(),"
                       "   failed_logins = 0, locked_until = NULL WHERE username = $1"
                       "   RETURNING user_id),"
                       " d AS (DELETE FROM sessions WHERE user_id IN (SELECT user_id FROM u))"
                       " SELECT 1 FROM u",
                       2, p);

    return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

int gw_db_auth_user_disable(PGconn *c, const char *username)
{
    const char *p[] = {username};
    /* Sessions end with the account: a disabled clerk's open page stops working at once. */
    int r = gw_db_rows(c,
                       "WITH u AS (UPDATE users SET disabled = true WHERE username = $1"
                       "   RETURNING user_id),"
                       " d AS (DELETE FROM sessions WHERE user_id IN (SELECT user_id FROM u))"
                       " SELECT 1 FROM u",
                       1, p);

    return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

int gw_db_auth_users_json(PGconn *c, char **ret_json)
{
    return gw_db_text(c,
                      "SELECT coalesce(json_agg(json_build_object('username',"
                      " username, 'role', role, 'disabled', disabled,"
                      " 'created_at', created_at) ORDER BY username), '[]')"
                      " FROM users",
                      0, NULL, ret_json);
}

struct users_each {
    void (*cb)(void *arg, const char *username, const char *role, const char *state);
    void *arg;
};

static void user_row(void *arg, const PGresult *res, int i)
{
    const struct users_each *u = arg;

    u->cb(u->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
}

int gw_db_auth_users_each(PGconn *c,
                          void (*cb)(void *arg, const char *username, const char *role,
                                     const char *state),
                          void *arg)
{
    struct users_each u = {cb, arg};

    return gw_db_each(c,
                      "SELECT username, role, CASE WHEN disabled THEN"
                      " 'disabled' ELSE 'active' END FROM users"
                      " ORDER BY username",
                      0, NULL, user_row, &u);
}
