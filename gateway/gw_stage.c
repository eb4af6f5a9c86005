#include "gw_stage.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_blobs.h"
#include "db_photos.h"
#include "gw_crash.h"
#include "gw_db.h"
#include "gw_log.h"
#include "gw_pool.h"
#include "gw_metrics.h"
#include "gw_originals.h"
#include "img_error.h"
#include "process.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
/* A photo whose decoding crashed the process this many times is marked failed rather than
 * retried forever; a kill under it does not count (gw_crash). */
#define MAX_ATTEMPTS 3

struct gw_stage {
    const struct gw_config *cfg;
    struct gw_spool *spool;
    pthread_mutex_t mu;
    pthread_cond_t ingest_cond; /* ingest has work, or stop */
    pthread_cond_t work_cond;   /* processing may have work, or stop */
    char **queue;               /* photo ids to ingest, under mu */
    size_t n, cap;
    _Atomic bool stopping; /* also read unlocked between photos of a batch */
    bool reset_done;       /* half-processed rows from a previous run are back in the queue */
    pthread_t ingest;
    pthread_t *workers;
    unsigned nworkers;
    bool ingest_started;
};

#ifdef GW_TEST_HOOKS
/* Test builds only (meson -Dtest_hooks=true): decoding a photo of clave
 * PREP_TEST_CRASH_DECODING_CLAVE crashes the process after 300 ms (the upload's answer is out by
 * then), as a photo that trips a bug in imaging/ would. */
static void test_crash_decoding(const char *clave)
{
    const char *c = getenv("PREP_TEST_CRASH_DECODING_CLAVE");

    if (c && strcmp(c, clave) == 0) {
        usleep(300 * 1000);
        abort();
    }
}
#endif

/* Waits up to |ms| or until stop; returns true when stopping. Called with mu held. */
static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool wait_ms(struct gw_stage *st, pthread_cond_t *cond, unsigned ms)
{
    struct timespec ts;

    if (st->stopping)
        return true;
    gw_deadline_after_ms(ms, &ts);
    pthread_cond_timedwait(cond, &st->mu, &ts);
    return st->stopping;
}

static unsigned backoff_next(unsigned ms)
{
    ms = ms ? ms * 2 : BACKOFF_MIN_MS;
    return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

static int queue_push(struct gw_stage *st, char *id)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        char **grown = realloc(st->queue, cap * sizeof(*grown));

        if (!grown)
            return -ENOMEM;
        st->queue = grown;
        st->cap = cap;
    }
    st->queue[st->n++] = id;
    return 0;
}

void gw_stage_received(struct gw_stage *st, const char *photo_id)
{
    char *id = strdup(photo_id);

    pthread_mutex_lock(&st->mu);
    /* Out of memory: the receipt is safe in pending/ and is picked up at the next start. */
    if (!id || queue_push(st, id) < 0)
        free(id);
    pthread_cond_signal(&st->ingest_cond);
    pthread_mutex_unlock(&st->mu);
}

/* ---- ingest ---- */

