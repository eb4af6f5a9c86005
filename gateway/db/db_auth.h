/*
 * db_auth: accounts and sessions as stored in PostgreSQL (tables users and sessions).
 *
 * gw_auth owns the rules (Argon2id hashes, token generation, the login backoff); this module only
 * reads and writes rows for it. Sessions are known here only by the SHA-256 of their token, passed
 * as the bytea literal "\x<64 hex digits>"; roles travel as their SQL names ("clerk",
 * "supervisor", "admin"). The account administration of `prep-gateway user` (cmd_admin)
 * goes through here too. Blocking functions on a connection owned by the caller (gw_db.h).
 */
#ifndef DB_AUTH_H
#define DB_AUTH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_DB_AUTH_HASH_MAX 160 /* bytes kept of an encoded password hash, with its NUL */
#define GW_DB_AUTH_TOKEN_MAX 44 /* bytes of a CSRF token, with its NUL */

/* What a login needs to know of an account. */
struct gw_db_login {
    int64_t user_id;
    char role[16];
    char password_hash[GW_DB_AUTH_HASH_MAX];
    bool disabled;
    long wait_s; /* seconds until the account may try again; 0 when it need not wait */
};

/* A live session, or the row a login just made (then only username and expires_at). */
struct gw_db_session {
    int64_t user_id;
    char username[65];
    char role[16];
    char csrf[GW_DB_AUTH_TOKEN_MAX];
    char expires_at[40]; /* RFC 3339, UTC */
};

/* Reads the account |username| into |*ret|. Returns 1, 0 when there is no such user, -EIO or
 * -EPROTO. */
int gw_db_auth_user_find(PGconn *c, const char *username, struct gw_db_login *ret);

/* Stores the failed-login count that the next failure of |user_id| reaches in |*ret_next|.
 * Returns 0, -ENOENT, -EIO or -EPROTO. */
int gw_db_auth_failures_next(PGconn *c, int64_t user_id, int *ret_next);

/* Counts one failed login of |user_id| and makes it wait |wait_s| seconds (none when 0). Returns
 * 0, -EIO or -EPROTO. */
int gw_db_auth_failed(PGconn *c, int64_t user_id, unsigned wait_s);

/*
 * In one statement: clears the backoff of |user_id| and creates a session for |token_sha| with
 * CSRF token |csrf| that lasts |life_s| seconds. Fills username and expires_at of |*ret|. Returns
 * 0, -EIO or -EPROTO (also when the user vanished meanwhile).
 */
int gw_db_auth_session_create(PGconn *c, int64_t user_id, const char *token_sha, const char *csrf,
                              int life_s, struct gw_db_session *ret);

/* Loads the live session of |token_sha| (not expired, user not disabled) into |*ret|. Returns 0,
 * -ENOENT, -EIO or -EPROTO. */
int gw_db_auth_session_load(PGconn *c, const char *token_sha, struct gw_db_session *ret);

/* Ends the session of |token_sha|. Returns 0 (also when there was none), -EIO or -EPROTO. */
int gw_db_auth_session_delete(PGconn *c, const char *token_sha);

/*
 * Account administration with an already hashed password |hash|. gw_db_auth_user_add() creates
 * |username| with role |role| (-EEXIST if taken, -EINVAL when the schema refuses the name);
 * gw_db_auth_user_passwd() sets the hash, clears the backoff and ends the user's sessions;
 * gw_db_auth_user_disable() disables the account and ends its sessions. Each returns 0, -ENOENT
 * for an unknown user, -EIO or -EPROTO.
 */
int gw_db_auth_user_add(PGconn *c, const char *username, const char *role, const char *hash);
int gw_db_auth_user_passwd(PGconn *c, const char *username, const char *hash);
int gw_db_auth_user_disable(PGconn *c, const char *username);

/*
 * The account list of `prep-gateway user list`, in username order. gw_db_auth_users_json()
 * stores a new string (caller frees) in |*ret_json|: a JSON array of {username, role, disabled,
 * created_at}, "[]" when there are no users; |*ret_json| is untouched on failure. Returns 0,
 * -ENOMEM, -EIO or -EPROTO.
 *
 * gw_db_auth_users_each() calls |cb| (on the calling thread, before returning) with each
 * account's username, role and state ("active" or "disabled"); the strings live only during the
 * call. Returns the number of accounts, -EIO or -EPROTO (|cb| is then never called).
 */
int gw_db_auth_users_json(PGconn *c, char **ret_json);
int gw_db_auth_users_each(PGconn *c,
                          void (*cb)(void *arg, const char *username, const char *role,
                                     const char *state),
                          void *arg);

#endif
