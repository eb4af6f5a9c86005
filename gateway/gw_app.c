#include "gw_app.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_api.h"
#include "gw_auth.h"
#include "gw_db.h"
#include "gw_devices.h"
#include "gw_events.h"
#include "gw_keys.h"
#include "gw_ledger.h"
#include "gw_log.h"
#include "gw_notify.h"
#include "gw_relay.h"
#include "gw_resume.h"
#include "gw_scrape.h"
#include "gw_stage.h"
#include "gw_throttle.h"

static const struct gw_h2_ops router = {.on_request = gw_api_route};

/* The pools and the throttle the handlers use, then the listeners that feed them. */
static int serve_start(struct gw_app *app)
{
    const struct gw_config *cfg = app->cfg;
    int r;

    r = gw_pool_start(&app->disk, "disk", cfg->disk_threads, NULL, NULL, NULL);
    if (r == 0)
        r = gw_pool_start(&app->db, "db", cfg->db_threads, gw_db_thread_init, gw_db_thread_fini,
                          (void *)cfg->db);
    if (r == 0)
        r = gw_pool_start(&app->auth, "auth", cfg->login_threads, gw_db_thread_init,
                          gw_db_thread_fini, (void *)cfg->db);
    if (r < 0)
        return r;
    app->login_throttle =
        gw_throttle_new(cfg->login_address_free, GW_AUTH_BACKOFF_MAX_S, GW_AUTH_BACKOFF_MAX_S);
    if (!app->login_throttle)
        return -ENOMEM;
    r = gw_counts_init(&app->uploads, cfg->max_uploads_per_device);
    if (r < 0)
        return r;
    return gw_listen_start(&app->listen, cfg, &router, app);
}

static void serve_stop(struct gw_app *app)
{
    /* Loops first, so no new work is submitted; then the pools finish what they hold and post
     * the completions, which run in gw_listen_free() (single-threaded now) and release their
     * streams. */
    gw_listen_stop(&app->listen);
    gw_pool_stop(&app->disk);
    gw_pool_stop(&app->db);
    gw_pool_stop(&app->auth);
    gw_listen_free(&app->listen);
    gw_throttle_free(app->login_throttle);
    app->login_throttle = NULL;
    gw_counts_finish(&app->uploads);
}

/*
 * Waits for the signal that ends `serve` and returns it. SIGHUP on the way reloads the
 * certificate without dropping a connection. Under a service manager's watchdog, wakes at its
 * interval and feeds it while every loop ticks; a wedged loop starves it, once the loop has been
 * silent for a third of the watchdog's time or 5 s, whichever is longer.
 */
static int wait_for_stop(struct gw_app *app, const sigset_t *signals)
{
    uint64_t every = gw_notify_watchdog_ms(), stalled_ms = 0;
    uint64_t limit = every * 2 / 3 > 5000 ? every * 2 / 3 : 5000;
    struct timespec ts = {(time_t)(every / 1000), (long)(every % 1000) * 1000000};
    bool hungry = false;
    unsigned loop;
    int sig;

    for (;;) {
        if (!every) {
            if (sigwait(signals, &sig) != 0)
                return SIGTERM; /* cannot happen with a valid set: stop rather than spin */
        } else if ((sig = sigtimedwait(signals, NULL, &ts)) < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return SIGTERM;
            /* The watchdog's turn. */
            loop = gw_listen_stalled(&app->listen, gw_now_ms(), limit, &stalled_ms);
            if (!loop) {
                gw_notify_watchdog();
                hungry = false;
            } else if (!hungry) {
                gw_log(GW_LOG_ERROR,
                       "msg=\"event loop stalled: the watchdog is no longer fed\" loop=%u"
                       " stalled_ms=%llu",
                       loop - 1, (unsigned long long)stalled_ms);
                hungry = true;
            }
            continue;
        }
        if (sig != SIGHUP)
            return sig;
        gw_listen_reload_tls(&app->listen);
    }
}

