/*
 * prep-bench: the capacity testers' load generator. Simulated phones send signed uploads
 * (RFC 9421, Ed25519, Content-Digest) of photos from a pool over HTTP/2 (TLS or h2c), built on
 * prep-upload's own client library (client/pu_h2, pu_send, pu_state), and the gateway's receipts
 * are verified as a phone verifies them. See --help and docs/capacity.md.
 *
 * Workload models:
 *   closed  -c C phones each send the next upload when the last is answered (-n N uploads, or
 *           for --duration S). Latency is from the send: a stalled server slows the senders and
 *           hides its own stall, as closed-loop tools do.
 *   open    arrivals at --rate R a second for --duration S, or as a --scenario file's curve
 *           replayed --speed times faster. Each upload has an intended send time; latency is
 *           measured from it (as wrk2 does), so when every phone is waiting on a stalled server
 *           the uploads that should have gone out meanwhile count the wait: coordinated omission
 *           cannot hide a stall. -c bounds the uploads in flight.
 *
 * Each of the -c threads keeps one connection (one upload at a time, as a phone); upload i goes
 * to clave "EESSSSBCC0002" (a distinct clave per upload from --clave-base on), is signed by device
 * i mod D of the --devices folder (state folders made by prep-upload enrol; bench/enrol-devices.sh
 * makes many) and carries photo i mod P of the --photos pool, hashed once at start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_abuse.h"
#include "bench_body.h"
#include "bench_class.h"
#include "bench_clock.h"
#include "bench_delay.h"
#include "bench_hist.h"
#include "bench_queued.h"
#include "bench_report.h"
#include "bench_resume.h"
#include "bench_scenario.h"
#include "gw_cli.h"
#include "gw_keys.h"
#include "gw_receipt.h"
#include "pu_h2.h"
#include "pu_resume.h"
#include "pu_send.h"
#include "pu_state.h"

#ifndef BENCH_SCENARIO_DIR
#define BENCH_SCENARIO_DIR "bench/scenarios"
#endif

#define DEVICES_MAX 4096
#define PHOTOS_MAX 4096
#define REQUIRE_MAX 16
#define CLOSED_MAX 1000000 /* uploads of a closed run for --duration, at most */

struct device {
    struct pu_device dev;
    struct gw_key key;
};

struct require {
    char text[48];
    char metric[24]; /* p50 p90 p99 p99.9 max errors rate */
    bool after_body; /* the percentile is of the receipt after the last byte ("after_body.p99") */
    char op[3];
    double value; /* ms for latencies, percent or count for errors, per second for rate */
    bool percent;
};

struct run {
    struct pu_url url;
    struct pu_h2_opts opts;
    struct device *devs;
    int ndevs;
    struct pu_photo *photos;
    int nphotos;
    uint8_t **data; /* --distinct: the pool's bytes, from which each upload's body is made */
    size_t *data_len;
    uint64_t run_id; /* --distinct: names the run in every body */
    bool reference;  /* --reference: any 2xx is accepted, there is no receipt */
    int conns, entidad, clave_base;
    int claves;         /* > 0: upload i goes to clave i mod claves (the others are retries) */
    long total;         /* planned uploads; closed with --duration: until time is up */
    double duration_ms; /* closed model: 0 or the run's length */
    double *intended;   /* open model: send time of upload i, ms from the start; NULL closed */
    long kbps;          /* per-phone upstream limit, kbit/s; 0: none */
    bool resumable;     /* every POST asks for a resumable upload (Upload-Complete: ?1) */
    double drop_pct;    /* --drop: the share of uploads cut mid-body and resumed, 0-100 */
    struct bench_queued *queued; /* --queued: the poller of the photos' status, or NULL */
    double t0;                   /* monotonic ms of the start */
    atomic_long next;            /* uploads handed out */
    pthread_mutex_t lock;        /* what follows */
    struct bench_result res;
    struct bench_sample *samples;
};

struct pace {
    const struct run *r;
    double start;
    struct pu_h2_conn *c;
    uint64_t drop_at; /* > 0: cut the connection once this much of the body has gone */
    uint64_t size;    /* the body's */
    double last;      /* bench_now_ms() when nghttp2 took the body's last byte (0: not yet) */
    const struct pu_resume_fields *fields;
    bool cut;
};

/* In-process per-phone bandwidth: nghttp2 takes the next chunk only once the bytes so far have
 * had their time at --kbps. And --drop's cut, once the body is that far and the gateway has named
 * the upload resource (its 104 comes once the signature is checked; a phone cut before it starts
 * again with a POST, which is not what --drop measures). */
static void pace_cb(const struct pu_h2_request *req, uint64_t sent, void *arg)
{
    struct pace *p = arg;

    (void)req;
    if (p->drop_at > 0 && !p->cut && sent >= p->drop_at && p->fields->location[0]) {
        p->cut = true;
        pu_h2_conn_cut(p->c);
        return;
    }
    if (p->r->kbps > 0)
        bench_sleep_until(p->start + (double)sent * 8.0 / (double)p->r->kbps);
    if (sent >= p->size && p->last == 0)
        p->last = bench_now_ms(); /* the chunk goes out as this returns */
}

/* splitmix64: which uploads --drop cuts, and where; the same for every run. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Where upload |i| of |size| bytes is cut: 0 (not cut), or between 20% and 80% of its body. */
static uint64_t drop_point(const struct run *r, long i, uint64_t size)
{
    uint64_t h = mix((uint64_t)i);

    if (r->drop_pct <= 0 || (double)(h % 10000) >= r->drop_pct * 100)
        return 0;
    return size * (20 + (h >> 32) % 61) / 100;
}

