#include "db_photos.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"

/* ---- the photo lifecycle ---- */

int gw_db_ingest(PGconn *c, const struct gw_receipt *r, const char *gateway, const uint8_t *orig,
                 size_t orig_len)
{
    char bytes[24], width[16], height[16], sha[68], seq[24];
    const char *data = (const char *)orig;
    const char *params[] = {
        r->photo_id,    r->clave,       sha,       bytes, width,          height,
        r->received_at, r->received_at, r->device, seq,   r->ledger_prev, r->ledger_hash,
        r->sha256,      r->signature,   gateway,   data};
    int rc;

    snprintf(sha, sizeof(sha), "\\x%s", r->sha256);
    snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)r->bytes);
    snprintf(width, sizeof(width), "%u", r->width);
    snprintf(height, sizeof(height), "%u", r->height);
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)r->ledger_seq);
    /* The photo, its original and its ledger entry arrive together, in one statement: no photo
     * is `received` (and so none can become `queued`) without its original in the database. The
     * original ($16) is a binary parameter: its bytes as they are, no escaping. */
    rc = gw_db_cmd_binary(
        c,
        "WITH b AS (INSERT INTO blobs (sha256, kind, data)"
        "   VALUES ($3::bytea, 'original', $16::bytea) ON CONFLICT DO NOTHING),"
        " p AS (INSERT INTO photos (photo_id, clave_acta, sha256, bytes, width,"
        "   height, received_at, received_text, source, ledger_seq,"
        "   receipt_signature, gateway)"
        "   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10::bigint, 0),"
        "   NULLIF($14, ''), $15) ON CONFLICT DO NOTHING)"
        " INSERT INTO ledger (gateway, seq, prev, hash, photo_id, clave_acta,"
        "   device, sha256, bytes, width, height, time)"
        " SELECT $15, $10::bigint, $11, $12, $1::uuid, $2, $9, $13, $4::bigint,"
        "   $5::int, $6::int, $8::text WHERE $10::bigint > 0 ON CONFLICT DO NOTHING",
        16, params, 15, orig_len);
    return rc < 0 ? rc : 0;
}

int gw_db_reset_processing(PGconn *c, const char *blamed, const char *gateway)
{
    const char *p[] = {blamed, gateway};
    int r = gw_db_cmd(c,
                      "UPDATE photos SET status = 'received', claimed_at = NULL, claimed_by = NULL,"
                      " attempts = CASE WHEN photo_id::text = ANY($1::text[]) THEN attempts"
                      "   ELSE greatest(attempts - 1, 0) END"
                      " WHERE status = 'processing'"
                      "   AND (claimed_by IS NULL OR starts_with(claimed_by, $2 || '/'))",
                      2, p);

    return r < 0 ? r : 0;
}

int gw_db_release_mine(PGconn *c, const char *worker)
{
    const char *p[] = {worker};
    int r = gw_db_cmd(c,
                      "UPDATE photos SET status = 'received', claimed_at = NULL, claimed_by = NULL,"
                      " attempts = greatest(attempts - 1, 0)"
                      " WHERE status = 'processing' AND claimed_by = $1",
                      1, p);

    return r < 0 ? r : 0;
}

static void job_row(void *arg, const PGresult *res, int i)
{
    struct gw_db_job *job = arg;

    snprintf(job->photo_id, sizeof(job->photo_id), "%s", PQgetvalue(res, i, 0));
    snprintf(job->clave, sizeof(job->clave), "%s", PQgetvalue(res, i, 1));
    snprintf(job->sha256, sizeof(job->sha256), "%s", PQgetvalue(res, i, 2));
    job->attempts = (int)strtol(PQgetvalue(res, i, 3), NULL, 10);
}

