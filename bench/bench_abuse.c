#include "bench_abuse.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_class.h"
#include "bench_clock.h"
#include "gw_keys.h"

enum { BAD_SIGNATURE, UNSIGNED, SLOW };

static const char *const kinds[] = {"bad-signature", "unsigned", "slow"};

#define SLOW_KBPS 2.0

struct bench_abuse {
    struct pu_url url;
    struct pu_h2_opts opts;
    int kind, n;
    const struct pu_photo *photo;
    const char *device_id;
    const struct gw_key *key; /* the device's own, or the throwaway one of bad-signature */
    struct gw_key bad;
    double t0;
    atomic_bool stop;
    atomic_int next; /* client numbers */
    pthread_mutex_t mu;
    long sent;
    struct bench_class classes[BENCH_CLASSES_MAX];
    int nclasses;
    pthread_t *th;
};

/* One slow upload's pacing: the bytes so far have had their time at SLOW_KBPS. */
struct slow {
    struct bench_abuse *a;
    struct pu_h2_conn *c;
    double start;
};

/* Sleeps until the body's |sent| bytes are due, in steps, so that a stop cuts the upload. */
static void slow_cb(const struct pu_h2_request *req, uint64_t sent, void *arg)
{
    struct slow *s = arg;
    double due = s->start + (double)sent * 8.0 / SLOW_KBPS;

    (void)req;
    while (bench_now_ms() < due) {
        if (atomic_load(&s->a->stop)) {
            pu_h2_conn_cut(s->c);
            return;
        }
        if (pu_h2_conn_readable(s->c))
            return; /* the gateway answered or cut: let the run read it */
        double step = bench_now_ms() + 100;

        bench_sleep_until(due < step ? due : step);
    }
}

static void count(struct bench_abuse *a, const char *cls)
{
    pthread_mutex_lock(&a->mu);
    a->sent++;
    a->classes[bench_class_of(a->classes, &a->nclasses, cls)].n++;
    pthread_mutex_unlock(&a->mu);
}

static void *client_main(void *arg)
{
    struct bench_abuse *a = arg;
    int me = atomic_fetch_add(&a->next, 1);
    struct pu_h2_conn *c = NULL;
    char path[64], cls[96];

    /* A clave of its own, out of the phones' way (they count up from section 0001). */
    snprintf(path, sizeof(path), "/v1/actas/14%04dB990002/photos", 9999 - me % 999);
    bench_sleep_until(a->t0);
    while (!atomic_load(&a->stop)) {
        struct pu_h2_request q;
        struct pu_send_sig sig;
        struct slow slow = {.a = a};
        int fd;

        if (!c || !pu_h2_usable(c)) {
            pu_h2_conn_free(c);
            c = NULL;
            if (pu_h2_connect(&a->url, &a->opts, &c, NULL, 0) < 0) {
                count(a, "connect");
                bench_sleep_until(bench_now_ms() + 100);
                continue;
            }
        }
        fd = open(a->photo->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pu_send_request(a->photo, fd, path, a->key, a->device_id, &sig, &q) < 0) {
            if (fd >= 0)
                close(fd);
            break;
        }
        if (a->kind == UNSIGNED)
            q.nheaders -= 2; /* signature-input and signature are the last two */
        if (a->kind == SLOW) {
            slow.c = c;
            slow.start = bench_now_ms();
            q.on_progress = slow_cb;
            q.progress_arg = &slow;
        }
        if (pu_h2_submit(c, &q) == 0) {
            pu_h2_run(c);
            if (q.error == 0 && q.status / 100 == 2)
                snprintf(cls, sizeof(cls), "accepted %d", q.status);
            else
                bench_classify(&q, cls, sizeof(cls));
            /* Cut by us at the end, not by the gateway: the stream was held all along. */
            count(a, atomic_load(&a->stop) && a->kind == SLOW ? "held until the run ended" : cls);
        }
        close(fd);
        pu_h2_request_finish(&q);
    }
    pu_h2_conn_free(c);
    return NULL;
}

int bench_abuse_kind(const char *name)
{
    for (int i = 0; i < (int)(sizeof(kinds) / sizeof(kinds[0])); i++)
        if (strcmp(name, kinds[i]) == 0)
            return i;
    return -1;
}

const char *bench_abuse_name(int kind)
{
    return kinds[kind];
}

/* A key of the same kind as the devices', that the gateway never saw. */
static int throwaway_key(struct gw_key *ret)
{
    char dir[] = "/tmp/prep-bench-abuse.XXXXXX", path[64];
    int e;

    if (!mkdtemp(dir))
        return -errno;
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    e = gw_key_load(path, true, ret);
    unlink(path);
    rmdir(dir);
    return e;
}

int bench_abuse_start(const struct pu_url *url, const struct pu_h2_opts *o, int kind, int n,
                      const struct pu_photo *photo, const char *device_id, const struct gw_key *key,
                      double t0_ms, struct bench_abuse **ret)
{
    struct bench_abuse *a = calloc(1, sizeof(*a));
    int e;

    if (!a || !(a->th = calloc((size_t)n, sizeof(*a->th)))) {
        free(a);
        return -ENOMEM;
    }
    a->url = *url;
    a->opts = *o;
    a->kind = kind;
    a->n = n;
    a->photo = photo;
    a->device_id = device_id;
    a->key = key;
    a->t0 = t0_ms;
    if (kind == BAD_SIGNATURE) {
        e = throwaway_key(&a->bad);
        if (e < 0) {
            free(a->th);
            free(a);
            return e;
        }
        a->key = &a->bad;
    }
    pthread_mutex_init(&a->mu, NULL);
    for (int i = 0; i < n; i++)
        if (pthread_create(&a->th[i], NULL, client_main, a) != 0) {
            a->n = i; /* as many as the system gave */
            break;
        }
    *ret = a;
    return 0;
}

void bench_abuse_stop(struct bench_abuse *a, struct bench_result *res)
{
    atomic_store(&a->stop, true);
    for (int i = 0; i < a->n; i++)
        pthread_join(a->th[i], NULL);
    res->abuse = kinds[a->kind];
    res->abusers = a->n;
    res->abuse_sent = a->sent;
    memcpy(res->abuse_classes, a->classes, sizeof(a->classes));
    res->nabuse_classes = a->nclasses;
    gw_key_finish(&a->bad);
    pthread_mutex_destroy(&a->mu);
    free(a->th);
    free(a);
}
