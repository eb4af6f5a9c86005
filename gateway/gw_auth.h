/*
 * gw_auth: clerk, supervisor and admin accounts, their passwords and their sessions.
 *
 * Passwords are hashed with Argon2id (libargon2, encoded "$argon2id$..." strings with their own
 * salt and costs). A login creates a session: a random 256-bit token that the client keeps (as
 * the HttpOnly cookie GW_AUTH_COOKIE or an `Authorization: Bearer` header) and that PostgreSQL
 * knows only by its SHA-256, plus a CSRF token that cookie-authenticated requests that change
 * state must echo in `X-CSRF-Token`. Failed logins make the account wait (gw_auth_backoff_s).
 *
 * The parsing helpers are pure and thread-safe. The functions taking a PGconn block: run them on a
 * db-pool thread or in a command, never on an event loop. Their statements are in db/db_auth.c;
 * this module keeps the rules (hashing, tokens, backoff). It does not speak HTTP and does not log.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_AUTH_COOKIE "prep_session"
#define GW_AUTH_TOKEN_LEN 43      /* base64url of 32 random bytes, no padding */
#define GW_AUTH_SESSION_S 43200   /* 12 h: one election night */
#define GW_AUTH_PASSWORD_MIN 10   /* characters */
#define GW_AUTH_PASSWORD_MAX 256  /* bytes */
#define GW_AUTH_BACKOFF_FREE 3    /* failures before the account must wait */
#define GW_AUTH_BACKOFF_MAX_S 900 /* the longest wait */
#define GW_AUTH_HASH_MAX 160

/*
 * Roles. Clerk < supervisor < admin are ordered: each includes the one before. A capturist is
 * outside that order (issue 12): it may capture (as may supervisors and admins) and do nothing
 * of a clerk's. GW_ROLE_ANY is only ever needed, never held: any account.
 */
enum gw_role {
    GW_ROLE_NONE = 0,
    GW_ROLE_CLERK,
    GW_ROLE_SUPERVISOR,
    GW_ROLE_ADMIN,
    GW_ROLE_CAPTURIST,
    GW_ROLE_ANY,
};

struct gw_session {
    int64_t user_id;
    char username[65];
    enum gw_role role;
    char token[GW_AUTH_TOKEN_LEN + 1]; /* only filled by gw_auth_login() */
    char csrf[GW_AUTH_TOKEN_LEN + 1];
    char expires_at[40];
};

/* Returns the role named |name| ("clerk", "supervisor", "admin", "capturist"), or GW_ROLE_NONE. */
enum gw_role gw_auth_role_parse(const char *name);

/* Returns true when an account of role |have| may do what needs |need| (see enum gw_role). Pure. */
bool gw_auth_role_allows(enum gw_role have, enum gw_role need);

/* Returns the refusal's detail for an account lacking |need|: "this needs a clerk account". */
const char *gw_auth_role_need_text(enum gw_role need);

/* Returns the name of |role|; a static string, "none" outside the enum. */
const char *gw_auth_role_name(enum gw_role role);

/*
 * Finds the session token of a request: `Authorization: Bearer TOKEN` (|authorization|, may be
 * NULL) wins over the GW_AUTH_COOKIE cookie in |cookie| (the Cookie header, may be NULL). Copies
 * it into |ret_token| (GW_AUTH_TOKEN_LEN + 1 bytes) and sets |*ret_bearer|. Returns 0, or -ENOENT
 * when there is none or it has not the form of a token.
 */
int gw_auth_token_find(const char *cookie, const char *authorization, char *ret_token,
                       bool *ret_bearer);

/* Fills |ret_token| (GW_AUTH_TOKEN_LEN + 1 bytes) with a new random token. Returns 0 or -EIO. */
int gw_auth_token_new(char *ret_token);

/* Compares two NUL-terminated strings in time independent of where they differ. */
bool gw_auth_equal(const char *a, const char *b);

/* Seconds an account with |failures| consecutive failed logins must wait: 0 up to
 * GW_AUTH_BACKOFF_FREE, then 1, 2, 4, ... up to GW_AUTH_BACKOFF_MAX_S. */
unsigned gw_auth_backoff_s(int failures);

/*
 * Checks a new password: GW_AUTH_PASSWORD_MIN to GW_AUTH_PASSWORD_MAX bytes. Returns NULL when
 * acceptable, else a static reason.
 */
const char *gw_auth_password_weak(const char *password);

/*
 * Hashes |password| with Argon2id (t=2, m=19 MiB, p=1, 16-byte random salt) into the encoded
 * string |ret_hash| of |cap| bytes (GW_AUTH_HASH_MAX suffices). Takes about 50 ms of one core.
 * Returns 0, -EINVAL or -EIO.
 */
int gw_auth_password_hash(const char *password, char *ret_hash, size_t cap);

/* Returns true when |password| matches the encoded Argon2id |hash|. */
bool gw_auth_password_check(const char *hash, const char *password);

/*
 * Logs |username| in with |password|: on success creates a session and fills |ret| (token
 * included). Returns 0; -EACCES for an unknown or disabled user or a wrong password (the failure
 * is counted); -EAGAIN while the account must wait, with the seconds left in |*ret_retry_s|;
 * -EIO or -EPROTO for database failures.
 */
int gw_auth_login(PGconn *c, const char *username, const char *password, struct gw_session *ret,
                  unsigned *ret_retry_s);

/*
 * Loads the live session of |token| (not expired, user not disabled) into |ret|. Returns 0,
 * -ENOENT, -EIO or -EPROTO.
 */
int gw_auth_session_load(PGconn *c, const char *token, struct gw_session *ret);

/* Ends the session of |token|. Returns 0 (also when there was none), -EIO or -EPROTO. */
int gw_auth_logout(PGconn *c, const char *token);

/*
 * Account administration for `prep-gateway user`. gw_auth_user_add() creates |username| with
 * |role| and |password| (-EEXIST if taken); gw_auth_user_passwd() sets a new password, clears the
 * backoff and ends the user's sessions; gw_auth_user_disable() disables the account and ends its
 * sessions. Each returns 0, -ENOENT for an unknown user, -EINVAL for a refused name or password,
 * -EIO or -EPROTO.
 */
int gw_auth_user_add(PGconn *c, const char *username, enum gw_role role, const char *password);
int gw_auth_user_passwd(PGconn *c, const char *username, const char *password);
int gw_auth_user_disable(PGconn *c, const char *username);

#endif
