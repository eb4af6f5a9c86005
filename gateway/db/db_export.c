#include "db_export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"

static const char *val(const PGresult *res, int i, int col)
{
    return PQgetisnull(res, i, col) ? NULL : PQgetvalue(res, i, col);
}

static void cut_row(void *arg, const PGresult *res, int i)
{
    struct gw_db_export_cut *cut = arg;

    snprintf(cut->utc, sizeof(cut->utc), "%s", PQgetvalue(res, i, 0));
    snprintf(cut->local, sizeof(cut->local), "%s", PQgetvalue(res, i, 1));
    snprintf(cut->stamp, sizeof(cut->stamp), "%s", PQgetvalue(res, i, 2));
    cut->offset_min = (int)strtol(PQgetvalue(res, i, 3), NULL, 10);
}

int gw_db_export_cut_time(PGconn *c, const char *at, bool to_minute, const char *tz,
                          struct gw_db_export_cut *ret)
{
    const char *p[] = {at, to_minute ? "minute" : "microseconds", tz};
    struct gw_db_export_cut cut;
    int r;

    r = gw_db_one(c,
                  "WITH t AS (SELECT date_trunc($2, coalesce($1::timestamptz, now())) AS t)"
                  " SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
                  " to_char(t AT TIME ZONE $3, 'DD/MM/YYYY HH24:MI'),"
                  " to_char(t AT TIME ZONE $3, 'YYYYMMDD_HH24MI'),"
                  " (extract(epoch FROM (t AT TIME ZONE $3) - (t AT TIME ZONE 'UTC')) / 60)::int"
                  " FROM t",
                  3, p, -EPROTO, cut_row, &cut);
    if (r == 0)
        *ret = cut;
    return r;
}

struct election {
    char *id, *name;
    int n;
};

static void election_row(void *arg, const PGresult *res, int i)
{
    struct election *e = arg;

    e->n++;
    if (i == 0) {
        e->id = strdup(PQgetvalue(res, i, 0));
        e->name = strdup(PQgetvalue(res, i, 1));
    }
}

int gw_db_export_election(PGconn *c, const char *election, char **ret_id, char **ret_name)
{
    const char *p[] = {election};
    struct election e = {0};
    int r;

    r = gw_db_each(c,
                   "SELECT election_id, name FROM elections"
                   " WHERE $1::text IS NULL OR election_id = $1 ORDER BY election_id",
                   1, p, election_row, &e);
    if (r >= 0 && e.n == 0)
        r = -ENOENT;
    else if (r >= 0 && e.n > 1)
        r = -E2BIG;
    else if (r >= 0 && (!e.id || !e.name))
        r = -ENOMEM;
    if (r < 0) {
        free(e.id);
        free(e.name);
        return r;
    }
    *ret_id = e.id;
    *ret_name = e.name;
    return 0;
}

struct fields {
    void (*cb)(void *arg, const char *field_id, const char *kind);
    void *arg;
};

