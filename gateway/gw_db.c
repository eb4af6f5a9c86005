#include "gw_db.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

PGconn *gw_db_connect(const char *conninfo, char *errbuf, size_t errcap)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, "5", "prep-gateway", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);

    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    if (errbuf) {
        const char *m = c ? PQerrorMessage(c) : "out of memory";
        size_t n = strcspn(m, "\n");

        snprintf(errbuf, errcap, "%.*s", (int)n, m);
    }
    PQfinish(c);
    return NULL;
}

int gw_db_status(PGconn *c, PGresult *res, ExecStatusType want)
{
    if (res && PQresultStatus(res) == want)
        return 0;
    return PQstatus(c) == CONNECTION_OK ? -EPROTO : -EIO;
}

static int exec_cmd(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    int r = gw_db_status(c, res, PGRES_COMMAND_OK);

    PQclear(res);
    return r;
}

int gw_db_ping(PGconn *c)
{
    PGresult *res = PQexec(c, "SELECT 1");
    int r = gw_db_status(c, res, PGRES_TUPLES_OK);

    PQclear(res);
    return r < 0 ? -EIO : 0;
}

/* ---- migrations ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf) {
            buf[n] = '\0';
            *ret_len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

static void sha256_hex(const void *buf, size_t len, char *out)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof(md));
    gw_hex(md, 32, out);
}

static int migrate_one(PGconn *c, const char *dir, const char *name, FILE *progress, char *errbuf,
                       size_t errcap)
{
    char path[4096], hash[65], version[16];
    const char *params[3];
    char *endp, *sql;
    size_t len;
    PGresult *res;
    long v;
    int r = 0;

    errno = 0;
    v = strtol(name, &endp, 10);
    if (errno || endp == name || *endp != '_' || v <= 0 || v > 99999) {
        snprintf(errbuf, errcap, "migration file name must be NNN_name.sql: %s", name);
        return -EINVAL;
    }
    snprintf(version, sizeof(version), "%ld", v);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    sql = slurp(path, &len);
    if (!sql) {
        snprintf(errbuf, errcap, "could not read %s: %s", path, strerror(errno));
        return -EIO;
    }
    sha256_hex(sql, len, hash);

    res = PQexec(c, "BEGIN; SELECT pg_advisory_xact_lock(7304155)");
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    PQclear(res);
    if (r < 0)
        goto fail;
    params[0] = version;
    res = PQexecParams(c, "SELECT sha256 FROM schema_migrations WHERE version = $1", 1, NULL,
                       params, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r == 0 && PQntuples(res) == 1) {
        if (strcmp(PQgetvalue(res, 0, 0), hash) != 0) {
            snprintf(errbuf, errcap, "migration %s was applied with different contents", name);
            r = -EINVAL;
        } else {
            r = 1; /* already applied */
        }
    }
    PQclear(res);
    if (r != 0)
        goto rollback;

    res = PQexec(c, sql);
    r = gw_db_status(c, res, PGRES_COMMAND_OK);
    if (r < 0 && res && PQresultStatus(res) == PGRES_TUPLES_OK)
        r = 0;
    PQclear(res);
    if (r < 0)
        goto fail;
    params[1] = name;
    params[2] = hash;
    r = exec_cmd(c, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)", 3,
                 params);
    if (r == 0) {
        res = PQexec(c, "COMMIT");
        r = gw_db_status(c, res, PGRES_COMMAND_OK);
        PQclear(res);
    }
    if (r < 0)
        goto fail;
    fprintf(progress, "migrate: applied %s\n", name);
    free(sql);
    return 1;

fail:
    snprintf(errbuf, errcap, "migration %s failed: %s", name, PQerrorMessage(c));
    errbuf[strcspn(errbuf, "\n")] = '\0';
rollback:
    PQclear(PQexec(c, "ROLLBACK"));
    free(sql);
    if (r == 1) {
        fprintf(progress, "migrate: %s already applied\n", name);
        return 0;
    }
    return r;
}

