/*
 * prep-load: a load generator for capacity testers that sends what phones send: signed uploads
 * (RFC 9421, Ed25519, Content-Digest) over HTTP/2, built on prep-upload's own client library
 * (client/pu_h2, client/pu_sign) with an enrolled device's state folder.
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
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw_keys.h"
#include "gw_sig.h"
#include "pu_h2.h"
#include "pu_sign.h"

struct run {
    struct pu_url url;
    struct pu_h2_opts opts;
    struct gw_key key;
    char device_id[GW_SIG_TOKEN_MAX];
    const char *file;
    uint64_t size;
    char length[24]; /* content-length value */
    char digest[64];
    int conns, streams, total, claves;
    int entidad;          /* the claves' state code: 14 is Jalisco */
    atomic_int next;      /* requests handed out */
    atomic_int status[6]; /* 0: failed, 1..5: 1xx..5xx */
    double *lat_ms;       /* one per request */
    atomic_int nlat;
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *conn_main(void *arg)
{
    struct run *r = arg;
    struct pu_h2_request *reqs = calloc((size_t)r->streams, sizeof(*reqs));
    char(*paths)[64] = calloc((size_t)r->streams, 64);
    char(*inputs)[1024] = calloc((size_t)r->streams, 1024);
    char(*sigs)[128] = calloc((size_t)r->streams, 128);
    int *fds = calloc((size_t)r->streams, sizeof(int));
    struct pu_h2_conn *c = NULL;
    char why[256];

    if (!reqs || !paths || !inputs || !sigs || !fds)
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
            memset(q, 0, sizeof(*q));
            snprintf(paths[batch], 64, "/v1/actas/%02d%04dB010002/photos", r->entidad,
                     i % r->claves + 1);
            if (pu_sign_upload(&r->key, r->device_id, paths[batch], r->digest, inputs[batch], 1024,
                               sigs[batch], 128) < 0)
                goto out;
            fds[batch] = open(r->file, O_RDONLY | O_CLOEXEC);
            q->method = "POST";
            q->path = paths[batch];
            q->headers[0] = (struct pu_h2_header){"content-type", "image/jpeg"};
            q->headers[1] = (struct pu_h2_header){"content-digest", r->digest};
            q->headers[2] = (struct pu_h2_header){"signature-input", inputs[batch]};
            q->headers[3] = (struct pu_h2_header){"signature", sigs[batch]};
            q->headers[4] = (struct pu_h2_header){"content-length", r->length};
            q->nheaders = 5;
            q->body_fd = fds[batch];
            q->body_len = r->size;
            if (pu_h2_submit(c, q) < 0) {
                close(fds[batch]);
                atomic_fetch_add(&r->status[0], 1);
                batch--;
                break;
            }
        }
        if (batch <= 0)
            break;
        t0 = now_ms();
        pu_h2_run(c);
        for (int b = 0; b < batch; b++) {
            int s = reqs[b].error == 0 ? reqs[b].status / 100 : 0;

            atomic_fetch_add(&r->status[s >= 1 && s <= 5 ? s : 0], 1);
            r->lat_ms[atomic_fetch_add(&r->nlat, 1)] = now_ms() - t0;
            close(fds[b]);
            pu_h2_request_finish(&reqs[b]);
        }
    }
out:
    pu_h2_conn_free(c);
    free(reqs);
    free(paths);
    free(inputs);
    free(sigs);
    free(fds);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int load_state(struct run *r, const char *state)
{
    char path[4096];
    json_t *dev;
    const char *id;

    snprintf(path, sizeof(path), "%s/device.json", state);
    dev = json_load_file(path, 0, NULL);
    id = json_string_value(json_object_get(dev, "device_id"));
    if (!id) {
        fprintf(stderr, "prep-load: %s: no device_id (enrol with prep-upload first)\n", path);
        json_decref(dev);
        return -1;
    }
    snprintf(r->device_id, sizeof(r->device_id), "%s", id);
    json_decref(dev);
    snprintf(path, sizeof(path), "%s/device-ed25519.pem", state);
    if (gw_key_load(path, false, &r->key) < 0) {
        fprintf(stderr, "prep-load: could not load %s\n", path);
        return -1;
    }
    return 0;
}

