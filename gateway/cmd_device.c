/* `prep-gateway device code|list|revoke`: enrolment codes, the enrolled devices, revocation (see
 * cmd_provenance.h). */
#include "cmd_provenance.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw_clave.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_enrol.h"
#include "gw_receipt.h"

static const char device_usage[] =
    "Usage: prep-gateway device code --label LABEL --actas LIST --expires DURATION [--json]\n"
    "       prep-gateway device list [--json]\n"
    "       prep-gateway device revoke DEVICE_ID [--json]\n"
    "Options: --db CONNINFO (default $PREP_DB, else ./run.sh's database: $PREP_VAR/conninfo)\n"
    "\n"
    "code    makes a one-time enrolment code for one phone, valid for DURATION (e.g. 90m, 12h,\n"
    "        2d), bound to the actas in LIST: comma-separated claves or prefixes ending in '*'\n"
    "        (140338B010002,140339*). The code is shown once; only its hash is stored.\n"
    "list    lists the enrolled devices.\n"
    "revoke  revokes a device: its uploads are refused from the next request on.\n";

static int parse_duration(const char *s, long *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || v <= 0)
        return -EINVAL;
    switch (*end) {
    case '\0':
    case 's':
        break;
    case 'm':
        v *= 60;
        break;
    case 'h':
        v *= 3600;
        break;
    case 'd':
        v *= 86400;
        break;
    default:
        return -EINVAL;
    }
    if ((*end && end[1]) || v > 365L * 86400)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* Checks every entry of an actas list: a clave, or a prefix of one followed by '*'. */
static bool valid_actas(const char *list)
{
    char item[32];
    const char *p = list;

    if (!*p)
        return false;
    while (*p) {
        size_t n = strcspn(p, ",");

        if (n == 0 || n >= sizeof(item))
            return false;
        memcpy(item, p, n);
        item[n] = '\0';
        if (item[n - 1] == '*') {
            for (size_t i = 0; i + 1 < n; i++)
                if (!((item[i] >= '0' && item[i] <= '9') || strchr("BCESV", item[i])))
                    return false;
        } else if (!gw_clave_valid(item, n, NULL)) {
            return false;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

static int device_code(const char *db, const char *label, const char *actas, const char *expires,
                       bool as_json)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* Crockford base32 */
    uint8_t rnd[16];
    char code[24], sha[GW_SHA256_HEX_LEN + 1], secs[24];
    const char *params[4];
    PGconn *pg;
    PGresult *res;
    long dur;
    size_t o = 0;
    int r = 1;

    if (!label || !actas || !expires || parse_duration(expires, &dur) < 0 || !valid_actas(actas)) {
        fprintf(stderr, "prep-gateway device code: needs --label, a valid --actas list and "
                        "--expires like 90m, 12h or 2d\n");
        return 2;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return 1;
    for (size_t i = 0; i < sizeof(rnd); i++) {
        if (i && i % 4 == 0)
            code[o++] = '-';
        code[o++] = alphabet[rnd[i] & 31];
    }
    code[o] = '\0';
    if (gw_enrol_code_hash(code, sha) < 0)
        return 1;
    pg = gw_cli_db_connect(db, "prep-gateway device: could not connect to PostgreSQL");
    if (!pg)
        return 1;
    snprintf(secs, sizeof(secs), "%ld", dur);
    params[0] = sha;
    params[1] = label;
    params[2] = actas;
    params[3] = secs;
    res = PQexecParams(pg,
                       "INSERT INTO enrolment_codes (code_sha256, label, actas, expires_at)"
                       " VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))"
                       " RETURNING to_char(expires_at AT TIME ZONE 'UTC',"
                       " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                       4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "prep-gateway device code: %s", PQerrorMessage(pg));
    } else {
        if (as_json)
            gw_cli_print_json(json_pack("{s:s, s:s, s:s, s:s}", "code", code, "label", label,
                                        "actas", actas, "expires_at", PQgetvalue(res, 0, 0)),
                              JSON_INDENT(2));
        else
            printf("code:       %s\nlabel:      %s\nactas:      %s\nexpires_at: %s\n"
                   "(shown once: give it to the phone's operator)\n",
                   code, label, actas, PQgetvalue(res, 0, 0));
        r = 0;
    }
    PQclear(res);
    PQfinish(pg);
    return r;
}

static int device_list(const char *db, bool as_json)
{
    PGconn *pg = gw_cli_db_connect(db, "prep-gateway device: could not connect to PostgreSQL");
    PGresult *res;
    json_t *arr;

    if (!pg)
        return 1;
    res = PQexec(pg, "SELECT device_id::text, label, actas,"
                     " to_char(enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                     " coalesce(to_char(revoked_at AT TIME ZONE 'UTC',"
                     " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
                     " FROM devices ORDER BY enrolled_at");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "prep-gateway device list: %s", PQerrorMessage(pg));
        PQclear(res);
        PQfinish(pg);
        return 1;
    }
    arr = json_array();
    if (!as_json)
        printf("%-36s  %-20s  %-20s  %s\n", "DEVICE", "ENROLLED", "REVOKED", "LABEL / ACTAS");
    for (int i = 0; i < PQntuples(res); i++) {
        if (as_json)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "device_id", PQgetvalue(res, i, 0),
                               "label", PQgetvalue(res, i, 1), "actas", PQgetvalue(res, i, 2),
                               "enrolled_at", PQgetvalue(res, i, 3), "revoked_at",
                               PQgetvalue(res, i, 4)[0] ? PQgetvalue(res, i, 4) : NULL));
        else
            printf("%-36s  %-20s  %-20s  %s / %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 3),
                   PQgetvalue(res, i, 4)[0] ? PQgetvalue(res, i, 4) : "-", PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2));
    }
    if (as_json)
        gw_cli_print_json(json_pack("{s:o}", "devices", arr), JSON_INDENT(2));
    else
        json_decref(arr);
    PQclear(res);
    PQfinish(pg);
    return 0;
}

