#include "bench_queued.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "gw_keys.h"
#include "gw_receipt.h"
#include "gw_sig.h"
#include "pu_sign.h"

#define PATH "/v1/devices/self/photos"
#define BATCH 8                     /* the gateway's SETTINGS_MAX_CONCURRENT_STREAMS */
#define LIST_MAX ((size_t)16 << 20) /* the largest photo list read */

struct entry {
    char photo_id[GW_PHOTO_ID_LEN + 1];
    const struct gw_key *key;
    const char *device_id;
    double t_ms;
    bool queued;
};

struct bench_queued {
    struct pu_url url;
    struct pu_h2_opts opts;
    double interval_ms;
    struct bench_hist *hist;
    pthread_mutex_t *hist_lock;
    pthread_mutex_t mu; /* what follows */
    struct entry *e;
    long n, max, queued;
    long first;   /* entries before it are all queued: the polls' scan starts here */
    long refused; /* polls not answered with the list (429 past the device's rate, 503...) */
    long *slots;  /* open addressing: photo id -> entry index + 1 (0: empty) */
    size_t mask;
    bool closing;
    double deadline;
    pthread_t thread;
};

/* One device's poll: the request and its signature's header values. */
struct poll {
    struct pu_h2_request q;
    char input[GW_SIG_PARAMS_MAX + 16];
    char signature[GW_KEY_SIG_B64 + 16];
};

static size_t slot_of(const struct bench_queued *q, const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return (size_t)h & q->mask;
}

/* The entry of |id|, or -1. Under |mu|. */
static long find(const struct bench_queued *q, const char *id)
{
    for (size_t i = slot_of(q, id); q->slots[i]; i = (i + 1) & q->mask)
        if (strcmp(q->e[q->slots[i] - 1].photo_id, id) == 0)
            return q->slots[i] - 1;
    return -1;
}

static int cmp_dev(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

    return strcmp(x->device_id, y->device_id);
}

/* Marks the photos of list |body| that are queued. */
static void seen(struct bench_queued *q, const char *body, size_t len, double t)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *photos = json_object_get(doc, "photos"), *p;
    size_t i;

    pthread_mutex_lock(&q->mu);
    json_array_foreach(photos, i, p)
    {
        const char *id = json_string_value(json_object_get(p, "photo_id"));
        const char *st = json_string_value(json_object_get(p, "status"));
        long k;

        if (!id || !st || strcmp(st, "queued") != 0 || (k = find(q, id)) < 0 || q->e[k].queued)
            continue;
        q->e[k].queued = true;
        q->queued++;
        pthread_mutex_lock(q->hist_lock);
        bench_hist_record(q->hist, (uint64_t)((t - q->e[k].t_ms) * 1e3));
        pthread_mutex_unlock(q->hist_lock);
    }
    pthread_mutex_unlock(&q->mu);
    json_decref(doc);
}

/* Polls the |n| devices of |who| (entries standing for them) on one connection. */
static void poll_batch(struct bench_queued *q, struct pu_h2_conn **c, struct entry **who, int n)
{
    struct poll p[BATCH];
    int m = 0;

    if (!*c || !pu_h2_usable(*c)) {
        pu_h2_conn_free(*c);
        *c = NULL;
        if (pu_h2_connect(&q->url, &q->opts, c, NULL, 0) < 0)
            return; /* the next round tries again */
    }
    for (int i = 0; i < n; i++) {
        struct poll *x = &p[m];

        if (pu_sign_request(who[i]->key, who[i]->device_id, "GET", PATH, PU_SIGN_EMPTY_DIGEST,
                            x->input, sizeof(x->input), x->signature, sizeof(x->signature)) < 0)
            continue;
        x->q = (struct pu_h2_request){
            .method = "GET",
            .path = PATH,
            .headers = {{"content-digest", PU_SIGN_EMPTY_DIGEST},
                        {"signature-input", x->input},
                        {"signature", x->signature}},
            .nheaders = 3,
            .body_fd = -1,
        };
        if (pu_h2_submit(*c, &x->q) == 0)
            m++;
    }
    pu_h2_run(*c);
    for (int i = 0; i < m; i++) {
        if (p[i].q.error == 0 && p[i].q.status == 200 && p[i].q.resp_body) {
            seen(q, p[i].q.resp_body, p[i].q.resp_len, bench_now_ms());
        } else {
            pthread_mutex_lock(&q->mu);
            q->refused++;
            pthread_mutex_unlock(&q->mu);
        }
        pu_h2_request_finish(&p[i].q);
    }
}