static void *ingest_main(void *arg)
{
    struct gw_stage *st = arg;
    PGconn *pg = NULL;
    unsigned backoff = 0;
    char err[256];

    pthread_mutex_lock(&st->mu);
    while (!st->stopping) {
        char **batch;
        size_t n, done = 0;
        int rc = 0;

        if (!pg) {
            pthread_mutex_unlock(&st->mu);
            pg = gw_db_connect(st->cfg->db, err, sizeof(err));
            if (pg && !st->reset_done) {
                char blamed[GW_CRASH_BLAMED_LEN];

                gw_crash_blamed(st->spool->root, blamed, sizeof(blamed));
                rc = gw_db_reset_processing(pg, blamed, st->cfg->gateway_id);
                /* Counted now: a crash before this line is read again at the next start. */
                if (rc == 0)
                    gw_crash_forget(st->spool->root);
                pthread_mutex_lock(&st->mu);
                st->reset_done = rc == 0;
                pthread_cond_broadcast(&st->work_cond);
                pthread_mutex_unlock(&st->mu);
            }
            if (!pg || rc < 0) {
                gw_metrics_db_error(GW_STAGE_INGEST);
                backoff = backoff_next(backoff);
                gw_log(GW_LOG_WARN,
                       "msg=\"ingest: database unavailable, receipts stay in the spool\""
                       " retry_ms=%u err=\"%s\"",
                       backoff, pg ? PQerrorMessage(pg) : err);
                PQfinish(pg);
                pg = NULL;
                pthread_mutex_lock(&st->mu);
                wait_ms(st, &st->ingest_cond, backoff);
                continue;
            }
            pthread_mutex_lock(&st->mu);
        }
        if (st->n == 0) {
            wait_ms(st, &st->ingest_cond, 5000);
            continue;
        }
        batch = st->queue;
        n = st->n;
        st->queue = NULL;
        st->n = st->cap = 0;
        pthread_mutex_unlock(&st->mu);

        for (; done < n && !st->stopping; done++) {
            struct gw_receipt r;

            rc = gw_spool_pending_load(st->spool, batch[done], &r);
            if (rc == -ENOENT) {
                free(batch[done]);
                continue; /* already ingested */
            }
            if (rc == 0) {
                uint64_t t0 = now_us();

                rc = gw_original_ingest(st->spool, pg, &r, st->cfg->gateway_id, st->cfg->max_body);
                if (rc == 0)
                    gw_metrics_stage(GW_STAGE_INGEST, (double)(now_us() - t0) / 1e6);
            }
            if (rc == -EIO) {
                gw_metrics_db_error(GW_STAGE_INGEST);
                break;
            }
            if (rc < 0) {
                /* Refused by PostgreSQL or unreadable: keep the receipt in pending/ for an
                 * operator, and go on with the others. */
                gw_log(GW_LOG_ERROR,
                       "msg=\"ingest: could not record photo\" photo_id=%s err=\"%s\"", batch[done],
                       rc == -EPROTO ? PQerrorMessage(pg) : strerror(-rc));
                free(batch[done]);
                continue;
            }
            gw_spool_pending_done(st->spool, batch[done]);
            gw_log(GW_LOG_DEBUG, "msg=\"ingest: recorded\" photo_id=%s", batch[done]);
            free(batch[done]);
            pthread_mutex_lock(&st->mu);
            pthread_cond_signal(&st->work_cond);
            pthread_mutex_unlock(&st->mu);
            backoff = 0;
        }

        pthread_mutex_lock(&st->mu);
        /* Whatever was not recorded goes back to the queue. */
        for (size_t i = done; i < n; i++)
            if (queue_push(st, batch[i]) < 0)
                free(batch[i]);
        free(batch);
        if (rc == -EIO) {
            PQfinish(pg);
            pg = NULL;
        }
    }
    pthread_mutex_unlock(&st->mu);
    PQfinish(pg);
    return NULL;
}

/* ---- processing ---- */

static json_t *metadata_json(const struct img_result *res)
{
    const struct img_jpeg_info *in = &res->info;
    const struct img_exif *ex = &res->exif;
    json_t *exif, *jpeg;

    jpeg = json_pack("{s:i, s:i, s:i, s:b, s:i}", "width", (int)in->width, "height",
                     (int)in->height, "components", in->components, "progressive", in->progressive,
                     "scans", (int)in->scans);
    exif = json_pack("{s:i, s:b}", "orientation", ex->orientation, "valid", res->exif_ok);
    if (ex->make[0])
        json_object_set_new(exif, "make", json_string(ex->make));
    if (ex->model[0])
        json_object_set_new(exif, "model", json_string(ex->model));
    if (ex->software[0])
        json_object_set_new(exif, "software", json_string(ex->software));
    if (ex->datetime_original[0])
        json_object_set_new(exif, "datetime_original", json_string(ex->datetime_original));
    if (ex->offset_time_original[0])
        json_object_set_new(exif, "offset_time_original", json_string(ex->offset_time_original));
    if (ex->has_gps) {
        json_t *gps = json_pack("{s:f, s:f}", "latitude", ex->gps_lat, "longitude", ex->gps_lon);

        if (ex->has_gps_alt)
            json_object_set_new(gps, "altitude", json_real(ex->gps_alt));
        if (ex->gps_datetime[0])
            json_object_set_new(gps, "datetime", json_string(ex->gps_datetime));
        json_object_set_new(exif, "gps", gps);
    }
    return json_pack("{s:o, s:o}", "jpeg", jpeg, "exif", exif);
}

/* Duplicate and conflict search within one clave: each earlier photo's signature against ours. */
struct dup_search {
    const struct img_dup_sig *sig;
    json_t *duplicates, *conflicts;
};

