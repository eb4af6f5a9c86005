#include "db_review.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw_db.h"

static void lease_row(void *arg, const PGresult *res, int i)
{
    struct gw_db_review_lease *l = arg;

    memset(l, 0, sizeof(*l));
    snprintf(l->photo_id, sizeof(l->photo_id), "%s", PQgetvalue(res, i, 0));
    snprintf(l->clave, sizeof(l->clave), "%s", PQgetvalue(res, i, 1));
    snprintf(l->lease_token, sizeof(l->lease_token), "%s", PQgetvalue(res, i, 2));
    snprintf(l->lease_expires, sizeof(l->lease_expires), "%s", PQgetvalue(res, i, 3));
    l->has_flag = !PQgetisnull(res, i, 4);
    if (l->has_flag)
        snprintf(l->flag, sizeof(l->flag), "%s", PQgetvalue(res, i, 4));
}

int gw_db_review_claim(PGconn *c, int64_t user_id, unsigned lease_s, struct gw_db_review_lease *ret)
{
    char uid[24], lease[16];
    const char *p[] = {uid, lease};
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    snprintf(lease, sizeof(lease), "%u", lease_s);
    /* review_claim() returns at most one row: the photo claimed, or none when nothing waits. */
    r = gw_db_one(c,
                  "SELECT photo_id, clave_acta, lease_token, to_char(lease_expires AT TIME"
                  " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), flag"
                  " FROM review_claim($1, $2)",
                  2, p, -ENOENT, lease_row, ret);
    return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

int gw_db_review_claim_detail(PGconn *c, const char *photo_id, const char *clave, char **ret_json)
{
    const char *p[] = {photo_id, clave};

    return gw_db_text(
        c,
        "SELECT json_build_object("
        " 'photo', (SELECT json_build_object('photo_id', p.photo_id, 'clave_acta', p.clave_acta,"
        "   'sha256', encode(p.sha256, 'hex'), 'review_sha256', encode(p.review_sha256, 'hex'),"
        "   'received_at', p.received_text, 'source', p.source,"
        "   'width', p.review_width, 'height', p.review_height,"
        "   'review_url', '/v1/photos/' || p.photo_id || '/review.webp', 'metadata', p.metadata)"
        "   FROM photos p WHERE p.photo_id = $1::uuid),"
        " 'catalog', (SELECT row_to_json(c) FROM catalog c WHERE c.clave_acta = $2),"
        " 'group', coalesce((SELECT json_agg(json_build_object('photo_id', p.photo_id,"
        "   'status', p.status, 'review_state', q.state, 'flag', q.flag,"
        "   'received_at', p.received_text, 'review_url', CASE WHEN p.review_sha256 IS NOT NULL"
        "   THEN '/v1/photos/' || p.photo_id || '/review.webp' END) ORDER BY p.received_at)"
        "   FROM photos p LEFT JOIN verification_queue q USING (photo_id)"
        "   WHERE p.clave_acta = $2 AND p.photo_id <> $1::uuid), '[]'),"
        " 'history', coalesce((SELECT json_agg(json_build_object('decision_id', d.decision_id,"
        "   'photo_id', d.photo_id, 'decision', d.decision, 'reason', d.reason,"
        "   'duplicate_of', d.duplicate_of, 'note', d.note, 'user', u.username,"
        "   'decided_at', d.decided_at) ORDER BY d.decision_id)"
        "   FROM review_decisions d JOIN users u USING (user_id) WHERE d.clave_acta = $2),"
        "   '[]'))::text",
        2, p, ret_json);
}

int gw_db_review_decide(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id,
                        const char *decision, const char *reason, const char *duplicate_of,
                        const char *note)
{
    char uid[24];
    const char *p[] = {photo_id, lease_token, uid, decision, reason, duplicate_of, note};
    PGresult *res;
    const char *state;
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    r = gw_db_run(c,
                  "SELECT review_decide($1::uuid, $2::uuid, $3, $4, nullif($5, ''),"
                  " nullif($6, '')::uuid, nullif($7, ''))",
                  7, p, PGRES_TUPLES_OK, &res);
    if (r == -EPROTO && gw_db_sqlstate_is(res, "23503")) {
        r = -ENOENT; /* foreign key: duplicate_of */
    } else if (r == -EPROTO && gw_db_sqlstate_is(res, "23514")) {
        r = -EINVAL; /* check: a duplicate of itself */
    } else if (r == 0) {
        state = PQgetvalue(res, 0, 0);
        if (strcmp(state, "ok") == 0)
            r = GW_DB_REVIEW_OK;
        else if (strcmp(state, "not_found") == 0)
            r = GW_DB_REVIEW_NOT_FOUND;
        else if (strcmp(state, "decided") == 0)
            r = GW_DB_REVIEW_DECIDED;
        else
            r = GW_DB_REVIEW_STALE;
    }
    PQclear(res);
    return r;
}

int gw_db_review_release(PGconn *c, const char *photo_id, const char *lease_token, int64_t user_id)
{
    char uid[24];
    const char *p[] = {photo_id, lease_token, uid};
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    r = gw_db_rows(c,
                   "WITH r AS (UPDATE verification_queue SET lease_token = NULL,"
                   "   lease_user = NULL, lease_expires = NULL"
                   "   WHERE photo_id = $1::uuid AND lease_token = $2::uuid"
                   "   AND lease_user = $3 AND state = 'waiting'"
                   "   AND lease_expires >= clock_timestamp() RETURNING photo_id)"
                   " SELECT pg_notify('review_changed', photo_id::text) FROM r",
                   3, p);
    if (r < 0)
        return r;
    return r == 1 ? GW_DB_REVIEW_OK : GW_DB_REVIEW_STALE;
}

int gw_db_review_reopen(PGconn *c, const char *photo_id, int64_t user_id, const char *note)
{
    char uid[24];
    const char *p[] = {photo_id, uid, note};
    PGresult *res;
    int r;

    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    r = gw_db_run(c, "SELECT review_reopen($1::uuid, $2, nullif($3, ''))", 3, p, PGRES_TUPLES_OK,
                  &res);
    if (r == 0) {
        if (strcmp(PQgetvalue(res, 0, 0), "not_found") == 0)
            r = GW_DB_REVIEW_NOT_FOUND;
        else if (strcmp(PQgetvalue(res, 0, 0), "waiting") == 0)
            r = GW_DB_REVIEW_WAITING;
        else
            r = GW_DB_REVIEW_OK;
    }
    PQclear(res);
    return r;
}

int gw_db_review_history(PGconn *c, int limit, const char *photo_id, const char *clave,
                         const char *username, char **ret_json)
{
    char lim[16];
    const char *p[] = {lim, photo_id, clave, username};

    snprintf(lim, sizeof(lim), "%d", limit);
    return gw_db_text(c,
                      "SELECT coalesce(json_agg(h ORDER BY h.decision_id DESC), '[]')::text FROM ("
                      " SELECT d.decision_id, d.photo_id, d.clave_acta, d.decision, d.reason,"
                      "  d.duplicate_of, d.note, u.username AS user, u.role,"
                      "  to_char(d.decided_at AT TIME ZONE 'UTC',"
                      "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS decided_at,"
                      "  q.state AS current_state"
                      " FROM review_decisions d JOIN users u USING (user_id)"
                      " JOIN verification_queue q USING (photo_id)"
                      " WHERE ($2 = '' OR d.photo_id = nullif($2, '')::uuid)"
                      "  AND ($3 = '' OR d.clave_acta = $3) AND ($4 = '' OR u.username = $4)"
                      " ORDER BY d.decision_id DESC LIMIT $1::int) h",
                      4, p, ret_json);
}

int gw_db_review_priority(PGconn *c, long state, long district, const char *municipality,
                          long weight, int64_t user_id, char **ret_json)
{
    char st[16], di[16], w[16], uid[24];
    const char *p[] = {st, di, municipality, w, uid};

    snprintf(st, sizeof(st), "%ld", state);
    snprintf(di, sizeof(di), "%ld", district);
    snprintf(w, sizeof(w), "%ld", weight);
    snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
    return gw_db_text(
        c,
        "WITH p AS (INSERT INTO review_priorities (state, district, municipality, weight, set_by)"
        "   VALUES ($1::int, nullif($2::int, 0), nullif($3, ''), $4::int, $5) RETURNING *),"
        " u AS (UPDATE verification_queue q SET priority = greatest(q.priority, p.weight)"
        "   FROM p, catalog c WHERE c.clave_acta = q.clave_acta AND q.state = 'waiting'"
        "   AND c.state = p.state AND (c.district = p.district OR c.municipality = p.municipality)"
        "   RETURNING 1)"
        " SELECT json_build_object('priority_id', (SELECT priority_id FROM p),"
        "   'queued_photos', (SELECT count(*) FROM u))::text",
        5, p, ret_json);
}

int gw_db_review_counts_json(PGconn *c, char **ret_json)
{
    return gw_db_text(
        c,
        "SELECT json_build_object("
        " 'waiting', count(*) FILTER (WHERE state = 'waiting'"
        "   AND (lease_expires IS NULL OR lease_expires < now())),"
        " 'in_review', count(*) FILTER (WHERE state = 'waiting' AND lease_expires >= now()),"
        " 'accepted', count(*) FILTER (WHERE state = 'accepted'),"
        " 'rejected', count(*) FILTER (WHERE state = 'rejected'),"
        " 'retake', count(*) FILTER (WHERE state = 'retake'),"
        " 'duplicate', count(*) FILTER (WHERE state = 'duplicate'),"
        " 'flagged', count(*) FILTER (WHERE state = 'waiting' AND flag IS NOT NULL),"
        " 'processing', (SELECT count(*) FROM photos"
        "   WHERE status IN ('received', 'processing')))::text"
        " FROM verification_queue",
        0, NULL, ret_json);
}

int gw_db_review_progress_json(PGconn *c, char **ret_json)
{
    /* Counted per clave (an acta), not per photo: a clave is verified once one of its photos is
     * accepted; rejected or retake only while none is. */
    return gw_db_text(
        c,
        "WITH cl AS ("
        "  SELECT p.clave_acta, bool_or(q.state = 'accepted') AS acc,"
        "   bool_or(q.state = 'rejected') AS rej, bool_or(q.state = 'retake') AS ret"
        "  FROM photos p LEFT JOIN verification_queue q USING (photo_id) GROUP BY p.clave_acta),"
        " j AS ("
        "  SELECT c.state, c.district, c.municipality, cl.clave_acta IS NOT NULL AS rcv,"
        "   coalesce(cl.acc, false) AS acc, coalesce(cl.rej AND NOT cl.acc, false) AS rej,"
        "   coalesce(cl.ret AND NOT cl.acc, false) AS ret"
        "  FROM catalog c LEFT JOIN cl USING (clave_acta)),"
        " agg AS ("
        "  SELECT grouping(state, district, municipality) AS g, state, district, municipality,"
        "   count(*) AS expected, count(*) FILTER (WHERE rcv) AS received,"
        "   count(*) FILTER (WHERE acc) AS verified, count(*) FILTER (WHERE rej) AS rejected,"
        "   count(*) FILTER (WHERE ret) AS retake"
        "  FROM j GROUP BY GROUPING SETS ((), (state, district), (state, municipality)))"
        " SELECT json_build_object("
        "  'total', json_build_object("
        "    'expected', coalesce((SELECT expected FROM agg WHERE g = 7), 0),"
        "    'received', coalesce((SELECT received FROM agg WHERE g = 7), 0),"
        "    'verified', coalesce((SELECT verified FROM agg WHERE g = 7), 0),"
        "    'rejected', coalesce((SELECT rejected FROM agg WHERE g = 7), 0),"
        "    'retake', coalesce((SELECT retake FROM agg WHERE g = 7), 0),"
        "    'out_of_catalogue', (SELECT count(*) FROM cl"
        "       WHERE NOT EXISTS (SELECT 1 FROM catalog c WHERE c.clave_acta = cl.clave_acta)),"
        "    'photos', (SELECT count(*) FROM photos)),"
        "  'districts', coalesce((SELECT json_agg(json_build_object('state', state,"
        "    'district', district, 'expected', expected, 'received', received,"
        "    'verified', verified, 'rejected', rejected, 'retake', retake)"
        "    ORDER BY state, district) FROM agg WHERE g = 1), '[]'),"
        "  'municipalities', coalesce((SELECT json_agg(json_build_object('state', state,"
        "    'municipality', municipality, 'expected', expected, 'received', received,"
        "    'verified', verified, 'rejected', rejected, 'retake', retake)"
        "    ORDER BY state, municipality) FROM agg WHERE g = 2), '[]'))::text",
        0, NULL, ret_json);
}
