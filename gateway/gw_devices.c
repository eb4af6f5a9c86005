#include "gw_devices.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_devices.h"
#include "db_events.h"
#include "gw_db.h"
#include "gw_error.h"
#include "gw_evidence.h"
#include "gw_keys.h"
#include "gw_log.h"
#include "gw_pool.h"
#include "gw_relay_sig.h"
#include "gw_sig.h"

#define SNAPSHOT "devices.json"
#define RELOAD_EVERY_MS 30000
#define NONCE_SLOTS (1u << 17) /* ~130k uploads within one skew window */

struct dev {
    char id[64]; /* a UUID; longer ids are refused when loaded */
    uint8_t pub[GW_KEY_PUB_LEN];
    char actas[512];
    bool revoked;
};

struct nonce_slot {
    uint64_t h;      /* 0: empty */
    int64_t expires; /* unix seconds */
};

struct gw_devices {
    char *conninfo;
    char snapshot[4096];
    int skew;
    struct gw_relay_trust *trust; /* edges that may relay, NULL: none */
    int64_t relay_max_age;
    pthread_rwlock_t lock; /* devices */
    struct dev *v;
    size_t n;
    pthread_mutex_t nmu; /* nonces */
    struct nonce_slot *nonces;
    size_t nused;
    pthread_mutex_t mu; /* the thread's flags */
    pthread_cond_t cond;
    bool stopping, reload;
    pthread_t thread;
    bool started;
};

bool gw_devices_scope_allows(const char *actas, const char *clave)
{
    const char *p = actas;

    while (*p) {
        size_t n = strcspn(p, ","), m = n;

        while (m > 0 && p[m - 1] == ' ')
            m--;
        while (m > 0 && *p == ' ') {
            p++;
            n--;
            m--;
        }
        if (m > 0 && p[m - 1] == '*') {
            if (strncmp(clave, p, m - 1) == 0)
                return true;
        } else if (m > 0 && strlen(clave) == m && strncmp(clave, p, m) == 0) {
            return true;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* ---- the table ---- */

static void replace_table(struct gw_devices *d, struct dev *v, size_t n)
{
    struct dev *old;

    pthread_rwlock_wrlock(&d->lock);
    old = d->v;
    d->v = v;
    d->n = n;
    pthread_rwlock_unlock(&d->lock);
    free(old);
}

static int parse_devices(json_t *arr, struct dev **ret, size_t *ret_n)
{
    size_t n = json_array_size(arr), i;
    struct dev *v = calloc(n ? n : 1, sizeof(*v));
    json_t *o;

    if (!v)
        return -ENOMEM;
    json_array_foreach(arr, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "device_id"));
        const char *pub = json_string_value(json_object_get(o, "public_key"));
        const char *actas = json_string_value(json_object_get(o, "actas"));

        if (!id || !pub || !actas || strlen(id) >= sizeof(v[i].id) ||
            strlen(actas) >= sizeof(v[i].actas) ||
            gw_b64_decode(pub, v[i].pub, sizeof(v[i].pub)) != GW_KEY_PUB_LEN) {
            free(v);
            return -EINVAL;
        }
        snprintf(v[i].id, sizeof(v[i].id), "%s", id);
        snprintf(v[i].actas, sizeof(v[i].actas), "%s", actas);
        v[i].revoked = json_is_true(json_object_get(o, "revoked"));
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

static void load_snapshot(struct gw_devices *d)
{
    json_t *arr = json_load_file(d->snapshot, 0, NULL);
    struct dev *v;
    size_t n;

    if (arr && parse_devices(arr, &v, &n) == 0) {
        replace_table(d, v, n);
        gw_log(GW_LOG_INFO, "msg=\"devices: loaded the snapshot\" devices=%zu", n);
    }
    json_decref(arr);
}

static void save_snapshot(struct gw_devices *d, json_t *arr)
{
    char tmp[4200];
    int fd;
    char *s = json_dumps(arr, JSON_COMPACT);

    if (!s)
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", d->snapshot);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s) && fsync(fd) == 0) {
        close(fd);
        rename(tmp, d->snapshot);
    } else if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(s);
}

static void add_device(void *arg, const char *id, const char *public_key, const char *actas,
                       bool revoked)
{
    json_t *arr = arg;

    if (arr)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b}", "device_id", id, "public_key",
                                             public_key, "actas", actas, "revoked", revoked));
}