static void on_signature(void *arg, const char *id, const char *sha256, const char *hex)
{
    struct dup_search *ds = arg;
    struct img_dup_sig other;
    enum img_dup_kind k;
    double thumb, ink;

    if (img_dup_from_hex(hex, &other) < 0)
        return;
    k = img_dup_compare(ds->sig, &other, &thumb, &ink);
    if (k == IMG_DUP_NONE)
        return;
    json_array_append_new(k == IMG_DUP_CONFLICT ? ds->conflicts : ds->duplicates,
                          json_pack("{s:s, s:s, s:s, s:f, s:f}", "photo_id", id, "sha256", sha256,
                                    "kind", img_dup_kind_name(k), "thumb_distance", thumb,
                                    "ink_distance", ink));
}

/* What the official reads for each reason: plain Spanish, saying what to do. */
static const struct {
    unsigned bit;
    const char *text;
} reason_texts[] = {
    {IMG_LEG_BLURRY, "la foto salió borrosa, sostenga el teléfono firme y enfoque el acta"},
    {IMG_LEG_DARK, "la foto está muy oscura, busque más luz"},
    {IMG_LEG_BRIGHT, "la foto tiene demasiada luz, evite el sol directo o el flash"},
    {IMG_LEG_GLARE, "un reflejo tapa parte del acta, incline el teléfono o cambie de lugar"},
    {IMG_LEG_SMALL, "el acta se ve pequeña, acérquese hasta que llene la foto"},
    {IMG_LEG_NO_SHEET, "no se ve el acta en la foto, encuadre la hoja completa"},
};

/* The verdict of |l| as the receipt carries it, with the reasons in plain words. */
static void receipt_legibility(const struct img_legibility *l, struct gw_receipt_legibility *ret)
{
    size_t used = 0, said = 0;

    memset(ret, 0, sizeof(*ret));
    ret->present = true;
    ret->ok = l->ok;
    gw_receipt_set_measures(ret, l->focus, l->luma, l->clipped, l->glare, l->coverage);
    if (l->ok) {
        snprintf(ret->reason, sizeof(ret->reason), "La foto se puede leer.");
        return;
    }
    for (unsigned bit = 1; bit <= IMG_LEG_NO_SHEET; bit <<= 1) {
        if (!(l->reasons & bit))
            continue;
        used += (size_t)snprintf(ret->reasons + used, sizeof(ret->reasons) - used, "%s%s",
                                 used ? "," : "", img_legibility_reason_name(bit));
        if (used >= sizeof(ret->reasons))
            used = sizeof(ret->reasons) - 1;
    }
    said = (size_t)snprintf(ret->reason, sizeof(ret->reason), "Tome la foto otra vez");
    for (size_t i = 0, n = 0; i < sizeof(reason_texts) / sizeof(reason_texts[0]); i++) {
        if (!(l->reasons & reason_texts[i].bit) || said >= sizeof(ret->reason))
            continue;
        said += (size_t)snprintf(ret->reason + said, sizeof(ret->reason) - said, "%s%s",
                                 n++ ? "; " : ": ", reason_texts[i].text);
    }
    if (said < sizeof(ret->reason) - 1)
        snprintf(ret->reason + said, sizeof(ret->reason) - said, ".");
}

/*
 * Adds the processed receipt (the phone's receipt with the legibility verdict, signed again) to
 * |meta| as "receipt": the photo's status serves it, so a phone can tell the official at once to
 * retake the photo. Without it (the receipt unreadable) the photo is still queued.
 */
static void add_processed_receipt(struct gw_spool *spool, const char *photo_id,
                                  const struct img_legibility *l, json_t *meta)
{
    struct gw_receipt_legibility leg;
    char *json = NULL;
    size_t len = 0;
    int rc;

    receipt_legibility(l, &leg);
    rc = gw_spool_receipt_with_verdict(spool, photo_id, &leg, &json, &len);
    if (rc < 0) {
        gw_log(GW_LOG_WARN, "msg=\"could not sign the processed receipt\" photo_id=%s err=\"%s\"",
               photo_id, strerror(-rc));
        return;
    }
    json_object_set_new(meta, "receipt", json_loadb(json, len, 0, NULL));
    free(json);
}

/*
 * Adds what the clerk needs to judge the photo at a glance to |meta|: the legibility verdict, the
 * QR code against the URL's clave, duplicates and conflicts among the clave's other photos, and
 * "flags" summing them up. None of it refuses a photo. Returns 0, or -EIO when PostgreSQL went
 * away during the search.
 */
