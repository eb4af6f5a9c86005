#include "gw_config.h"

#include "gw_relay_sig.h"
#include "process.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The defaults follow ./run.sh: the state folder is $PREP_VAR (default "var"), the data under
 * it, and the database the one whose conninfo run.sh wrote to $PREP_VAR/conninfo, unless PREP_DB
 * names another. Read once, at start, before any thread.
 */
static const char *default_var(void)
{
    const char *var = getenv("PREP_VAR");

    return var && *var ? var : "var";
}

static const char *default_db(void)
{
    static char buf[1024];
    const char *db = getenv("PREP_DB");
    char path[4096];
    FILE *f;

    if (db && *db)
        return db;
    snprintf(path, sizeof(path), "%s/conninfo", default_var());
    f = fopen(path, "r");
    if (f) {
        bool ok = fgets(buf, sizeof(buf), f) != NULL;

        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
        if (ok && buf[0])
            return buf;
    }
    return "dbname=prep user=prep";
}

static const char *default_data(void)
{
    static char buf[4096];

    snprintf(buf, sizeof(buf), "%s/data", default_var());
    return buf;
}

/*
 * Every `serve` option, with where it goes in struct gw_config, the values it accepts and its
 * default: one table for the defaults, the parser (and the configuration file that will read the
 * same keys). The reasons for the defaults are in docs/operations.md.
 */
enum key_kind {
    K_ADDR,   /* const char *, "off" stores NULL */
    K_STRING, /* const char * */
    K_FLAG,   /* bool, no argument */
    K_UINT,   /* unsigned (or uint32_t) in lo..hi */
    K_INT,    /* int in lo..hi */
    K_SIZE,   /* uint64_t, gw_parse_size() syntax, in lo..hi */
};

struct key {
    const char *name;
    enum key_kind kind;
    size_t off;
    uint64_t lo, hi, def; /* |def| for the numeric kinds; strings get theirs in the code */
};

#define KEY(nm, kind, field, lo, hi, def)                                                          \
    {                                                                                              \
        nm, kind, offsetof(struct gw_config, field), lo, hi, def                                   \
    }

