/*
 * cmd_admin: the administration commands of prep-gateway.
 *
 * `prep-gateway user add|passwd|disable|list` manages the accounts of clerks, supervisors and
 * admins (passwords are read from standard input, one line, never from the command line where
 * `ps` would show them); `prep-gateway catalog import FILE.csv` loads the catalogue of expected
 * actas. They connect to PostgreSQL directly (--db, default $PREP_DB) and need no running gateway.
 * `prep-gateway migrate` applies the schema's migrations. Progress goes to stderr, results to
 * stdout (JSON with --json).
 */
#ifndef CMD_ADMIN_H
#define CMD_ADMIN_H

/* Runs `prep-gateway user ...` with |argv| starting at "user". Returns the exit status. */
int gw_cmd_user(int argc, char **argv);

/* Runs `prep-gateway catalog ...` with |argv| starting at "catalog". Returns the exit status. */
int gw_cmd_catalog(int argc, char **argv);

/* Runs `prep-gateway migrate ...` with |argv| starting at "migrate"; |schema_dir| is the default
 * of --schema. Returns the exit status. */
int gw_cmd_migrate(int argc, char **argv, const char *schema_dir);

#endif
