/* `prep-gateway device code|list|revoke`: enrolment codes, the enrolled devices, revocation (see
 * cmd_provenance.h). */
#include "cmd_provenance.h"

#include <errno.h>
#include <jansson.h>
#include <qrencode.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "db_devices.h"
#include "gw_clave.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_enrol.h"
#include "gw_receipt.h"

static const char device_usage[] =
    "Usage: prep-gateway device code --label LABEL --actas LIST --expires DURATION\n"
    "                                [--url https://GATEWAY [--qr]] [--json]\n"
    "       prep-gateway device list [--json]\n"
    "       prep-gateway device revoke DEVICE_ID [--json]\n"
    "Options: --db CONNINFO (default $PREP_DB, else ./run.sh's database: $PREP_VAR/conninfo)\n"
    "\n"
    "code    makes a one-time enrolment code for one phone, valid for DURATION (e.g. 90m, 12h,\n"
    "        2d), bound to the actas in LIST: comma-separated claves or prefixes ending in '*'\n"
    "        (140338B010002,140339*). The code is shown once; only its hash is stored.\n"
    "        --url names the gateway as the phones reach it: the enrolment link\n"
    "        URL/app/#enrol=CODE is printed too, and with --qr as a QR code to scan.\n"
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

/* Prints |text| as a QR code with UTF-8 half blocks, two rows of modules a line, light modules
 * drawn (as `qrencode -t UTF8` does), with a quiet zone of 2 modules. Returns 0 or -ENOMEM. */
static int print_qr(const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    int w, m = 2;

    if (!q)
        return -ENOMEM;
    w = q->width;
    for (int y = -m; y < w + m; y += 2) {
        for (int x = -m; x < w + m; x++) {
            bool top = y >= 0 && y < w && x >= 0 && x < w && (q->data[y * w + x] & 1);
            bool bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w && (q->data[(y + 1) * w + x] & 1);

            fputs(top ? (bot ? " " : "\u2584") : (bot ? "\u2580" : "\u2588"), stdout);
        }
        fputc('\n', stdout);
    }
    QRcode_free(q);
    return 0;
}

static int device_code(const char *db, const char *label, const char *actas, const char *expires,
                       const char *url, bool qr, bool as_json)
{
    char link[512] = "";
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* Crockford base32 */
    uint8_t rnd[16];
    char code[24], sha[GW_SHA256_HEX_LEN + 1], expires_at[GW_DB_DEVICE_TIME_LEN];
    PGconn *pg;
    long dur;
    size_t o = 0;
    int r;

    if (!label || !actas || !expires || parse_duration(expires, &dur) < 0 || !valid_actas(actas)) {
        fprintf(stderr, "prep-gateway device code: needs --label, a valid --actas list and "
                        "--expires like 90m, 12h or 2d\n");
        return 2;
    }
    if ((qr && !url) || (url && strncmp(url, "https://", 8) != 0)) {
        fprintf(stderr, "prep-gateway device code: --qr needs --url, an https:// URL (the app "
                        "needs TLS)\n");
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
    /* The link's code is in the fragment: it never reaches a server's log, not even ours. */
    if (url && (size_t)snprintf(link, sizeof(link), "%.*s/app/#enrol=%s",
                                (int)(strlen(url) - (url[strlen(url) - 1] == '/')), url,
                                code) >= sizeof(link)) {
        fprintf(stderr, "prep-gateway device code: --url is too long\n");
        return 2;
    }
    pg = gw_cli_db_connect(db, "prep-gateway device: could not connect to PostgreSQL");
    if (!pg)
        return 1;
    r = gw_db_enrol_code_add(pg, sha, label, actas, dur, expires_at);
    if (r < 0) {
        fprintf(stderr, "prep-gateway device code: %s", PQerrorMessage(pg));
    } else {
        if (as_json) {
            gw_cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s?}", "code", code, "label", label,
                                        "actas", actas, "expires_at", expires_at, "url",
                                        link[0] ? link : NULL),
                              JSON_INDENT(2));
        } else {
            printf("code:       %s\nlabel:      %s\nactas:      %s\nexpires_at: %s\n", code, label,
                   actas, expires_at);
            if (link[0])
                printf("link:       %s\n", link);
            if (qr && print_qr(link) < 0)
                r = -ENOMEM;
            printf("(shown once: give it to the phone's operator)\n");
        }
    }
    PQfinish(pg);
    return r < 0 ? 1 : 0;
}