/* Reloads from PostgreSQL. Returns 0 or -EIO. */
static int reload(struct gw_devices *d, PGconn *pg)
{
    json_t *arr = json_array();
    struct dev *v;
    size_t n;
    int r = -EIO;

    if (gw_db_devices_load(pg, add_device, arr) < 0) {
        json_decref(arr);
        return -EIO;
    }
    if (arr && parse_devices(arr, &v, &n) == 0) {
        replace_table(d, v, n);
        save_snapshot(d, arr);
        r = 0;
    }
    json_decref(arr);
    return r;
}

static bool take_flag(struct gw_devices *d, bool *stop)
{
    bool again;

    pthread_mutex_lock(&d->mu);
    *stop = d->stopping;
    again = d->reload;
    d->reload = false;
    pthread_mutex_unlock(&d->mu);
    return again;
}

static void *devices_main(void *arg)
{
    struct gw_devices *d = arg;
    PGconn *pg = NULL;
    unsigned backoff = 0;
    int64_t last = 0;
    bool stop = false;

    while (!stop) {
        struct timespec now;
        bool again = take_flag(d, &stop);
        int64_t ms;

        if (stop)
            break;
        if (!pg) {
            pg = gw_db_connect(d->conninfo, NULL, 0);
            if (pg) {
                (void)gw_db_devices_listen(pg);
                again = true;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        if (pg && (again || ms - last >= RELOAD_EVERY_MS)) {
            if (reload(d, pg) == 0) {
                last = ms;
                backoff = 0;
            } else {
                PQfinish(pg);
                pg = NULL;
            }
        }
        if (!pg) {
            /* PostgreSQL away: the snapshot keeps serving; try again later. */
            backoff = backoff ? (backoff * 2 > 10000 ? 10000 : backoff * 2) : 250;
            pthread_mutex_lock(&d->mu);
            if (!d->stopping && !d->reload) {
                struct timespec ts;

                gw_deadline_after_ms(backoff, &ts);
                pthread_cond_timedwait(&d->cond, &d->mu, &ts);
            }
            pthread_mutex_unlock(&d->mu);
            continue;
        }
        /* Wait for a NOTIFY; wake every 250 ms to see stop and reload requests. */
        {
            struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
            int n;

            if (poll(&p, 1, 250) > 0) {
                n = gw_db_notifies_drain(pg, true);
                if (n < 0) {
                    PQfinish(pg);
                    pg = NULL;
                    continue;
                }
                if (n > 0) {
                    pthread_mutex_lock(&d->mu);
                    d->reload = true;
                    pthread_mutex_unlock(&d->mu);
                }
            }
        }
    }
    PQfinish(pg);
    return NULL;
}

int gw_devices_start(const char *conninfo, const char *data_dir, int skew_s,
                     struct gw_devices **ret)
{
    struct gw_devices *d = calloc(1, sizeof(*d));
    int r;

    if (!d)
        return -ENOMEM;
    d->conninfo = strdup(conninfo);
    d->nonces = calloc(NONCE_SLOTS, sizeof(*d->nonces));
    if (!d->conninfo || !d->nonces) {
        free(d->conninfo);
        free(d->nonces);
        free(d);
        return -ENOMEM;
    }
    d->skew = skew_s;
    snprintf(d->snapshot, sizeof(d->snapshot), "%s/%s", data_dir, SNAPSHOT);
    pthread_rwlock_init(&d->lock, NULL);
    pthread_mutex_init(&d->nmu, NULL);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cond, NULL);
    load_snapshot(d);
    r = pthread_create(&d->thread, NULL, devices_main, d);
    if (r) {
        gw_devices_stop(d);
        return -r;
    }
    d->started = true;
    *ret = d;
    return 0;
}

void gw_devices_stop(struct gw_devices *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
    if (d->started)
        pthread_join(d->thread, NULL);
    free(d->v);
    free(d->nonces);
    free(d->trust);
    free(d->conninfo);
    pthread_rwlock_destroy(&d->lock);
    pthread_mutex_destroy(&d->nmu);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cond);
    free(d);
}

void gw_devices_reload(struct gw_devices *d)
{
    pthread_mutex_lock(&d->mu);
    d->reload = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->mu);
}

size_t gw_devices_count(struct gw_devices *d)
{
    size_t n;

    pthread_rwlock_rdlock(&d->lock);
    n = d->n;
    pthread_rwlock_unlock(&d->lock);
    return n;
}

/* ---- nonces ---- */