int gw_db_migrate(PGconn *c, const char *schema_dir, FILE *progress, char *errbuf, size_t errcap)
{
    DIR *d = opendir(schema_dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int applied = 0, r = 0;
    PGresult *res;

    if (!d) {
        snprintf(errbuf, errcap, "could not open schema folder %s: %s", schema_dir,
                 strerror(errno));
        return -errno;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || e->d_name[0] < '0' ||
            e->d_name[0] > '9')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));

            if (!grown) {
                r = -ENOMEM;
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            r = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (r == 0) {
        res = PQexec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version integer PRIMARY KEY, name text NOT NULL,"
                        " sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
        r = gw_db_status(c, res, PGRES_COMMAND_OK);
        if (r < 0)
            snprintf(errbuf, errcap, "could not create schema_migrations: %s", PQerrorMessage(c));
        PQclear(res);
    } else {
        snprintf(errbuf, errcap, "out of memory");
    }
    if (r == 0)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; r == 0 && i < n; i++) {
        int one = migrate_one(c, schema_dir, names[i], progress, errbuf, errcap);

        if (one < 0)
            r = one;
        else
            applied += one;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r < 0 ? r : applied;
}

/* ---- the photo lifecycle ---- */

int gw_db_ingest(PGconn *c, const struct gw_receipt *r)
{
    char bytes[24], width[16], height[16], sha[68], seq[24];
    const char *params[] = {
        r->photo_id,    r->clave,  sha, bytes,          width,          height,    r->received_at,
        r->received_at, r->device, seq, r->ledger_prev, r->ledger_hash, r->sha256, r->signature};

    snprintf(sha, sizeof(sha), "\\x%s", r->sha256);
    snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)r->bytes);
    snprintf(width, sizeof(width), "%u", r->width);
    snprintf(height, sizeof(height), "%u", r->height);
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)r->ledger_seq);
    /* The photo and its ledger entry arrive together, in one statement. */
    return exec_cmd(c,
                    "WITH p AS (INSERT INTO photos (photo_id, clave_acta, sha256, bytes, width,"
                    "   height, received_at, received_text, source, ledger_seq, receipt_signature)"
                    "   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10::bigint, 0),"
                    "   NULLIF($14, '')) ON CONFLICT DO NOTHING)"
                    " INSERT INTO ledger (seq, prev, hash, photo_id, clave_acta, device, sha256,"
                    "   bytes, width, height, time)"
                    " SELECT $10::bigint, $11, $12, $1::uuid, $2, $9, $13, $4::bigint, $5::int,"
                    "   $6::int, $8::text WHERE $10::bigint > 0 ON CONFLICT DO NOTHING",
                    14, params);
}

int gw_db_reset_processing(PGconn *c)
{
    return exec_cmd(c,
                    "UPDATE photos SET status = 'received', claimed_at = NULL"
                    " WHERE status = 'processing'",
                    0, NULL);
}

