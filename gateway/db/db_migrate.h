/*
 * db_migrate: applies the numbered migrations of schema/ to a database.
 *
 * Each schema/NNN_name.sql runs once, in version order, in its own transaction under an advisory
 * lock, and is recorded with its SHA-256 in schema_migrations; a recorded file that changed since
 * is an error rather than a silent divergence. The SQL of the files is the schema's own business:
 * this module only sequences it. Used by `prep-gateway migrate`; not by the running gateway.
 */
#ifndef DB_MIGRATE_H
#define DB_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Applies every schema/NNN_name.sql under |schema_dir| not yet recorded in schema_migrations, in
 * version order, printing one line per step to |progress|. Returns the number applied, or a
 * negative error (-EINVAL for a bad file name or a changed migration, -ENOMEM, -EIO, -EPROTO or
 * the -errno of reading the folder) with a one-line message in |errbuf| (|errcap| bytes).
 * Blocking; the caller owns |c|.
 */
int gw_db_migrate(PGconn *c, const char *schema_dir, FILE *progress, char *errbuf, size_t errcap);

#endif