static uint64_t nonce_hash(const char *device, const char *nonce)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint64_t h = 0;

    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, device, strlen(device) + 1) == 1 &&
        EVP_DigestUpdate(ctx, nonce, strlen(nonce)) == 1 &&
        EVP_DigestFinal_ex(ctx, md, &mdlen) == 1)
        memcpy(&h, md, sizeof(h));
    EVP_MD_CTX_free(ctx);
    return h ? h : 1;
}

/* Drops expired entries by rebuilding the table. With nmu held. */
static void nonces_purge(struct gw_devices *d, int64_t now)
{
    struct nonce_slot *old = d->nonces, *fresh = calloc(NONCE_SLOTS, sizeof(*fresh));

    if (!fresh)
        return;
    d->nonces = fresh;
    d->nused = 0;
    for (size_t i = 0; i < NONCE_SLOTS; i++) {
        size_t j;

        if (!old[i].h || old[i].expires < now)
            continue;
        for (j = old[i].h & (NONCE_SLOTS - 1); fresh[j].h; j = (j + 1) & (NONCE_SLOTS - 1))
            ;
        fresh[j] = old[i];
        d->nused++;
    }
    free(old);
}

/* Records the nonce; returns false when it was seen within the window (or the table is full). */
static bool nonce_fresh(struct gw_devices *d, const char *device, const char *nonce, int64_t now)
{
    uint64_t h = nonce_hash(device, nonce);
    bool fresh = true;
    size_t j;

    pthread_mutex_lock(&d->nmu);
    if (d->nused > NONCE_SLOTS * 3 / 4)
        nonces_purge(d, now);
    if (d->nused > NONCE_SLOTS * 3 / 4) {
        /* More fresh nonces than the table holds: refuse rather than forget one. */
        pthread_mutex_unlock(&d->nmu);
        return false;
    }
    for (j = h & (NONCE_SLOTS - 1); d->nonces[j].h; j = (j + 1) & (NONCE_SLOTS - 1)) {
        if (d->nonces[j].h == h && d->nonces[j].expires >= now) {
            fresh = false;
            break;
        }
    }
    if (fresh) {
        d->nonces[j].h = h;
        /* Twice the skew: a nonce is remembered as long as its signature could be accepted. */
        d->nonces[j].expires = now + 2 * d->skew;
        d->nused++;
    }
    pthread_mutex_unlock(&d->nmu);
    return fresh;
}

/* ---- the check ---- */