static const struct key keys[] = {
    KEY("h2c", K_ADDR, h2c_addr, 0, 0, 0),
    KEY("tls", K_ADDR, tls_addr, 0, 0, 0),
    KEY("metrics", K_ADDR, metrics_addr, 0, 0, 0),
    KEY("cert", K_STRING, cert_file, 0, 0, 0),
    KEY("key", K_STRING, key_file, 0, 0, 0),
    KEY("db", K_STRING, db, 0, 0, 0),
    KEY("data", K_STRING, data_dir, 0, 0, 0),
    KEY("web", K_STRING, web_dir, 0, 0, 0),
    KEY("gateway-id", K_STRING, gateway_id, 0, 0, 0),
    KEY("max-body", K_SIZE, max_body, 1, UINT64_MAX, 20u << 20),
    KEY("max-pixels", K_SIZE, max_pixels, 1, UINT64_MAX, 50000000),
    KEY("refusal-drain", K_SIZE, refusal_drain, 0, UINT64_MAX, 32u << 20),
    KEY("max-buffered", K_SIZE, max_buffered, 65536, UINT64_MAX, 256u << 20),
    KEY("max-streams", K_UINT, max_streams, 1, 1000, 8),
    KEY("max-header-bytes", K_UINT, max_header_bytes, 1024, 1u << 20, 16u << 10),
    KEY("idle-timeout", K_UINT, idle_timeout, 1, 86400, 60),
    KEY("header-timeout", K_UINT, header_timeout, 1, 3600, 10),
    KEY("body-timeout", K_UINT, body_timeout, 1, 3600, 30),
    KEY("shutdown-timeout", K_UINT, shutdown_timeout, 0, 3600, 60),
    KEY("tls-handshake-timeout", K_UINT, tls_handshake_timeout, 1, 3600, 10),
    KEY("first-request-timeout", K_UINT, first_request_timeout, 1, 3600, 20),
    KEY("write-timeout", K_UINT, write_timeout, 1, 3600, 30),
    KEY("min-body-rate", K_UINT, min_body_rate, 0, 1u << 30, 1024),
    KEY("request-rate-per-address", K_UINT, request_rate_per_address, 0, 1000000, 100),
    KEY("request-burst-per-address", K_UINT, request_burst_per_address, 1, 1000000, 1000),
    KEY("request-rate-per-device", K_UINT, request_rate_per_device, 0, 1000000, 2),
    KEY("request-burst-per-device", K_UINT, request_burst_per_device, 1, 1000000, 60),
    KEY("flood-penalty", K_UINT, flood_penalty, 0, 3600, 10),
    KEY("max-conns-per-address", K_UINT, max_conns_per_address, 0, 1000000, 128),
    KEY("max-uploads-per-device", K_UINT, max_uploads_per_device, 0, 100000, 4),
    KEY("conn-rate-per-address", K_UINT, conn_rate_per_address, 0, 100000, 20),
    KEY("upload-expiry", K_UINT, upload_expiry, 60, 30 * 86400, 86400),
    KEY("loops", K_UINT, loops, 1, 256, 2),
    KEY("workers", K_UINT, workers, 1, 256, 2),
    KEY("disk-threads", K_UINT, disk_threads, 1, 256, 4),
    KEY("db-threads", K_UINT, db_threads, 1, 64, 4),
    KEY("login-threads", K_UINT, login_threads, 1, 16, 1),
    KEY("login-address-free", K_UINT, login_address_free, 0, 100000, 20),
    KEY("long-side", K_UINT, long_side, 16, 16384, IMG_PROCESS_DEFAULT_LONG_SIDE),
    /* The imaging defaults, chosen from measurements (docs/imaging.md). */
    KEY("webp-quality", K_INT, webp_quality, 1, 100, IMG_PROCESS_DEFAULT_WEBP_QUALITY),
    KEY("webp-method", K_INT, webp_method, 0, 6, IMG_PROCESS_DEFAULT_WEBP_METHOD),
    KEY("review-lease", K_UINT, review_lease_s, 1, 86400, 300),
    KEY("processing-lease", K_INT, lease_s, 5, 86400, 300),
    KEY("signature-skew", K_UINT, signature_skew, 1, 86400, 300),
    KEY("insecure-open-uploads", K_FLAG, open_uploads, 0, 0, 0),
    KEY("upstream", K_STRING, upstream, 0, 0, 0),
    KEY("upstream-ca", K_STRING, upstream_ca, 0, 0, 0),
    KEY("upstream-key", K_STRING, upstream_key, 0, 0, 0),
    KEY("edge-id", K_STRING, edge_id, 0, 0, 0),
    KEY("devices-db", K_STRING, devices_db, 0, 0, 0),
    KEY("relay-streams", K_UINT, relay_streams, 1, 64, 4),
    KEY("relay-trust", K_STRING, relay_trust, 0, 0, 0),
    KEY("relay-max-age", K_UINT, relay_max_age, 60, 30 * 86400, 7 * 86400),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* K_UINT stores through unsigned * into the uint32_t fields too. */
_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "unsigned is 32 bits");

/* Stores the number |v| (already in range) for the numeric key |k| in |c|. */
static void store_number(struct gw_config *c, const struct key *k, uint64_t v)
{
    char *field = (char *)c + k->off;

    if (k->kind == K_SIZE)
        *(uint64_t *)field = v;
    else if (k->kind == K_INT)
        *(int *)field = (int)v;
    else
        *(unsigned *)field = (unsigned)v;
}

void gw_config_defaults(struct gw_config *c)
{
    *c = (struct gw_config){
        .h2c_addr = "127.0.0.1:8080",
        .tls_addr = "127.0.0.1:8443",
        .db = default_db(),
        .data_dir = default_data(),
        .stream_window = 256u << 10,
        .conn_window = 1u << 20,
        .initial_window = 64u << 10,
        .gateway_id = "main",
    };
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == K_UINT || keys[i].kind == K_INT || keys[i].kind == K_SIZE)
            store_number(c, &keys[i], keys[i].def);
}