int gw_app_run(const struct gw_config *cfg, const char *version, const sigset_t *signals)
{
    struct gw_app app;
    struct gw_key key = {0};
    struct gw_ledger ledger = {.fd = -1};
    char keypath[4096];
    unsigned left;
    int r, sig = 0;

    memset(&app, 0, sizeof(app));
    app.cfg = cfg;
    r = gw_spool_open(&app.spool, cfg->data_dir);
    if (r < 0) {
        gw_log(GW_LOG_ERROR, "msg=\"could not open the data folder\" dir=%s err=\"%s\"",
               cfg->data_dir, strerror(-r));
        gw_spool_close(&app.spool);
        return 1;
    }
    snprintf(keypath, sizeof(keypath), "%s/keys/gateway-ed25519.pem", cfg->data_dir);
    r = gw_key_load(keypath, true, &key);
    if (r < 0) {
        gw_log(GW_LOG_ERROR, "msg=\"could not load the gateway key\" path=%s err=\"%s\"", keypath,
               r == -EPERM ? "readable by others: chmod 600" : strerror(-r));
        gw_spool_close(&app.spool);
        return 1;
    }
    r = gw_spool_attach_ledger(&app.spool, &ledger, &key);
    if (r < 0) {
        gw_log(GW_LOG_ERROR, "msg=\"could not open the ledger\" dir=%s err=\"%s\"", cfg->data_dir,
               r == -EBADMSG ? "the hash chain is broken: run prep-gateway ledger verify"
                             : strerror(-r));
        gw_ledger_close(&ledger);
        gw_key_finish(&key);
        gw_spool_close(&app.spool);
        return 1;
    }
    gw_log(GW_LOG_INFO, "msg=\"gateway key\" fingerprint=%s ledger_entries=%llu", key.fingerprint,
           (unsigned long long)ledger.last.seq);
    app.key = &key;
    if (cfg->open_uploads)
        gw_log(GW_LOG_WARN, "msg=\"--insecure-open-uploads: unsigned uploads are accepted from"
                            " anyone who reaches the listeners; for local demos only\"");
    r = gw_devices_start(cfg->devices_db ? cfg->devices_db : cfg->db, cfg->data_dir,
                         (int)cfg->signature_skew, &app.devices);
    if (r == 0 && cfg->relay_trust) {
        char why[512];

        r = gw_devices_trust_edges(app.devices, cfg->relay_trust, cfg->relay_max_age, why,
                                   sizeof(why));
        if (r < 0)
            gw_log(GW_LOG_ERROR, "msg=\"could not read --relay-trust\" why=\"%s\"", why);
    }
    if (r == 0)
        r = gw_stage_start(cfg, &app.spool, &app.stage);
    if (r == 0 && cfg->upstream)
        r = gw_relay_start(cfg, &app.spool, &key, &app.relay);
    if (r == 0)
        r = gw_resumes_start(&app.spool, cfg->upload_expiry, &app.resumes);
    if (r == 0)
        r = gw_events_new(&app, cfg->db, &app.events);
    if (r == 0)
        r = serve_start(&app);
    if (r == 0)
        r = gw_events_start(app.events);
    if (r == 0)
        r = gw_scrape_start(&app, cfg->metrics_addr, &app.scrape);
    if (r == 0) {
        gw_log(GW_LOG_INFO, "msg=ready version=%s data=%s", version, cfg->data_dir);
#ifdef GW_TEST_HOOKS
        gw_log(GW_LOG_WARN, "msg=\"test build: fault injection through PREP_TEST_* variables is "
                            "compiled in; not for production\"");
#endif
        gw_notify_ready("receiving uploads");
        sig = wait_for_stop(&app, signals);
        gw_log(GW_LOG_INFO, "msg=\"shutting down\" signal=%d drain_s=%u", sig,
               cfg->shutdown_timeout);
        gw_notify_stopping("finishing the uploads in flight");
        /* GOAWAY first: uploads in flight finish and get their receipts, new ones go elsewhere
         * or retry; what is still open after the timeout is cut (it was never acknowledged). */
        left = gw_listen_drain(&app.listen, cfg->shutdown_timeout * 1000u);
        gw_log(left ? GW_LOG_WARN : GW_LOG_INFO, "msg=\"requests drained\" connections_left=%u",
               left);
    }
    /* Events first: its thread posts to the loops that serve_stop() takes down; the subscribed
     * streams it still holds are released once no loop runs. */
    gw_scrape_stop(app.scrape);
    gw_events_stop(app.events);
    serve_stop(&app);
    gw_events_free(app.events);
    gw_relay_stop(app.relay);
    gw_stage_stop(app.stage);
    gw_resumes_stop(app.resumes);
    gw_devices_stop(app.devices);
    gw_ledger_close(&ledger);
    gw_key_finish(&key);
    gw_spool_close(&app.spool);
    return r == 0 ? 0 : 1;
}