static int hash_file(struct run *r)
{
    uint8_t buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int fd = open(r->file, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0 || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        if (fd >= 0)
            close(fd);
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    r->size = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        r->size += (uint64_t)n;
    }
    close(fd);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    gw_sig_digest_value(md, r->digest, sizeof(r->digest));
    snprintf(r->length, sizeof(r->length), "%llu", (unsigned long long)r->size);
    return n < 0 ? -1 : 0;
}

static int arg_int(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    return (*end || v < lo || v > hi) ? -1 : (int)v;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"server", required_argument, NULL, 's'},
        {"state", required_argument, NULL, 'S'},
        {"file", required_argument, NULL, 'f'},
        {"claves", required_argument, NULL, 'k'},
        {"insecure", no_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"entidad", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct run r = {.conns = 10, .streams = 5, .total = 50, .claves = 1, .entidad = 14};
    const char *server = NULL, *state = NULL, *why;
    pthread_t *th;
    double t0, secs;
    bool json = false;
    int o;

    pu_h2_opts_default(&r.opts);
    while ((o = getopt_long(argc, argv, "c:m:n:h", lo, NULL)) != -1) {
        switch (o) {
        case 'c':
            r.conns = arg_int(optarg, 1, 1000);
            break;
        case 'm':
            r.streams = arg_int(optarg, 1, 100);
            break;
        case 'n':
            r.total = arg_int(optarg, 1, 10000000);
            break;
        case 'k':
            r.claves = arg_int(optarg, 1, 9999);
            break;
        case 'e':
            r.entidad = arg_int(optarg, 1, 32);
            break;
        case 's':
            server = optarg;
            break;
        case 'S':
            state = optarg;
            break;
        case 'f':
            r.file = optarg;
            break;
        case 'i':
            r.opts.insecure = true;
            break;
        case 'j':
            json = true;
            break;
        default:
            printf("Usage: prep-load --server URL --state DIR --file PHOTO [-c CONNS=10]"
                   " [-m STREAMS=5] [-n REQUESTS=50] [--claves K=1] [--entidad NN=14]\n"
                   "       [--insecure] [--json]\n"
                   "Signed uploads, as phones send them, from an enrolled device's state folder"
                   " (prep-upload enrol).\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (!server || !state || !r.file || r.conns < 0 || r.streams < 0 || r.total < 0 ||
        r.claves < 0 || r.entidad < 0 || pu_url_parse(server, &r.url, &why) < 0 ||
        load_state(&r, state) < 0 || hash_file(&r) < 0) {
        fprintf(stderr, "prep-load: see --help\n");
        return 2;
    }
    r.lat_ms = calloc((size_t)r.total, sizeof(double));
    th = calloc((size_t)r.conns, sizeof(*th));
    if (!r.lat_ms || !th)
        return 1;
    t0 = now_ms();
    for (int i = 0; i < r.conns; i++)
        pthread_create(&th[i], NULL, conn_main, &r);
    for (int i = 0; i < r.conns; i++)
        pthread_join(th[i], NULL);
    secs = (now_ms() - t0) / 1e3;
    qsort(r.lat_ms, (size_t)r.nlat, sizeof(double), cmp_double);
#define PCT(p) (r.nlat ? r.lat_ms[(size_t)((r.nlat - 1) * (p) / 100)] : 0.0)
    if (json)
        printf("{\"requests\":%d,\"done\":%d,\"seconds\":%.3f,\"req_per_s\":%.2f,\"mb_per_s\":%.1f,"
               "\"2xx\":%d,\"4xx\":%d,\"5xx\":%d,\"failed\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n",
               r.total, r.nlat, secs, r.nlat / secs, r.nlat * (double)r.size / secs / 1e6,
               r.status[2], r.status[4], r.status[5], r.status[0], PCT(50), PCT(99));
    else
        printf("prep-load: %d signed uploads of %llu bytes in %.2f s: %.2f req/s, %.1f MB/s\n"
               "status codes: %d 2xx, %d 4xx, %d 5xx, %d failed\n"
               "latency ms: p50 %.1f, p90 %.1f, p99 %.1f, max %.1f\n",
               r.nlat, (unsigned long long)r.size, secs, r.nlat / secs,
               r.nlat * (double)r.size / secs / 1e6, r.status[2], r.status[4], r.status[5],
               r.status[0], PCT(50), PCT(90), PCT(99), PCT(100));
    free(r.lat_ms);
    free(th);
    gw_key_finish(&r.key);
    return r.status[2] == r.total ? 0 : 1;
}
