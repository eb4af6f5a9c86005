#include "cmd_export.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd_export_csv.h"
#include "cmd_provenance.h"
#include "db_export.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_file.h"
#include "gw_keys.h"

#define EXPORT_TZ "America/Mexico_City"
#define EXPORT_SETTLE_S 5 /* seconds after a scheduled cut before it is made */

static const char export_usage[] =
    "Usage: prep-gateway export prep-csv [--out FILE|DIR] [--at TIME] [--election ID]\n"
    "                                    [--tz ZONE] [--every MIN [--count N]] [--data DIR]\n"
    "                                    [--db CONNINFO]\n"
    "\n"
    "Writes the election's PREP results as the CSV INE publishes (docs/export.md): a header\n"
    "block (the election, the cut time, the totals: actas esperadas, registradas, fuera de\n"
    "catalogo, capturadas, contabilizadas, lista nominal, votes, participacion) and one row per\n"
    "acta of the catalogue, received or not, in CLAVE_ACTA order. UTF-8, lines end with LF.\n"
    "\n"
    "A cut at TIME (--at, any time PostgreSQL reads, e.g. '2021-06-06 20:00-05'; default now)\n"
    "uses only the receipts, review decisions and captures made up to TIME, so the same cut\n"
    "gives the same bytes. Every cut is recorded with its SHA-256 in export_cuts, a hash chain\n"
    "linked to the photo ledger's last entry at the cut and signed with the gateway key.\n"
    "\n"
    "--out FILE   written atomically (temporary file, fsync, rename); default stdout\n"
    "--out DIR    an existing folder: DIR/YYYYMMDD_HHMM_PREP_<election>.csv (the cut's time in\n"
    "             --tz), and DIR/latest.csv, a symbolic link to the newest cut\n"
    "--election   the election to export, needed when more than one is loaded\n"
    "--tz         the zone of the times written (default " EXPORT_TZ ")\n"
    "--every MIN  a cut every MIN minutes (at whole minutes) into --out DIR, until stopped\n"
    "             or --count cuts are written\n"
    "--data DIR   the gateway's data folder, whose key signs each cut's record (default\n"
    "             $PREP_VAR/data)\n"
    "--db defaults to $PREP_DB, else the database ./run.sh set up ($PREP_VAR/conninfo).\n"
    "Exit status: 0 done, 1 failed, 2 usage.\n";

struct export_opts {
    const char *db, *out, *at, *election, *tz;
    int every, count;
};

/* Builds the bytes of the cut at |cut| of election |id| (named |name|) into a new buffer
 * |*ret_buf| of |*ret_len| bytes (caller frees), its rows' count in |*ret_rows|. Returns 0 or
 * -1 after saying why on stderr. */
static int build_cut(PGconn *pg, const char *id, const char *name, const char *tz,
                     const struct gw_db_export_cut *cut, char **ret_buf, size_t *ret_len,
                     int *ret_rows)
{
    struct gw_export_csv *b = calloc(1, sizeof(*b));
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    int r = -1;

    if (!b)
        return -1;
    if (gw_db_export_fields(pg, id, gw_export_csv_field, b) < 0 || b->too_many) {
        fprintf(stderr, "prep-gateway export: could not read the election's fields: %s",
                b->too_many ? "more than 64 vote fields\n" : PQerrorMessage(pg));
        goto out;
    }
    b->rows = open_memstream(&b->rows_buf, &b->rows_len);
    if (!b->rows)
        goto out;
    if (gw_db_export_rows(pg, id, cut, tz, gw_export_csv_row, b) < 0) {
        fprintf(stderr, "prep-gateway export: could not read the actas: %s", PQerrorMessage(pg));
        goto out;
    }
    if (fclose(b->rows) != 0) {
        b->rows = NULL;
        goto out;
    }
    b->rows = NULL;
    f = open_memstream(&buf, &len);
    if (!f)
        goto out;
    gw_export_csv_write(f, b, name, cut);
    if (fclose(f) != 0) {
        free(buf);
        goto out;
    }
    *ret_buf = buf;
    *ret_len = len;
    *ret_rows = b->n_rows;
    r = 0;
out:
    if (b->rows)
        fclose(b->rows);
    free(b->rows_buf);
    free(b);
    return r;
}

