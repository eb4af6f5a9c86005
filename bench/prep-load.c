/*
 * prep-load: a load generator for capacity testers that sends what phones send: signed uploads
 * (RFC 9421, Ed25519, Content-Digest) over HTTP/2, built on prep-upload's own client library
 * (client/pu_state, client/pu_send, client/pu_h2) with an enrolled device's state folder.
 *
 *   prep-load --server URL --state DIR --file PHOTO [-c CONNS] [-m STREAMS] [-n REQUESTS]
 *             [--claves K] [--insecure] [--json]
 *
 * C connections, one thread each, keep up to M signed uploads in flight until N are done. The
 * same photo is sent for K claves ("EESSSSB010002": EE the --entidad, default 14, SSSS = 0001..K)
 * in turn: the first upload of
 * each clave is a new photo, the others are idempotent retries. Prints requests/s, MB/s, the
 * status codes and the latency percentiles of the uploads.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_clock.h"
#include "bench_stats.h"
#include "gw_cli.h"
#include "gw_keys.h"
#include "pu_h2.h"
#include "pu_send.h"
#include "pu_state.h"

struct run {
    struct pu_url url;
    struct pu_h2_opts opts;
    struct gw_key key;
    struct pu_device dev;
    const char *file;
    struct pu_photo photo;
    int conns, streams, total, claves;
    int entidad;          /* the claves' state code: 14 is Jalisco */
    atomic_int next;      /* requests handed out */
    atomic_int status[6]; /* 0: failed, 1..5: 1xx..5xx */
    double *lat_ms;       /* one per request */
    atomic_int nlat;
};

static void *conn_main(void *arg)
{
    struct run *r = arg;
    struct pu_h2_request *reqs = calloc((size_t)r->streams, sizeof(*reqs));
    char(*paths)[64] = calloc((size_t)r->streams, 64);
    struct pu_send_sig *sigs = calloc((size_t)r->streams, sizeof(*sigs));
    int *fds = calloc((size_t)r->streams, sizeof(int));
    struct pu_h2_conn *c = NULL;
    char why[256];

    if (!reqs || !paths || !sigs || !fds)
        goto out;
    for (;;) {
        int batch = 0;
        double t0;

        if (!c || !pu_h2_usable(c)) {
            pu_h2_conn_free(c);
            c = NULL;
            if (pu_h2_connect(&r->url, &r->opts, &c, why, sizeof(why)) < 0) {
                fprintf(stderr, "prep-load: connect: %s\n", why);
                break;
            }
        }
        for (; batch < r->streams; batch++) {
            int i = atomic_fetch_add(&r->next, 1);
            struct pu_h2_request *q = &reqs[batch];

            if (i >= r->total)
                break;
            snprintf(paths[batch], 64, "/v1/actas/%02d%04dB010002/photos", r->entidad,
                     i % r->claves + 1);
            fds[batch] = open(r->file, O_RDONLY | O_CLOEXEC);
            if (pu_send_request(&r->photo, fds[batch], paths[batch], &r->key, r->dev.device_id,
                                &sigs[batch], q) < 0) {
                close(fds[batch]);
                goto out;
            }
            if (pu_h2_submit(c, q) < 0) {
                close(fds[batch]);
                atomic_fetch_add(&r->status[0], 1);
                batch--;
                break;
            }
        }
        if (batch <= 0)
            break;
        t0 = bench_now_ms();
        pu_h2_run(c);
        for (int b = 0; b < batch; b++) {
            int s = reqs[b].error == 0 ? reqs[b].status / 100 : 0;

            atomic_fetch_add(&r->status[s >= 1 && s <= 5 ? s : 0], 1);
            r->lat_ms[atomic_fetch_add(&r->nlat, 1)] = bench_now_ms() - t0;
            close(fds[b]);
            pu_h2_request_finish(&reqs[b]);
        }
    }
out:
    pu_h2_conn_free(c);
    free(reqs);
    free(paths);
    free(sigs);
    free(fds);
    return NULL;
}

static const char usage[] =
    "Usage: prep-load --server URL --state DIR --file PHOTO [-c CONNS=10]"
    " [-m STREAMS=5] [-n REQUESTS=50] [--claves K=1] [--entidad NN=14]\n"
    "       [--insecure] [--json]\n"
    "Signed uploads, as phones send them, from an enrolled device's state folder"
    " (prep-upload enrol).\n";