/* True when the 2xx answer of upload |q| carries a receipt the device's gateway key signed, for
 * these bytes and this clave. */
static bool receipt_ok(const struct device *d, const struct pu_photo *ph, const char *clave,
                       const struct pu_h2_request *q, char *ret_photo_id)
{
    struct gw_receipt rc;

    if (!q->resp_body || q->resp_len >= GW_RECEIPT_FILE_MAX)
        return false;
    if (gw_receipt_verify(q->resp_body, q->resp_len, &d->dev.gateway, &rc) != NULL ||
        strcmp(rc.sha256, ph->sha_hex) != 0 || strcmp(rc.clave, clave) != 0 || rc.bytes != ph->size)
        return false;
    memcpy(ret_photo_id, rc.photo_id, sizeof(rc.photo_id));
    return true;
}

/* |cut|: the upload was cut and its resumption kept |kept| bytes (-1: it could not resume).
 * |last|: when the body's last byte went (0: unknown). */
static void record(struct run *r, double intended, double sent, double done, int status,
                   const char *cls_name, uint64_t bytes, double connect_ms, bool cut, int64_t kept,
                   double last)
{
    pthread_mutex_lock(&r->lock);
    struct bench_sample *s = &r->samples[r->res.nsamples++];

    if (cut) {
        r->res.dropped++;
        if (kept >= 0 && !cls_name) {
            r->res.resumed++;
            r->res.kept_bytes += kept;
            r->res.cut_bytes += (long)bytes;
        }
    }

    s->intended_ms = intended - r->t0;
    s->sent_ms = sent - r->t0;
    s->done_ms = done - r->t0;
    s->status = status;
    s->cls = cls_name ? bench_class_of(r->res.classes, &r->res.nclasses, cls_name) : -1;
    if (cls_name)
        r->res.classes[s->cls].n++;
    else {
        r->res.ok++;
        r->res.bytes_ok += (long)bytes;
        r->res.receipts_verified += !r->reference;
    }
    r->res.done++;
    bench_hist_record(&r->res.latency, (uint64_t)((done - intended) * 1e3));
    bench_hist_record(&r->res.service, (uint64_t)((done - sent) * 1e3));
    if (connect_ms >= 0)
        bench_hist_record(&r->res.connect, (uint64_t)(connect_ms * 1e3));
    if (last > 0 && !cut && !cls_name)
        bench_hist_record(&r->res.after_body, (uint64_t)((done - last) * 1e3));
    pthread_mutex_unlock(&r->lock);
}