static void *poller(void *arg)
{
    struct bench_queued *q = arg;
    struct pu_h2_conn *c = NULL;
    struct entry **who = NULL;
    double next = bench_now_ms();

    for (;;) {
        long n = 0;

        next += q->interval_ms;
        bench_sleep_until(next);
        pthread_mutex_lock(&q->mu);
        if (q->closing && (q->queued == q->n || bench_now_ms() >= q->deadline)) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        /* One poll per device that waits for a photo. */
        who = who ? who : malloc((size_t)q->max * sizeof(*who));
        while (q->first < q->n && q->e[q->first].queued)
            q->first++;
        for (long i = q->first; who && i < q->n; i++)
            if (!q->e[i].queued)
                who[n++] = &q->e[i];
        pthread_mutex_unlock(&q->mu);
        if (n == 0)
            continue;
        qsort(who, (size_t)n, sizeof(*who), cmp_dev);
        {
            long u = 0;

            for (long i = 0; i < n; i++)
                if (u == 0 || strcmp(who[u - 1]->device_id, who[i]->device_id) != 0)
                    who[u++] = who[i];
            n = u;
        }
        for (long i = 0; i < n; i += BATCH)
            poll_batch(q, &c, who + i, (int)(n - i < BATCH ? n - i : BATCH));
    }
    free(who);
    pu_h2_conn_free(c);
    return NULL;
}

int bench_queued_start(const struct pu_url *url, const struct pu_h2_opts *o, double interval_ms,
                       long max, struct bench_hist *hist, pthread_mutex_t *lock,
                       struct bench_queued **ret)
{
    struct bench_queued *q = calloc(1, sizeof(*q));
    size_t slots = 2;
    int e;

    if (!q)
        return -ENOMEM;
    while (slots < (size_t)max * 2)
        slots *= 2;
    q->url = *url;
    q->opts = *o;
    q->opts.max_body = LIST_MAX;
    q->interval_ms = interval_ms;
    q->hist = hist;
    q->hist_lock = lock;
    q->max = max;
    q->mask = slots - 1;
    q->e = calloc((size_t)max, sizeof(*q->e));
    q->slots = calloc(slots, sizeof(*q->slots));
    pthread_mutex_init(&q->mu, NULL);
    if (!q->e || !q->slots || (e = pthread_create(&q->thread, NULL, poller, q)) != 0) {
        free(q->e);
        free(q->slots);
        free(q);
        return -ENOMEM;
    }
    *ret = q;
    return 0;
}

int bench_queued_track(struct bench_queued *q, const struct gw_key *key, const char *device_id,
                       const char *photo_id, double t_ms)
{
    struct entry *x;
    size_t i;

    pthread_mutex_lock(&q->mu);
    if (q->n == q->max || find(q, photo_id) >= 0) {
        pthread_mutex_unlock(&q->mu);
        return -ENOSPC; /* full, or a retry's receipt of a photo already tracked */
    }
    x = &q->e[q->n];
    snprintf(x->photo_id, sizeof(x->photo_id), "%s", photo_id);
    x->key = key;
    x->device_id = device_id;
    x->t_ms = t_ms;
    for (i = slot_of(q, photo_id); q->slots[i]; i = (i + 1) & q->mask)
        ;
    q->slots[i] = ++q->n;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void bench_queued_counts(struct bench_queued *q, long *ret_tracked, long *ret_queued)
{
    pthread_mutex_lock(&q->mu);
    *ret_tracked = q->n;
    *ret_queued = q->queued;
    pthread_mutex_unlock(&q->mu);
}

void bench_queued_finish(struct bench_queued *q, double timeout_ms, long *ret_tracked,
                         long *ret_queued, long *ret_refused)
{
    pthread_mutex_lock(&q->mu);
    q->closing = true;
    q->deadline = bench_now_ms() + timeout_ms;
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    *ret_tracked = q->n;
    *ret_queued = q->queued;
    *ret_refused = q->refused;
    pthread_mutex_destroy(&q->mu);
    free(q->e);
    free(q->slots);
    free(q);
}
