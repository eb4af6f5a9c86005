#include "gw_auth.h"

#include <argon2.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_auth.h"

#define ARGON_T 2
#define ARGON_M_KIB 19456
#define ARGON_P 1
#define ARGON_SALT 16
#define ARGON_LEN 32

/* Verified when the user does not exist, so that an unknown name costs as long as a known one. */
#define DUMMY_HASH                                                                                 \
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"                                       \
    "RdescudvJCsgt3ub+b+dWRWJTmaaJObG0PgUDrb+R+I"

_Static_assert(GW_AUTH_HASH_MAX == GW_DB_AUTH_HASH_MAX, "db_auth keeps whole hashes");
_Static_assert(GW_AUTH_TOKEN_LEN + 1 == GW_DB_AUTH_TOKEN_MAX, "db_auth keeps whole tokens");

static const char *const role_names[] = {"none", "clerk", "supervisor", "admin", "capturist"};

enum gw_role gw_auth_role_parse(const char *name)
{
    for (int i = GW_ROLE_CLERK; i <= GW_ROLE_CAPTURIST; i++)
        if (name && strcmp(name, role_names[i]) == 0)
            return (enum gw_role)i;
    return GW_ROLE_NONE;
}

const char *gw_auth_role_name(enum gw_role role)
{
    if (role < GW_ROLE_NONE || role > GW_ROLE_CAPTURIST)
        return "none";
    return role_names[role];
}

bool gw_auth_role_allows(enum gw_role have, enum gw_role need)
{
    if (need == GW_ROLE_NONE)
        return true;
    if (have <= GW_ROLE_NONE || have > GW_ROLE_CAPTURIST)
        return false;
    if (need == GW_ROLE_ANY)
        return true;
    if (need == GW_ROLE_CAPTURIST)
        return have == GW_ROLE_CAPTURIST || have == GW_ROLE_SUPERVISOR || have == GW_ROLE_ADMIN;
    return have != GW_ROLE_CAPTURIST && have >= need;
}

const char *gw_auth_role_need_text(enum gw_role need)
{
    switch (need) {
    case GW_ROLE_CLERK:
        return "this needs a clerk account";
    case GW_ROLE_CAPTURIST:
        return "this needs a capturist or supervisor account";
    case GW_ROLE_ADMIN:
        return "this needs an admin account";
    case GW_ROLE_SUPERVISOR:
        return "this needs a supervisor account";
    default:
        return "this needs an account";
    }
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

/* ---- accounts and sessions (their SQL is in db/db_auth.c) ---- */

/* The bytea literal of a token's SHA-256: sessions are stored by hash, never by token. */
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

int gw_auth_login(PGconn *c, const char *username, const char *password, struct gw_session *ret,
                  unsigned *ret_retry_s)
{
    char hash[GW_AUTH_HASH_MAX], sha[67], csrf[GW_AUTH_TOKEN_LEN + 1], token[GW_AUTH_TOKEN_LEN + 1];
    struct gw_db_login l;
    struct gw_db_session row = {0};
    struct gw_session s = {0};
    bool known, disabled, ok;
    long wait_s;
    int r;

    r = gw_db_auth_user_find(c, username, &l);
    if (r < 0)
        return r;
    known = r == 1;
    if (known) {
        s.user_id = l.user_id;
        s.role = gw_auth_role_parse(l.role);
        memcpy(hash, l.password_hash, sizeof(hash));
        disabled = l.disabled;
        wait_s = l.wait_s;
    } else {
        snprintf(hash, sizeof(hash), "%s", DUMMY_HASH);
        disabled = true;
        wait_s = 0;
    }
    if (wait_s > 0) {
        *ret_retry_s = (unsigned)wait_s;
        return -EAGAIN;
    }
    ok = gw_auth_password_check(hash, password) && !disabled;
    if (!known)
        return -EACCES;
    if (!ok) {
        int next;

        /* The wait that follows this failure; computed here so SQL and docs share one rule. */
        r = gw_db_auth_failures_next(c, s.user_id, &next);
        r = gw_db_auth_failed(c, s.user_id, r == 0 ? gw_auth_backoff_s(next) : 0);
        return r < 0 ? r : -EACCES;
    }
    if (gw_auth_token_new(token) < 0 || gw_auth_token_new(csrf) < 0)
        return -EIO;
    token_sha(token, sha);
    r = gw_db_auth_session_create(c, s.user_id, sha, csrf, GW_AUTH_SESSION_S, &row);
    if (r == 0) {
        memcpy(s.expires_at, row.expires_at, sizeof(s.expires_at));
        memcpy(s.username, row.username, sizeof(s.username));
        memcpy(s.token, token, sizeof(token));
        memcpy(s.csrf, csrf, sizeof(csrf));
        *ret = s;
    }
    return r;
}

int gw_auth_session_load(PGconn *c, const char *token, struct gw_session *ret)
{
    char sha[67];
    struct gw_db_session row;
    int r;

    token_sha(token, sha);
    r = gw_db_auth_session_load(c, sha, &row);
    if (r == 0) {
        struct gw_session s = {0};

        s.user_id = row.user_id;
        memcpy(s.username, row.username, sizeof(s.username));
        s.role = gw_auth_role_parse(row.role);
        memcpy(s.csrf, row.csrf, sizeof(s.csrf));
        memcpy(s.expires_at, row.expires_at, sizeof(s.expires_at));
        *ret = s;
    }
    return r;
}

int gw_auth_logout(PGconn *c, const char *token)
{
    char sha[67];

    token_sha(token, sha);
    return gw_db_auth_session_delete(c, sha);
}

int gw_auth_user_add(PGconn *c, const char *username, enum gw_role role, const char *password)
{
    char hash[GW_AUTH_HASH_MAX];
    int r;

    if (role == GW_ROLE_NONE)
        return -EINVAL;
    r = gw_auth_password_hash(password, hash, sizeof(hash));
    if (r < 0)
        return r;
    return gw_db_auth_user_add(c, username, gw_auth_role_name(role), hash);
}

int gw_auth_user_passwd(PGconn *c, const char *username, const char *password)
{
    char hash[GW_AUTH_HASH_MAX];
    int r;

    r = gw_auth_password_hash(password, hash, sizeof(hash));
    if (r < 0)
        return r;
    return gw_db_auth_user_passwd(c, username, hash);
}

int gw_auth_user_disable(PGconn *c, const char *username)
{
    return gw_db_auth_user_disable(c, username);
}