static void *phone_main(void *arg)
{
    struct run *r = arg;
    struct pu_h2_conn *c = NULL;
    struct bench_body body = {.photo.fd = -1};
    char why[256];

    bench_sleep_until(r->t0); /* all phones start together, when the clock of the run starts */
    for (;;) {
        long i = atomic_fetch_add(&r->next, 1);
        struct pu_h2_request q;
        struct pu_send_sig sig;
        struct pace pace = {.r = r};
        struct pu_resume_fields fields = {.location = ""};
        struct bench_resume res = {.offset = 0};
        struct pu_h2_request *fin;
        const struct device *d = &r->devs[i % r->ndevs];
        const struct pu_photo *ph = &r->photos[i % r->nphotos];
        char path[64], clave[16], cls[96], photo_id[GW_PHOTO_ID_LEN + 1];
        double intended, sent, connect_ms = -1;
        long k = r->clave_base + (r->claves > 0 ? i % r->claves : i);
        int fd;

        if (i >= r->total)
            break;
        if (r->intended) {
            intended = r->t0 + r->intended[i];
            bench_sleep_until(intended);
        } else {
            intended = bench_now_ms();
            if (r->duration_ms > 0 && intended - r->t0 >= r->duration_ms)
                break;
        }
        snprintf(clave, sizeof(clave), "%02d%04ldB%02ld0002", r->entidad, k % 9999 + 1,
                 k / 9999 % 99 + 1);
        snprintf(path, sizeof(path), "/v1/actas/%s/photos", clave);
        if (!c || !pu_h2_usable(c)) {
            double t = bench_now_ms();

            pu_h2_conn_free(c);
            c = NULL;
            if (pu_h2_connect(&r->url, &r->opts, &c, why, sizeof(why)) < 0) {
                record(r, intended, t, bench_now_ms(), 0, "connect", 0, -1, false, -1, 0);
                continue;
            }
            connect_ms = bench_now_ms() - t;
        }
        memset(&q, 0, sizeof(q));
        if (r->data) {
            long p = i % r->nphotos;

            fd = -1;
            if (bench_body_make(&body, r->data[p], r->data_len[p], r->run_id, i) < 0 ||
                pu_send_request(&body.photo, -1, path, &d->key, d->dev.device_id, &sig, &q) < 0) {
                record(r, intended, bench_now_ms(), bench_now_ms(), 0, "client: photo or signature",
                       0, -1, false, -1, 0);
                continue;
            }
            q.body = body.data;
            ph = &body.photo;
        } else if ((fd = open(ph->file, O_RDONLY | O_CLOEXEC)) < 0 ||
                   pu_send_request(ph, fd, path, &d->key, d->dev.device_id, &sig, &q) < 0) {
            if (fd >= 0)
                close(fd);
            record(r, intended, bench_now_ms(), bench_now_ms(), 0, "client: photo or signature", 0,
                   -1, false, -1, 0);
            continue;
        }
        if (r->resumable && q.nheaders < PU_H2_MAX_HEADERS) {
            q.headers[q.nheaders++] = (struct pu_h2_header){"upload-complete", "?1"};
            pu_resume_fields_init(&fields);
            q.on_header = pu_resume_on_header;
            q.header_arg = &fields;
        }
        sent = bench_now_ms();
        pace.start = sent;
        pace.c = c;
        pace.drop_at = drop_point(r, i, ph->size);
        pace.size = ph->size;
        pace.fields = &fields;
        q.on_progress = pace_cb;
        q.progress_arg = &pace;
        if (pu_h2_submit(c, &q) < 0) {
            if (fd >= 0)
                close(fd);
            pu_h2_conn_free(c);
            c = NULL;
            record(r, intended, sent, bench_now_ms(), 0, "h2 submit refused", 0, connect_ms, false,
                   -1, 0);
            continue;
        }
        pu_h2_run(c);
        fin = &q;
        if (pace.cut) {
            /* The phone's network came back: a new connection, HEAD, PATCH of the rest. */
            const struct bench_resume_body b = {fd, r->data ? body.data : NULL, ph->size};

            pu_h2_conn_free(c);
            c = NULL;
            memset(&res, 0, sizeof(res));
            if (bench_resume(&r->url, &r->opts, fields.location, &b, &c, &res, why, sizeof(why)) <
                0) {
                record(r, intended, sent, bench_now_ms(), 0, why, 0, connect_ms, true, -1, 0);
                goto next;
            }
            fin = &res.patch;
        }
        if (fin->error == 0 && (r->reference ? fin->status / 100 == 2
                                             : (fin->status == 200 || fin->status == 201) &&
                                                   receipt_ok(d, ph, clave, fin, photo_id))) {
            double t = bench_now_ms();

            record(r, intended, sent, t, fin->status, NULL, ph->size, connect_ms, pace.cut,
                   (int64_t)res.offset, pace.last);
            if (r->queued && !r->reference)
                bench_queued_track(r->queued, &d->key, d->dev.device_id, photo_id, t);
        } else {
            if (fin->error == 0 && (fin->status == 200 || fin->status == 201))
                snprintf(cls, sizeof(cls), "receipt does not verify");
            else
                bench_classify(fin, cls, sizeof(cls));
            record(r, intended, sent, bench_now_ms(), fin->status, cls, 0, connect_ms, pace.cut, -1,
                   0);
        }
        if (fin != &q)
            pu_h2_request_finish(fin);
    next:
        if (fd >= 0)
            close(fd);
        pu_h2_request_finish(&q);
    }
    bench_body_finish(&body);
    pu_h2_conn_free(c);
    return NULL;
}

/* Loads every state folder under |dir| (or |dir| itself when it is one). */
static int load_devices(struct run *r, const char *dir)
{
    struct dirent **names;
    char sub0[4096];
    int n;

    r->devs = calloc(DEVICES_MAX, sizeof(*r->devs));
    if (!r->devs)
        return -1;
    snprintf(sub0, sizeof(sub0), "%s/device.json", dir);
    if (access(sub0, F_OK) == 0 && pu_state_load_device("prep-bench", dir, &r->devs[0].dev) == 0 &&
        pu_state_load_key("prep-bench", dir, false, &r->devs[0].key) == 0) {
        r->ndevs = 1;
        return 0;
    }
    n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char sub[4096];
        struct device *d = &r->devs[r->ndevs];

        snprintf(sub, sizeof(sub), "%s/%s/device.json", dir, names[i]->d_name);
        if (access(sub, F_OK) < 0) {
            free(names[i]);
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && r->ndevs < DEVICES_MAX &&
            pu_state_load_device("prep-bench", sub, &d->dev) == 0 &&
            pu_state_load_key("prep-bench", sub, false, &d->key) == 0)
            r->ndevs++;
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    return r->ndevs > 0 ? 0 : -1;
}

