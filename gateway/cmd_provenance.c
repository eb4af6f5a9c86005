#include "cmd_provenance.h"

#include <errno.h>
#include <sys/random.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw_clave.h"
#include "gw_config.h"
#include "gw_enrol.h"
#include "gw_db.h"
#include "gw_keys.h"
#include "gw_ledger.h"
#include "gw_receipt.h"

struct opts {
    const char *data;
    const char *db;
    const char *pubkey; /* base64 */
    bool json, pem;
    int first_arg; /* index of the first operand */
};

static int parse(int argc, char **argv, struct opts *o, const char *usage)
{
    static const struct option lo[] = {
        {"data", required_argument, NULL, 'd'},
        {"db", required_argument, NULL, 'D'},
        {"pubkey", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"pem", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct gw_config cfg;
    int c;

    gw_config_defaults(&cfg);
    memset(o, 0, sizeof(*o));
    o->data = cfg.data_dir;
    o->db = cfg.db;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->data = optarg;
            break;
        case 'D':
            o->db = optarg;
            break;
        case 'k':
            o->pubkey = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'p':
            o->pem = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    o->first_arg = optind;
    return 0;
}

static int load_key(const struct opts *o, struct gw_key *k)
{
    char path[4096];
    int r;

    snprintf(path, sizeof(path), "%s/keys/gateway-ed25519.pem", o->data);
    r = gw_key_load(path, false, k);
    if (r < 0)
        fprintf(stderr, "prep-gateway: could not load the gateway key %s: %s\n", path,
                r == -EPERM ? "readable by others (chmod 600)" : strerror(-r));
    return r;
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

/* ---- key ---- */

static const char key_usage[] =
    "Usage: prep-gateway key show [--data DIR] [--json] [--pem]\n"
    "\n"
    "Prints the gateway's Ed25519 public key (base64) and its fingerprint (hex SHA-256 of the\n"
    "32 key bytes), which receipts and checkpoints name. --pem prints the public key as PEM.\n"
    "The key is DIR/keys/gateway-ed25519.pem (created by the first `serve`).\n";

int gw_cmd_key(int argc, char **argv)
{
    struct opts o;
    struct gw_key k;
    char b64[GW_KEY_PUB_B64 + 1];
    int r;

    if (argc < 2 || strcmp(argv[1], "show") != 0) {
        fputs(key_usage, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    r = parse(argc - 1, argv + 1, &o, key_usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (load_key(&o, &k) < 0)
        return 1;
    gw_b64_encode(k.pub, GW_KEY_PUB_LEN, b64);
    if (o.pem)
        PEM_write_PUBKEY(stdout, k.pkey);
    else if (o.json)
        print_json(json_pack("{s:s, s:s, s:s}", "algorithm", "ed25519", "public_key", b64,
                             "fingerprint", k.fingerprint));
    else
        printf("algorithm:   ed25519\npublic key:  %s\nfingerprint: %s\n", b64, k.fingerprint);
    gw_key_finish(&k);
    return 0;
}

/* ---- receipt ---- */

static const char receipt_usage[] =
    "Usage: prep-gateway receipt verify FILE [--pubkey BASE64 | --data DIR] [--json]\n"
    "\n"
    "Checks a receipt offline: the gateway's signature over its fields (with the public key\n"
    "given, or the one in DIR), that the key is the one the receipt names, and that the photo id\n"
    "is the one its clave and SHA-256 give. Exit status 0 when valid, 1 when not.\n";

static const char *verify_receipt(const char *path, const struct gw_key *k)
{
    static char why[256];
    char buf[8192];
    FILE *f = fopen(path, "rb");
    size_t len;

    if (!f) {
        snprintf(why, sizeof(why), "could not read %s: %s", path, strerror(errno));
        return why;
    }
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (len == sizeof(buf))
        return "not a receipt (malformed JSON or fields)";
    return gw_receipt_verify(buf, len, k, NULL);
}

int gw_cmd_receipt(int argc, char **argv)
{
    struct opts o;
    struct gw_key k;
    const char *why;
    int r;

    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        fputs(receipt_usage, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    r = parse(argc - 1, argv + 1, &o, receipt_usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (o.first_arg + 1 != argc - 1) {
        fputs(receipt_usage, stderr);
        return 2;
    }
    if (o.pubkey) {
        uint8_t pub[GW_KEY_PUB_LEN + 2];

        if (gw_b64_decode(o.pubkey, pub, sizeof(pub)) != GW_KEY_PUB_LEN ||
            gw_key_from_public(pub, &k) < 0) {
            fprintf(stderr, "prep-gateway: --pubkey is not a base64 Ed25519 public key\n");
            return 2;
        }
    } else if (load_key(&o, &k) < 0) {
        return 1;
    }
    why = verify_receipt(argv[o.first_arg + 1], &k);
    if (o.json)
        print_json(json_pack("{s:s, s:b, s:s?}", "receipt", argv[o.first_arg + 1], "valid",
                             why == NULL, "reason", why));
    else if (why)
        printf("INVALID %s: %s\n", argv[o.first_arg + 1], why);
    else
        printf("valid %s (key %s)\n", argv[o.first_arg + 1], k.fingerprint);
    gw_key_finish(&k);
    return why ? 1 : 0;
}

/* ---- ledger ---- */

static const char ledger_usage[] =
    "Usage: prep-gateway ledger verify [--data DIR] [--db CONNINFO] [--json]\n"
    "       prep-gateway ledger checkpoint [--data DIR] [--json]\n"
    "\n"
    "verify      walks the hash chain of DIR/ledger.jsonl and of the ledger table in\n"
    "            PostgreSQL, recomputing every hash, and reports the first broken link; the\n"
    "            two copies must agree entry by entry. Exit status 0 when both hold.\n"
    "checkpoint  prints a statement of (length, head hash, time) signed with the gateway key,\n"
    "            to publish or have witnessed.\n";

static int open_ledger(const struct opts *o)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", o->data, GW_LEDGER_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fprintf(stderr, "prep-gateway: could not open %s: %s\n", path, strerror(errno));
    return fd;
}

/* Checks the PostgreSQL copy against itself and against the file's entries |file| (|n|). */
static int verify_db(const struct opts *o, int n_file, uint64_t *ret_rows, uint64_t *ret_bad,
                     const char **ret_why, struct gw_ledger_entry *file)
{
    char err[256];
    PGconn *pg = gw_db_connect(o->db, err, sizeof(err));
    PGresult *res;
    struct gw_ledger_entry prev, e;
    int rows;

    if (!pg) {
        fprintf(stderr, "prep-gateway: could not connect to PostgreSQL: %s\n", err);
        return -EIO;
    }
    res = PQexec(pg, "SELECT seq, prev, hash, photo_id, clave_acta, device, sha256, bytes, width,"
                     " height, time FROM ledger ORDER BY seq");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "prep-gateway: could not read the ledger table: %s", PQerrorMessage(pg));
        PQclear(res);
        PQfinish(pg);
        return -EIO;
    }
    rows = PQntuples(res);
    *ret_rows = (uint64_t)rows;
    for (int i = 0; i < rows; i++) {
        memset(&e, 0, sizeof(e));
        e.seq = strtoull(PQgetvalue(res, i, 0), NULL, 10);
        snprintf(e.prev, sizeof(e.prev), "%s", PQgetvalue(res, i, 1));
        snprintf(e.hash, sizeof(e.hash), "%s", PQgetvalue(res, i, 2));
        snprintf(e.photo_id, sizeof(e.photo_id), "%s", PQgetvalue(res, i, 3));
        snprintf(e.clave, sizeof(e.clave), "%s", PQgetvalue(res, i, 4));
        snprintf(e.device, sizeof(e.device), "%s", PQgetvalue(res, i, 5));
        snprintf(e.sha256, sizeof(e.sha256), "%s", PQgetvalue(res, i, 6));
        e.bytes = strtoull(PQgetvalue(res, i, 7), NULL, 10);
        e.width = (uint32_t)strtoul(PQgetvalue(res, i, 8), NULL, 10);
        e.height = (uint32_t)strtoul(PQgetvalue(res, i, 9), NULL, 10);
        snprintf(e.time, sizeof(e.time), "%s", PQgetvalue(res, i, 10));
        /* Rows not ingested yet leave gaps at the end only: ingest follows the spool. */
        *ret_why = gw_ledger_check_link(i > 0 ? &prev : NULL, &e);
        if (!*ret_why && ((int)e.seq > n_file || strcmp(file[e.seq - 1].hash, e.hash) != 0))
            *ret_why = "differs from the spool's ledger file";
        if (*ret_why) {
            *ret_bad = e.seq;
            break;
        }
        prev = e;
    }
    PQclear(res);
    PQfinish(pg);
    return *ret_why ? -EBADMSG : 0;
}

/* Loads every entry of the (already verified) file into an array. */
static struct gw_ledger_entry *load_all(int fd, int n)
{
    struct gw_ledger_entry *all = calloc(n > 0 ? (size_t)n : 1, sizeof(*all));
    FILE *f = fdopen(dup(fd), "r");
    char *line = NULL;
    size_t cap = 0;
    int i = 0;

    if (!all || !f) {
        free(all);
        if (f)
            fclose(f);
        return NULL;
    }
    rewind(f);
    while (i < n && getline(&line, &cap, f) > 0)
        gw_ledger_parse(line, strlen(line), &all[i++]);
    free(line);
    fclose(f);
    return all;
}

static int ledger_verify(const struct opts *o)
{
    struct gw_ledger_entry last, *all;
    uint64_t bad = 0, rows = 0;
    const char *why = NULL, *db_why = NULL;
    int fd = open_ledger(o), n, r;

    if (fd < 0)
        return 1;
    n = gw_ledger_walk(fd, &last, NULL, &bad, &why);
    if (n < 0 && n != -EBADMSG) {
        fprintf(stderr, "prep-gateway: could not read the ledger: %s\n", strerror(-n));
        close(fd);
        return 1;
    }
    if (n == -EBADMSG) {
        if (o->json)
            print_json(json_pack("{s:b, s:s, s:I, s:s}", "valid", 0, "copy", "file", "seq",
                                 (json_int_t)bad, "reason", why));
        else
            printf("BROKEN ledger file at seq %llu: %s\n", (unsigned long long)bad, why);
        close(fd);
        return 1;
    }
    all = load_all(fd, n);
    close(fd);
    if (!all)
        return 1;
    r = verify_db(o, n, &rows, &bad, &db_why, all);
    free(all);
    if (r == -EIO)
        return 1;
    if (o->json) {
        json_t *j =
            json_pack("{s:b, s:s, s:i, s:s, s:I}", "valid", r == 0, "copy", "database", "entries",
                      n, "head", n > 0 ? last.hash : "", "database_rows", (json_int_t)rows);

        if (j && r != 0) {
            json_object_set_new(j, "seq", json_integer((json_int_t)bad));
            json_object_set_new(j, "reason", json_string(db_why));
        }
        print_json(j);
    } else if (r == 0)
        printf("ledger valid: %d entries in the spool, %llu in PostgreSQL, head %s\n", n,
               (unsigned long long)rows, n > 0 ? last.hash : "(empty)");
    else
        printf("BROKEN ledger table at seq %llu: %s\n", (unsigned long long)bad, db_why);
    return r == 0 ? 0 : 1;
}

static int ledger_checkpoint(const struct opts *o)
{
    struct gw_ledger_entry last;
    struct gw_key k;
    struct timespec now;
    char t[GW_TIME_LEN + 1], text[512], b64[GW_KEY_SIG_B64 + 1];
    uint8_t sig[GW_KEY_SIG_LEN];
    const char *why = NULL;
    uint64_t bad = 0;
    int fd = open_ledger(o), n;
    size_t len;

    if (fd < 0)
        return 1;
    n = gw_ledger_walk(fd, &last, NULL, &bad, &why);
    close(fd);
    if (n < 0) {
        fprintf(stderr, "prep-gateway: the ledger does not verify (seq %llu: %s)\n",
                (unsigned long long)bad, why ? why : strerror(-n));
        return 1;
    }
    if (load_key(o, &k) < 0)
        return 1;
    clock_gettime(CLOCK_REALTIME, &now);
    gw_rfc3339(&now, t);
    len = (size_t)snprintf(text, sizeof(text),
                           "prep-casilla checkpoint v1\nlength=%d\nhead=%s\ntime=%s\n", n,
                           n > 0 ? last.hash : "", t);
    if (gw_key_sign(&k, text, len, sig) < 0) {
        gw_key_finish(&k);
        return 1;
    }
    gw_b64_encode(sig, sizeof(sig), b64);
    if (o->json)
        print_json(json_pack("{s:i, s:s, s:s, s:s, s:s}", "length", n, "head",
                             n > 0 ? last.hash : "", "time", t, "gateway_key", k.fingerprint,
                             "signature", b64));
    else
        printf("%sgateway_key=%s\nsignature=%s\n", text, k.fingerprint, b64);
    gw_key_finish(&k);
    return 0;
}

int gw_cmd_ledger(int argc, char **argv)
{
    struct opts o;
    int r;

    if (argc < 2 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "checkpoint") != 0)) {
        bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;

        fputs(ledger_usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    r = parse(argc - 1, argv + 1, &o, ledger_usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    return strcmp(argv[1], "verify") == 0 ? ledger_verify(&o) : ledger_checkpoint(&o);
}

/* ---- device ---- */

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

static PGconn *connect_db(const char *db)
{
    char err[256];
    PGconn *pg = gw_db_connect(db, err, sizeof(err));

    if (!pg)
        fprintf(stderr, "prep-gateway device: could not connect to PostgreSQL: %s\n", err);
    return pg;
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
    pg = connect_db(db);
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
            print_json(json_pack("{s:s, s:s, s:s, s:s}", "code", code, "label", label, "actas",
                                 actas, "expires_at", PQgetvalue(res, 0, 0)));
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
    PGconn *pg = connect_db(db);
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
        print_json(json_pack("{s:o}", "devices", arr));
    else
        json_decref(arr);
    PQclear(res);
    PQfinish(pg);
    return 0;
}

static int device_revoke(const char *db, const char *id, bool as_json)
{
    PGconn *pg = connect_db(db);
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
            print_json(json_pack("{s:s, s:b}", "device_id", id, "revoked", 1));
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
    static const struct option lo[] = {
        {"label", required_argument, NULL, 'l'},
        {"actas", required_argument, NULL, 'a'},
        {"expires", required_argument, NULL, 'e'},
        {"db", required_argument, NULL, 'D'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *label = NULL, *actas = NULL, *expires = NULL;
    struct gw_config cfg;
    bool as_json = false;
    int c;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(device_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    gw_config_defaults(&cfg);
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'l':
            label = optarg;
            break;
        case 'a':
            actas = optarg;
            break;
        case 'e':
            expires = optarg;
            break;
        case 'D':
            cfg.db = optarg;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            fputs(device_usage, stdout);
            return 0;
        default:
            fputs(device_usage, stderr);
            return 2;
        }
    }
    if (strcmp(argv[1], "code") == 0)
        return device_code(cfg.db, label, actas, expires, as_json);
    if (strcmp(argv[1], "list") == 0)
        return device_list(cfg.db, as_json);
    if (strcmp(argv[1], "revoke") == 0 && optind + 2 == argc)
        return device_revoke(cfg.db, argv[optind + 1], as_json);
    fputs(device_usage, stderr);
    return 2;
}
