#include "db_capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"

#define TIME_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The claim document around the row of capture_claim() or capture_claim_dispute() (as c). */
#define CLAIM_DOC(kind, extra)                                                                     \
    "SELECT json_build_object('photo_id', c.photo_id, 'clave_acta', c.clave_acta,"                 \
    " 'acta_type', c.acta_type, 'acta_type_name', t.name, 'round', q.round, 'kind', '" kind "',"   \
    " 'lease_token', c.lease_token, 'lease_expires', " TIME_UTC(                                   \
        "c.lease_expires") ","                                                                     \
                           " 'review_url', '/v1/photos/' || c.photo_id || '/review.webp',"         \
                           " 'fields', (SELECT json_agg(json_build_object('id', f.field_id, "      \
                           "'label', f.label,"                                                     \
                           "   'kind', f.kind) ORDER BY f.position) FROM acta_fields f"            \
                           "   WHERE f.acta_type = c.acta_type)" extra ")::text"

static int outcome(const char *s)
{
    if (strcmp(s, "ok") == 0)
        return GW_DB_CAPTURE_OK;
    if (strcmp(s, "not_found") == 0)
        return GW_DB_CAPTURE_NOT_FOUND;
    if (strcmp(s, "done") == 0)
        return GW_DB_CAPTURE_DONE;
    if (strcmp(s, "invalid") == 0)
        return GW_DB_CAPTURE_INVALID;
    return GW_DB_CAPTURE_STALE;
}

