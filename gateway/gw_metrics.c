#include "gw_metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw_error.h"

/* Upper bounds of the histograms' buckets, in seconds (+Inf is implicit). Uploads: tens of
 * milliseconds on a LAN, tens of seconds on 3G; stages: milliseconds to a few seconds. */
static const double upload_bounds[] = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
static const double stage_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))
#define BUCKETS_MAX 13

struct histogram {
    _Atomic unsigned long long bucket[BUCKETS_MAX + 1]; /* not cumulative; the last is +Inf */
    _Atomic unsigned long long count;
    _Atomic unsigned long long sum_us; /* microseconds, summed exactly */
};

static _Atomic unsigned long long problems[GW_E__MAX];
static _Atomic unsigned long long uploads_created, uploads_retried, upload_bytes;
static _Atomic long long in_flight;
static _Atomic unsigned long long refusals[GW_REFUSED__MAX], db_errors[GW_STAGE__MAX];
static struct histogram upload_hist, stage_hist[GW_STAGE__MAX];

const char *const gw_metrics_photo_status[] = {"received", "processing", "queued", "failed", NULL};
const char *const gw_metrics_review_state[] = {"waiting", "accepted",  "rejected",
                                               "retake",  "duplicate", NULL};
static const char *const refusal_names[GW_REFUSED__MAX] = {"conn_rate", "conns_per_address",
                                                           "flood"};
static const char *const stage_names[GW_STAGE__MAX] = {"ingest", "process"};

static void observe(struct histogram *h, const double *bounds, size_t n, double seconds)
{
    size_t i = 0;

    while (i < n && seconds > bounds[i])
        i++;
    atomic_fetch_add(&h->bucket[i], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (unsigned long long)(seconds > 0 ? seconds * 1e6 : 0));
}

void gw_metrics_problem(int err)
{
    if (err > 0 && err < GW_E__MAX)
        atomic_fetch_add(&problems[err], 1);
}

void gw_metrics_upload(bool created, uint64_t bytes, double seconds)
{
    atomic_fetch_add(created ? &uploads_created : &uploads_retried, 1);
    if (created)
        atomic_fetch_add(&upload_bytes, bytes);
    observe(&upload_hist, upload_bounds, NBOUNDS(upload_bounds), seconds);
}

void gw_metrics_in_flight(int delta)
{
    atomic_fetch_add(&in_flight, delta);
}

void gw_metrics_refusal(enum gw_refusal r)
{
    if (r < GW_REFUSED__MAX)
        atomic_fetch_add(&refusals[r], 1);
}

void gw_metrics_stage(enum gw_stage_kind k, double seconds)
{
    if (k < GW_STAGE__MAX)
        observe(&stage_hist[k], stage_bounds, NBOUNDS(stage_bounds), seconds);
}

void gw_metrics_db_error(enum gw_stage_kind k)
{
    if (k < GW_STAGE__MAX)
        atomic_fetch_add(&db_errors[k], 1);
}

/* ---- rendering ---- */

struct out {
    char *b;
    size_t len, cap;
    bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->b + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        char *grown = realloc(o->b, o->cap * 2 + (size_t)n);

        if (!grown) {
            o->failed = true;
            return;
        }
        o->b = grown;
        o->cap = o->cap * 2 + (size_t)n;
    }
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* |h|'s series under |name|, with |label| (e.g. stage="ingest") or none. */
static void histogram(struct out *o, const char *name, const char *label, struct histogram *h,
                      const double *bounds, size_t n)
{
    unsigned long long cum = 0;
    const char *sep = label ? "," : "";

    label = label ? label : "";
    for (size_t i = 0; i <= n; i++) {
        cum += atomic_load(&h->bucket[i]);
        if (i < n)
            put(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, sep, bounds[i], cum);
        else
            put(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep, cum);
    }
    put(o, *label ? "%s_sum{%s} %.6f\n" : "%s_sum%s %.6f\n", name, label,
        (double)atomic_load(&h->sum_us) / 1e6);
    put(o, *label ? "%s_count{%s} %llu\n" : "%s_count%s %llu\n", name, label,
        atomic_load(&h->count));
}

