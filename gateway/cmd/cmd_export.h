/*
 * cmd_export: `prep-gateway export prep-csv`, the publication of an election's PREP results as
 * the CSV layout INE publishes (docs/export.md): a header block with the election, the cut time
 * and the totals, then one row per acta, expected actas that never arrived included.
 *
 * The rows of a cut come from PostgreSQL (db/db_export.h), which decides what a cut at a time
 * contains; this module turns them into bytes, writes them atomically (temporary file, fsync,
 * rename, directory fsync) and records every cut with its SHA-256 in export_cuts, chained and
 * linked to the photo ledger. With --every it runs as its own process and cuts every N minutes,
 * each cut under a name with its time plus `latest.csv`. It runs no SQL itself and needs no
 * running gateway.
 */
#ifndef CMD_EXPORT_H
#define CMD_EXPORT_H

/* Runs `prep-gateway export ...` with |argv| starting at "export". Returns the exit status. */
int gw_cmd_export(int argc, char **argv);

#endif