static int add_analysis(PGconn *pg, const struct gw_db_job *job, const struct img_result *res,
                        json_t *meta)
{
    const struct img_legibility *l = &res->legibility;
    json_t *flags = json_array(), *reasons = json_array(), *qr;
    struct dup_search ds = {&res->sig, json_array(), json_array()};
    char *hex;
    int rc = 0;

    if (!res->analysed) {
        json_array_append_new(flags, json_string("not_analysed"));
        json_object_set_new(meta, "flags", flags);
        json_decref(reasons);
        json_decref(ds.duplicates);
        json_decref(ds.conflicts);
        return 0;
    }
    for (unsigned bit = 1; bit <= IMG_LEG_NO_SHEET; bit <<= 1)
        if (l->reasons & bit)
            json_array_append_new(reasons, json_string(img_legibility_reason_name(bit)));
    json_object_set_new(meta, "legibility",
                        json_pack("{s:s, s:o, s:f, s:f, s:f, s:f, s:f}", "verdict",
                                  l->ok ? "ok" : "retake", "reasons", reasons, "focus", l->focus,
                                  "luma", l->luma, "clipped", l->clipped, "glare", l->glare,
                                  "coverage", l->coverage));
    if (!l->ok)
        json_array_append_new(flags, json_string("retake"));
    if (res->qr_found) {
        bool match = strcmp(res->qr, job->clave) == 0;

        qr =
            json_pack("{s:b, s:s, s:b}", "readable", 1, "payload", res->qr, "matches_clave", match);
        if (qr && res->qr_full_resolution) /* too small for the scaled image */
            json_object_set_new(qr, "full_resolution", json_true());
        if (!match)
            json_array_append_new(flags, json_string("qr_mismatch"));
    } else {
        qr = json_pack("{s:b}", "readable", 0);
        json_array_append_new(flags, json_string("qr_unreadable"));
    }
    json_object_set_new(meta, "qr", qr);

    hex = malloc(IMG_DUP_HEX_LEN + 1);
    if (hex) {
        int n = gw_db_clave_signatures(pg, job->clave, job->photo_id, on_signature, &ds);

        if (n == -EIO)
            rc = -EIO;
        else if (n < 0)
            gw_log(GW_LOG_WARN, "msg=\"duplicate search failed\" photo_id=%s err=\"%s\"",
                   job->photo_id, PQerrorMessage(pg));
        img_dup_to_hex(&res->sig, hex);
        json_object_set_new(meta, "signature", json_string(hex));
        free(hex);
    }
    if (json_array_size(ds.duplicates) > 0)
        json_array_append_new(flags, json_string("duplicate"));
    if (json_array_size(ds.conflicts) > 0)
        json_array_append_new(flags, json_string("conflict"));
    json_object_set_new(meta, "duplicates", ds.duplicates);
    json_object_set_new(meta, "conflicts", ds.conflicts);
    json_object_set_new(meta, "flags", flags);
    return rc;
}

/* Processes one photo claimed by |worker|. Returns 0, -EAGAIN when the review image could not be
 * stored (the claim is given back: wait before the next), or -EIO when PostgreSQL went away (the
 * claim then lapses and the photo is processed again). */
