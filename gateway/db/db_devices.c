#include "db_devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw_db.h"
#include "gw_receipt.h"

int gw_db_enrol(PGconn *c, const char *code_sha, const char *pubkey_b64, const char *label,
                char *ret_id, char *ret_actas, size_t actas_cap, char *ret_time)
{
    const char *p1[] = {code_sha};
    const char *p2[4] = {pubkey_b64, label, NULL, code_sha};
    PGresult *res;
    int r;

    r = gw_db_run(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL);
    if (r < 0)
        return r;
    r = gw_db_run(c,
                  "SELECT actas FROM enrolment_codes WHERE code_sha256 = $1"
                  " AND used_at IS NULL AND expires_at > now() FOR UPDATE",
                  1, p1, PGRES_TUPLES_OK, &res);
    if (r == 0 && PQntuples(res) != 1)
        r = -EACCES;
    if (r == 0)
        snprintf(ret_actas, actas_cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (r < 0)
        goto rollback;
    p2[2] = ret_actas;
    r = gw_db_run(c,
                  "INSERT INTO devices (device_id, public_key, label, actas)"
                  " VALUES (gen_random_uuid(), $1, $2, $3)"
                  " RETURNING device_id::text,"
                  " to_char(enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                  3, p2, PGRES_TUPLES_OK, &res);
    if (r == -EPROTO && gw_db_sqlstate_is(res, "23505"))
        r = -EEXIST;
    if (r == 0) {
        snprintf(ret_id, GW_PHOTO_ID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        snprintf(ret_time, GW_DB_DEVICE_TIME_LEN, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    if (r < 0)
        goto rollback;
    {
        const char *p3[] = {code_sha, ret_id};

        r = gw_db_cmd(c,
                      "UPDATE enrolment_codes SET used_at = now(), device_id = $2::uuid"
                      " WHERE code_sha256 = $1",
                      2, p3);
    }
    if (r < 0)
        goto rollback;
    return gw_db_run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
rollback:
    (void)gw_db_run(c, "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL);
    return r;
}

struct devices_load {
    void (*cb)(void *arg, const char *id, const char *public_key, const char *actas, bool revoked);
    void *arg;
};

static void load_row(void *arg, const PGresult *res, int i)
{
    const struct devices_load *l = arg;

    l->cb(l->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
          PQgetvalue(res, i, 3)[0] == 't');
}

int gw_db_devices_load(PGconn *c,
                       void (*cb)(void *arg, const char *id, const char *public_key,
                                  const char *actas, bool revoked),
                       void *arg)
{
    struct devices_load l = {cb, arg};

    return gw_db_each(c,
                      "SELECT device_id::text, public_key, actas, revoked_at IS NOT NULL"
                      " FROM devices ORDER BY device_id",
                      0, NULL, load_row, &l);
}

static void copy_expires(void *arg, const PGresult *res, int i)
{
    snprintf(arg, GW_DB_DEVICE_TIME_LEN, "%s", PQgetvalue(res, i, 0));
}

int gw_db_enrol_code_add(PGconn *c, const char *code_sha, const char *label, const char *actas,
                         long life_s, char *ret_expires)
{
    char secs[24];
    const char *p[] = {code_sha, label, actas, secs};

    snprintf(secs, sizeof(secs), "%ld", life_s);
    return gw_db_one(c,
                     "INSERT INTO enrolment_codes (code_sha256, label, actas, expires_at)"
                     " VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))"
                     " RETURNING to_char(expires_at AT TIME ZONE 'UTC',"
                     " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                     4, p, -EPROTO, copy_expires, ret_expires);
}

struct devices_list {
    void (*cb)(void *arg, const char *id, const char *label, const char *actas,
               const char *enrolled_at, const char *revoked_at);
    void *arg;
};

static void list_row(void *arg, const PGresult *res, int i)
{
    const struct devices_list *l = arg;
    const char *revoked = PQgetvalue(res, i, 4);

    l->cb(l->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
          PQgetvalue(res, i, 3), revoked[0] ? revoked : NULL);
}

int gw_db_devices_list(PGconn *c,
                       void (*cb)(void *arg, const char *id, const char *label, const char *actas,
                                  const char *enrolled_at, const char *revoked_at),
                       void *arg)
{
    struct devices_list l = {cb, arg};

    return gw_db_each(c,
                      "SELECT device_id::text, label, actas,"
                      " to_char(enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                      " coalesce(to_char(revoked_at AT TIME ZONE 'UTC',"
                      " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
                      " FROM devices ORDER BY enrolled_at",
                      0, NULL, list_row, &l);
}

int gw_db_device_revoke(PGconn *c, const char *device_id)
{
    const char *p[] = {device_id};
    int r = gw_db_rows(c,
                       "UPDATE devices SET revoked_at = coalesce(revoked_at, now())"
                       " WHERE device_id = $1::uuid RETURNING device_id",
                       1, p);

    return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int gw_db_devices_listen(PGconn *c)
{
    return gw_db_run(c, "LISTEN devices_changed", 0, NULL, PGRES_COMMAND_OK, NULL);
}

int gw_db_device_photos(PGconn *c, const char *device_id, char **ret_json)
{
    const char *p[] = {device_id};

    /* A photo answers a retake request when the same device sent, for the same clave, an earlier
     * photo that a clerk sent back (retake, or rejected): the latest such one is its retake_of. */
    return gw_db_text(
        c,
        "SELECT json_build_object('device_id', $1::text, 'photos', coalesce(json_agg("
        "  json_build_object('photo_id', p.photo_id, 'clave_acta', p.clave_acta,"
        "   'sha256', encode(p.sha256, 'hex'), 'bytes', p.bytes, 'received_at', p.received_text,"
        "   'status', p.status, 'verification', CASE WHEN q.state IS NULL THEN NULL ELSE"
        "    json_build_object('state', q.state, 'decision', d.decision, 'reason', d.reason,"
        "     'note', d.note, 'decided_at', to_char(d.decided_at AT TIME ZONE 'UTC',"
        "     'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) END,"
        "   'retake_of', (SELECT e.photo_id FROM photos e JOIN verification_queue eq"
        "     USING (photo_id) WHERE e.source = p.source AND e.clave_acta = p.clave_acta"
        "     AND e.received_at < p.received_at AND eq.state IN ('retake', 'rejected')"
        "     ORDER BY e.received_at DESC LIMIT 1))"
        "  ORDER BY p.received_at, p.photo_id), '[]'))::text"
        " FROM photos p LEFT JOIN verification_queue q USING (photo_id)"
        " LEFT JOIN LATERAL (SELECT r.decision, r.reason, r.note, r.decided_at"
        "   FROM review_decisions r WHERE r.photo_id = p.photo_id"
        "   ORDER BY r.decision_id DESC LIMIT 1) d ON true"
        " WHERE p.source = $1",
        1, p, ret_json);
}
