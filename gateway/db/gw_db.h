/*
 * gw_db: the gateway's one way into PostgreSQL: connections, the query helper, and the thread
 * context of the db pool.
 *
 * Every statement the gateway and its commands run lives in this folder (gateway/db/), split by
 * concern: db_migrate (schema migrations), db_photos (the photo lifecycle and the ledger table),
 * db_review (the verification queue), db_auth (accounts and sessions), db_devices (enrolment
 * codes, enrolment and the device list), db_events (LISTEN and notifications), db_catalog (the
 * catalogue import) and db_audit (audit zero's table counts). Each function takes a connection
 * owned by the calling thread (pool and stage threads each keep their own PGconn; a command its
 * only one) and blocks until PostgreSQL answers: never call them on an event loop. Failures return
 * -EIO when the connection is unusable (the caller reconnects, with backoff) and -EPROTO for a
 * statement that PostgreSQL refused; the message is then in PQerrorMessage().
 *
 * This module does not speak HTTP, does not log and keeps no globals. Statements run through
 * gw_db_run() and its shorthands, so that status checks and PQclear() are in one place.
 */
#ifndef GW_DB_H
#define GW_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* main.c finds gw_db_migrate() through this header. */
#include "db_migrate.h"

/*
 * Connects with |conninfo| (a libpq connection string or URI), adding a 5 s connect timeout and
 * application_name=prep-gateway. Returns the connection (the caller PQfinish()es it), or NULL
 * with a one-line message in |errbuf| (|errcap| bytes) when |errbuf| is not NULL. Any thread.
 */
PGconn *gw_db_connect(const char *conninfo, char *errbuf, size_t errcap);

/*
 * Maps a finished statement |res| on |c| to 0 (it has status |want|), -EIO (the connection is
 * lost: reconnect and retry; also when the server went away in the middle of the statement, or
 * answered with SQLSTATE class 08 or 57P01..57P03, before libpq marks the connection bad) or
 * -EPROTO (PostgreSQL refused the statement itself). |res| may be NULL (out of memory, or the
 * connection broke). Does not clear |res|.
 */
int gw_db_status(PGconn *c, PGresult *res, ExecStatusType want);

/*
 * Runs |sql| on |c| and checks that its result has status |want|. With |params| NULL (and |n|
 * 0) the text goes as a simple query, which may hold several statements (";"-separated); else
 * |n| text parameters |params| ($1..$n, NULL entries are SQL NULL) go with one statement.
 *
 * When |ret_res| is not NULL it receives the result whatever the outcome (NULL when libpq had
 * none), so that a caller can read rows on success and PG_DIAG_SQLSTATE on failure; the caller
 * must PQclear() it. When |ret_res| is NULL the result is cleared here.
 *
 * Returns 0, -EIO or -EPROTO (see gw_db_status()). Blocking.
 */
int gw_db_run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want,
              PGresult **ret_res);

/*
 * Shorthands of gw_db_run(), each clearing its result:
 *
 * gw_db_cmd() runs a statement that returns no rows (PGRES_COMMAND_OK) and returns how many rows
 * it changed (PQcmdTuples, 0 when not applicable).
 *
 * gw_db_rows() runs a statement that returns rows (PGRES_TUPLES_OK) and returns how many.
 *
 * gw_db_each() is gw_db_rows() that also calls |row| (on the calling thread, before returning)
 * with the result and each row's index, in order, once the statement has succeeded (never on
 * failure); |res| lives only during the call and must not be cleared by |row|.
 *
 * gw_db_one() runs a statement that returns one row and calls |row| as gw_db_each() does with
 * it (index 0), then returns 0; when there is no row or more than one it returns |none| (a
 * negative code of the caller's choice) without calling |row|.
 *
 * gw_db_text() runs a statement that returns rows and copies the first column of the first row
 * into a new string |*ret_text| (caller frees); -ENOENT when there is no row or the value is SQL
 * NULL, -ENOMEM when the copy fails; |*ret_text| is untouched on failure.
 *
 * Each also returns -EIO or -EPROTO as gw_db_run() does. Blocking.
 */
int gw_db_cmd(PGconn *c, const char *sql, int n, const char *const *params);
int gw_db_rows(PGconn *c, const char *sql, int n, const char *const *params);
int gw_db_each(PGconn *c, const char *sql, int n, const char *const *params,
               void (*row)(void *arg, const PGresult *res, int i), void *arg);
int gw_db_one(PGconn *c, const char *sql, int n, const char *const *params, int none,
              void (*row)(void *arg, const PGresult *res, int i), void *arg);
int gw_db_text(PGconn *c, const char *sql, int n, const char *const *params, char **ret_text);

/* Like gw_db_cmd() with parameter |binary| (an index of |params|) sent as |binary_len| bytes in
 * binary format (bytea: no escaping); the others are text. */
int gw_db_cmd_binary(PGconn *c, const char *sql, int n, const char *const *params, int binary,
                     size_t binary_len);

/*
 * Returns true when the statement that produced |res| failed with SQLSTATE |state| (five
 * characters, e.g. "23505" unique_violation). |res| may be NULL.
 */
bool gw_db_sqlstate_is(const PGresult *res, const char *state);

/* Runs SELECT 1. Returns 0 or -EIO. Blocking. */
int gw_db_ping(PGconn *c);

/*
 * The thread context of a pool whose threads each keep a lazily made PGconn (the db and login
 * pools, gw_pool_start()). gw_db_thread_init() makes the context for connection string |arg|
 * (a const char * that outlives the pool); it returns NULL when out of memory, which
 * gw_db_thread_conn() treats as "unreachable". gw_db_thread_fini() closes the connection and
 * frees |ctx| (accepts NULL). Both run on the pool thread itself.
 */
void *gw_db_thread_init(void *arg);
void gw_db_thread_fini(void *ctx);

/*
 * Returns the PGconn of the pool thread whose context is |thread_ctx|, connecting (again) when
 * there is none or it broke; NULL while PostgreSQL is unreachable. The connection belongs to the
 * context: do not PQfinish() it. That pool thread only.
 */
PGconn *gw_db_thread_conn(void *thread_ctx);

#endif