int gw_parse_size(const char *s, uint64_t *ret)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1},           {"k", 1u << 10}, {"kib", 1u << 10}, {"m", 1u << 20},
                 {"mib", 1u << 20}, {"g", 1u << 30}, {"gib", 1u << 30}, {"b", 1}};
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return -EINVAL;
            *ret = v * units[i].mult;
            return 0;
        }
    }
    return -EINVAL;
}

/* Every section of the usage but the request rates (usage_rates) and the last lines. */
static void usage_main(FILE *out)
{
    struct gw_config d;

    gw_config_defaults(&d);
    fprintf(out,
            "Usage: prep-gateway serve [OPTIONS]\n"
            "\n"
            "Receives acta photos over HTTP/2, spools them durably, and moves them through\n"
            "processing into PostgreSQL.\n"
            "\n"
            "Listeners:\n"
            "  --h2c HOST:PORT|off      cleartext HTTP/2, prior knowledge (default %s)\n"
            "  --tls HOST:PORT|off      HTTP/2 over TLS, ALPN h2 (default %s)\n"
            "  --cert FILE, --key FILE  PEM certificate chain and key for --tls\n"
            "  --metrics HOST:PORT|off  a listener of its own for GET /metrics and /healthz,\n"
            "                           plain HTTP/1.1 for Prometheus; a private address\n"
            "                           (default off; /metrics is on the listeners too)\n"
            "Storage:\n"
            "  --db CONNINFO            PostgreSQL connection string (default $PREP_DB or\n"
            "                           \"%s\")\n"
            "  --data DIR               spool and image store (default %s)\n"
            "Limits:\n"
            "  --max-body SIZE          largest upload, e.g. 20MiB (default %llu bytes)\n"
            "  --max-pixels N           largest declared width x height (default %llu)\n"
            "  --refusal-drain SIZE     after an early refusal, read and drop at most this much\n"
            "                           more of the body before resetting it (default %llu bytes)\n"
            "  --max-buffered SIZE      upload bytes held in memory on their way to the disk,\n"
            "                           all uploads together; past it new uploads get 503\n"
            "                           (default %llu bytes)\n"
            "  --max-streams N          concurrent streams per connection (default %u)\n"
            "  --max-header-bytes N     decoded header bytes per request (default %u)\n"
            "  --idle-timeout SEC       close connections idle this long (default %u)\n"
            "  --header-timeout SEC     time to send the preface and a header block (default "
            "%u)\n"
            "  --body-timeout SEC       time without upload progress (default %u)\n"
            "  --shutdown-timeout SEC   on SIGTERM, time for requests in flight to finish after\n"
            "                           the GOAWAY (default %u)\n"
            "  --tls-handshake-timeout SEC  time to finish the TLS handshake (default %u)\n"
            "  --first-request-timeout SEC  from connecting to the first request (default %u)\n"
            "  --write-timeout SEC      time a response may wait for a peer that does not read\n"
            "                           (default %u)\n"
            "  --min-body-rate B/S      after --body-timeout, a body must average this (default\n"
            "                           %u; 0 off)\n"
            "  --max-conns-per-address N  open connections from one address (default %u; 0 no\n"
            "                           cap)\n"
            "  --max-uploads-per-device N  signed uploads in flight for one device (default %u;\n"
            "                           0 no cap)\n"
            "  --conn-rate-per-address N  new connections a second from one address, in bursts\n"
            "                           of up to 4N (default %u; 0 off)\n"
            "  --upload-expiry SEC      a resumable upload not completed this long after it\n"
            "                           began is removed (default %u)\n"
            "Threads:\n"
            "  --loops N                event-loop threads (default %u)\n"
            "  --workers N              image-processing threads (default %u)\n"
            "  --disk-threads N         spool writer threads (default %u)\n"
            "  --db-threads N           PostgreSQL connections for requests (default %u)\n"
            "  --login-threads N        password checks at once (default %u)\n"
            "Devices:\n"
            "  --signature-skew SEC     accepted clock skew of upload signatures (default %u)\n"
            "  --insecure-open-uploads  accept unsigned uploads too (local demos only: anyone\n"
            "                           who reaches the port can then upload)\n"
            "Images:\n"
            "  --long-side PX           review image long side (default %u)\n"
            "  --webp-quality Q         review WebP quality 1-100 (default %d)\n"
            "  --webp-method M          review WebP effort 0-6 (default %d)\n"
            "Verification:\n"
            "  --web DIR                serve the clerks' web application from DIR\n"
            "  --review-lease SEC       how long a clerk holds a claimed photo (default %u)\n"
            "  --login-address-free N   failed logins from one address before it must wait\n"
            "                           1, 2, 4 ... s after each further one (default %u)\n",
            d.h2c_addr, d.tls_addr, d.db, d.data_dir, (unsigned long long)d.max_body,
            (unsigned long long)d.max_pixels, (unsigned long long)d.refusal_drain,
            (unsigned long long)d.max_buffered, d.max_streams, d.max_header_bytes, d.idle_timeout,
            d.header_timeout, d.body_timeout, d.shutdown_timeout, d.tls_handshake_timeout,
            d.first_request_timeout, d.write_timeout, d.min_body_rate, d.max_conns_per_address,
            d.max_uploads_per_device, d.conn_rate_per_address, d.upload_expiry, d.loops, d.workers,
            d.disk_threads, d.db_threads, d.login_threads, d.signature_skew, d.long_side,
            d.webp_quality, d.webp_method, d.review_lease_s, d.login_address_free);
    fprintf(out,
            "Several gateways on one database:\n"
            "  --gateway-id ID          this gateway's name there: its ledger chain, its photos\n"
            "                           and claims (default %s; each gateway needs its own;\n"
            "                           1-64 of A-Z a-z 0-9 . _ -)\n"
            "  --processing-lease SEC   a photo claimed for processing longer than this (by a\n"
            "                           gateway that died) is taken over (default %d)\n",
            d.gateway_id, d.lease_s);
}

