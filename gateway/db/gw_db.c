#include "gw_db.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

PGconn *gw_db_connect(const char *conninfo, char *errbuf, size_t errcap)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, "5", "prep-gateway", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    if (errbuf) {
        const char *m = c ? PQerrorMessage(c) : "out of memory";
        size_t n = strcspn(m, "\n");

        snprintf(errbuf, errcap, "%.*s", (int)n, m);
    }
    PQfinish(c);
    return NULL;
}

/*
 * Whether a failed statement failed for the connection's sake, not its own: the server went away
 * mid-statement (libpq reports it without a SQLSTATE, and may not have marked the connection bad
 * yet), or sent class 08 (connection exception) or 57P01..57P03 (shutting down, crashed,
 * starting). A retry on a new connection may then succeed.
 */
static bool connection_lost(PGconn *c, const PGresult *res)
{
    const char *state;

    if (PQstatus(c) != CONNECTION_OK || !res)
        return true;
    if (PQresultStatus(res) != PGRES_FATAL_ERROR)
        return false; /* a result of another kind than asked: the statement's fault */
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state)
        return true;
    return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
           strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

int gw_db_status(PGconn *c, PGresult *res, ExecStatusType want)
{
    if (res && PQresultStatus(res) == want)
        return 0;
    return connection_lost(c, res) ? -EIO : -EPROTO;
}

int gw_db_run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want,
              PGresult **ret_res)
{
    /* The simple protocol for parameterless text: migrations and LISTEN lists hold several
     * statements, which PQexecParams() refuses. */
    PGresult *res = params ? PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    int r = gw_db_status(c, res, want);

    if (ret_res)
        *ret_res = res;
    else
        PQclear(res);
    return r;
}

/*
 * The shorthands below: runs |sql| as gw_db_run() does and, when it succeeded, returns what
 * |take| makes of the result; the result is cleared here either way, so that each shorthand only
 * says what it reads.
 */
static int run_take(PGconn *c, const char *sql, int n, const char *const *params,
                    ExecStatusType want, int (*take)(PGresult *res, void *arg), void *arg)
{
    PGresult *res;
    int r = gw_db_run(c, sql, n, params, want, &res);

    if (r == 0)
        r = take(res, arg);
    PQclear(res);
    return r;
}

static int take_changed(PGresult *res, void *arg)
{
    (void)arg;
    return (int)strtol(PQcmdTuples(res), NULL, 10);
}

int gw_db_cmd(PGconn *c, const char *sql, int n, const char *const *params)
{
    return run_take(c, sql, n, params, PGRES_COMMAND_OK, take_changed, NULL);
}

int gw_db_cmd_binary(PGconn *c, const char *sql, int n, const char *const *params, int binary,
                     size_t binary_len)
{
    int lens[32] = {0}, formats[32] = {0}, r;
    PGresult *res;

    if (n > 32 || binary < 0 || binary >= n || binary_len > INT_MAX)
        return -EPROTO;
    lens[binary] = (int)binary_len;
    formats[binary] = 1;
    res = PQexecParams(c, sql, n, NULL, params, lens, formats, 0);
    r = gw_db_status(c, res, PGRES_COMMAND_OK);
    if (r == 0)
        r = take_changed(res, NULL);
    PQclear(res);
    return r;
}

struct each {
    void (*row)(void *arg, const PGresult *res, int i);
    void *arg;
};

static int take_rows(PGresult *res, void *arg)
{
    const struct each *e = arg;
    int n = PQntuples(res);

    for (int i = 0; e && i < n; i++)
        e->row(e->arg, res, i);
    return n;
}

int gw_db_rows(PGconn *c, const char *sql, int n, const char *const *params)
{
    return run_take(c, sql, n, params, PGRES_TUPLES_OK, take_rows, NULL);
}

int gw_db_each(PGconn *c, const char *sql, int n, const char *const *params,
               void (*row)(void *arg, const PGresult *res, int i), void *arg)
{
    struct each e = {row, arg};

    return run_take(c, sql, n, params, PGRES_TUPLES_OK, take_rows, &e);
}

struct one {
    int none;
    void (*row)(void *arg, const PGresult *res, int i);
    void *arg;
};

static int take_one(PGresult *res, void *arg)
{
    const struct one *o = arg;

    if (PQntuples(res) != 1)
        return o->none;
    o->row(o->arg, res, 0);
    return 0;
}

int gw_db_one(PGconn *c, const char *sql, int n, const char *const *params, int none,
              void (*row)(void *arg, const PGresult *res, int i), void *arg)
{
    struct one o = {none, row, arg};

    return run_take(c, sql, n, params, PGRES_TUPLES_OK, take_one, &o);
}

static int take_text(PGresult *res, void *arg)
{
    char **ret_text = arg, *s;

    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        return -ENOENT;
    s = strdup(PQgetvalue(res, 0, 0));
    if (!s)
        return -ENOMEM;
    *ret_text = s;
    return 0;
}

int gw_db_text(PGconn *c, const char *sql, int n, const char *const *params, char **ret_text)
{
    return run_take(c, sql, n, params, PGRES_TUPLES_OK, take_text, ret_text);
}

bool gw_db_sqlstate_is(const PGresult *res, const char *state)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    return s && strcmp(s, state) == 0;
}

int gw_db_ping(PGconn *c)
{
    return gw_db_run(c, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, NULL) < 0 ? -EIO : 0;
}

/* ---- the thread context of the db and login pools ---- */

struct thread_ctx {
    const char *conninfo;
    PGconn *pg;
};

void *gw_db_thread_init(void *arg)
{
    struct thread_ctx *c = calloc(1, sizeof(*c));

    if (c)
        c->conninfo = arg;
    return c;
}

void gw_db_thread_fini(void *ctx)
{
    struct thread_ctx *c = ctx;

    if (c)
        PQfinish(c->pg);
    free(c);
}

PGconn *gw_db_thread_conn(void *thread_ctx)
{
    struct thread_ctx *c = thread_ctx;

    if (!c)
        return NULL;
    if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    if (!c->pg)
        c->pg = gw_db_connect(c->conninfo, NULL, 0);
    return c->pg;
}
