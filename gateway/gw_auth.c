#include "gw_auth.h"

#include <argon2.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"

#define ARGON_T 2
#define ARGON_M_KIB 19456
#define ARGON_P 1
#define ARGON_SALT 16
#define ARGON_LEN 32

/* Verified when the user does not exist, so that an unknown name costs as long as a known one. */
#define DUMMY_HASH                                                                                 \
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"                                       \
    "RdescudvJCsgt3ub+b+dWRWJTmaaJObG0PgUDrb+R+I"

static const char *const role_names[] = {"none", "clerk", "supervisor", "admin"};

enum gw_role gw_auth_role_parse(const char *name)
{
    for (int i = GW_ROLE_CLERK; i <= GW_ROLE_ADMIN; i++)
        if (name && strcmp(name, role_names[i]) == 0)
            return (enum gw_role)i;
    return GW_ROLE_NONE;
}

const char *gw_auth_role_name(enum gw_role role)
{
    if (role < GW_ROLE_NONE || role > GW_ROLE_ADMIN)
        return "none";
    return role_names[role];
}

static bool is_token(const char *p, size_t n)
{
    if (n != GW_AUTH_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int gw_auth_token_find(const char *cookie, const char *authorization, char *ret_token,
                       bool *ret_bearer)
{
    const char *p;
    size_t n;

    if (authorization && strncmp(authorization, "Bearer ", 7) == 0) {
        p = authorization + 7;
        n = strlen(p);
        if (!is_token(p, n))
            return -ENOENT;
        memcpy(ret_token, p, n + 1);
        *ret_bearer = true;
        return 0;
    }
    /* Cookie: a=b; prep_session=TOKEN; c=d */
    for (p = cookie; p && *p;) {
        size_t len = strcspn(p, ";");
        const char *name = p, *eq = memchr(p, '=', len);

        while (name < p + len && *name == ' ')
            name++;
        if (eq && (size_t)(eq - name) == strlen(GW_AUTH_COOKIE) &&
            memcmp(name, GW_AUTH_COOKIE, strlen(GW_AUTH_COOKIE)) == 0) {
            n = (size_t)(p + len - (eq + 1));
            while (n > 0 && eq[n] == ' ')
                n--;
            if (!is_token(eq + 1, n))
                return -ENOENT;
            memcpy(ret_token, eq + 1, n);
            ret_token[n] = '\0';
            *ret_bearer = false;
            return 0;
        }
        p += len;
        if (*p == ';')
            p++;
    }
    return -ENOENT;
}

int gw_auth_token_new(char *ret_token)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[33];
    size_t o = 0;

    if (RAND_bytes(raw, 32) != 1)
        return -EIO;
    raw[32] = 0;
    for (size_t i = 0; i < 33 && o < GW_AUTH_TOKEN_LEN; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

        for (int k = 18; k >= 0 && o < GW_AUTH_TOKEN_LEN; k -= 6)
            ret_token[o++] = b64[(v >> k) & 63];
    }
    ret_token[GW_AUTH_TOKEN_LEN] = '\0';
    return 0;
}

bool gw_auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;

    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

unsigned gw_auth_backoff_s(int failures)
{
    int over = failures - GW_AUTH_BACKOFF_FREE;

    if (failures < GW_AUTH_BACKOFF_FREE)
        return 0;
    if (over >= 10)
        return GW_AUTH_BACKOFF_MAX_S;
    return (1u << over) > GW_AUTH_BACKOFF_MAX_S ? GW_AUTH_BACKOFF_MAX_S : 1u << over;
}

const char *gw_auth_password_weak(const char *password)
{
    size_t n = strlen(password);

    if (n < GW_AUTH_PASSWORD_MIN)
        return "the password must have at least 10 characters";
    if (n > GW_AUTH_PASSWORD_MAX)
        return "the password must have at most 256 bytes";
    return NULL;
}

int gw_auth_password_hash(const char *password, char *ret_hash, size_t cap)
{
    uint8_t salt[ARGON_SALT];

    if (gw_auth_password_weak(password))
        return -EINVAL;
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return -EIO;
    if (argon2id_hash_encoded(ARGON_T, ARGON_M_KIB, ARGON_P, password, strlen(password), salt,
                              sizeof(salt), ARGON_LEN, ret_hash, cap) != ARGON2_OK)
        return -EIO;
    return 0;
}

bool gw_auth_password_check(const char *hash, const char *password)
{
    size_t n = strlen(password);

    if (n > GW_AUTH_PASSWORD_MAX)
        return false;
    return argon2id_verify(hash, password, n) == ARGON2_OK;
}

/* ---- database ---- */

static void token_sha(const char *token, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof(md));
    out[0] = '\\';
    out[1] = 'x';
    for (int i = 0; i < 32; i++) {
        out[2 + 2 * i] = hex[md[i] >> 4];
        out[3 + 2 * i] = hex[md[i] & 15];
    }
    out[66] = '\0';
}