void gw_config_usage(FILE *out)
{
    struct gw_config d;

    gw_config_defaults(&d);
    usage_main(out);
    fprintf(out,
            "Request rates (over them: 429 too-many-requests with Retry-After) and floods:\n"
            "  --request-rate-per-address N  requests a second from one address (default %u;\n"
            "                           0 off)\n"
            "  --request-burst-per-address N  of which at once (default %u)\n"
            "  --request-rate-per-device N  signed requests a second of one device (default %u;\n"
            "                           0 off)\n"
            "  --request-burst-per-device N  of which at once (default %u)\n"
            "  --flood-penalty SEC      an address whose connection was cut for a flood has its\n"
            "                           packets dropped (a kernel filter) this long (default\n"
            "                           %u; 0 off; needs --conn-rate-per-address)\n"
            "CATD edge relay (docs/operations.md, \"The edge\"):\n"
            "  --upstream URL           be an edge: forward every acknowledged photo to the\n"
            "                           central gateway at URL (https://HOST:PORT); clerks and\n"
            "                           enrolment are then served by the centre only\n"
            "  --upstream-ca FILE       CA certificates that the centre's TLS certificate must\n"
            "                           chain to (default: the system store)\n"
            "  --upstream-key BASE64    the centre's public key (`prep-gateway key show` there):\n"
            "                           its receipts must verify with it (needed by --upstream)\n"
            "  --edge-id NAME           this edge's name at the centre (needed by --upstream)\n"
            "  --relay-streams N        photos in flight to the centre (default %u)\n"
            "  --devices-db CONNINFO    where the enrolled devices are read (default: --db; an\n"
            "                           edge reads the centre's, keeping its copy when cut off)\n"
            "  --relay-trust FILE       central side: the edges trusted to relay, one\n"
            "                           `NAME BASE64-KEY` a line\n"
            "  --relay-max-age SEC      central side: how old a relayed phone signature may be\n"
            "                           (default %u)\n"
            "\n"
            "  --config FILE            read these options from FILE first, one `key = value`\n"
            "                           a line (key: the option without --; `#` comments); the\n"
            "                           command line overrides it. Check one with\n"
            "                           `prep-gateway config check FILE`\n"
            "  -v, --verbose            log debug lines too\n"
            "  -h, --help               show this help\n",
            d.request_rate_per_address, d.request_burst_per_address, d.request_rate_per_device,
            d.request_burst_per_device, d.flood_penalty, d.relay_streams, d.relay_max_age);
}