char *gw_metrics_text(const struct gw_metrics_gauges *g, size_t *ret_len)
{
    struct out o = {.b = malloc(16384), .cap = 16384};
    char label[48];

    if (!o.b)
        return NULL;
    head(&o, "prep_uploads_total", "counter", "Uploads acknowledged, new or a retry of one.");
    put(&o, "prep_uploads_total{result=\"created\"} %llu\n", atomic_load(&uploads_created));
    put(&o, "prep_uploads_total{result=\"retry\"} %llu\n", atomic_load(&uploads_retried));
    head(&o, "prep_upload_bytes_total", "counter", "Bytes of the new photos acknowledged.");
    put(&o, "prep_upload_bytes_total %llu\n", atomic_load(&upload_bytes));
    head(&o, "prep_upload_duration_seconds", "histogram",
         "From an upload's request to its receipt.");
    histogram(&o, "prep_upload_duration_seconds", NULL, &upload_hist, upload_bounds,
              NBOUNDS(upload_bounds));
    head(&o, "prep_uploads_in_flight", "gauge", "Uploads begun and not finished.");
    put(&o, "prep_uploads_in_flight %lld\n", atomic_load(&in_flight));
    head(&o, "prep_problems_total", "counter", "Requests refused, by problem type.");
    for (int i = GW_OK + 1; i < GW_E__MAX; i++)
        put(&o, "prep_problems_total{type=\"%s\"} %llu\n", gw_err_name(i),
            atomic_load(&problems[i]));
    head(&o, "prep_connections_refused_total", "counter",
         "Connections refused at accept, or cut for a flood, by reason.");
    for (int i = 0; i < GW_REFUSED__MAX; i++)
        put(&o, "prep_connections_refused_total{reason=\"%s\"} %llu\n", refusal_names[i],
            atomic_load(&refusals[i]));
    head(&o, "prep_stage_duration_seconds", "histogram",
         "One photo through a stage: ingest records its receipt in PostgreSQL, process makes "
         "its review image and queues it.");
    for (int i = 0; i < GW_STAGE__MAX; i++) {
        snprintf(label, sizeof(label), "stage=\"%s\"", stage_names[i]);
        histogram(&o, "prep_stage_duration_seconds", label, &stage_hist[i], stage_bounds,
                  NBOUNDS(stage_bounds));
    }
    head(&o, "prep_db_errors_total", "counter",
         "Times a stage found PostgreSQL unreachable or lost its connection.");
    for (int i = 0; i < GW_STAGE__MAX; i++)
        put(&o, "prep_db_errors_total{stage=\"%s\"} %llu\n", stage_names[i],
            atomic_load(&db_errors[i]));
    head(&o, "prep_devices", "gauge", "Devices known to the intake path.");
    put(&o, "prep_devices %zu\n", g->devices);
    if (g->spool_pending >= 0) {
        head(&o, "prep_spool_pending", "gauge",
             "Receipts in the spool not yet recorded in PostgreSQL.");
        put(&o, "prep_spool_pending %lld\n", g->spool_pending);
    }
    if (g->spool_free_bytes >= 0) {
        head(&o, "prep_spool_free_bytes", "gauge", "Free space of the data folder's filesystem.");
        put(&o, "prep_spool_free_bytes %lld\n", g->spool_free_bytes);
    }
    head(&o, "prep_database_up", "gauge", "Whether this scrape's database query answered.");
    put(&o, "prep_database_up %d\n", g->database_up ? 1 : 0);
    if (g->database_up) {
        head(&o, "prep_photos", "gauge", "Photos in PostgreSQL, by status.");
        for (int i = 0; gw_metrics_photo_status[i]; i++)
            put(&o, "prep_photos{status=\"%s\"} %lld\n", gw_metrics_photo_status[i], g->photos[i]);
        head(&o, "prep_review_queue", "gauge", "The verification queue, by state.");
        for (int i = 0; gw_metrics_review_state[i]; i++)
            put(&o, "prep_review_queue{state=\"%s\"} %lld\n", gw_metrics_review_state[i],
                g->review[i]);
    }
    if (g->edge) {
        head(&o, "prep_relay_backlog", "gauge",
             "Photos this edge acknowledged that the central gateway does not hold yet.");
        put(&o, "prep_relay_backlog %lld\n", g->relay_backlog);
        head(&o, "prep_relay_photos_total", "counter",
             "Photos forwarded to the centre, by result (refused: kept in relay/refused).");
        put(&o, "prep_relay_photos_total{result=\"relayed\"} %llu\n", g->relay_forwarded);
        put(&o, "prep_relay_photos_total{result=\"refused\"} %llu\n", g->relay_refused);
        head(&o, "prep_relay_failures_total", "counter",
             "Forwarding attempts that must be tried again (uplink down, centre unavailable).");
        put(&o, "prep_relay_failures_total %llu\n", g->relay_failures);
        head(&o, "prep_relay_uplink_up", "gauge", "Whether the last attempt reached the centre.");
        put(&o, "prep_relay_uplink_up %d\n", g->relay_up ? 1 : 0);
    }
    if (o.failed) {
        free(o.b);
        return NULL;
    }
    *ret_len = o.len;
    return o.b;
}
