#include "gw_config.h"

#include "process.h"

#include <errno.h>
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

void gw_config_defaults(struct gw_config *c)
{
    *c = (struct gw_config){
        .h2c_addr = "127.0.0.1:8080",
        .tls_addr = "127.0.0.1:8443",
        .db = default_db(),
        .data_dir = default_data(),
        .loops = 2,
        .workers = 2,
        .disk_threads = 4,
        .db_threads = 4,
        .login_threads = 1,
        /* A CATD's clerks may share one address: room for their typos, not for a spray. */
        .login_address_free = 20,
        .max_body = 20u << 20,
        .max_pixels = 50000000,
        /* Enough for any photo a phone sends, so that every client can read a refusal that came
         * before its body was done (docs/api.md, "Refusals before the body"). */
        .refusal_drain = 32u << 20,
        .max_streams = 8,
        .stream_window = 256u << 10,
        .conn_window = 1u << 20,
        .max_header_bytes = 16u << 10,
        .idle_timeout = 60,
        .header_timeout = 10,
        .body_timeout = 30,
        .long_side = IMG_PROCESS_DEFAULT_LONG_SIDE,
        /* The imaging defaults, chosen from measurements (docs/imaging.md). */
        .webp_quality = IMG_PROCESS_DEFAULT_WEBP_QUALITY,
        .webp_method = IMG_PROCESS_DEFAULT_WEBP_METHOD,
        .lease_s = 300,
        .review_lease_s = 300,
        .signature_skew = 300,
        .initial_window = 64u << 10,
    };
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

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < (long)min || v > (long)max)
        return -EINVAL;
    *ret = (unsigned)v;
    return 0;
}

void gw_config_usage(FILE *out)
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
            "Storage:\n"
            "  --db CONNINFO            PostgreSQL connection string (default $PREP_DB or\n"
            "                           \"%s\")\n"
            "  --data DIR               spool and image store (default %s)\n"
            "Limits:\n"
            "  --max-body SIZE          largest upload, e.g. 20MiB (default %llu bytes)\n"
            "  --max-pixels N           largest declared width x height (default %llu)\n"
            "  --refusal-drain SIZE     after an early refusal, read and drop at most this much\n"
            "                           more of the body before resetting it (default %llu bytes)\n"
            "  --max-streams N          concurrent streams per connection (default %u)\n"
            "  --max-header-bytes N     decoded header bytes per request (default %u)\n"
            "  --idle-timeout SEC       close connections idle this long (default %u)\n"
            "  --header-timeout SEC     time to send the preface and a header block (default "
            "%u)\n"
            "  --body-timeout SEC       time without upload progress (default %u)\n"
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
            "                           1, 2, 4 ... s after each further one (default %u)\n"
            "\n"
            "  -v, --verbose            log debug lines too\n"
            "  -h, --help               show this help\n",
            d.h2c_addr, d.tls_addr, d.db, d.data_dir, (unsigned long long)d.max_body,
            (unsigned long long)d.max_pixels, (unsigned long long)d.refusal_drain, d.max_streams,
            d.max_header_bytes, d.idle_timeout, d.header_timeout, d.body_timeout, d.loops,
            d.workers, d.disk_threads, d.db_threads, d.login_threads, d.signature_skew, d.long_side,
            d.webp_quality, d.webp_method, d.review_lease_s, d.login_address_free);
}

static const char *off_or(const char *s)
{
    return strcmp(s, "off") == 0 ? NULL : s;
}

