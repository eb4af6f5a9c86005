/*
 * db_catalog: loading the catalogue of expected actas (table catalog), for
 * `prep-gateway catalog import` (cmd_admin).
 *
 * An import is one transaction on a connection given to it alone: gw_db_catalog_import_begin()
 * opens it with a temporary table and starts a COPY into it, gw_db_catalog_import_put() streams
 * the CSV bytes as they are (PostgreSQL parses the CSV, quotes and all),
 * gw_db_catalog_import_end() finishes the COPY and upserts the rows into catalog, taking the
 * fuera_de_catalogo flag off queued photos whose clave is now known, and
 * gw_db_catalog_import_commit() or gw_db_catalog_import_abort() ends it. The CSV header and the
 * file are the caller's business; the column types and checks are the schema's (schema/), so a
 * bad row fails the upsert and the file changes nothing.
 *
 * Blocking functions on a connection owned by the caller (gw_db.h); the reason of a failure is
 * in PQerrorMessage(). Nothing else may run on the connection between begin and commit or abort.
 */
#ifndef DB_CATALOG_H
#define DB_CATALOG_H

#include <libpq-fe.h>
#include <stddef.h>

/* What an import changed. */
struct gw_db_catalog_counts {
    long long inserted;  /* new claves */
    long long updated;   /* claves already in the catalogue, now overwritten */
    long long unflagged; /* queued photos that lost the fuera_de_catalogo flag */
};

/*
 * Opens the import transaction and starts the COPY of CSV rows (clave_acta, state, district,
 * municipality, section, casilla_type, nominal_list) into its temporary table. Returns 0, -EIO or
 * -EPROTO; on failure the transaction may be left open and aborted: close the connection.
 */
int gw_db_catalog_import_begin(PGconn *c);

/* Sends the next |n| bytes |buf| of the CSV (after its header line). Returns 0, or -EIO when the
 * connection failed (gw_db_catalog_import_end() then fails too). */
int gw_db_catalog_import_put(PGconn *c, const char *buf, size_t n);

/*
 * Ends the COPY and upserts its rows into catalog by clave_acta, still inside the transaction;
 * stores what changed in |*ret| (untouched on failure). Returns 0, -EIO or -EPROTO (a bad row,
 * a broken COPY); then call gw_db_catalog_import_abort().
 */
int gw_db_catalog_import_end(PGconn *c, struct gw_db_catalog_counts *ret);

/* Commits the import. Returns 0, -EIO or -EPROTO; then call gw_db_catalog_import_abort(). */
int gw_db_catalog_import_commit(PGconn *c);

/* Rolls the import back (after any failure above but begin's); a failure is ignored, since the
 * caller is giving up anyway and PostgreSQL drops the transaction with the connection. */
void gw_db_catalog_import_abort(PGconn *c);

#endif