static int process_one(struct gw_stage *st, PGconn *pg, const struct gw_db_job *job,
                       const char *worker)
{
    const struct gw_config *cfg = st->cfg;
    struct img_process_opts opts;
    struct img_result res;
    char review_sha[GW_SHA256_HEX_LEN + 1], reason[256];
    const char *why = "";
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *meta;
    char *meta_s;
    int rc;

    if (job->attempts > MAX_ATTEMPTS) {
        snprintf(reason, sizeof(reason), "processing did not complete in %d attempts",
                 MAX_ATTEMPTS);
        return gw_db_fail(pg, job->photo_id, reason, NULL) == -EIO ? -EIO : 0;
    }
    /* Received by another gateway (or its store lost): the database's copy. */
    rc = gw_original_load(st->spool, pg, job->sha256, cfg->max_body, &buf, &len);
    if (rc == -EIO)
        return -EIO; /* the claim lapses or is given back when the connection returns */
    if (rc < 0) {
        gw_log(GW_LOG_ERROR,
               "msg=\"original missing from the store\" photo_id=%s sha256=%s err=\"%s\"",
               job->photo_id, job->sha256, strerror(-rc));
        snprintf(reason, sizeof(reason), "original unreadable: %s", strerror(-rc));
        return gw_db_fail(pg, job->photo_id, reason, NULL) == -EIO ? -EIO : 0;
    }
    img_process_opts_init(&opts);
    opts.limits.max_pixels = cfg->max_pixels;
    opts.long_side = cfg->long_side;
    opts.webp_quality = cfg->webp_quality;
    opts.webp_method = cfg->webp_method;
    memset(&res, 0, sizeof(res));
    gw_crash_decoding(job->photo_id);
#ifdef GW_TEST_HOOKS
    test_crash_decoding(job->clave);
#endif
    rc = img_process_jpeg(buf, len, &opts, &res, &why);
    gw_crash_decoding(NULL);
    free(buf);
    if (rc < 0) {
        snprintf(reason, sizeof(reason), "%s: %s", img_strerror(rc), why ? why : "");
        gw_log(GW_LOG_INFO, "msg=\"processing failed\" photo_id=%s reason=\"%s\"", job->photo_id,
               reason);
        return gw_db_fail(pg, job->photo_id, reason, NULL) == -EIO ? -EIO : 0;
    }
    rc = gw_spool_review_write(st->spool, res.webp, res.webp_len, review_sha);
    if (rc < 0) {
        gw_log(GW_LOG_ERROR, "msg=\"could not store review image\" photo_id=%s err=\"%s\"",
               job->photo_id, strerror(-rc));
        img_result_finish(&res);
        /* A full disk passes: the photo goes back to the queue at once (the attempt not
         * counted), rather than waiting out its lease once there is room again. */
        return gw_db_release_mine(pg, worker) == -EIO ? -EIO : -EAGAIN;
    }
    /* Served to clerks by whichever gateway they reach. */
    if (gw_db_blob_put(pg, "review", review_sha, res.webp, res.webp_len) < 0) {
        img_result_finish(&res);
        return -EIO;
    }
    meta = metadata_json(&res);
    if (meta && add_analysis(pg, job, &res, meta) == -EIO) {
        json_decref(meta);
        img_result_finish(&res);
        return -EIO; /* the claim lapses; the WebP already stored is simply rewritten */
    }
    if (meta && res.analysed)
        add_processed_receipt(st->spool, job->photo_id, &res.legibility, meta);
    meta_s = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    rc = gw_db_finish(pg, job->photo_id, review_sha, res.webp_len, res.width, res.height,
                      meta_s ? meta_s : "{}");
    if (rc == 0)
        gw_log(GW_LOG_INFO,
               "msg=queued photo_id=%s clave=%s review_bytes=%zu review=%ux%u orientation=%u"
               " legibility=%s qr=%s",
               job->photo_id, job->clave, res.webp_len, res.width, res.height, res.exif.orientation,
               !res.analysed       ? "-"
               : res.legibility.ok ? "ok"
                                   : "retake",
               !res.qr_found                ? "unreadable"
               : strcmp(res.qr, job->clave) ? "mismatch"
                                            : "match");
    else
        gw_log(GW_LOG_WARN, "msg=\"could not mark photo queued\" photo_id=%s err=\"%s\"",
               job->photo_id, PQerrorMessage(pg));
    free(meta_s);
    img_result_finish(&res);
    return rc == -EIO ? -EIO : 0;
}

/* How much nicer the processing threads are than intake. */
#define WORKER_NICE 10