/* Hashes |file|, or every *.jpg under it when it is a folder, into the pool. */
static int load_photos(struct run *r, const char *path)
{
    struct dirent **names;
    struct stat st;
    char why[256];
    int n;

    r->photos = calloc(PHOTOS_MAX, sizeof(*r->photos));
    if (!r->photos || stat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        char *file = strdup(path);

        if (!file || pu_photo_open(&r->photos[0], file, why, sizeof(why)) < 0) {
            free(file);
            return -1;
        }
        pu_photo_close(&r->photos[0]);
        r->nphotos = 1;
        return 0;
    }
    n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        char *file;

        if (len > 4 && strcmp(names[i]->d_name + len - 4, ".jpg") == 0 && r->nphotos < PHOTOS_MAX &&
            asprintf(&file, "%s/%s", path, names[i]->d_name) >= 0) {
            if (pu_photo_open(&r->photos[r->nphotos], file, why, sizeof(why)) == 0) {
                pu_photo_close(&r->photos[r->nphotos]);
                r->nphotos++;
            } else
                free(file);
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    return r->nphotos > 0 ? 0 : -1;
}

/* --distinct: reads the pool into memory, each upload's body is made from it. */
static int load_data(struct run *r)
{
    struct timespec ts;

    r->data = calloc((size_t)r->nphotos, sizeof(*r->data));
    r->data_len = calloc((size_t)r->nphotos, sizeof(*r->data_len));
    if (!r->data || !r->data_len)
        return -1;
    for (int k = 0; k < r->nphotos; k++)
        if (bench_body_load(r->photos[k].file, &r->data[k], &r->data_len[k]) < 0)
            return -1;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->run_id = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

/* Strips "after_body." from a latency metric ("after_body.p99": the receipt after the body's
 * last byte; "p99": from the intended send time), setting |q->after_body|. */
static void require_after_body(struct require *q)
{
    static const char after[] = "after_body.";
    size_t n = sizeof(after) - 1;

    q->after_body = strncmp(q->metric, after, n) == 0;
    if (q->after_body)
        memmove(q->metric, q->metric + n, strlen(q->metric + n) + 1);
}

static bool is_pct(const char *m)
{
    return strcmp(m, "p50") == 0 || strcmp(m, "p90") == 0 || strcmp(m, "p99") == 0 ||
           strcmp(m, "p99.9") == 0 || strcmp(m, "max") == 0;
}

/* Parses "p99<1s,errors<0.1%,rate>5" into |ret| (at most REQUIRE_MAX terms). Returns the count,
 * or -1 with the bad term printed. */
static int parse_require(const char *spec, struct require *ret)
{
    char buf[512], *save = NULL;
    int n = 0;

    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        struct require *q = &ret[n];
        size_t m = strcspn(t, "<>");
        char *end;

        while (*t == ' ')
            t++, m--;
        if (n == REQUIRE_MAX || m == 0 || m >= sizeof(q->metric) || t[m] == '\0')
            goto bad;
        snprintf(q->text, sizeof(q->text), "%s", t);
        memcpy(q->metric, t, m);
        q->metric[m] = '\0';
        q->op[0] = t[m];
        q->op[1] = t[m + 1] == '=' ? '=' : '\0';
        q->op[2] = '\0';
        t += m + strlen(q->op);
        q->value = strtod(t, &end);
        if (end == t)
            goto bad;
        q->percent = strcmp(end, "%") == 0;
        require_after_body(q);
        if (!q->after_body &&
            (strcmp(q->metric, "errors") == 0 || strcmp(q->metric, "rate") == 0)) {
            if (*end && !q->percent)
                goto bad;
        } else if (is_pct(q->metric)) {
            if (strcmp(end, "s") == 0)
                q->value *= 1e3;
            else if (strcmp(end, "us") == 0)
                q->value /= 1e3;
            else if (strcmp(end, "ms") != 0 && *end)
                goto bad;
        } else
            goto bad;
        n++;
    }
    return n;
bad:
    fprintf(stderr, "prep-bench: --require: cannot read \"%s\" (e.g. 'p99<1s,errors<0.1%%')\n",
            spec);
    return -1;
}

/* Checks each requirement against |res|, printing each verdict. Returns the failures. */
static int check_require(const struct require *q, int n, const struct bench_result *res)
{
    int failed = 0;

    for (int i = 0; i < n; i++) {
        double v, errors = (double)(res->done - res->ok) + (double)(res->planned - res->done);
        const struct bench_hist *h = q[i].after_body ? &res->after_body : &res->latency;
        bool ok;

        if (strcmp(q[i].metric, "errors") == 0)
            v = q[i].percent ? (res->planned ? 100.0 * errors / (double)res->planned : 0) : errors;
        else if (strcmp(q[i].metric, "rate") == 0)
            v = res->seconds > 0 ? (double)res->ok / res->seconds : 0;
        else
            v = bench_hist_pct(h, strcmp(q[i].metric, "max") == 0 ? 100
                                                                  : strtod(q[i].metric + 1, NULL)) /
                1e3;
        ok = q[i].op[0] == '<' ? (q[i].op[1] ? v <= q[i].value : v < q[i].value)
                               : (q[i].op[1] ? v >= q[i].value : v > q[i].value);
        /* A latency that no upload measured is not a pass. */
        if (h->count == 0 && strcmp(q[i].metric, "errors") != 0 && strcmp(q[i].metric, "rate") != 0)
            ok = false;
        fprintf(stderr, "prep-bench: require %s: %s (%.3f)\n", q[i].text, ok ? "ok" : "FAILED", v);
        failed += !ok;
    }
    return failed;
}

/* The live line on a terminal: done, rate, errors, p99 so far, ETA. */
static void progress(struct run *r, bool final)
{
    double t = (bench_now_ms() - r->t0) / 1e3, eta;
    long done, errors;
    uint64_t p99;

    pthread_mutex_lock(&r->lock);
    done = r->res.done;
    errors = done - r->res.ok;
    p99 = bench_hist_pct(&r->res.latency, 99);
    pthread_mutex_unlock(&r->lock);
    if (r->intended)
        eta = r->intended[r->total - 1] / 1e3 - t;
    else if (r->duration_ms > 0)
        eta = r->duration_ms / 1e3 - t;
    else
        eta = done ? t * (double)(r->total - done) / (double)done : 0;
    fprintf(stderr, "\r[%6.0fs] %ld/%ld done  %.1f/s  errors %ld  p99 %.0f ms  ETA %.0fs", t, done,
            r->total, t > 0 ? (double)done / t : 0.0, errors, (double)p99 / 1e3, eta > 0 ? eta : 0);
    if (r->queued) {
        long n, k;

        bench_queued_counts(r->queued, &n, &k);
        fprintf(stderr, "  queued %ld/%ld", k, n);
    }
    fprintf(stderr, "   %s", final ? "\n" : "");
}

static int write_out(const char *file, const struct bench_result *res, bool html)
{
    FILE *f = fopen(file, "we");
    int e;

    if (!f) {
        fprintf(stderr, "prep-bench: could not write %s: %s\n", file, strerror(errno));
        return -1;
    }
    e = html ? bench_report_html(f, res) : bench_report_json(f, res);
    if (fclose(f) != 0 || e < 0) {
        fprintf(stderr, "prep-bench: could not write %s\n", file);
        return -1;
    }
    return 0;
}

static void cleanup(struct run *r)
{
    for (int i = 0; i < r->ndevs; i++) {
        gw_key_finish(&r->devs[i].key);
        gw_key_finish(&r->devs[i].dev.gateway);
    }
    for (int i = 0; i < r->nphotos; i++) {
        free((char *)r->photos[i].file);
        if (r->data)
            free(r->data[i]);
    }
    free(r->data);
    free(r->data_len);
    free(r->devs);
    free(r->photos);
    free(r->samples);
    free(r->intended);
    pthread_mutex_destroy(&r->lock);
}

static const char usage[] =
    "Usage: prep-bench --server URL --devices DIR --photos DIR|FILE [workload] [options]\n"
    "\n"
    "Simulated phones upload signed photos (as prep-upload does) and the gateway's receipts are\n"
    "verified. Latency percentiles come from a log-linear histogram (p50/p90/p99/p99.9/max).\n"
    "\n"
    "Workload (closed by default):\n"
    "  -c, --conns N       phones (threads, one connection each): in flight at most (default 20)\n"
    "  -n, --requests N    closed: uploads to send (default 100)\n"
    "  --duration S        closed: send for S seconds instead; open: the length of --rate\n"
    "  --rate R            open: R arrivals a second (needs --duration)\n"
    "  --scenario NAME     open: a scenario file's arrival curve (bench/scenarios: jalisco-2021,\n"
    "                      national-peak; or a path)\n"
    "  --speed X           replay the scenario X times faster (default 1; 60: an hour a minute)\n"
    "  --from HH:MM --to HH:MM   only the scenario's arrivals in that clock window\n"
    "  Open models measure latency from each upload's intended send time (coordinated omission\n"
    "  corrected, as wrk2): a stall shows in p99 even when every phone was stuck in it.\n"
    "\n"
    "Phones and photos:\n"
    "  --devices DIR       a state folder of prep-upload enrol, or a folder of them (upload i is\n"
    "                      signed by device i mod D; bench/enrol-devices.sh makes them)\n"
    "  --photos PATH       a JPEG, or a folder of *.jpg (upload i sends photo i mod P; P >= the\n"
    "                      uploads makes every body distinct)\n"
    "  --distinct          every body distinct whatever P: photo i mod P with a JPEG comment\n"
    "                      naming the run and i (same pixels; the gateway processes each)\n"
    "  --entidad NN        the claves' state (default 14); --clave-base K: first clave number\n"
    "  --claves K          upload i goes to clave i mod K (default: a clave of its own each;\n"
    "                      repeats of a clave with the same bytes are idempotent retries)\n"
    "  --kbps K            each phone's upstream limited to K kbit/s (in-process pacing)\n"
    "  --rtt MS            each phone's round trip: its connections go through a local\n"
    "                      relay that holds every byte MS/2 each way (handshakes, answers\n"
    "                      and window updates wait as on a mobile network; no loss)\n"
    "  --resumable         every upload asks for a resumable upload (Upload-Complete: ?1)\n"
    "  --drop PCT          cut PCT% of the uploads' connections mid-body (between 20% and 80%\n"
    "                      of it, once the gateway named the upload resource; the same\n"
    "                      uploads in every run) and resume each as a phone does: new\n"
    "                      connection, HEAD for the offset, PATCH of the rest (implies\n"
    "                      --resumable; latency counts the cut and the resumption)\n"
    "  --insecure          TLS: do not check the certificate; --cacert FILE: trust this CA\n"
    "  --reference         the server is a reference, not a gateway (nginx in bench/compare.sh):\n"
    "                      any 2xx is accepted, no receipt is looked for\n"
    "\n";

static const char usage_end[] =
    "Abusive clients beside the phones:\n"
    "  --abusive N         N hostile clients (one connection each) for as long as the phones\n"
    "                      run; their answers are counted apart, never in the latencies\n"
    "  --abuse KIND        bad-signature (the default: an enrolled device's id, a key the\n"
    "                      gateway never saw), unsigned, or slow (signed, sent at 2 kbit/s\n"
    "                      until the gateway's --min-body-rate cuts it)\n"
    "  --abuse-from ADDR   their connections' source address (127.0.0.2 on one machine: the\n"
    "                      gateway's per-address limits then tell them from the phones)\n"
    "\n"
    "Until queued:\n"
    "  --queued            after each receipt, poll the device's photo list (the signed\n"
    "                      GET /v1/devices/self/photos the officials' app polls every 4 s)\n"
    "                      every --poll S (default 1) until the photo is queued: receipt to\n"
    "                      queued percentiles (precision: the poll interval); the run ends\n"
    "                      when every photo is queued or --queued-timeout S (default 600);\n"
    "                      polls faster than the gateway's --request-rate-per-device (2/s by\n"
    "                      default) are refused past its burst and counted as refused\n"
    "\n"
    "Output:\n"
    "  --out FILE.json     the result file;  --html FILE.html  the report (offline, plots)\n"
    "  --require SPEC      thresholds, e.g. 'p99<1s,errors<0.1%,rate>5': exit 3 if one fails;\n"
    "                      after_body.p99 (p50 ... max) is the receipt after the last byte,\n"
    "                      for phones on slow links (--kbps), whose p99 is the link's time\n"
    "  --progress / --no-progress   the live line on stderr (default: when it is a terminal)\n"
    "  --json              print the result JSON on stdout instead of the summary\n"
    "  --plan              print the number of uploads the workload plans, and exit (no\n"
    "                      server, devices or photos needed)\n"
    "\n"
    "Exit: 0, 1 when an upload failed (without --require), 2 usage, 3 a requirement failed.\n";

#define INT_OPT(nm, letter, ptr, min, max)                                                         \
    {                                                                                              \
        .name = (nm), .short_name = (letter), .kind = GW_CLI_INT, .value = (ptr), .lo = (min),     \
        .hi = (max), .bad = "see --help"                                                           \
    }

int main(int argc, char **argv)
{
    static struct run r = {.conns = 20, .entidad = 14, .clave_base = 0};
    const char *server = NULL, *devices = NULL, *photos = NULL, *scenario = NULL, *why;
    const char *out = NULL, *html = NULL, *req_spec = NULL, *from = NULL, *to = NULL;
    const char *speed_s = "1", *rate_s = NULL, *dur_s = NULL, *drop_s = NULL;
    const char *poll_s = "1", *qto_s = "600", *abuse_s = "bad-signature", *abuse_from = NULL;
    int abusive = 0, abuse_kind;
    struct bench_abuse *abuse = NULL;
    struct pu_h2_opts abuse_opts;
    int nreq = 100, kbps = 0, rtt = 0, show = -1, nrequire = 0, o, failed = 0;
    struct bench_delay *delay = NULL;
    char delay_port[8];
    bool json = false, distinct = false, plan = false, queued = false;
    struct require require[REQUIRE_MAX];
    struct bench_scenario sc;
    char scen_path[4096];
    pthread_t *th;
    const struct gw_cli_opt opts[] = {
        INT_OPT("conns", 'c', &r.conns, 1, 4000),
        INT_OPT("requests", 'n', &nreq, 1, 100000000),
        INT_OPT("entidad", 0, &r.entidad, 1, 32),
        INT_OPT("clave-base", 0, &r.clave_base, 0, 9000000),
        INT_OPT("claves", 0, &r.claves, 0, 9000000),
        INT_OPT("kbps", 0, &kbps, 0, 100000000),
        INT_OPT("rtt", 0, &rtt, 0, 60000),
        INT_OPT("abusive", 0, &abusive, 0, 1000),
        GW_CLI_OPT_STRING("abuse", &abuse_s, "KIND", NULL),
        GW_CLI_OPT_STRING("abuse-from", &abuse_from, "ADDR", NULL),
        GW_CLI_OPT_STRING("duration", &dur_s, "S", NULL),
        GW_CLI_OPT_STRING("drop", &drop_s, "PCT", NULL),
        GW_CLI_OPT_FLAG("resumable", &r.resumable, NULL),
        GW_CLI_OPT_FLAG("queued", &queued, NULL),
        GW_CLI_OPT_STRING("poll", &poll_s, "S", NULL),
        GW_CLI_OPT_STRING("queued-timeout", &qto_s, "S", NULL),
        GW_CLI_OPT_STRING("rate", &rate_s, "R", NULL),
        GW_CLI_OPT_STRING("scenario", &scenario, "NAME", NULL),
        GW_CLI_OPT_STRING("speed", &speed_s, "X", NULL),
        GW_CLI_OPT_STRING("from", &from, "HH:MM", NULL),
        GW_CLI_OPT_STRING("to", &to, "HH:MM", NULL),
        GW_CLI_OPT_STRING("server", &server, "URL", NULL),
        GW_CLI_OPT_STRING("devices", &devices, "DIR", NULL),
        GW_CLI_OPT_STRING("photos", &photos, "PATH", NULL),
        GW_CLI_OPT_STRING("cacert", &r.opts.cacert, "FILE", NULL),
        GW_CLI_OPT_STRING("out", &out, "FILE", NULL),
        GW_CLI_OPT_STRING("html", &html, "FILE", NULL),
        GW_CLI_OPT_STRING("require", &req_spec, "SPEC", NULL),
        GW_CLI_OPT_FLAG("insecure", &r.opts.insecure, NULL),
        GW_CLI_OPT_FLAG("distinct", &distinct, NULL),
        GW_CLI_OPT_FLAG("reference", &r.reference, NULL),
        GW_CLI_OPT_FLAG("plan", &plan, NULL),
        {.name = "progress", .kind = GW_CLI_SET, .value = &show, .set = 1},
        {.name = "no-progress", .kind = GW_CLI_SET, .value = &show, .set = 0},
        GW_CLI_OPT_JSON(&json),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {
        .prog = "prep-bench", .usage = usage, .usage_end = usage_end, .opts = opts};
    double speed, rate = 0, duration = 0;

    signal(SIGPIPE, SIG_IGN); /* a TLS peer that closes under a write (pu_h2.h) */

    pu_h2_opts_default(&r.opts);
    o = gw_cli_parse(&cli, argc, argv, NULL);
    if (o != 0)
        return gw_cli_exit(o);
    speed = strtod(speed_s, NULL);
    if (rate_s)
        rate = strtod(rate_s, NULL);
    if (dur_s)
        duration = strtod(dur_s, NULL);
    abuse_kind = bench_abuse_kind(abuse_s);
    if (abuse_kind < 0) {
        fprintf(stderr, "prep-bench: --abuse takes bad-signature, unsigned or slow\n");
        return 2;
    }
    r.res.poll_s = strtod(poll_s, NULL);
    if (r.res.poll_s < 0.05 || strtod(qto_s, NULL) <= 0) {
        fprintf(stderr, "prep-bench: --poll takes seconds (at least 0.05), --queued-timeout too\n");
        return 2;
    }
    if (drop_s) {
        char *end;

        r.drop_pct = strtod(drop_s, &end);
        if (*end == '%')
            end++;
        if (*end || end == drop_s || r.drop_pct < 0 || r.drop_pct > 100) {
            fprintf(stderr, "prep-bench: --drop takes a share of the uploads, 0-100\n");
            return 2;
        }
        r.resumable = r.resumable || r.drop_pct > 0;
    }
    if ((!plan && (!server || !devices || !photos)) || speed <= 0 ||
        (rate_s && (rate <= 0 || duration <= 0)) || (scenario && rate_s) ||
        (dur_s && duration <= 0)) {
        fprintf(stderr, "prep-bench: --server, --devices and --photos are needed; see --help\n");
        return 2;
    }
    if (!plan && pu_url_parse(server, &r.url, &why) < 0) {
        fprintf(stderr, "prep-bench: --server: %s\n", why);
        return 2;
    }
    if (!plan && load_devices(&r, devices) < 0) {
        fprintf(stderr, "prep-bench: no enrolled device state under %s\n", devices);
        return 2;
    }
    if (!plan && (load_photos(&r, photos) < 0 || (distinct && load_data(&r) < 0))) {
        fprintf(stderr, "prep-bench: no readable JPEG at %s\n", photos);
        return 2;
    }
    if (req_spec && (nrequire = parse_require(req_spec, require)) < 0)
        return 2;
    r.kbps = kbps;
    r.res.kbps = kbps;
    r.res.rtt_ms = rtt;
    r.res.model = "closed";
    r.total = nreq;
    if (scenario) {
        int f = from ? bench_scenario_clock(from) : -1, t = to ? bench_scenario_clock(to) : -1;

        if (strchr(scenario, '/'))
            snprintf(scen_path, sizeof(scen_path), "%s", scenario);
        else
            snprintf(scen_path, sizeof(scen_path), "%s/%s",
                     getenv("PREP_BENCH_SCENARIOS") ? getenv("PREP_BENCH_SCENARIOS")
                                                    : BENCH_SCENARIO_DIR,
                     scenario);
        if ((from && f < 0) || (to && t < 0)) {
            fprintf(stderr, "prep-bench: --from and --to take HH:MM\n");
            return 2;
        }
        if (bench_scenario_load(scen_path, &sc, &why) < 0) {
            fprintf(stderr, "prep-bench: %s: %s\n", scen_path, why);
            return 2;
        }
        r.total = bench_scenario_schedule(&sc, f, t, speed, &r.intended);
        if (r.total <= 0) {
            fprintf(stderr, "prep-bench: no arrivals in that window of %s\n", scen_path);
            return 2;
        }
        r.res.model = "open";
        r.res.scenario = scenario;
        r.res.speed = speed;
    } else if (rate_s) {
        r.total = (long)(rate * duration);
        r.intended = calloc((size_t)r.total + 1, sizeof(double));
        if (!r.intended || r.total < 1)
            return 2;
        for (long i = 0; i < r.total; i++)
            r.intended[i] = (double)i * 1e3 / rate;
        r.res.model = "open";
    } else if (dur_s) {
        r.duration_ms = duration * 1e3;
    }
    if (plan) { /* the uploads the workload plans, for scripts sizing a run */
        printf("%ld\n", r.duration_ms > 0 ? 0 : r.total);
        free(r.intended);
        return 0;
    }
    r.res.conns = r.conns;
    if (r.duration_ms > 0)
        r.total = CLOSED_MAX;
    r.samples = calloc((size_t)r.total, sizeof(*r.samples));
    th = calloc((size_t)r.conns, sizeof(*th));
    if (!r.samples || !th)
        return 1;
    r.res.samples = r.samples;
    bench_hist_init(&r.res.latency);
    bench_hist_init(&r.res.service);
    bench_hist_init(&r.res.connect);
    bench_hist_init(&r.res.after_body);
    bench_hist_init(&r.res.to_queued);
    pthread_mutex_init(&r.lock, NULL);
    if (show < 0)
        show = isatty(2);
    /* The abusive clients come from elsewhere: only the phones' connections (their uploads,
     * resumptions and polls) go through the relay. */
    abuse_opts = r.opts;
    abuse_opts.local_addr = abuse_from;
    if (rtt > 0) {
        int e = bench_delay_start(r.url.host, r.url.port, rtt, delay_port, &delay);

        if (e < 0) {
            fprintf(stderr, "prep-bench: --rtt: could not start the relay: %s\n", strerror(-e));
            return 1;
        }
        r.opts.connect_host = "127.0.0.1";
        r.opts.connect_port = delay_port;
    }
    if (queued && !r.reference &&
        bench_queued_start(&r.url, &r.opts, r.res.poll_s * 1e3, r.total, &r.res.to_queued, &r.lock,
                           &r.queued) < 0)
        return 1;
    r.t0 = bench_now_ms() + 50; /* the threads are up before the first intended send */
    if (abusive > 0 &&
        bench_abuse_start(&r.url, &abuse_opts, abuse_kind, abusive, &r.photos[0],
                          r.devs[0].dev.device_id, &r.devs[0].key, r.t0, &abuse) < 0) {
        fprintf(stderr, "prep-bench: could not start the abusive clients\n");
        return 1;
    }
    for (int i = 0; i < r.conns; i++)
        pthread_create(&th[i], NULL, phone_main, &r);
    if (show) {
        /* the main thread draws the line while the phones work */
        for (;;) {
            long next = atomic_load(&r.next), done;

            pthread_mutex_lock(&r.lock);
            done = r.res.done;
            pthread_mutex_unlock(&r.lock);
            if (done >= r.total || (next >= r.total + r.conns && done >= r.total) ||
                (r.duration_ms > 0 && bench_now_ms() - r.t0 > r.duration_ms &&
                 next - done >= r.conns))
                break;
            progress(&r, false);
            bench_sleep_until(bench_now_ms() + 1000);
        }
    }
    for (int i = 0; i < r.conns; i++)
        pthread_join(th[i], NULL);
    if (show)
        progress(&r, true);
    r.res.seconds = (bench_now_ms() - r.t0) / 1e3;
    if (abuse)
        bench_abuse_stop(abuse, &r.res);
    if (r.queued) {
        long n, k;

        bench_queued_counts(r.queued, &n, &k);
        if (show && k < n)
            fprintf(stderr, "prep-bench: waiting until %ld more photos are queued (at most %s s)\n",
                    n - k, qto_s);
        bench_queued_finish(r.queued, strtod(qto_s, NULL) * 1e3, &r.res.tracked, &r.res.queued,
                            &r.res.polls_refused);
        r.queued = NULL;
    }
    bench_delay_stop(delay);
    r.res.planned = r.duration_ms > 0 ? r.res.done : r.total;
    r.res.nsamples = r.res.done;
    if (out && write_out(out, &r.res, false) < 0)
        failed = 1;
    if (html && write_out(html, &r.res, true) < 0)
        failed = 1;
    if (json)
        bench_report_json(stdout, &r.res);
    else {
        const struct bench_hist *h = &r.res.latency;

        printf("prep-bench: %s model, %d phones: %ld/%ld uploads accepted in %.2f s: %.2f "
               "uploads/s, %.1f MB/s, %ld receipts verified\n",
               r.res.model, r.conns, r.res.ok, r.res.planned, r.res.seconds,
               r.res.ok / r.res.seconds, (double)r.res.bytes_ok / r.res.seconds / 1e6,
               r.res.receipts_verified);
        printf("latency ms%s: p50 %.1f, p90 %.1f, p99 %.1f, p99.9 %.1f, max %.1f\n",
               r.intended ? " (from the intended send time)" : "", bench_hist_pct(h, 50) / 1e3,
               bench_hist_pct(h, 90) / 1e3, bench_hist_pct(h, 99) / 1e3,
               bench_hist_pct(h, 99.9) / 1e3, bench_hist_pct(h, 100) / 1e3);
        h = &r.res.after_body;
        printf("receipt after the last byte ms: p50 %.1f, p99 %.1f, max %.1f\n",
               bench_hist_pct(h, 50) / 1e3, bench_hist_pct(h, 99) / 1e3,
               bench_hist_pct(h, 100) / 1e3);
        if (r.res.tracked > 0)
            printf("receipt to queued s (polled every %g s): p50 %.1f, p90 %.1f, p99 %.1f, max "
                   "%.1f; %ld of %ld queued; %ld polls refused\n",
                   r.res.poll_s, bench_hist_pct(&r.res.to_queued, 50) / 1e6,
                   bench_hist_pct(&r.res.to_queued, 90) / 1e6,
                   bench_hist_pct(&r.res.to_queued, 99) / 1e6,
                   bench_hist_pct(&r.res.to_queued, 100) / 1e6, r.res.queued, r.res.tracked,
                   r.res.polls_refused);
        if (r.res.dropped > 0)
            printf(
                "cut mid-upload: %ld, resumed to a verified receipt: %ld (%.1f%%), %.0f%% of "
                "their bytes kept across the cut\n",
                r.res.dropped, r.res.resumed, 100.0 * (double)r.res.resumed / (double)r.res.dropped,
                r.res.cut_bytes ? 100.0 * (double)r.res.kept_bytes / (double)r.res.cut_bytes : 0.0);
        for (int i = 0; i < r.res.nclasses; i++)
            printf("errors: %ld %s\n", r.res.classes[i].n, r.res.classes[i].name);
        if (r.res.abuse) {
            printf("abusive clients: %d %s, %ld requests:", r.res.abusers, r.res.abuse,
                   r.res.abuse_sent);
            for (int i = 0; i < r.res.nabuse_classes; i++)
                printf("%s %ld %s", i ? "," : "", r.res.abuse_classes[i].n,
                       r.res.abuse_classes[i].name);
            printf("\n");
        }
    }
    if (nrequire > 0)
        failed = check_require(require, nrequire, &r.res) ? 3 : failed;
    else if (r.res.ok != r.res.planned)
        failed = 1;
    cleanup(&r);
    free(th);
    return failed;
}