/* An integer option whose bad value says only "see --help", as the other mistakes do. */
#define INT_OPT(nm, letter, ptr, min, max)                                                         \
    {                                                                                              \
        .name = (nm), .short_name = (letter), .kind = GW_CLI_INT, .value = (ptr), .lo = (min),     \
        .hi = (max), .bad = "see --help"                                                           \
    }

int main(int argc, char **argv)
{
    struct run r = {.conns = 10, .streams = 5, .total = 50, .claves = 1, .entidad = 14};
    const char *server = NULL, *state = NULL, *why;
    bool json = false;
    const struct gw_cli_opt opts[] = {
        INT_OPT("conns", 'c', &r.conns, 1, 1000),
        INT_OPT("streams", 'm', &r.streams, 1, 100),
        INT_OPT("requests", 'n', &r.total, 1, 10000000),
        INT_OPT("claves", 0, &r.claves, 1, 9999),
        INT_OPT("entidad", 0, &r.entidad, 1, 32),
        GW_CLI_OPT_STRING("server", &server, "URL", NULL),
        GW_CLI_OPT_STRING("state", &state, "DIR", NULL),
        GW_CLI_OPT_STRING("file", &r.file, "PHOTO", NULL),
        GW_CLI_OPT_FLAG("insecure", &r.opts.insecure, NULL),
        GW_CLI_OPT_JSON(&json),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "prep-load", .usage = usage, .opts = opts};
    char hash_why[256];
    pthread_t *th;
    double t0, secs;
    int o;

    signal(SIGPIPE, SIG_IGN); /* a TLS peer that closes under a write (pu_h2.h) */

    pu_h2_opts_default(&r.opts);
    o = gw_cli_parse(&cli, argc, argv, NULL);
    if (o != 0)
        return gw_cli_exit(o);
    if (!server || !state || !r.file || pu_url_parse(server, &r.url, &why) < 0 ||
        pu_state_load_device("prep-load", state, &r.dev) < 0 ||
        pu_state_load_key("prep-load", state, false, &r.key) < 0 ||
        pu_photo_open(&r.photo, r.file, hash_why, sizeof(hash_why)) < 0) {
        fprintf(stderr, "prep-load: see --help\n");
        return 2;
    }
    pu_photo_close(&r.photo);
    r.lat_ms = calloc((size_t)r.total, sizeof(double));
    th = calloc((size_t)r.conns, sizeof(*th));
    if (!r.lat_ms || !th)
        return 1;
    t0 = bench_now_ms();
    for (int i = 0; i < r.conns; i++)
        pthread_create(&th[i], NULL, conn_main, &r);
    for (int i = 0; i < r.conns; i++)
        pthread_join(th[i], NULL);
    secs = (bench_now_ms() - t0) / 1e3;
    bench_stats_sort(r.lat_ms, (size_t)r.nlat);
#define PCT(p) bench_stats_pct(r.lat_ms, (size_t)r.nlat, (p))
    if (json)
        printf("{\"requests\":%d,\"done\":%d,\"seconds\":%.3f,\"req_per_s\":%.2f,\"mb_per_s\":%.1f,"
               "\"2xx\":%d,\"4xx\":%d,\"5xx\":%d,\"failed\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n",
               r.total, r.nlat, secs, r.nlat / secs, r.nlat * (double)r.photo.size / secs / 1e6,
               r.status[2], r.status[4], r.status[5], r.status[0], PCT(50), PCT(99));
    else
        printf("prep-load: %d signed uploads of %llu bytes in %.2f s: %.2f req/s, %.1f MB/s\n"
               "status codes: %d 2xx, %d 4xx, %d 5xx, %d failed\n"
               "latency ms: p50 %.1f, p90 %.1f, p99 %.1f, max %.1f\n",
               r.nlat, (unsigned long long)r.photo.size, secs, r.nlat / secs,
               r.nlat * (double)r.photo.size / secs / 1e6, r.status[2], r.status[4], r.status[5],
               r.status[0], PCT(50), PCT(90), PCT(99), PCT(100));
    free(r.lat_ms);
    free(th);
    gw_key_finish(&r.key);
    gw_key_finish(&r.dev.gateway);
    return r.status[2] == r.total ? 0 : 1;
}
