/*
 * cmd_export_csv: the bytes of a PREP CSV cut (docs/export.md), for cmd_export: the vote columns
 * of the election, one line per acta as db_export gives it (figures as INE writes them,
 * observations, the casilla's fields from its CLAVE_ACTA) and the header block with the totals
 * counted while the rows went by. Pure: no SQL, no files, no clock; the same rows give the same
 * bytes. RFC 4180 quoting, UTF-8 as the database gives it, lines ending in LF.
 */
#ifndef CMD_EXPORT_CSV_H
#define CMD_EXPORT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "db_export.h"

#define GW_EXPORT_FIELDS_MAX 64 /* vote columns of one election */

struct gw_export_field {
    char id[40];
    bool total;
};

/* One cut being built: the vote columns, the rows' bytes and the totals of the header. */
struct gw_export_csv {
    struct gw_export_field fields[GW_EXPORT_FIELDS_MAX];
    int n_fields;
    bool too_many;
    FILE *rows;
    char *rows_buf;
    size_t rows_len;
    int n_rows;
    long long esperadas, registradas, fuera, capturadas, contabilizadas, no_contabilizadas;
    long long nominal, votes, votes_no_especiales;
};

/*
 * Adds the vote column |field_id| of kind |kind| (a db_export fields callback, |arg| being the
 * struct gw_export_csv); the total's column is TOTAL_VOTOS_ASENTADO, the others the id in
 * capitals. Past GW_EXPORT_FIELDS_MAX it sets |too_many| instead.
 */
void gw_export_csv_field(void *arg, const char *field_id, const char *kind);

/* Appends the line of acta |r| to |rows| and counts it in the totals (a db_export rows
 * callback, |arg| being the struct gw_export_csv, whose |rows| stream must be open). */
void gw_export_csv_row(void *arg, const struct gw_db_export_row *r);

/* Writes the whole file to |f|: the header block (|name|, the cut's time, the totals), the
 * column names, then the rows' bytes |rows_buf| (|rows| closed). */
void gw_export_csv_write(FILE *f, const struct gw_export_csv *b, const char *name,
                         const struct gw_db_export_cut *cut);

#endif