static int64_t parse_i64(const char *s)
{
    return strtoll(s, NULL, 10);
}

int gw_auth_login(PGconn *c, const char *username, const char *password, struct gw_session *ret,
                  unsigned *ret_retry_s)
{
    const char *p1[] = {username};
    char hash[GW_AUTH_HASH_MAX], sha[67], csrf[GW_AUTH_TOKEN_LEN + 1], token[GW_AUTH_TOKEN_LEN + 1];
    char uid[24], secs[16];
    struct gw_session s = {0};
    bool known, disabled, ok;
    PGresult *res;
    long wait_s;
    int r;

    res = PQexecParams(c,
                       "SELECT user_id, role, password_hash, disabled,"
                       " ceil(extract(epoch FROM locked_until - now()))::int"
                       " FROM users WHERE username = $1",
                       1, NULL, p1, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r < 0) {
        PQclear(res);
        return r;
    }
    known = PQntuples(res) == 1;
    if (known) {
        s.user_id = parse_i64(PQgetvalue(res, 0, 0));
        s.role = gw_auth_role_parse(PQgetvalue(res, 0, 1));
        snprintf(hash, sizeof(hash), "%s", PQgetvalue(res, 0, 2));
        disabled = PQgetvalue(res, 0, 3)[0] == 't';
        wait_s = PQgetisnull(res, 0, 4) ? 0 : strtol(PQgetvalue(res, 0, 4), NULL, 10);
    } else {
        snprintf(hash, sizeof(hash), "%s", DUMMY_HASH);
        disabled = true;
        wait_s = 0;
    }
    PQclear(res);
    if (wait_s > 0) {
        *ret_retry_s = (unsigned)wait_s;
        return -EAGAIN;
    }
    ok = gw_auth_password_check(hash, password) && !disabled;
    if (!known)
        return -EACCES;
    snprintf(uid, sizeof(uid), "%lld", (long long)s.user_id);
    if (!ok) {
        const char *p2[] = {uid, secs};

        /* The wait that follows this failure; computed here so SQL and docs share one rule. */
        res = PQexecParams(c, "SELECT failed_logins + 1 FROM users WHERE user_id = $1", 1, NULL, p2,
                           NULL, NULL, 0);
        r = gw_db_status(c, res, PGRES_TUPLES_OK);
        snprintf(secs, sizeof(secs), "%u",
                 r == 0 && PQntuples(res) == 1
                     ? gw_auth_backoff_s((int)strtol(PQgetvalue(res, 0, 0), NULL, 10))
                     : 0);
        PQclear(res);
        res = PQexecParams(c,
                           "UPDATE users SET failed_logins = failed_logins + 1,"
                           " locked_until = CASE WHEN $2::int > 0"
                           "   THEN now() + make_interval(secs => $2::int) END"
                           " WHERE user_id = $1",
                           2, NULL, p2, NULL, NULL, 0);
        r = gw_db_status(c, res, PGRES_COMMAND_OK);
        PQclear(res);
        return r < 0 ? r : -EACCES;
    }
    if (gw_auth_token_new(token) < 0 || gw_auth_token_new(csrf) < 0)
        return -EIO;
    token_sha(token, sha);
    {
        char life[16];
        const char *p3[] = {uid, sha, csrf, life};

        snprintf(life, sizeof(life), "%d", GW_AUTH_SESSION_S);
        res = PQexecParams(c,
                           "WITH u AS (UPDATE users SET failed_logins = 0, locked_until = NULL"
                           "   WHERE user_id = $1 RETURNING user_id, username)"
                           " INSERT INTO sessions (token_sha256, user_id, csrf_token, expires_at)"
                           " SELECT $2::bytea, user_id, $3, now() + make_interval(secs => $4::int)"
                           " FROM u RETURNING to_char(expires_at AT TIME ZONE 'UTC',"
                           "   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                           " (SELECT username FROM users WHERE user_id = $1)",
                           4, NULL, p3, NULL, NULL, 0);
    }
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r == 0 && PQntuples(res) == 1) {
        snprintf(s.expires_at, sizeof(s.expires_at), "%s", PQgetvalue(res, 0, 0));
        snprintf(s.username, sizeof(s.username), "%s", PQgetvalue(res, 0, 1));
        memcpy(s.token, token, sizeof(token));
        memcpy(s.csrf, csrf, sizeof(csrf));
        *ret = s;
    } else if (r == 0) {
        r = -EPROTO;
    }
    PQclear(res);
    return r;
}