struct device_list {
    bool json; /* --json: collect the devices in |arr|; else print the table */
    json_t *arr;
    bool header; /* the table's header line is out */
};

static void print_header(struct device_list *l)
{
    if (!l->header)
        printf("%-36s  %-20s  %-20s  %s\n", "DEVICE", "ENROLLED", "REVOKED", "LABEL / ACTAS");
    l->header = true;
}

static void add_device(void *arg, const char *id, const char *label, const char *actas,
                       const char *enrolled_at, const char *revoked_at)
{
    struct device_list *l = arg;

    if (l->json) {
        json_array_append_new(l->arr, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "device_id", id,
                                                "label", label, "actas", actas, "enrolled_at",
                                                enrolled_at, "revoked_at", revoked_at));
        return;
    }
    /* The rows arrive only once the statement succeeded: a failed list prints no header. */
    print_header(l);
    printf("%-36s  %-20s  %-20s  %s / %s\n", id, enrolled_at, revoked_at ? revoked_at : "-", label,
           actas);
}

static int device_list(const char *db, bool as_json)
{
    PGconn *pg = gw_cli_db_connect(db, "prep-gateway device: could not connect to PostgreSQL");
    struct device_list l = {.json = as_json};

    if (!pg)
        return 1;
    if (as_json)
        l.arr = json_array();
    if (gw_db_devices_list(pg, add_device, &l) < 0) {
        fprintf(stderr, "prep-gateway device list: %s", PQerrorMessage(pg));
        json_decref(l.arr);
        PQfinish(pg);
        return 1;
    }
    if (as_json)
        gw_cli_print_json(json_pack("{s:o}", "devices", l.arr), JSON_INDENT(2));
    else
        print_header(&l); /* no devices: the header alone */
    PQfinish(pg);
    return 0;
}

static int device_revoke(const char *db, const char *id, bool as_json)
{
    PGconn *pg = gw_cli_db_connect(db, "prep-gateway device: could not connect to PostgreSQL");
    int r;

    if (!pg)
        return 1;
    if (!gw_photo_id_valid(id, strlen(id)) && strlen(id) != GW_PHOTO_ID_LEN) {
        fprintf(stderr, "prep-gateway device revoke: %s is not a device id\n", id);
        PQfinish(pg);
        return 2;
    }
    r = gw_db_device_revoke(pg, id);
    if (r == -ENOENT)
        fprintf(stderr, "prep-gateway device revoke: no device %s\n", id);
    else if (r < 0)
        fprintf(stderr, "prep-gateway device revoke: %s", PQerrorMessage(pg));
    else if (as_json)
        gw_cli_print_json(json_pack("{s:s, s:b}", "device_id", id, "revoked", 1), JSON_INDENT(2));
    else
        printf("revoked %s\n", id);
    PQfinish(pg);
    return r < 0 ? 1 : 0;
}

int gw_cmd_device(int argc, char **argv)
{
    static const char *const subs[] = {"code", "list", "revoke", NULL};
    const char *label = NULL, *actas = NULL, *expires = NULL, *url = NULL;
    struct gw_config cfg;
    bool as_json = false, qr = false;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_STRING("label", &label, "LABEL", NULL),
        GW_CLI_OPT_STRING("actas", &actas, "LIST", NULL),
        GW_CLI_OPT_STRING("expires", &expires, "DURATION", NULL),
        GW_CLI_OPT_STRING("url", &url, "URL", NULL),
        GW_CLI_OPT_FLAG("qr", &qr, NULL),
        GW_CLI_OPT_DB(&cfg.db),
        GW_CLI_OPT_JSON(&as_json),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "prep-gateway device", .usage = device_usage, .opts = opts};
    int r, sub, first;

    gw_config_defaults(&cfg);
    r = gw_cli_command(&cli, argc, argv, subs, &sub, &first);
    if (r != 0)
        return gw_cli_exit(r);
    if (sub == 0)
        return device_code(cfg.db, label, actas, expires, url, qr, as_json);
    if (sub == 1)
        return device_list(cfg.db, as_json);
    /* gw_cli_parse() ran on argv + 1: |first| counts from there. */
    if (first + 2 == argc)
        return device_revoke(cfg.db, argv[first + 1], as_json);
    gw_cli_usage(&cli, stderr);
    return 2;
}