/* Points DIR/latest.csv at |name| (a file in |dir|): a new link renamed over the old one. */
static int link_latest(const char *dir, const char *name)
{
    char tmp[PATH_MAX], path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/latest.csv", dir);
    snprintf(tmp, sizeof(tmp), "%s/.latest.csv.tmp.%ld", dir, (long)getpid());
    unlink(tmp);
    if (symlink(name, tmp) < 0)
        return -errno;
    if (rename(tmp, path) < 0) {
        int r = -errno;

        unlink(tmp);
        return r;
    }
    return gw_file_sync_parent(path);
}

static void sha256_hex(const char *buf, size_t len, char *ret)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
    for (i = 0; i < n; i++)
        snprintf(ret + 2 * i, 3, "%02x", md[i]);
}

static int sign_cut(void *arg, const char *text, size_t len, char *ret_sig, size_t cap)
{
    uint8_t sig[GW_KEY_SIG_LEN];

    if (cap < GW_KEY_SIG_B64 + 1 || gw_key_sign(arg, text, len, sig) < 0)
        return -EIO;
    gw_b64_encode(sig, sizeof(sig), ret_sig);
    return 0;
}

static bool is_dir(const char *path)
{
    struct stat st;

    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One cut: resolve its time, build it, write it, record it. Returns 0 or 1 (said why). */
static int export_once(const struct export_opts *o, struct gw_key *key, bool to_minute)
{
    PGconn *pg = gw_cli_db_connect(o->db, "prep-gateway export: could not connect");
    struct gw_db_export_cut cut;
    struct gw_db_export_record rec;
    char *id = NULL, *name = NULL, *buf = NULL, sha[65] = "", path[PATH_MAX], file[PATH_MAX];
    char err[512];
    size_t len = 0;
    int rows = 0, rc = 1, r;
    bool dir = is_dir(o->out);

    if (!pg)
        return 1;
    r = gw_db_export_election(pg, o->election, &id, &name);
    if (r < 0) {
        if (r == -ENOENT)
            fprintf(stderr, "prep-gateway export: %s\n",
                    o->election ? "no such election" : "no election loaded (election import)");
        else if (r == -E2BIG)
            fprintf(stderr, "prep-gateway export: several elections loaded: name one with "
                            "--election\n");
        else
            fprintf(stderr, "prep-gateway export: could not read the election: %s",
                    PQerrorMessage(pg));
        goto out;
    }
    if (gw_db_export_cut_time(pg, o->at, to_minute, o->tz, &cut) < 0) {
        fprintf(stderr, "prep-gateway export: bad --at or --tz: %s", PQerrorMessage(pg));
        goto out;
    }
    if (build_cut(pg, id, name, o->tz, &cut, &buf, &len, &rows) < 0)
        goto out;
    sha256_hex(buf, len, sha);
    if (!o->out) {
        if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "prep-gateway export: could not write the CSV: %s\n", strerror(errno));
            goto out;
        }
        snprintf(path, sizeof(path), "-");
    } else {
        snprintf(file, sizeof(file), "%s_PREP_%s.csv", cut.stamp, id);
        if ((size_t)snprintf(path, sizeof(path), "%s%s%s", o->out, dir ? "/" : "",
                             dir ? file : "") >= sizeof(path)) {
            fprintf(stderr, "prep-gateway export: --out is too long\n");
            goto out;
        }
        r = gw_file_write_atomic(path, buf, len, 0644);
        if (r == 0 && dir)
            r = link_latest(o->out, file);
        if (r < 0) {
            fprintf(stderr, "prep-gateway export: could not write %s: %s\n", path, strerror(-r));
            goto out;
        }
    }
    if (gw_db_export_record(pg, id, &cut, sha, len, rows, key->fingerprint, sign_cut, key, err,
                            sizeof(err), &rec) < 0) {
        fprintf(stderr, "prep-gateway export: could not record the cut: %s", err);
        goto out;
    }
    fprintf(stderr,
            "export: %s cut_at=%s actas=%d bytes=%zu sha256=%s cut_id=%lld hash=%s "
            "ledger_seq=%lld%s\n",
            path, cut.utc, rows, len, sha, (long long)rec.cut_id, rec.hash,
            (long long)rec.ledger_seq, rec.recorded ? "" : " (recorded before)");
    rc = 0;