int gw_db_claim(PGconn *c, int lease_s, struct gw_db_job *ret)
{
    char lease[16];
    const char *params[] = {lease};
    PGresult *res;
    int r;

    snprintf(lease, sizeof(lease), "%d", lease_s);
    res = PQexecParams(c,
                       "UPDATE photos SET status = 'processing', claimed_at = now(),"
                       " attempts = attempts + 1"
                       " WHERE photo_id = (SELECT photo_id FROM photos"
                       "   WHERE status = 'received' OR (status = 'processing'"
                       "     AND claimed_at < now() - make_interval(secs => $1::int))"
                       "   ORDER BY received_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                       " RETURNING photo_id, clave_acta, encode(sha256, 'hex'), attempts",
                       1, NULL, params, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r == 0 && PQntuples(res) == 1) {
        snprintf(ret->photo_id, sizeof(ret->photo_id), "%s", PQgetvalue(res, 0, 0));
        snprintf(ret->clave, sizeof(ret->clave), "%s", PQgetvalue(res, 0, 1));
        snprintf(ret->sha256, sizeof(ret->sha256), "%s", PQgetvalue(res, 0, 2));
        ret->attempts = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
        r = 1;
    }
    PQclear(res);
    return r;
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
    res = PQexecParams(c,
                       "WITH p AS (UPDATE photos SET status = 'queued', status_reason = NULL,"
                       "   review_sha256 = $2, review_bytes = $3, review_width = $4,"
                       "   review_height = $5, metadata = $6::jsonb, processed_at = now()"
                       "   WHERE photo_id = $1 RETURNING photo_id, clave_acta),"
                       " q AS (INSERT INTO verification_queue (photo_id, clave_acta)"
                       "   SELECT photo_id, clave_acta FROM p ON CONFLICT DO NOTHING)"
                       " SELECT pg_notify('photo_queued', photo_id::text) FROM p",
                       6, NULL, params, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    PQclear(res);
    return r;
}

int gw_db_clave_signatures(PGconn *c, const char *clave, const char *photo_id,
                           void (*cb)(void *arg, const char *id, const char *sha256,
                                      const char *signature),
                           void *arg)
{
    const char *params[] = {clave, photo_id};
    PGresult *res;
    int r, n;

    /* The photos_clave index keeps this to the few photos of one acta. */
    res = PQexecParams(c,
                       "SELECT photo_id::text, encode(sha256, 'hex'), metadata->>'signature'"
                       " FROM photos WHERE clave_acta = $1 AND photo_id <> $2::uuid"
                       " AND metadata ? 'signature' ORDER BY received_at LIMIT 64",
                       2, NULL, params, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r < 0) {
        PQclear(res);
        return r;
    }
    n = PQntuples(res);
    for (int i = 0; i < n; i++)
        cb(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    PQclear(res);
    return n;
}

int gw_db_fail(PGconn *c, const char *photo_id, const char *reason, const char *metadata_json)
{
    const char *params[] = {photo_id, reason, metadata_json ? metadata_json : "{}"};

    return exec_cmd(c,
                    "UPDATE photos SET status = 'failed', status_reason = $2,"
                    " metadata = $3::jsonb, processed_at = now() WHERE photo_id = $1",
                    3, params);
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

    res = PQexecParams(c,
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
                       1, NULL, params, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
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

    res = PQexecParams(c,
                       "SELECT encode(review_sha256, 'hex') FROM photos"
                       " WHERE photo_id = $1::uuid AND review_sha256 IS NOT NULL",
                       1, NULL, params, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r == 0) {
        if (PQntuples(res) == 1)
            snprintf(ret_sha, GW_SHA256_HEX_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        else
            r = -ENOENT;
    }
    PQclear(res);
    return r;
}

int gw_db_enrol(PGconn *c, const char *code_sha, const char *pubkey_b64, const char *label,
                char *ret_id, char *ret_actas, size_t actas_cap, char *ret_time)
{
    const char *p1[] = {code_sha};
    const char *p2[4] = {pubkey_b64, label, NULL, code_sha};
    PGresult *res;
    int r;

    res = PQexec(c, "BEGIN");
    r = gw_db_status(c, res, PGRES_COMMAND_OK);
    PQclear(res);
    if (r < 0)
        return r;
    res = PQexecParams(c,
                       "SELECT actas FROM enrolment_codes WHERE code_sha256 = $1"
                       " AND used_at IS NULL AND expires_at > now() FOR UPDATE",
                       1, NULL, p1, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r == 0 && PQntuples(res) != 1)
        r = -EACCES;
    if (r == 0)
        snprintf(ret_actas, actas_cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (r < 0)
        goto rollback;
    p2[2] = ret_actas;
    res = PQexecParams(c,
                       "INSERT INTO devices (device_id, public_key, label, actas)"
                       " VALUES (gen_random_uuid(), $1, $2, $3)"
                       " RETURNING device_id::text,"
                       " to_char(enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                       3, NULL, p2, NULL, NULL, 0);
    r = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (r == -EPROTO) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        if (state && strcmp(state, "23505") == 0)
            r = -EEXIST;
    }
    if (r == 0) {
        snprintf(ret_id, GW_PHOTO_ID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        snprintf(ret_time, 40, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    if (r < 0)
        goto rollback;
    {
        const char *p3[] = {code_sha, ret_id};

        r = exec_cmd(c,
                     "UPDATE enrolment_codes SET used_at = now(), device_id = $2::uuid"
                     " WHERE code_sha256 = $1",
                     2, p3);
    }
    if (r < 0)
        goto rollback;
    res = PQexec(c, "COMMIT");
    r = gw_db_status(c, res, PGRES_COMMAND_OK);
    PQclear(res);
    return r;
rollback:
    PQclear(PQexec(c, "ROLLBACK"));
    return r;
}