static int device_revoke(const char *db, const char *id, bool as_json)
{
    PGconn *pg = gw_cli_db_connect(db, "prep-gateway device: could not connect to PostgreSQL");
    const char *params[] = {id};
    PGresult *res;
    int r = 1;

    if (!pg)
        return 1;
    if (!gw_photo_id_valid(id, strlen(id)) && strlen(id) != GW_PHOTO_ID_LEN) {
        fprintf(stderr, "prep-gateway device revoke: %s is not a device id\n", id);
        PQfinish(pg);
        return 2;
    }
    res = PQexecParams(pg,
                       "UPDATE devices SET revoked_at = coalesce(revoked_at, now())"
                       " WHERE device_id = $1::uuid RETURNING device_id",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "prep-gateway device revoke: %s", PQerrorMessage(pg));
    else if (PQntuples(res) == 0)
        fprintf(stderr, "prep-gateway device revoke: no device %s\n", id);
    else {
        if (as_json)
            gw_cli_print_json(json_pack("{s:s, s:b}", "device_id", id, "revoked", 1),
                              JSON_INDENT(2));
        else
            printf("revoked %s\n", id);
        r = 0;
    }
    PQclear(res);
    PQfinish(pg);
    return r;
}

int gw_cmd_device(int argc, char **argv)
{
    static const char *const subs[] = {"code", "list", "revoke", NULL};
    const char *label = NULL, *actas = NULL, *expires = NULL;
    struct gw_config cfg;
    bool as_json = false;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_STRING("label", &label, "LABEL", NULL),
        GW_CLI_OPT_STRING("actas", &actas, "LIST", NULL),
        GW_CLI_OPT_STRING("expires", &expires, "DURATION", NULL),
        GW_CLI_OPT_DB(&cfg.db),
        GW_CLI_OPT_JSON(&as_json),
        {NULL},
    };
    const struct gw_cli cli = {.prog = "prep-gateway device", .usage = device_usage, .opts = opts};
    int r, sub, first;

    gw_config_defaults(&cfg);
    r = gw_cli_command(&cli, argc, argv, subs, &sub, &first);
    if (r != 0)
        return gw_cli_exit(r);
    if (sub == 0)
        return device_code(cfg.db, label, actas, expires, as_json);
    if (sub == 1)
        return device_list(cfg.db, as_json);
    /* gw_cli_parse() ran on argv + 1: |first| counts from there. */
    if (first + 2 == argc)
        return device_revoke(cfg.db, argv[first + 1], as_json);
    gw_cli_usage(&cli, stderr);
    return 2;
}