int gw_db_capture_claim(PGconn *c, int64_t user_id, unsigned lease_s, bool dispute, char **ret_json)
{
    char uid[24], lease[16];
    const char *p[] = {uid, lease};
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    snprintf(lease, sizeof(lease), "%u", lease_s);
    /* Two statements, not one with a branch: the claim functions lease as a side effect, so each
     * must run only when it is the one asked for. */
    if (dispute)
        r = gw_db_text(
            c,
            CLAIM_DOC("supervisor",
                      ", 'disputed_fields', (SELECT coalesce(json_agg(f.field_id ORDER BY"
                      "   f.position), '[]') FROM acta_fields f WHERE f.acta_type = c.acta_type"
                      "   AND (SELECT count(DISTINCT x.figures -> f.field_id) FROM captures x"
                      "   WHERE x.photo_id = c.photo_id AND x.round = q.round"
                      "   AND x.kind = 'blind') > 1)") " FROM capture_claim_dispute($1, $2::int) c"
                                                       " JOIN acta_types t USING (acta_type)"
                                                       " JOIN capture_queue q"
                                                       " ON q.photo_id = c.photo_id",
            2, p, ret_json);
    else
        r = gw_db_text(c,
                       CLAIM_DOC("blind", "") " FROM capture_claim($1, $2::int) c"
                                              " JOIN acta_types t USING (acta_type)"
                                              " JOIN capture_queue q ON q.photo_id = c.photo_id",
                       2, p, ret_json);
    return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

int gw_db_capture_submit(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id,
                         const char *figures, char **ret_json, char *why, size_t why_cap)
{
    char uid[24];
    const char *p[] = {photo_id, lease_token, uid, figures};
    PGresult *res;
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    r = gw_db_run(c,
                  "SELECT outcome, coalesce(detail, ''), json_build_object('photo_id', $1::uuid,"
                  " 'state', state, 'checks', checks)::text"
                  " FROM capture_submit($1::uuid, $2::uuid, $3, $4::jsonb)",
                  4, p, PGRES_TUPLES_OK, &res);
    if (r == 0 && PQntuples(res) != 1)
        r = -EPROTO;
    if (r == 0) {
        r = outcome(PQgetvalue(res, 0, 0));
        if (r == GW_DB_CAPTURE_INVALID) {
            snprintf(why, why_cap, "%s", PQgetvalue(res, 0, 1));
        } else if (r == GW_DB_CAPTURE_OK) {
            *ret_json = strdup(PQgetvalue(res, 0, 2));
            if (!*ret_json)
                r = -ENOMEM;
        }
    }
    PQclear(res);
    return r;
}

static int lease_call(PGconn *c, const char *sql, int n, const char *const *p)
{
    PGresult *res;
    int r = gw_db_run(c, sql, n, p, PGRES_TUPLES_OK, &res);

    if (r == 0 && PQntuples(res) != 1)
        r = -EPROTO;
    if (r == 0)
        r = outcome(PQgetvalue(res, 0, 0));
    PQclear(res);
    return r;
}

int gw_db_capture_release(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id)
{
    char uid[24];
    const char *p[] = {photo_id, lease_token, uid};

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    return lease_call(c, "SELECT capture_release($1::uuid, $2::uuid, $3)", 3, p);
}

int gw_db_capture_return(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id,
                         const char *note)
{
    char uid[24];
    const char *p[] = {photo_id, lease_token, uid, note};

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    return lease_call(c, "SELECT capture_return($1::uuid, $2::uuid, $3, nullif($4, ''))", 4, p);
}

int gw_db_capture_acta_json(PGconn *c, const char *photo_id, char **ret_json)
{
    const char *p[] = {photo_id};

    return gw_db_text(
        c,
        "SELECT json_build_object('photo_id', q.photo_id, 'clave_acta', q.clave_acta,"
        " 'acta_type', q.acta_type, 'state', q.state, 'round', q.round, 'result', q.result,"
        " 'captures', coalesce((SELECT json_agg(json_build_object('capture_id', x.capture_id,"
        "   'round', x.round, 'kind', x.kind, 'user', u.username,"
        "   'captured_at', " TIME_UTC(
            "x.captured_at") ", 'figures', x.figures,"
                             "   'sum_votes', x.sum_votes, 'total_written', x.total_written,"
                             "   'nominal_list', x.nominal_list, 'allowance', x.allowance,"
                             "   'contabilizada', x.contabilizada, 'reason', x.reason,"
                             "   'observations', x.observations) ORDER BY x.capture_id)"
                             "   FROM captures x JOIN users u USING (user_id) WHERE x.photo_id = "
                             "q.photo_id), '[]'),"
                             " 'returns', coalesce((SELECT json_agg(json_build_object('round', "
                             "r.round,"
                             "   'user', u.username, 'note', r.note, 'returned_at', " TIME_UTC(
                                 "r.returned_at") ")"
                                                  "   ORDER BY r.return_id) FROM capture_returns r "
                                                  "JOIN users u USING (user_id)"
                                                  "   WHERE r.photo_id = q.photo_id), '[]'))::text"
                                                  " FROM capture_queue q WHERE q.photo_id = "
                                                  "$1::uuid",
        1, p, ret_json);
}

/* The counters of one group of the catalogue (an agg row). */
#define COUNTERS                                                                                   \
    "'expected', expected, 'received', received, 'accepted', accepted,"                            \
    " 'captured_once', captured_once, 'captured', captured, 'in_dispute', in_dispute,"             \
    " 'contabilizadas', contabilizadas, 'no_contabilizadas', no_contabilizadas"

/* Per clave, one state only, so that the counters add up: captured before in dispute before
 * captured once (a clave may have more than one accepted photo). Ends with agg: one row per
 * district of the catalogue (g = 0) and the total (g = 3). */
#define COUNTERS_CTE                                                                               \
    "WITH cl AS ("                                                                                 \
    "  SELECT p.clave_acta, bool_or(q.state = 'accepted') AS acc,"                                 \
    "   bool_or(cq.state = 'pending' AND cq.blind_captures = 1) AS once,"                          \
    "   bool_or(cq.state = 'captured') AS cap, bool_or(cq.state = 'in_dispute') AS dis,"           \
    "   bool_or(cq.state = 'captured' AND r.contabilizada) AS cont"                                \
    "  FROM photos p LEFT JOIN verification_queue q USING (photo_id)"                              \
    "  LEFT JOIN capture_queue cq USING (photo_id)"                                                \
    "  LEFT JOIN captures r ON r.capture_id = cq.result GROUP BY p.clave_acta),"                   \
    " j AS ("                                                                                      \
    "  SELECT c.state, c.district, cl.clave_acta IS NOT NULL AS rcv,"                              \
    "   coalesce(cl.acc, false) AS acc, coalesce(cl.cap, false) AS cap,"                           \
    "   coalesce(cl.dis AND NOT cl.cap, false) AS dis,"                                            \
    "   coalesce(cl.once AND NOT cl.cap AND NOT cl.dis, false) AS once,"                           \
    "   coalesce(cl.cap AND cl.cont, false) AS cont"                                               \
    "  FROM catalog c LEFT JOIN cl USING (clave_acta)),"                                           \
    " agg AS ("                                                                                    \
    "  SELECT grouping(state, district) AS g, state, district, count(*) AS expected,"              \
    "   count(*) FILTER (WHERE rcv) AS received, count(*) FILTER (WHERE acc) AS accepted,"         \
    "   count(*) FILTER (WHERE once) AS captured_once, count(*) FILTER (WHERE cap) AS captured,"   \
    "   count(*) FILTER (WHERE dis) AS in_dispute, count(*) FILTER (WHERE cont)"                   \
    "   AS contabilizadas, count(*) FILTER (WHERE cap AND NOT cont) AS no_contabilizadas"          \
    "  FROM j GROUP BY GROUPING SETS ((), (state, district)))"

int gw_db_capture_counters_json(PGconn *c, bool totals_only, char **ret_json)
{
    if (totals_only)
        return gw_db_text(c,
                          COUNTERS_CTE " SELECT json_build_object(" COUNTERS ")::text"
                                       " FROM agg WHERE g = 3",
                          0, NULL, ret_json);
    return gw_db_text(c,
                      COUNTERS_CTE " SELECT json_build_object("
                                   "  'total', (SELECT json_build_object(" COUNTERS
                                   ") FROM agg WHERE g = 3),"
                                   "  'districts', coalesce((SELECT json_agg(json_build_object("
                                   "    'state', state, 'district', district, " COUNTERS ")"
                                   "    ORDER BY state, district) FROM agg WHERE g = 0),"
                                   "    '[]'))::text",
                      0, NULL, ret_json);
}

int gw_db_capture_election_import(PGconn *c, const char *doc, char **ret_json)
{
    const char *p[] = {doc};

    return gw_db_text(c, "SELECT election_import($1::jsonb)::text", 1, p, ret_json);
}