out:
    free(buf);
    free(id);
    free(name);
    PQfinish(pg);
    return rc;
}

/*
 * Sleeps until EXPORT_SETTLE_S seconds past the next whole multiple of |every| minutes (UTC). The
 * cut is at the whole minute; the margin lets the transactions that began before it commit
 * first, since a row's timestamp is its transaction's start (docs/export.md, "Cuts").
 */
static void sleep_to_next(int every)
{
    struct timespec now, d;
    long long period = every * 60LL, next, left_ns;

    clock_gettime(CLOCK_REALTIME, &now);
    next = (now.tv_sec / period + 1) * period + EXPORT_SETTLE_S;
    left_ns = (next - now.tv_sec) * 1000000000LL - now.tv_nsec;
    d.tv_sec = (time_t)(left_ns / 1000000000LL);
    d.tv_nsec = (long)(left_ns % 1000000000LL);
    while (nanosleep(&d, &d) < 0 && errno == EINTR)
        ;
}

int gw_cmd_export(int argc, char **argv)
{
    struct gw_config cfg;
    struct export_opts o = {.tz = EXPORT_TZ};
    const struct gw_cli_opt opts[] = {GW_CLI_OPT_DB(&cfg.db),
                                      GW_CLI_OPT_STRING("data", &cfg.data_dir, "DIR", NULL),
                                      GW_CLI_OPT_STRING("out", &o.out, "FILE|DIR", NULL),
                                      GW_CLI_OPT_STRING("at", &o.at, "TIME", NULL),
                                      GW_CLI_OPT_STRING("election", &o.election, "ID", NULL),
                                      GW_CLI_OPT_STRING("tz", &o.tz, "ZONE", NULL),
                                      GW_CLI_OPT_INT("every", &o.every, "MIN", 1, 1440, NULL),
                                      GW_CLI_OPT_INT("count", &o.count, "N", 1, INT_MAX, NULL),
                                      GW_CLI_OPT_END};
    const struct gw_cli cli = {.prog = "prep-gateway export", .usage = export_usage, .opts = opts};
    struct gw_key key;
    int first, rc, done = 0;

    gw_config_defaults(&cfg);
    rc = gw_cli_parse(&cli, argc, argv, &first);
    if (rc != 0)
        return gw_cli_exit(rc);
    if (first + 1 != argc || strcmp(argv[first], "prep-csv") != 0) {
        fputs(export_usage, stderr);
        return 2;
    }
    o.db = cfg.db;
    if (o.every && (!is_dir(o.out) || o.at)) {
        fprintf(stderr, "prep-gateway export: --every needs --out DIR (an existing folder) and "
                        "no --at\n");
        return 2;
    }
    if (gw_cmd_load_key(cfg.data_dir, false, "prep-gateway export", &key) < 0)
        return 1;
    if (!o.every) {
        rc = export_once(&o, &key, false);
        gw_key_finish(&key);
        return rc;
    }
    /* Its own process, one cut per period, each at the whole minute: a failed cut is said and
     * the next one tried, so that a PostgreSQL restart costs one cut, not the schedule. */
    for (;;) {
        rc = export_once(&o, &key, true);
        if (o.count && ++done >= o.count) {
            gw_key_finish(&key);
            return rc;
        }
        sleep_to_next(o.every);
    }
}
