#include "db_catalog.h"

#include <errno.h>
#include <stdlib.h>

#include "gw_db.h"

int gw_db_catalog_import_begin(PGconn *c)
{
    /* ON COMMIT DROP: the staging table goes with the transaction, whichever way it ends. */
    return gw_db_run(c,
                     "BEGIN; CREATE TEMP TABLE catalog_in (clave_acta text, state text,"
                     " district text, municipality text, section text, casilla_type text,"
                     " nominal_list text) ON COMMIT DROP;"
                     " COPY catalog_in FROM STDIN (FORMAT csv)",
                     0, NULL, PGRES_COPY_IN, NULL);
}

int gw_db_catalog_import_put(PGconn *c, const char *buf, size_t n)
{
    return PQputCopyData(c, buf, (int)n) == 1 ? 0 : -EIO;
}

static void copy_counts(void *arg, const PGresult *res, int i)
{
    struct gw_db_catalog_counts *ret = arg;

    ret->inserted = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    ret->updated = strtoll(PQgetvalue(res, i, 1), NULL, 10);
    ret->unflagged = strtoll(PQgetvalue(res, i, 2), NULL, 10);
}

int gw_db_catalog_import_end(PGconn *c, struct gw_db_catalog_counts *ret)
{
    PGresult *res;
    int r;

    if (PQputCopyEnd(c, NULL) != 1)
        return -EIO;
    res = PQgetResult(c);
    r = gw_db_status(c, res, PGRES_COMMAND_OK);
    PQclear(res);
    if (r < 0)
        return r;
    /* libpq takes no new statement before PQgetResult() has returned NULL. */
    while ((res = PQgetResult(c)))
        PQclear(res);
    return gw_db_one(
        c,
        "WITH up AS (INSERT INTO catalog SELECT clave_acta, state::smallint,"
        "   district::smallint, municipality, section::int, casilla_type, nominal_list::int"
        "   FROM catalog_in ON CONFLICT (clave_acta) DO UPDATE SET state = excluded.state,"
        "   district = excluded.district, municipality = excluded.municipality,"
        "   section = excluded.section, casilla_type = excluded.casilla_type,"
        "   nominal_list = excluded.nominal_list RETURNING (xmax = 0) AS inserted),"
        " fl AS (UPDATE verification_queue q SET flag = NULL FROM catalog_in c"
        "   WHERE q.clave_acta = c.clave_acta AND q.flag = 'fuera_de_catalogo' RETURNING 1)"
        " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
        "  (SELECT count(*) FROM fl) FROM up",
        0, NULL, -EPROTO, copy_counts, ret);
}

int gw_db_catalog_import_commit(PGconn *c)
{
    return gw_db_run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
}

void gw_db_catalog_import_abort(PGconn *c)
{
    (void)gw_db_run(c, "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL);
}