static void *worker_main(void *arg)
{
    struct gw_stage *st = arg;
    PGconn *pg = NULL;
    unsigned backoff = 0;
    char worker[GW_WORKER_TOKEN_LEN + 1]; /* the token this worker claims photos with */
    bool broke = false;                   /* the connection broke: give back our claims */

    gw_worker_token(st->cfg->gateway_id, worker);
    /* Image processing yields the CPU to intake: a receipt is never late because photos are
     * being decoded, and the backlog is caught up after the peak (Linux: nice is per thread). */
    errno = 0; /* nice() may return -1 as the new niceness */
    if (nice(WORKER_NICE) == -1 && errno)
        gw_log(GW_LOG_WARN, "msg=\"processing thread keeps intake's priority\" err=\"%s\"",
               strerror(errno));
    pthread_mutex_lock(&st->mu);
    while (!st->stopping) {
        struct gw_db_job job;
        int rc;

        if (!st->reset_done) {
            wait_ms(st, &st->work_cond, 1000);
            continue;
        }
        pthread_mutex_unlock(&st->mu);
        if (!pg)
            pg = gw_db_connect(st->cfg->db, NULL, 0);
        /* After a broken connection, what this worker claimed goes back to the queue first,
         * instead of waiting out its processing lease: the claim may have committed while
         * its answer was lost. */
        rc = pg && broke ? gw_db_release_mine(pg, worker) : pg ? 0 : -EIO;
        if (rc == 0)
            broke = false;
        if (rc == 0)
            rc = gw_db_claim(pg, st->cfg->lease_s, worker, &job);
        if (rc == 1) {
            uint64_t t0 = now_us();
            int done = process_one(st, pg, &job, worker);

            /* 0: one done, look for the next at once (a backlog drains at speed). */
            if (done < 0)
                rc = done;
            else
                gw_metrics_stage(GW_STAGE_PROCESS, (double)(now_us() - t0) / 1e6);
        }
        if (rc == -EIO) {
            gw_metrics_db_error(GW_STAGE_PROCESS);
            broke = true;
        }
        pthread_mutex_lock(&st->mu);
        if (rc == -EAGAIN) {
            /* The disk is full: try again later, on the same connection. */
            backoff = backoff_next(backoff);
            wait_ms(st, &st->work_cond, backoff);
        } else if (rc < 0) {
            PQfinish(pg);
            pg = NULL;
            backoff = backoff_next(backoff);
            wait_ms(st, &st->work_cond, backoff);
        } else if (rc == 0) {
            /* Nothing claimable: sleep until ingest signals (or a lease may have lapsed). */
            backoff = 0;
            wait_ms(st, &st->work_cond, 2000);
        } else {
            backoff = 0;
        }
    }
    pthread_mutex_unlock(&st->mu);
    PQfinish(pg);
    return NULL;
}

int gw_stage_start(const struct gw_config *cfg, struct gw_spool *spool, struct gw_stage **ret)
{
    struct gw_stage *st = calloc(1, sizeof(*st));
    char **ids = NULL;
    int n, r;

    if (!st)
        return -ENOMEM;
    st->cfg = cfg;
    st->spool = spool;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->ingest_cond, NULL);
    pthread_cond_init(&st->work_cond, NULL);
    /* Receipts a previous run acknowledged but did not record: first in line. */
    n = gw_spool_pending_list(spool, &ids);
    if (n < 0) {
        gw_stage_stop(st);
        return n;
    }
    for (int i = 0; i < n; i++)
        if (queue_push(st, ids[i]) < 0)
            free(ids[i]);
    free(ids);
    if (n > 0)
        gw_log(GW_LOG_INFO, "msg=\"ingest: receipts waiting from a previous run\" count=%d", n);
    r = pthread_create(&st->ingest, NULL, ingest_main, st);
    if (r) {
        gw_stage_stop(st);
        return -r;
    }
    st->ingest_started = true;
    gw_crash_start(spool->root);
    st->workers = calloc(cfg->workers, sizeof(*st->workers));
    if (!st->workers) {
        gw_stage_stop(st);
        return -ENOMEM;
    }
    /* An edge relay only takes photos in: the centre processes them (gw_relay). */
    for (unsigned i = 0; i < cfg->workers && !cfg->upstream; i++) {
        r = pthread_create(&st->workers[i], NULL, worker_main, st);
        if (r) {
            gw_stage_stop(st);
            return -r;
        }
        st->nworkers++;
    }
    *ret = st;
    return 0;
}

void gw_stage_stop(struct gw_stage *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_broadcast(&st->ingest_cond);
    pthread_cond_broadcast(&st->work_cond);
    pthread_mutex_unlock(&st->mu);
    if (st->ingest_started)
        pthread_join(st->ingest, NULL);
    for (unsigned i = 0; i < st->nworkers; i++)
        pthread_join(st->workers[i], NULL);
    if (st->ingest_started)
        gw_crash_stop();
    for (size_t i = 0; i < st->n; i++)
        free(st->queue[i]);
    free(st->queue);
    free(st->workers);
    pthread_cond_destroy(&st->ingest_cond);
    pthread_cond_destroy(&st->work_cond);
    pthread_mutex_destroy(&st->mu);
    free(st);
}
