/*
 * gw_config: the gateway's settings, their defaults and the `serve` command line.
 *
 * Every limit the gateway enforces on network input lives here, with its default, so the limits
 * are in one place (docs/api.md and docs/architecture.md list them).
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct gw_config {
    const char *h2c_addr; /* "HOST:PORT", NULL when off */
    const char *tls_addr;
    const char *metrics_addr; /* --metrics: the metrics listener (gw_scrape), NULL when off */
    const char *cert_file, *key_file;
    const char *db; /* libpq conninfo */
    const char *data_dir;
    unsigned loops;              /* event-loop threads */
    unsigned workers;            /* image-processing threads */
    unsigned disk_threads;       /* spool writers */
    unsigned db_threads;         /* PostgreSQL readers for GET requests */
    unsigned login_threads;      /* password checks (Argon2id) */
    unsigned login_address_free; /* failed logins per client address before it must wait */
    uint64_t max_body;           /* bytes per upload */
    uint64_t max_pixels;         /* declared by the JPEG header */
    uint64_t refusal_drain;      /* body bytes read and dropped after an early refusal */
    uint64_t max_buffered;       /* upload buffers in memory, all uploads together */
    uint32_t max_streams;        /* SETTINGS_MAX_CONCURRENT_STREAMS */
    uint32_t stream_window;
    uint32_t conn_window;
    uint32_t max_header_bytes;       /* decoded header bytes per request (name + value + 32 each) */
    unsigned idle_timeout;           /* s without streams before a connection is closed */
    unsigned header_timeout;         /* s to deliver the preface and each header block */
    unsigned body_timeout;           /* s without body progress */
    unsigned shutdown_timeout;       /* s that SIGTERM waits for requests in flight */
    unsigned tls_handshake_timeout;  /* s to finish the TLS handshake */
    unsigned first_request_timeout;  /* s from accepting a connection to its first request */
    unsigned write_timeout;          /* s a response or the output may wait for the peer */
    unsigned min_body_rate;          /* bytes/s a body must average after the grace; 0: off */
    unsigned max_conns_per_address;  /* open connections from one client address; 0: no cap */
    unsigned max_uploads_per_device; /* signed uploads in flight for one device; 0: no cap */
    unsigned upload_expiry;          /* s: lifetime of a resumable upload resource */
    unsigned conn_rate_per_address;  /* new connections a second from one address; 0: off */
    unsigned long_side;              /* review derivative */
    int webp_quality;
    int webp_method;
    int lease_s;             /* s: a processing claim older than this is taken over */
    const char *gateway_id;  /* this gateway's ledger chain, photos and claims on the database */
    const char *web_dir;     /* the clerks' web application (gw_static), NULL: not served */
    unsigned review_lease_s; /* a clerk's claim on a photo lasts this long */
    bool open_uploads;       /* --insecure-open-uploads: accept unsigned uploads (demos only) */
    unsigned signature_skew; /* s between a signature's `created` and the gateway clock */
    uint32_t initial_window; /* stream window before an upload's signature is checked */
    /* Requests from one client address, and signed requests of one device (keyid): a second in
     * the long run, and at once; a rate of 0 turns the limit off. */
    unsigned request_rate_per_address, request_burst_per_address;
    unsigned request_rate_per_device, request_burst_per_device;
    unsigned flood_penalty; /* s an address cut for flooding is refused at accept; 0: off */
    /* A CATD edge relay (gw_relay): with --upstream this gateway forwards what it acknowledges
     * to the central gateway at that URL, vouching as --edge-id; --upstream-key pins the
     * centre's receipt key. The devices are read from --devices-db (default: --db). */
    const char *upstream, *upstream_ca, *upstream_key, *edge_id, *devices_db;
    unsigned relay_streams; /* photos in flight to the centre */
    /* The central side: the edges it trusts (a file of names and keys) and how old a relayed
     * phone signature may be. */
    const char *relay_trust;
    unsigned relay_max_age;
    char *file_text; /* --config: the file's text, which the string values point into */
};

/* Fills |c| with the defaults (see `prep-gateway serve --help`): the data folder is
 * $PREP_VAR/data (PREP_VAR defaults to "var"); the database is $PREP_DB, else the conninfo that
 * ./run.sh wrote to $PREP_VAR/conninfo. */
void gw_config_defaults(struct gw_config *c);

/*
 * Parses the `serve` options in |argv| into |c|. With --config FILE, the file's keys come first
 * and the other options override them: one `key = value` a line, the keys being the long options
 * without their dashes (`max-body = 20MiB`, `insecure-open-uploads = true`), `#` starting a
 * comment; an unknown key, a bad value or a key given twice is an error naming the file and line.
 * Returns 0, 1 when --help was printed to |out|, or -EINVAL after printing the error to stderr.
 */
int gw_config_parse(struct gw_config *c, int argc, char **argv, FILE *out);

/* Frees what gw_config_parse() read from a configuration file. */
void gw_config_finish(struct gw_config *c);

/* Prints every key of |c| as the configuration file would hold it, `key = value` a line. */
void gw_config_print(const struct gw_config *c, FILE *out);

/* `prep-gateway config check FILE [OPTIONS]`, |argv| starting at "config". Returns the exit
 * status. */
int gw_config_check(int argc, char **argv);

/* Prints the `serve` usage to |out|. */
void gw_config_usage(FILE *out);

/* Parses "20MiB", "1048576", "512k" into |*ret|. Returns 0 or -EINVAL. */
int gw_parse_size(const char *s, uint64_t *ret);

#endif