int gw_auth_session_load(PGconn *c, const char *token, struct gw_session *ret)
{
    char sha[67];
    const char *p[] = {sha};
    PGresult *res;
    int r;

    token_sha(token, sha);
    res = PQexecParams(c,
                       "SELECT u.user_id, u.username, u.role, s.csrf_token,"
                       " to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                       " FROM sessions s JOIN users u USING (user_id)"
                       " WHERE s.token_sha256 = $1::bytea AND s.expires_at > now()"
                       " AND NOT u.disabled",
                       1, NULL, p, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r == 0 && PQntuples(res) != 1)
        r = -ENOENT;
    if (r == 0) {
        struct gw_session s = {0};

        s.user_id = parse_i64(PQgetvalue(res, 0, 0));
        snprintf(s.username, sizeof(s.username), "%s", PQgetvalue(res, 0, 1));
        s.role = gw_auth_role_parse(PQgetvalue(res, 0, 2));
        snprintf(s.csrf, sizeof(s.csrf), "%s", PQgetvalue(res, 0, 3));
        snprintf(s.expires_at, sizeof(s.expires_at), "%s", PQgetvalue(res, 0, 4));
        *ret = s;
    }
    PQclear(res);
    return r;
}

static int exec_count(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    int r = gw_db_status(c, res, PGRES_COMMAND_OK);

    if (r == 0)
        r = (int)strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return r;
}

int gw_auth_logout(PGconn *c, const char *token)
{
    char sha[67];
    const char *p[] = {sha};
    int r;

    token_sha(token, sha);
    r = exec_count(c, "DELETE FROM sessions WHERE token_sha256 = $1::bytea", 1, p);
    return r < 0 ? r : 0;
}

int gw_auth_user_add(PGconn *c, const char *username, enum gw_role role, const char *password)
{
    char hash[GW_AUTH_HASH_MAX];
    const char *p[] = {username, gw_auth_role_name(role), hash};
    PGresult *res;
    int r;

    if (role == GW_ROLE_NONE)
        return -EINVAL;
    r = gw_auth_password_hash(password, hash, sizeof(hash));
    if (r < 0)
        return r;
    res = PQexecParams(c,
                       "INSERT INTO users (username, role, password_hash)"
                       " VALUES ($1, $2::user_role, $3) ON CONFLICT (username) DO NOTHING",
                       3, NULL, p, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_COMMAND_OK);
    if (r == 0 && strcmp(PQcmdTuples(res), "1") != 0)
        r = -EEXIST;
    else if (r == -EPROTO && PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
             strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514") == 0)
        r = -EINVAL; /* check constraint: the user name */
    PQclear(res);
    return r;
}

/* Runs a statement returning rows; returns how many, or -EIO/-EPROTO. */
static int exec_rows(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    int r = gw_db_status(c, res, PGRES_TUPLES_OK);

    if (r == 0)
        r = PQntuples(res);
    PQclear(res);
    return r;
}

int gw_auth_user_passwd(PGconn *c, const char *username, const char *password)
{
    char hash[GW_AUTH_HASH_MAX];
    const char *p[] = {username, hash};
    int r;

    r = gw_auth_password_hash(password, hash, sizeof(hash));
    if (r < 0)
        return r;
    r = exec_rows(c,
                  "WITH u AS (UPDATE users SET password_hash = $2, password_set_at = now(),"
                  "   failed_logins = 0, locked_until = NULL WHERE username = $1"
                  "   RETURNING user_id),"
                  " d AS (DELETE FROM sessions WHERE user_id IN (SELECT user_id FROM u))"
                  " SELECT 1 FROM u",
                  2, p);
    return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}

int gw_auth_user_disable(PGconn *c, const char *username)
{
    const char *p[] = {username};
    int r;

    /* Sessions end with the account: a disabled clerk's open page stops working at once. */
    r = exec_rows(c,
                  "WITH u AS (UPDATE users SET disabled = true WHERE username = $1"
                  "   RETURNING user_id),"
                  " d AS (DELETE FROM sessions WHERE user_id IN (SELECT user_id FROM u))"
                  " SELECT 1 FROM u",
                  1, p);
    return r < 0 ? r : r == 1 ? 0 : -ENOENT;
}