int gw_db_claim(PGconn *c, int lease_s, const char *worker, struct gw_db_job *ret)
{
    char lease[16];
    const char *params[] = {lease, worker};
    int r;

    snprintf(lease, sizeof(lease), "%d", lease_s);
    r = gw_db_one(c,
                  "UPDATE photos SET status = 'processing', claimed_at = now(), claimed_by = $2,"
                  " attempts = attempts + 1"
                  " WHERE photo_id = (SELECT photo_id FROM photos"
                  "   WHERE status = 'received' OR (status = 'processing'"
                  "     AND claimed_at < now() - make_interval(secs => $1::int))"
                  "   ORDER BY received_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                  " RETURNING photo_id, clave_acta, encode(sha256, 'hex'), attempts",
                  2, params, -ENOENT, job_row, ret);
    return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

int gw_db_finish(PGconn *c, const char *photo_id, const char *review_sha, size_t review_bytes,
                 unsigned width, unsigned height, const char *metadata_json)
{
    char sha[68], bytes[24], w[16], h[16];
    const char *params[] = {photo_id, sha, bytes, w, h, metadata_json};
    PGresult *res;
    int r;

    snprintf(sha, sizeof(sha), "\\x%s", review_sha);
    snprintf(bytes, sizeof(bytes), "%zu", review_bytes);
    snprintf(w, sizeof(w), "%u", width);
    snprintf(h, sizeof(h), "%u", height);
    /* One statement, one implicit transaction: the photo is queued, enqueued and announced
     * together or not at all. */
    r = gw_db_run(c,
                  "WITH p AS (UPDATE photos SET status = 'queued', status_reason = NULL,"
                  "   review_sha256 = $2, review_bytes = $3, review_width = $4,"
                  "   review_height = $5, metadata = $6::jsonb, processed_at = now()"
                  "   WHERE photo_id = $1 RETURNING photo_id, clave_acta),"
                  " q AS (INSERT INTO verification_queue (photo_id, clave_acta)"
                  "   SELECT photo_id, clave_acta FROM p ON CONFLICT DO NOTHING)"
                  " SELECT pg_notify('photo_queued', photo_id::text) FROM p",
                  6, params, PGRES_TUPLES_OK, &res);
    PQclear(res);
    return r;
}

struct signatures {
    void (*cb)(void *arg, const char *id, const char *sha256, const char *signature);
    void *arg;
};

static void signature_row(void *arg, const PGresult *res, int i)
{
    const struct signatures *sg = arg;

    sg->cb(sg->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
}

int gw_db_clave_signatures(PGconn *c, const char *clave, const char *photo_id,
                           void (*cb)(void *arg, const char *id, const char *sha256,
                                      const char *signature),
                           void *arg)
{
    const char *params[] = {clave, photo_id};
    struct signatures sg = {cb, arg};

    /* The photos_clave index keeps this to the few photos of one acta. */
    return gw_db_each(c,
                      "SELECT photo_id::text, encode(sha256, 'hex'), metadata->>'signature'"
                      " FROM photos WHERE clave_acta = $1 AND photo_id <> $2::uuid"
                      " AND metadata ? 'signature' ORDER BY received_at LIMIT 64",
                      2, params, signature_row, &sg);
}

int gw_db_fail(PGconn *c, const char *photo_id, const char *reason, const char *metadata_json)
{
    const char *params[] = {photo_id, reason, metadata_json ? metadata_json : "{}"};

    int r = gw_db_cmd(c,
                      "UPDATE photos SET status = 'failed', status_reason = $2,"
                      " metadata = $3::jsonb, processed_at = now() WHERE photo_id = $1",
                      3, params);

    return r < 0 ? r : 0;
}

static json_t *int_or_null(PGresult *res, int col)
{
    if (PQgetisnull(res, 0, col))
        return json_null();
    return json_integer(strtoll(PQgetvalue(res, 0, col), NULL, 10));
}

int gw_db_photo_json(PGconn *c, const char *photo_id, char **ret_json, size_t *ret_len)
{
    const char *params[] = {photo_id};
    PGresult *res;
    json_t *o = NULL, *meta;
    char *s;
    int r;

    r = gw_db_run(c,
                  "SELECT p.photo_id, p.clave_acta, encode(p.sha256, 'hex'), p.bytes,"
                  " p.received_text, p.status, p.status_reason, p.width, p.height,"
                  " encode(p.review_sha256, 'hex'), p.review_bytes, p.review_width,"
                  " p.review_height, p.metadata::text, q.state, d.decision, d.reason,"
                  " to_char(d.decided_at AT TIME ZONE 'UTC',"
                  "   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                  " FROM photos p LEFT JOIN verification_queue q USING (photo_id)"
                  " LEFT JOIN LATERAL (SELECT decision, reason, decided_at"
                  "   FROM review_decisions r WHERE r.photo_id = p.photo_id"
                  "   ORDER BY decision_id DESC LIMIT 1) d ON true"
                  " WHERE p.photo_id = $1::uuid",
                  1, params, PGRES_TUPLES_OK, &res);
    if (r < 0)
        goto out;
    if (PQntuples(res) != 1) {
        r = -ENOENT;
        goto out;
    }
    r = -ENOMEM;
    o = json_object();
    if (!o)
        goto out;
    json_object_set_new(o, "photo_id", json_string(PQgetvalue(res, 0, 0)));
    json_object_set_new(o, "clave_acta", json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(o, "sha256", json_string(PQgetvalue(res, 0, 2)));
    json_object_set_new(o, "bytes", int_or_null(res, 3));
    json_object_set_new(o, "received_at", json_string(PQgetvalue(res, 0, 4)));
    json_object_set_new(o, "status", json_string(PQgetvalue(res, 0, 5)));
    if (!PQgetisnull(res, 0, 6))
        json_object_set_new(o, "reason", json_string(PQgetvalue(res, 0, 6)));
    json_object_set_new(o, "width", int_or_null(res, 7));
    json_object_set_new(o, "height", int_or_null(res, 8));
    if (!PQgetisnull(res, 0, 9)) {
        char url[96];

        snprintf(url, sizeof(url), "/v1/photos/%s/review.webp", photo_id);
        json_object_set_new(o, "review",
                            json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "url", url, "sha256",
                                      PQgetvalue(res, 0, 9), "bytes", int_or_null(res, 10), "width",
                                      int_or_null(res, 11), "height", int_or_null(res, 12),
                                      "format", "webp"));
    } else {
        json_object_set_new(o, "review", json_null());
    }
    meta = json_loads(PQgetvalue(res, 0, 13), 0, NULL);
    json_object_set_new(o, "metadata", meta ? meta : json_object());
    /* What verification decided, so the casilla learns of a retake request. */
    if (!PQgetisnull(res, 0, 14)) {
        json_t *v = json_pack("{s:s}", "state", PQgetvalue(res, 0, 14));

        if (v && !PQgetisnull(res, 0, 15)) {
            json_object_set_new(v, "decision", json_string(PQgetvalue(res, 0, 15)));
            if (!PQgetisnull(res, 0, 16))
                json_object_set_new(v, "reason", json_string(PQgetvalue(res, 0, 16)));
            json_object_set_new(v, "decided_at", json_string(PQgetvalue(res, 0, 17)));
        }
        json_object_set_new(o, "verification", v);
    }
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) {
        *ret_json = s;
        *ret_len = strlen(s);
        r = 0;
    }
out:
    json_decref(o);
    PQclear(res);
    return r;
}

int gw_db_review_sha(PGconn *c, const char *photo_id, char *ret_sha)
{
    const char *params[] = {photo_id};
    PGresult *res;
    int r;

    r = gw_db_run(c,
                  "SELECT encode(review_sha256, 'hex') FROM photos"
                  " WHERE photo_id = $1::uuid AND review_sha256 IS NOT NULL",
                  1, params, PGRES_TUPLES_OK, &res);
    if (r == 0) {
        if (PQntuples(res) == 1)
            snprintf(ret_sha, GW_SHA256_HEX_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        else
            r = -ENOENT;
    }
    PQclear(res);
    return r;
}

struct ledger_each {
    void (*cb)(void *arg, const struct gw_db_ledger_row *row);
    void *arg;
};

static void ledger_row(void *arg, const PGresult *res, int i)
{
    const struct ledger_each *l = arg;
    const struct gw_db_ledger_row row = {
        .seq = PQgetvalue(res, i, 0),
        .prev = PQgetvalue(res, i, 1),
        .hash = PQgetvalue(res, i, 2),
        .photo_id = PQgetvalue(res, i, 3),
        .clave = PQgetvalue(res, i, 4),
        .device = PQgetvalue(res, i, 5),
        .sha256 = PQgetvalue(res, i, 6),
        .bytes = PQgetvalue(res, i, 7),
        .width = PQgetvalue(res, i, 8),
        .height = PQgetvalue(res, i, 9),
        .time = PQgetvalue(res, i, 10),
        .gateway = PQgetvalue(res, i, 11),
    };

    l->cb(l->arg, &row);
}

int gw_db_ledger_each(PGconn *c, void (*cb)(void *arg, const struct gw_db_ledger_row *row),
                      void *arg)
{
    struct ledger_each l = {cb, arg};

    return gw_db_each(c,
                      "SELECT seq, prev, hash, photo_id, clave_acta, device, sha256, bytes, width,"
                      " height, time, gateway FROM ledger ORDER BY gateway, seq",
                      0, NULL, ledger_row, &l);
}

struct counts_ctx {
    void (*each)(void *arg, const char *what, const char *state, long long n);
    void *arg;
};

static void count_row(void *arg, const PGresult *res, int i)
{
    struct counts_ctx *c = arg;

    c->each(c->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
            strtoll(PQgetvalue(res, i, 2), NULL, 10));
}

int gw_db_state_counts(PGconn *c,
                       void (*each)(void *arg, const char *what, const char *state, long long n),
                       void *arg)
{
    struct counts_ctx ctx = {each, arg};

    return gw_db_each(c,
                      "SELECT 'photos', status::text, count(*) FROM photos GROUP BY status"
                      " UNION ALL"
                      " SELECT 'review', state, count(*) FROM verification_queue GROUP BY state",
                      0, NULL, count_row, &ctx);
}
