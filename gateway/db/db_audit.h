/*
 * db_audit: what `prep-gateway audit zero` (cmd_audit) reads of PostgreSQL: the row count of every
 * table of the public schema.
 *
 * The tables are found in information_schema at run time, so a table that a later migration adds
 * is counted without a change here; which tables may hold rows before election night is the
 * command's decision, passed in as a list to skip. Read-only. Blocking, on a connection owned by
 * the caller (gw_db.h); the reason of a failure is in PQerrorMessage().
 */
#ifndef DB_AUDIT_H
#define DB_AUDIT_H

#include <libpq-fe.h>

/*
 * Lists the base tables of the public schema in name order and, for each one that is not in
 * |skip| (a NULL-terminated array of table names; NULL skips none), counts its rows and calls
 * |cb| with the table's name and the count, on the calling thread before returning; |table|
 * lives only during the call. Table names reach SQL quoted by PQescapeIdentifier().
 *
 * Returns the number of tables counted, or -ENOMEM, -EIO or -EPROTO; |cb| may have been called
 * for the tables before a failure.
 */
int gw_db_audit_table_counts(PGconn *c, const char *const *skip,
                             void (*cb)(void *arg, const char *table, long long rows), void *arg);

#endif
