#include "db_audit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"

static bool listed(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

static void copy_count(void *arg, const PGresult *res, int i)
{
    *(long long *)arg = strtoll(PQgetvalue(res, i, 0), NULL, 10);
}

/* Counts the rows of |table|, quoted as an identifier. Returns 0, -ENOMEM, -EIO or -EPROTO. */
static int count_rows(PGconn *c, const char *table, long long *ret_rows)
{
    static const char head[] = "SELECT count(*) FROM ";
    char *quoted = PQescapeIdentifier(c, table, strlen(table)), *sql;
    size_t cap;
    int r;

    /* libpq refuses a name that is not valid in the connection's encoding (or runs out of
     * memory), and says why in PQerrorMessage(). */
    if (!quoted)
        return PQstatus(c) == CONNECTION_OK ? -EPROTO : -EIO;
    cap = sizeof(head) + strlen(quoted);
    sql = malloc(cap);
    if (!sql) {
        PQfreemem(quoted);
        return -ENOMEM;
    }
    snprintf(sql, cap, "%s%s", head, quoted);
    PQfreemem(quoted);
    r = gw_db_one(c, sql, 0, NULL, -EPROTO, copy_count, ret_rows);
    free(sql);
    return r;
}

int gw_db_audit_table_counts(PGconn *c, const char *const *skip,
                             void (*cb)(void *arg, const char *table, long long rows), void *arg)
{
    PGresult *res;
    int r, counted = 0;

    r = gw_db_run(c,
                  "SELECT table_name FROM information_schema.tables"
                  " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                  " ORDER BY table_name",
                  0, NULL, PGRES_TUPLES_OK, &res);
    for (int i = 0; r == 0 && i < PQntuples(res); i++) {
        const char *table = PQgetvalue(res, i, 0);
        long long rows;

        if (listed(skip, table))
            continue;
        r = count_rows(c, table, &rows);
        if (r == 0) {
            cb(arg, table, rows);
            counted++;
        }
    }
    PQclear(res);
    return r < 0 ? r : counted;
}
