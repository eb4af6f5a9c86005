/*
 * cmd_election: `prep-gateway election import FILE.json`, the election structure that capture
 * needs (the vote fields of each acta type, docs/capture.md).
 *
 * Reads and parses the file (jansson, so that a syntax error names its line), then hands it to
 * PostgreSQL in one statement (db/db_capture.h), where election_import() checks its structure and
 * replaces the acta types it names. Connects with --db (default $PREP_DB) and needs no running
 * gateway. The summary goes to stdout (JSON with --json), errors to stderr.
 */
#ifndef CMD_ELECTION_H
#define CMD_ELECTION_H

/* Runs `prep-gateway election ...` with |argv| starting at "election". Returns the exit status. */
int gw_cmd_election(int argc, char **argv);

#endif
