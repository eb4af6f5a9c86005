#include "gw_enrol.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_devices.h"
#include "gw_api.h"
#include "gw_db.h"
#include "gw_devices.h"
#include "gw_error.h"
#include "gw_keys.h"
#include "gw_log.h"
#include "gw_app.h"
#include "gw_h2.h"

#define ENROL_BODY_MAX 4096

int gw_enrol_code_hash(const char *code, char *ret)
{
    char norm[64];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    size_t n = 0;

    for (const char *p = code; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        if (!isalnum((unsigned char)*p) || n + 1 >= sizeof(norm))
            return -EINVAL;
        norm[n++] = (char)toupper((unsigned char)*p);
    }
    if (n < 12)
        return -EINVAL;
    if (EVP_Digest(norm, n, md, &mdlen, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    gw_hex(md, 32, ret);
    return 0;
}

/* ---- POST /v1/devices ---- */

struct enrol {
    struct gw_work work;
    struct gw_stream *s;
    char code_sha[GW_SHA256_HEX_LEN + 1];
    char pubkey[GW_KEY_PUB_B64 + 1];
    char label[65];
    char device_id[GW_PHOTO_ID_LEN + 1];
    char actas[512];
    char enrolled_at[40];
    int rc;
};

static void enrol_work(struct gw_work *w, void *thread_ctx)
{
    struct enrol *e = (struct enrol *)w;
    PGconn *pg = gw_db_thread_conn(thread_ctx);

    e->rc = pg ? gw_db_enrol(pg, e->code_sha, e->pubkey, e->label, e->device_id, e->actas,
                             sizeof(e->actas), e->enrolled_at)
               : -EIO;
}

static void enrol_done(struct gw_work *w)
{
    struct enrol *e = (struct enrol *)w;
    struct gw_app *app = e->s->worker->app;
    char b64[GW_KEY_PUB_B64 + 1];
    json_t *o;
    char *body;

    if (w->cancelled || e->rc == -EIO) {
        gw_stream_problem(e->s, GW_E_UNAVAILABLE, "the device database is unreachable");
    } else if (e->rc == -EACCES) {
        gw_stream_problem(e->s, GW_E_ENROLMENT_REFUSED, "unknown, used or expired code");
    } else if (e->rc == -EEXIST) {
        gw_stream_problem(e->s, GW_E_DEVICE_EXISTS, "this public key is already enrolled");
    } else if (e->rc < 0) {
        gw_stream_problem(e->s, GW_E_INTERNAL, NULL);
    } else {
        gw_b64_encode(app->key->pub, GW_KEY_PUB_LEN, b64);
        o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "device_id", e->device_id, "label",
                      e->label, "actas", e->actas, "enrolled_at", e->enrolled_at, "gateway_key",
                      "algorithm", "ed25519", "public_key", b64, "fingerprint",
                      app->key->fingerprint);
        body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        gw_log(GW_LOG_INFO, "msg=\"device enrolled\" device_id=%s actas=\"%s\"", e->device_id,
               e->actas);
        gw_devices_reload(app->devices);
        if (body)
            gw_stream_respond(e->s, 201, "application/json", (uint8_t *)body, strlen(body), NULL,
                              0);
        else
            gw_stream_problem(e->s, GW_E_INTERNAL, NULL);
    }
    gw_stream_unref(e->s);
    free(e);
}

static void enrol_body(struct gw_stream *s)
{
    json_t *o = json_loadb((const char *)s->body, s->body_len, 0, NULL);
    const char *code = json_string_value(json_object_get(o, "code"));
    const char *pub = json_string_value(json_object_get(o, "public_key"));
    const char *label = json_string_value(json_object_get(o, "label"));
    uint8_t raw[GW_KEY_PUB_LEN + 2];
    struct gw_key k;
    struct enrol *e;

    if (!code || !pub) {
        json_decref(o);
        gw_stream_problem(s, GW_E_BAD_REQUEST, "send JSON with code and public_key");
        return;
    }
    if (gw_b64_decode(pub, raw, sizeof(raw)) != GW_KEY_PUB_LEN || gw_key_from_public(raw, &k) < 0) {
        json_decref(o);
        gw_stream_problem(s, GW_E_BAD_REQUEST, "public_key must be a base64 Ed25519 public key");
        return;
    }
    gw_key_finish(&k);
    e = calloc(1, sizeof(*e));
    if (!e || gw_enrol_code_hash(code, e->code_sha) < 0) {
        free(e);
        json_decref(o);
        gw_stream_problem(s, GW_E_ENROLMENT_REFUSED, "unknown, used or expired code");
        return;
    }
    gw_b64_encode(raw, GW_KEY_PUB_LEN, e->pubkey);
    for (size_t i = 0; label && label[i] && i + 1 < sizeof(e->label); i++)
        e->label[i] = (label[i] >= 0x20 && label[i] < 0x7f) ? label[i] : '?';
    json_decref(o);
    e->s = s;
    gw_stream_ref(s);
    gw_pool_submit(&s->worker->app->db, &s->worker->loop, &e->work, enrol_work, enrol_done);
}

/* ---- GET /v1/devices/self/photos ---- */

struct own_photos {
    struct gw_work work;
    struct gw_stream *s;
    char device_id[64];
    char *json;
    int rc;
};

static void own_work(struct gw_work *w, void *thread_ctx)
{
    struct own_photos *o = (struct own_photos *)w;
    PGconn *pg = gw_db_thread_conn(thread_ctx);

    o->rc = pg ? gw_db_device_photos(pg, o->device_id, &o->json) : -EIO;
}

static void own_done(struct gw_work *w)
{
    struct own_photos *o = (struct own_photos *)w;
    static const nghttp2_nv nv[] = {
        {(uint8_t *)"cache-control", (uint8_t *)"no-store", 13, 8, NGHTTP2_NV_FLAG_NONE}};

    if (w->cancelled || o->rc == -EIO) {
        gw_stream_problem(o->s, GW_E_UNAVAILABLE, "the photo database is unreachable");
    } else if (o->rc < 0 || !o->json) {
        gw_stream_problem(o->s, GW_E_INTERNAL, NULL);
    } else {
        gw_stream_respond(o->s, 200, "application/json", (uint8_t *)o->json, strlen(o->json), nv,
                          1);
        o->json = NULL;
    }
    free(o->json);
    gw_stream_unref(o->s);
    free(o);
}

/* Copies request header |name| into |out| (|cap| bytes); false when it does not fit. */
static bool copy_header(struct gw_stream *s, const char *name, char *out, size_t cap)
{
    size_t n = 0;
    const char *v = gw_stream_header(s, name, &n);

    if (!v) {
        out[0] = '\0';
        return true;
    }
    if (n >= cap)
        return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* A device's own photos: the request is signed as an upload is (docs/api.md), so a device sees
 * only what its key sent. */
static void own_photos(struct gw_stream *s, const char *path)
{
    struct gw_upload_auth a = {0};
    struct own_photos *o;
    const char *why = NULL;
    int err;

    snprintf(a.path, sizeof(a.path), "%s", path);
    if (!copy_header(s, "signature-input", a.signature_input, sizeof(a.signature_input)) ||
        !copy_header(s, "signature", a.signature, sizeof(a.signature)) ||
        !copy_header(s, "content-digest", a.content_digest, sizeof(a.content_digest))) {
        gw_stream_problem(s, GW_E_BAD_SIGNATURE, "a signature field is too long");
        return;
    }
    if (!a.signature_input[0]) {
        gw_stream_problem(s, GW_E_SIGNATURE_REQUIRED, "sign the request as an upload is signed");
        return;
    }
    o = calloc(1, sizeof(*o));
    if (!o) {
        gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return;
    }
    err = gw_devices_check_get(s->worker->app->devices, &a, o->device_id, &why);
    if (err) {
        free(o);
        gw_stream_problem(s, err, why);
        return;
    }
    o->s = s;
    gw_stream_ref(s);
    gw_pool_submit(&s->worker->app->db, &s->worker->loop, &o->work, own_work, own_done);
}

bool gw_enrol_route(struct gw_stream *s, const char *path)
{
    bool get = strcmp(s->method, "GET") == 0;

    if (strcmp(path, "/v1/devices") == 0) {
        if (strcmp(s->method, "POST") != 0) {
            gw_stream_problem(s, GW_E_METHOD, "allowed: POST");
            return true;
        }
        gw_stream_read_body(s, ENROL_BODY_MAX, enrol_body);
        return true;
    }
    if (strcmp(path, "/v1/devices/self/photos") == 0) {
        if (!get)
            gw_stream_problem(s, GW_E_METHOD, "allowed: GET");
        else
            own_photos(s, path);
        return true;
    }
    if (strcmp(path, "/v1/gateway-key") == 0) {
        const struct gw_key *k = s->worker->app->key;
        char b64[GW_KEY_PUB_B64 + 1], *body;
        json_t *o;

        if (!get) {
            gw_stream_problem(s, GW_E_METHOD, "allowed: GET");
            return true;
        }
        gw_b64_encode(k->pub, GW_KEY_PUB_LEN, b64);
        o = json_pack("{s:s, s:s, s:s}", "algorithm", "ed25519", "public_key", b64, "fingerprint",
                      k->fingerprint);
        body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (body)
            gw_stream_respond(s, 200, "application/json", (uint8_t *)body, strlen(body), NULL, 0);
        else
            gw_stream_problem(s, GW_E_INTERNAL, NULL);
        return true;
    }
    return false;
}
