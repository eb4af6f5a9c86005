/*
 * gw_cli_db: the database side of the command line, for the prep-gateway commands that talk to
 * PostgreSQL directly (user, catalog, migrate, device, ledger verify, audit zero). It opens a
 * connection from --db (the caller's default being gw_config_defaults()'s: $PREP_DB, else the
 * conninfo ./run.sh wrote) and says why it could not; it runs no SQL (every statement is in
 * gateway/db/, the commands call its functions). A library of its own so that only the programs
 * that use the database link libpq: the client and the tools take common/gw_cli alone.
 */
#ifndef GW_CLI_DB_H
#define GW_CLI_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

/*
 * Connects to |conninfo| with gw_db_connect(). On failure prints "|what|: <libpq's reason>" on
 * stderr, |what| being the command's own wording ("prep-gateway user: could not connect").
 * Returns the connection (the caller PQfinish()es it), or NULL.
 */
PGconn *gw_cli_db_connect(const char *conninfo, const char *what);

/*
 * An import command, `|prog| import FILE [--db CONNINFO] [--json]` (|argv| starting at the
 * command's name, |usage| its help): parses the options, connects, and returns |import|(pg, FILE,
 * json)'s exit status, or 2 for a usage mistake, 1 when the database is out of reach.
 */
int gw_cli_db_import(int argc, char **argv, const char *prog, const char *usage,
                     int (*import)(PGconn *pg, const char *file, bool json));

#endif
