/*
 * db_export: the statements of publication (`prep-gateway export prep-csv`, docs/export.md): the
 * election and its vote fields, the cut time in the publication's zone, the acta-by-acta rows of
 * a cut and the record of a published cut in export_cuts.
 *
 * The cut's semantics (what was received, decided and captured up to the cut, by the history's
 * timestamps) live in schema/008_export.sql, export_prep_rows(); this module only runs it and hands
 * the rows over as text. It builds no CSV (cmd_export does). Blocking functions on a connection
 * owned by the caller (gw_db.h).
 */
#ifndef DB_EXPORT_H
#define DB_EXPORT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cut time, resolved once by PostgreSQL and then passed around as its exact UTC text. */
struct gw_db_export_cut {
    char utc[40];   /* 2021-06-07T01:00:00.000000Z: the value every statement of the cut uses */
    char local[40]; /* DD/MM/YYYY HH:MM in the publication's zone */
    char stamp[16]; /* YYYYMMDD_HHMM in the publication's zone, for file names */
    int offset_min; /* the zone's offset from UTC at the cut, in minutes */
};

/*
 * Resolves the cut time: |at| (any timestamptz PostgreSQL accepts) or, when NULL, now; when
 * |to_minute| is true it is truncated to the minute. |tz| is an IANA zone name. Returns 0, or -EIO
 * (a bad time or zone: PQerrorMessage says which) or -EPROTO.
 */
int gw_db_export_cut_time(PGconn *c, const char *at, bool to_minute, const char *tz,
                          struct gw_db_export_cut *ret);

/*
 * The election to export: |election| when it exists, or, when NULL, the only election loaded.
 * Copies its id and name into new strings |*ret_id| and |*ret_name| (caller frees). Returns 0,
 * -ENOENT (no such election, or none loaded), -E2BIG (|election| NULL and several loaded), -EIO,
 * -EPROTO or -ENOMEM.
 */
int gw_db_export_election(PGconn *c, const char *election, char **ret_id, char **ret_name);

/*
 * Calls |cb| with each vote field of |election|'s acta types (id and kind), in the order of the
 * acta (acta type, then position), each id once. Returns the number of fields, -EIO or -EPROTO.
 */
int gw_db_export_fields(PGconn *c, const char *election,
                        void (*cb)(void *arg, const char *field_id, const char *kind), void *arg);

/* One acta of a cut, as PostgreSQL prints it; NULL where SQL gives NULL. */
struct gw_db_export_row {
    const char *clave;
    bool in_catalog;
    const char *state, *district, *section, *nominal_list, *allowance;
    const char *sha256;        /* of the acta's photo; NULL: no photo received by the cut */
    const char *received;      /* DD/MM/YYYY HH:MM:SS in the publication's zone */
    const char *first_capture; /* the first capture of the round */
    const char *result_at;     /* the capture that counts; NULL: not captured at the cut */
    const char *figures;       /* JSON object of the result */
    const char *sum_votes;
    bool contabilizada;
    const char *reason;       /* no contabilizada: why */
    const char *observations; /* a PostgreSQL text[] literal, {a,b} */
};

/*
 * Calls |cb| (before returning, on the calling thread) with each acta of |election| at |cut|, in
 * CLAVE_ACTA order; the row's strings live only during the call. Times are in zone |tz|. Returns
 * the number of rows, -EIO or -EPROTO.
 */
int gw_db_export_rows(PGconn *c, const char *election, const struct gw_db_export_cut *cut,
                      const char *tz, void (*cb)(void *arg, const struct gw_db_export_row *row),
                      void *arg);

/* The record of a cut in export_cuts. */
struct gw_db_export_record {
    int64_t cut_id;
    int64_t ledger_seq;
    char hash[65];
    char ledger_head[65];
    bool recorded; /* false: this cut with these bytes was recorded before */
};

/*
 * Signs |text| (|len| bytes): writes the base64 signature, NUL-terminated, into |ret_sig| (|cap|
 * bytes). Returns 0 or a negative errno.
 */
typedef int (*gw_db_export_sign_fn)(void *arg, const char *text, size_t len, char *ret_sig,
                                    size_t cap);

/*
 * Records the cut |cut| of |election| whose |bytes| bytes have SHA-256 |sha256_hex| and |actas|
 * rows, in one transaction: export_cut_prepare() takes the cuts' lock and gives the text to sign
 * (the cut, its link to the photo ledger, the previous cut's hash and |key_fp|, the signing key's
 * fingerprint); |sign| (called on this thread, before returning) signs it; export_cut_insert()
 * appends it. The same cut with the same bytes is recorded once: then |sign| is not called and
 * |ret->recorded| is false. Returns 0, or -EIO or -EPROTO, or |sign|'s error: then the
 * transaction was rolled back, and libpq's message copied into |errbuf| (|errcap| bytes).
 */
int gw_db_export_record(PGconn *c, const char *election, const struct gw_db_export_cut *cut,
                        const char *sha256_hex, uint64_t bytes, int actas, const char *key_fp,
                        gw_db_export_sign_fn sign, void *sign_arg, char *errbuf, size_t errcap,
                        struct gw_db_export_record *ret);

/*
 * Checks the chain of export_cuts (export_cuts_check()). Returns the number of cuts when it
 * holds; -EBADMSG with the first bad cut in |*ret_bad| and its reason (a new string, caller
 * frees) in |*ret_why| when not; -EIO or -EPROTO.
 */
int gw_db_export_check(PGconn *c, int64_t *ret_bad, char **ret_why);

/*
 * Calls |cb| (before returning, on the calling thread) with each cut of export_cuts in order:
 * its id, the text its signature is over (export_cut_text()), the base64 signature and the
 * signing key's fingerprint; the strings live only during the call. Returns the number of cuts,
 * -EIO or -EPROTO.
 */
int gw_db_export_cuts_each(PGconn *c,
                           void (*cb)(void *arg, const char *cut_id, const char *text,
                                      const char *signature, const char *key_fp),
                           void *arg);

#endif