/* Stores |arg| for |k| in |c|. Returns 0, or -EINVAL when |arg| is not a value |k| accepts. */
static int set_key(struct gw_config *c, const struct key *k, const char *arg)
{
    char *field = (char *)c + k->off, *end;
    uint64_t v = 0;
    long n;

    switch (k->kind) {
    case K_ADDR:
        *(const char **)field = strcmp(arg, "off") == 0 ? NULL : arg;
        return 0;
    case K_STRING:
        *(const char **)field = arg;
        return 0;
    case K_FLAG:
        *(bool *)field = true;
        return 0;
    case K_SIZE:
        if (gw_parse_size(arg, &v) < 0 || v < k->lo || v > k->hi)
            return -EINVAL;
        store_number(c, k, v);
        return 0;
    case K_UINT:
    case K_INT:
        errno = 0;
        n = strtol(arg, &end, 10);
        if (errno || end == arg || *end || n < (long)k->lo || n > (long)k->hi)
            return -EINVAL;
        store_number(c, k, (uint64_t)n);
        return 0;
    }
    return -EINVAL;
}

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* Applies the `key = value` lines of |path| to |c|; the text stays in c->file_text. */
static int read_file(struct gw_config *c, const char *path)
{
    unsigned seen[NKEYS] = {0}, line = 0;
    FILE *f = fopen(path, "re");
    char *text = NULL, *p, *next;
    size_t cap = 0;
    ssize_t n;

    if (!f) {
        fprintf(stderr, "prep-gateway: %s: %s\n", path, strerror(errno));
        return -EINVAL;
    }
    n = getdelim(&text, &cap, '\0', f); /* the whole file: it has no NUL */
    fclose(f);
    if (n < 0) {
        free(text);
        fprintf(stderr, "prep-gateway: %s: empty or unreadable\n", path);
        return -EINVAL;
    }
    free(c->file_text);
    c->file_text = text;
    for (p = text; p; p = next) {
        const struct key *k;
        char *eq, *name, *value;

        line++;
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        if (strchr(p, '#'))
            *strchr(p, '#') = '\0';
        p = trim(p);
        if (!*p)
            continue;
        eq = strchr(p, '=');
        if (!eq) {
            fprintf(stderr, "prep-gateway: %s:%u: expected `key = value`, got `%s`\n", path, line,
                    p);
            return -EINVAL;
        }
        *eq = '\0';
        name = trim(p);
        value = trim(eq + 1);
        k = find_key(name);
        if (!k) {
            fprintf(stderr,
                    "prep-gateway: %s:%u: unknown key `%s` (the keys are the long options of "
                    "`prep-gateway serve --help`, without --)\n",
                    path, line, name);
            return -EINVAL;
        }
        if (seen[k - keys]) {
            fprintf(stderr, "prep-gateway: %s:%u: `%s` again (first on line %u)\n", path, line,
                    name, seen[k - keys]);
            return -EINVAL;
        }
        seen[k - keys] = line;
        if (k->kind == K_FLAG ? strcmp(value, "true") != 0 && strcmp(value, "false") != 0
                              : set_key(c, k, value) < 0) {
            fprintf(stderr, "prep-gateway: %s:%u: invalid value for `%s`: `%s`\n", path, line, name,
                    value);
            return -EINVAL;
        }
        if (k->kind == K_FLAG)
            *(bool *)((char *)c + k->off) = strcmp(value, "true") == 0;
    }
    return 0;
}

void gw_config_finish(struct gw_config *c)
{
    free(c->file_text);
    c->file_text = NULL;
}

void gw_config_print(const struct gw_config *c, FILE *out)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        const char *field = (const char *)c + k->off;
        const char *str;

        fprintf(out, "%s = ", k->name);
        switch (k->kind) {
        case K_ADDR:
        case K_STRING:
            str = *(const char *const *)field;
            fprintf(out, "%s\n", str ? str : k->kind == K_ADDR ? "off" : "");
            break;
        case K_FLAG:
            fprintf(out, "%s\n", *(const bool *)field ? "true" : "false");
            break;
        case K_SIZE:
            fprintf(out, "%llu\n", (unsigned long long)*(const uint64_t *)field);
            break;
        case K_INT:
            fprintf(out, "%d\n", *(const int *)field);
            break;
        case K_UINT:
            fprintf(out, "%u\n", *(const unsigned *)field);
            break;
        }
    }
}