static void field_row(void *arg, const PGresult *res, int i)
{
    struct fields *f = arg;

    f->cb(f->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
}

int gw_db_export_fields(PGconn *c, const char *election,
                        void (*cb)(void *arg, const char *field_id, const char *kind), void *arg)
{
    const char *p[] = {election};
    struct fields f = {cb, arg};

    return gw_db_each(c,
                      "SELECT field_id, kind FROM ("
                      " SELECT DISTINCT ON (f.field_id) f.field_id, f.kind, f.acta_type, f.position"
                      " FROM acta_fields f JOIN acta_types t USING (acta_type)"
                      " WHERE t.election_id = $1 ORDER BY f.field_id, f.acta_type, f.position) s"
                      " ORDER BY acta_type, position",
                      1, p, field_row, &f);
}

struct rows {
    void (*cb)(void *arg, const struct gw_db_export_row *row);
    void *arg;
};

static void export_row(void *arg, const PGresult *res, int i)
{
    struct rows *w = arg;
    struct gw_db_export_row r = {
        .clave = PQgetvalue(res, i, 0),
        .in_catalog = PQgetvalue(res, i, 1)[0] == 't',
        .state = val(res, i, 2),
        .district = val(res, i, 3),
        .section = val(res, i, 4),
        .nominal_list = val(res, i, 5),
        .allowance = val(res, i, 6),
        .sha256 = val(res, i, 7),
        .received = val(res, i, 8),
        .first_capture = val(res, i, 9),
        .result_at = val(res, i, 10),
        .figures = val(res, i, 11),
        .sum_votes = val(res, i, 12),
        .contabilizada = !PQgetisnull(res, i, 13) && PQgetvalue(res, i, 13)[0] == 't',
        .reason = val(res, i, 14),
        .observations = val(res, i, 15),
    };

    w->cb(w->arg, &r);
}

int gw_db_export_rows(PGconn *c, const char *election, const struct gw_db_export_cut *cut,
                      const char *tz, void (*cb)(void *arg, const struct gw_db_export_row *row),
                      void *arg)
{
    const char *p[] = {election, cut->utc, tz};
    struct rows w = {cb, arg};

    return gw_db_each(c, "SELECT * FROM export_prep_rows($1, $2::timestamptz, $3)", 3, p,
                      export_row, &w);
}

struct prepared {
    bool before;
    struct gw_db_export_record rec;
    char prev[65];
    char *text;
};

static void prepare_row(void *arg, const PGresult *res, int i)
{
    struct prepared *p = arg;

    p->before = PQgetvalue(res, i, 0)[0] == 't';
    if (p->before) {
        p->rec.cut_id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        snprintf(p->rec.hash, sizeof(p->rec.hash), "%s", PQgetvalue(res, i, 2));
    } else
        p->text = strdup(PQgetvalue(res, i, 6));
    p->rec.ledger_seq = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    snprintf(p->rec.ledger_head, sizeof(p->rec.ledger_head), "%s", PQgetvalue(res, i, 4));
    snprintf(p->prev, sizeof(p->prev), "%s", PQgetvalue(res, i, 5));
}

static void insert_row(void *arg, const PGresult *res, int i)
{
    struct gw_db_export_record *r = arg;

    r->cut_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    snprintf(r->hash, sizeof(r->hash), "%s", PQgetvalue(res, i, 1));
}

int gw_db_export_record(PGconn *c, const char *election, const struct gw_db_export_cut *cut,
                        const char *sha256_hex, uint64_t bytes, int actas, const char *key_fp,
                        gw_db_export_sign_fn sign, void *sign_arg, char *errbuf, size_t errcap,
                        struct gw_db_export_record *ret)
{
    char b[24], n[16], seq[24], sig[256];
    struct prepared p = {0};
    const char *pp[] = {election, cut->utc, sha256_hex, b, n, key_fp};
    const char *ip[] = {election, cut->utc, sha256_hex, b, n, seq, NULL, NULL, key_fp, sig};
    int r;

    snprintf(b, sizeof(b), "%llu", (unsigned long long)bytes);
    snprintf(n, sizeof(n), "%d", actas);
    r = gw_db_cmd(c, "BEGIN", 0, NULL);
    if (r < 0)
        return r;
    r = gw_db_one(c,
                  "SELECT * FROM export_cut_prepare($1, $2::timestamptz, $3, $4::bigint, $5::int,"
                  " $6)",
                  6, pp, -EPROTO, prepare_row, &p);
    if (r == 0 && !p.before && !p.text)
        r = -ENOMEM;
    if (r == 0 && !p.before)
        r = sign(sign_arg, p.text, strlen(p.text), sig, sizeof(sig));
    if (r == 0 && !p.before) {
        snprintf(seq, sizeof(seq), "%lld", (long long)p.rec.ledger_seq);
        ip[6] = p.rec.ledger_head;
        ip[7] = p.prev;
        r = gw_db_one(c,
                      "SELECT * FROM export_cut_insert($1, $2::timestamptz, $3, $4::bigint,"
                      " $5::int, $6::bigint, $7, $8, $9, $10)",
                      10, ip, -EPROTO, insert_row, &p.rec);
    }
    if (r == 0)
        r = gw_db_cmd(c, "COMMIT", 0, NULL);
    if (r < 0) {
        /* ROLLBACK clears libpq's message: it is copied first. */
        snprintf(errbuf, errcap, "%s", PQerrorMessage(c));
        PQclear(PQexec(c, "ROLLBACK"));
        free(p.text);
        return r;
    }
    free(p.text);
    p.rec.recorded = !p.before;
    *ret = p.rec;
    return 0;
}

struct check {
    int64_t bad;
    char *why;
};

static void check_row(void *arg, const PGresult *res, int i)
{
    struct check *k = arg;

    k->bad = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    k->why = strdup(PQgetvalue(res, i, 1));
}

int gw_db_export_check(PGconn *c, int64_t *ret_bad, char **ret_why)
{
    struct check k = {0};
    int r = gw_db_each(c, "SELECT * FROM export_cuts_check()", 0, NULL, check_row, &k);

    if (r < 0)
        return r;
    if (r > 0) {
        if (!k.why)
            return -ENOMEM;
        *ret_bad = k.bad;
        *ret_why = k.why;
        return -EBADMSG;
    }
    return gw_db_rows(c, "SELECT 1 FROM export_cuts", 0, NULL);
}

struct cuts_each {
    void (*cb)(void *arg, const char *cut_id, const char *text, const char *signature,
               const char *key_fp);
    void *arg;
};

static void cut_each_row(void *arg, const PGresult *res, int i)
{
    struct cuts_each *w = arg;

    w->cb(w->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
          PQgetvalue(res, i, 3));
}

int gw_db_export_cuts_each(PGconn *c,
                           void (*cb)(void *arg, const char *cut_id, const char *text,
                                      const char *signature, const char *key_fp),
                           void *arg)
{
    struct cuts_each w = {cb, arg};

    return gw_db_each(c,
                      "SELECT cut_id, export_cut_text(election_id, cut_at, sha256, bytes, actas,"
                      " ledger_seq, ledger_head, prev, gateway_key), signature, gateway_key"
                      " FROM export_cuts ORDER BY cut_id",
                      0, NULL, cut_each_row, &w);
}