int gw_config_parse(struct gw_config *c, int argc, char **argv, FILE *out)
{
    enum {
        O_H2C = 256,
        O_TLS,
        O_CERT,
        O_KEY,
        O_DB,
        O_DATA,
        O_MAX_BODY,
        O_MAX_PIXELS,
        O_MAX_STREAMS,
        O_MAX_HEADER,
        O_IDLE,
        O_HEADER_T,
        O_BODY_T,
        O_LOOPS,
        O_WORKERS,
        O_DISK,
        O_LONG_SIDE,
        O_WEBP_Q,
        O_WEB,
        O_REVIEW_LEASE,
        O_OPEN_UPLOADS,
        O_SIG_SKEW,
        O_DB_THREADS,
        O_WEBP_METHOD,
        O_LOGIN_THREADS,
        O_LOGIN_FREE,
        O_REFUSAL_DRAIN,
    };
    static const struct option opts[] = {
        {"h2c", required_argument, NULL, O_H2C},
        {"tls", required_argument, NULL, O_TLS},
        {"cert", required_argument, NULL, O_CERT},
        {"key", required_argument, NULL, O_KEY},
        {"db", required_argument, NULL, O_DB},
        {"data", required_argument, NULL, O_DATA},
        {"max-body", required_argument, NULL, O_MAX_BODY},
        {"max-pixels", required_argument, NULL, O_MAX_PIXELS},
        {"refusal-drain", required_argument, NULL, O_REFUSAL_DRAIN},
        {"max-streams", required_argument, NULL, O_MAX_STREAMS},
        {"max-header-bytes", required_argument, NULL, O_MAX_HEADER},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"header-timeout", required_argument, NULL, O_HEADER_T},
        {"body-timeout", required_argument, NULL, O_BODY_T},
        {"loops", required_argument, NULL, O_LOOPS},
        {"workers", required_argument, NULL, O_WORKERS},
        {"disk-threads", required_argument, NULL, O_DISK},
        {"long-side", required_argument, NULL, O_LONG_SIDE},
        {"webp-quality", required_argument, NULL, O_WEBP_Q},
        {"web", required_argument, NULL, O_WEB},
        {"review-lease", required_argument, NULL, O_REVIEW_LEASE},
        {"insecure-open-uploads", no_argument, NULL, O_OPEN_UPLOADS},
        {"signature-skew", required_argument, NULL, O_SIG_SKEW},
        {"db-threads", required_argument, NULL, O_DB_THREADS},
        {"webp-method", required_argument, NULL, O_WEBP_METHOD},
        {"login-threads", required_argument, NULL, O_LOGIN_THREADS},
        {"login-address-free", required_argument, NULL, O_LOGIN_FREE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o, bad = 0;
    unsigned u = 0;
    uint64_t sz = 0;

    optind = 1;
    while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (o) {
        case O_H2C:
            c->h2c_addr = off_or(optarg);
            break;
        case O_TLS:
            c->tls_addr = off_or(optarg);
            break;
        case O_CERT:
            c->cert_file = optarg;
            break;
        case O_KEY:
            c->key_file = optarg;
            break;
        case O_DB:
            c->db = optarg;
            break;
        case O_DATA:
            c->data_dir = optarg;
            break;
        case O_MAX_BODY:
            bad = gw_parse_size(optarg, &sz) < 0 || sz == 0;
            c->max_body = sz;
            break;
        case O_MAX_PIXELS:
            bad = gw_parse_size(optarg, &sz) < 0 || sz == 0;
            c->max_pixels = sz;
            break;
        case O_REFUSAL_DRAIN:
            bad = gw_parse_size(optarg, &sz) < 0;
            c->refusal_drain = sz;
            break;
        case O_MAX_STREAMS:
            bad = parse_uint(optarg, 1, 1000, &c->max_streams);
            break;
        case O_MAX_HEADER:
            bad = parse_uint(optarg, 1024, 1u << 20, &c->max_header_bytes);
            break;
        case O_IDLE:
            bad = parse_uint(optarg, 1, 86400, &c->idle_timeout);
            break;
        case O_HEADER_T:
            bad = parse_uint(optarg, 1, 3600, &c->header_timeout);
            break;
        case O_BODY_T:
            bad = parse_uint(optarg, 1, 3600, &c->body_timeout);
            break;
        case O_LOOPS:
            bad = parse_uint(optarg, 1, 256, &c->loops);
            break;
        case O_WORKERS:
            bad = parse_uint(optarg, 1, 256, &c->workers);
            break;
        case O_DISK:
            bad = parse_uint(optarg, 1, 256, &c->disk_threads);
            break;
        case O_LONG_SIDE:
            bad = parse_uint(optarg, 16, 16384, &u);
            c->long_side = u;
            break;
        case O_WEBP_Q:
            bad = parse_uint(optarg, 1, 100, &u);
            c->webp_quality = (int)u;
            break;
        case O_OPEN_UPLOADS:
            c->open_uploads = true;
            break;
        case O_SIG_SKEW:
            bad = parse_uint(optarg, 1, 86400, &c->signature_skew);
            break;
        case O_DB_THREADS:
            bad = parse_uint(optarg, 1, 64, &c->db_threads);
            break;
        case O_LOGIN_THREADS:
            bad = parse_uint(optarg, 1, 16, &c->login_threads);
            break;
        case O_LOGIN_FREE:
            bad = parse_uint(optarg, 0, 100000, &c->login_address_free);
            break;
        case O_WEBP_METHOD:
            bad = parse_uint(optarg, 0, 6, &u);
            c->webp_method = (int)u;
            break;
        case O_WEB:
            c->web_dir = optarg;
            break;
        case O_REVIEW_LEASE:
            bad = parse_uint(optarg, 1, 86400, &c->review_lease_s);
            break;
        case 'v':
            break; /* read by main */
        case 'h':
            gw_config_usage(out);
            return 1;
        default:
            fprintf(stderr, "prep-gateway serve: see --help\n");
            return -EINVAL;
        }
        if (bad) {
            fprintf(stderr, "prep-gateway serve: invalid value for --%s: %s\n",
                    opts[o - O_H2C].name, optarg);
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
    if (c->tls_addr && (!c->cert_file || !c->key_file)) {
        fprintf(stderr, "prep-gateway serve: --tls needs --cert and --key (or --tls off)\n");
        return -EINVAL;
    }
    return 0;
}