int gw_config_parse(struct gw_config *c, int argc, char **argv, FILE *out)
{
    struct option opts[NKEYS + 4];
    int o;

    /* The file first, whatever its place among the options: the others override it. */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;

        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        else if (strcmp(argv[i], "--") == 0)
            break;
        if (path && read_file(c, path) < 0)
            return -EINVAL;
    }

    for (size_t i = 0; i < NKEYS; i++)
        opts[i] =
            (struct option){keys[i].name, keys[i].kind == K_FLAG ? no_argument : required_argument,
                            NULL, 256 + (int)i};
    opts[NKEYS] = (struct option){"verbose", no_argument, NULL, 'v'};
    opts[NKEYS + 1] = (struct option){"help", no_argument, NULL, 'h'};
    opts[NKEYS + 2] = (struct option){"config", required_argument, NULL, 'c'};
    opts[NKEYS + 3] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        if (o == 'v' || o == 'c')
            continue; /* read by main, and above */
        if (o == 'h') {
            gw_config_usage(out);
            return 1;
        }
        if (o < 256 || o >= 256 + (int)NKEYS) {
            fprintf(stderr, "prep-gateway serve: see --help\n");
            return -EINVAL;
        }
        if (set_key(c, &keys[o - 256], optarg) < 0) {
            fprintf(stderr, "prep-gateway serve: invalid value for --%s: %s\n", keys[o - 256].name,
                    optarg);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "prep-gateway serve: unexpected argument: %s\n", argv[optind]);
        return -EINVAL;
    }
    if (!c->h2c_addr && !c->tls_addr) {
        fprintf(stderr, "prep-gateway serve: both listeners are off\n");
        return -EINVAL;
    }
    if (!c->gateway_id[0] || strlen(c->gateway_id) > 64 ||
        strspn(c->gateway_id,
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
            strlen(c->gateway_id)) {
        fprintf(stderr, "prep-gateway serve: --gateway-id: 1 to 64 of A-Z a-z 0-9 . _ -\n");
        return -EINVAL;
    }
    if (c->tls_addr && (!c->cert_file || !c->key_file)) {
        fprintf(stderr, "prep-gateway serve: --tls needs --cert and --key (or --tls off)\n");
        return -EINVAL;
    }
    if (c->upstream && (!c->upstream_key || !c->edge_id)) {
        fprintf(stderr, "prep-gateway serve: --upstream needs --upstream-key and --edge-id\n");
        return -EINVAL;
    }
    if (c->edge_id && !gw_relay_edge_name_valid(c->edge_id)) {
        fprintf(stderr, "prep-gateway serve: --edge-id: 1-63 letters, digits, '.', '_', '-'\n");
        return -EINVAL;
    }
    return 0;
}

int gw_config_check(int argc, char **argv)
{
    struct gw_config c;
    char **args;
    int r;

    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("Usage: prep-gateway config check FILE [SERVE OPTIONS]\n"
               "\n"
               "Reads FILE as `prep-gateway serve --config FILE` would, with any other serve\n"
               "options after it, and checks every key and value and the whole: unknown keys,\n"
               "bad values and keys given twice are errors naming the line. On success prints\n"
               "the configuration serve would run with, every key (defaults included), and\n"
               "exits 0; otherwise exits 2.\n");
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: prep-gateway config check FILE [SERVE OPTIONS]\n");
        return 2;
    }
    args = calloc((size_t)argc + 1, sizeof(*args));
    if (!args)
        return 1;
    /* serve's own argv: "serve --config FILE OPTIONS..." */
    args[0] = "serve";
    args[1] = "--config";
    for (int i = 2; i < argc; i++)
        args[i] = argv[i];
    gw_config_defaults(&c);
    r = gw_config_parse(&c, argc, args, stdout);
    free(args);
    if (r == 0) {
        printf("# %s: valid; the configuration `serve` would run with:\n", argv[2]);
        gw_config_print(&c, stdout);
    }
    gw_config_finish(&c);
    return r == 0 ? 0 : r > 0 ? 0 : 2;
}