/* The check of gw_devices_check(), for a request of |method|; the clave scope only when |clave|. */
static int check(struct gw_devices *d, const char *method, bool clave,
                 const struct gw_upload_auth *a, char *ret_device, uint8_t *ret_sha,
                 const char **ret_why)
{
    struct gw_sig_input in;
    struct gw_sig_request req = {
        .method = method, .path = a->path, .content_digest = a->content_digest};
    struct gw_key key;
    struct dev found;
    uint8_t sig[GW_KEY_SIG_LEN];
    char base[2048];
    bool known = false, covers[3] = {false, false, false}, relayed = false;
    int64_t now = (int64_t)time(NULL), oldest;
    int n;

    if (gw_sig_parse_input(a->signature_input, strlen(a->signature_input), &in, ret_why) < 0 ||
        gw_sig_parse_signature(a->signature, strlen(a->signature), in.label, sig, ret_why) < 0)
        return GW_E_BAD_SIGNATURE;
    for (unsigned i = 0; i < in.ncomponents; i++) {
        covers[0] |= strcmp(in.components[i], "@method") == 0;
        covers[1] |= strcmp(in.components[i], "@path") == 0;
        covers[2] |= strcmp(in.components[i], "content-digest") == 0;
    }
    if (!covers[0] || !covers[1] || !covers[2]) {
        *ret_why = "the signature must cover @method, @path and content-digest";
        return GW_E_BAD_SIGNATURE;
    }
    if (in.created < 0 || !in.nonce[0] || !in.keyid[0]) {
        *ret_why = "the signature needs created, nonce and keyid parameters";
        return GW_E_BAD_SIGNATURE;
    }
    if (in.alg[0] && strcmp(in.alg, "ed25519") != 0) {
        *ret_why = "alg must be ed25519";
        return GW_E_BAD_SIGNATURE;
    }
    if (!a->content_digest[0] ||
        gw_sig_parse_digest(a->content_digest, strlen(a->content_digest), ret_sha, ret_why) < 0)
        return GW_E_BAD_SIGNATURE;
    if (clave && a->relay[0]) { /* only uploads are relayed */
        char hex[GW_SHA256_HEX_LEN + 1];

        gw_hex(ret_sha, 32, hex);
        if (gw_relay_sig_check(d->trust, a->relay, hex, a->signature, NULL, ret_why) < 0)
            return GW_E_RELAY_REFUSED;
        relayed = true;
    }

    pthread_rwlock_rdlock(&d->lock);
    for (size_t i = 0; i < d->n && !known; i++) {
        if (strcmp(d->v[i].id, in.keyid) == 0) {
            found = d->v[i];
            known = true;
        }
    }
    pthread_rwlock_unlock(&d->lock);
    if (!known) {
        *ret_why = "no enrolled device has this keyid";
        return GW_E_UNKNOWN_DEVICE;
    }
    if (found.revoked) {
        *ret_why = "this device was revoked";
        return GW_E_DEVICE_REVOKED;
    }
    n = gw_sig_base(&in, &req, base, sizeof(base), ret_why);
    if (n < 0)
        return GW_E_BAD_SIGNATURE;
    if (gw_key_from_public(found.pub, &key) < 0) {
        *ret_why = "the device's key is unusable";
        return GW_E_BAD_SIGNATURE;
    }
    if (!gw_key_verify(&key, base, (size_t)n, sig)) {
        gw_key_finish(&key);
        *ret_why = "the signature does not verify";
        return GW_E_BAD_SIGNATURE;
    }
    gw_key_finish(&key);
    /* A relayed photo may have waited at its edge while the uplink was down. */
    oldest = now - (relayed ? d->relay_max_age : d->skew);
    if (in.created > now + d->skew || in.created < oldest ||
        (!relayed && in.expires >= 0 && in.expires < now)) {
        *ret_why = relayed ? "created is older than --relay-max-age"
                           : "created is outside the accepted clock skew";
        return GW_E_SIGNATURE_EXPIRED;
    }
    if (clave && !gw_devices_scope_allows(found.actas, a->clave)) {
        *ret_why = "this device is not enrolled for this acta";
        return GW_E_CLAVE_NOT_ENROLLED;
    }
    /* Last, so a refused request does not use up its nonce. */
    if (!relayed && !nonce_fresh(d, found.id, in.nonce, now)) {
        *ret_why = "this nonce was already used";
        return GW_E_REPLAYED;
    }
    snprintf(ret_device, 64, "%s", found.id);
    return 0;
}

int gw_devices_check(struct gw_devices *d, const struct gw_upload_auth *a, char *ret_device,
                     uint8_t *ret_sha, const char **ret_why)
{
    return check(d, "POST", true, a, ret_device, ret_sha, ret_why);
}

int gw_devices_check_get(struct gw_devices *d, const struct gw_upload_auth *a, char *ret_device,
                         const char **ret_why)
{
    uint8_t sha[32];

    return check(d, "GET", false, a, ret_device, sha, ret_why);
}

int gw_devices_trust_edges(struct gw_devices *d, const char *path, unsigned max_age_s, char *why,
                           size_t cap)
{
    struct gw_relay_trust *t = calloc(1, sizeof(*t));
    int r;

    if (!t)
        return -ENOMEM;
    r = gw_relay_trust_load(path, t, why, cap);
    if (r < 0) {
        free(t);
        return r;
    }
    free(d->trust);
    d->trust = t;
    d->relay_max_age = max_age_s;
    return 0;
}

int gw_devices_sigrec(const struct gw_upload_auth *a, char *out, size_t cap)
{
    struct gw_sigrec r;
    size_t len = 0;
    char *json;

    snprintf(r.method, sizeof(r.method), "POST");
    snprintf(r.path, sizeof(r.path), "%s", a->path);
    snprintf(r.signature_input, sizeof(r.signature_input), "%s", a->signature_input);
    snprintf(r.signature, sizeof(r.signature), "%s", a->signature);
    snprintf(r.content_digest, sizeof(r.content_digest), "%s", a->content_digest);
    snprintf(r.relay, sizeof(r.relay), "%s", a->relay);
    json = gw_sigrec_json(&r, &len);
    if (!json)
        return -ENOMEM;
    if (len >= cap) {
        free(json);
        return -ENOSPC;
    }
    memcpy(out, json, len + 1);
    free(json);
    return 0;
}
