#include "gw_receipt.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_keys.h"

void gw_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int gw_photo_id(const char *clave, const char *sha256_hex, char *ret)
{
    static const char domain[] = "prep-casilla/photo/v1\n";
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[33];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, domain, sizeof(domain) - 1) == 1 &&
         EVP_DigestUpdate(ctx, clave, strlen(clave)) == 1 && EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
         EVP_DigestUpdate(ctx, sha256_hex, strlen(sha256_hex)) == 1 &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -ENOMEM;
    md[6] = (uint8_t)((md[6] & 0x0f) | 0x80); /* version 8: custom (RFC 9562) */
    md[8] = (uint8_t)((md[8] & 0x3f) | 0x80); /* variant 10 */
    gw_hex(md, 16, hex);
    snprintf(ret, GW_PHOTO_ID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return 0;
}

int gw_photo_id_valid(const char *s, size_t len)
{
    if (len != GW_PHOTO_ID_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

void gw_rfc3339(const struct timespec *ts, char *ret)
{
    struct tm tm;
    char date[20], buf[48];
    int off, ms = (int)(ts->tv_nsec / 1000000L) % 1000;

    localtime_r(&ts->tv_sec, &tm);
    if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) != 19)
        memcpy(date, "0000-00-00T00:00:00", 20);
    off = (int)(tm.tm_gmtoff / 60) % (24 * 60);
    /* Every field is range-limited above, so the text is exactly GW_TIME_LEN characters. */
    snprintf(buf, sizeof(buf), "%.19s.%03d%c%02d:%02d", date, ms, off < 0 ? '-' : '+',
             abs(off) / 60 % 100, abs(off) % 60);
    memcpy(ret, buf, GW_TIME_LEN + 1);
}

size_t gw_receipt_text(const struct gw_receipt *r, char *buf, size_t cap)
{
    const struct gw_receipt_legibility *l = &r->legibility;
    int n = snprintf(buf, cap,
                     "prep-casilla receipt v1\nphoto_id=%s\nclave=%s\nsha256=%s\nbytes=%llu\n"
                     "received_at=%s\ndevice=%s\nledger_seq=%llu\nledger_hash=%s\n",
                     r->photo_id, r->clave, r->sha256, (unsigned long long)r->bytes, r->received_at,
                     r->device, (unsigned long long)r->ledger_seq, r->ledger_hash);

    if (n >= 0 && (size_t)n < cap && l->present) {
        int m = snprintf(buf + n, cap - (size_t)n,
                         "legibility=%s\nlegibility_reasons=%s\nlegibility_reason=%s\n"
                         "legibility_measures=focus:%.3f,luma:%.3f,clipped:%.3f,glare:%.3f,"
                         "coverage:%.3f\n",
                         l->ok ? "ok" : "retake", l->reasons, l->reason, l->focus, l->luma,
                         l->clipped, l->glare, l->coverage);

        n = m < 0 ? -1 : n + m;
    }
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static double round3(double v)
{
    /* A correctly rounded division: the nearest double to the 3-decimal value, the one that
     * strtod() gives for its JSON text. */
    return round(v * 1000.0) / 1000.0;
}

void gw_receipt_set_measures(struct gw_receipt_legibility *l, double focus, double luma,
                             double clipped, double glare, double coverage)
{
    l->focus = round3(focus);
    l->luma = round3(luma);
    l->clipped = round3(clipped);
    l->glare = round3(glare);
    l->coverage = round3(coverage);
}

static json_t *legibility_json(const struct gw_receipt_legibility *l)
{
    json_t *reasons = json_array();

    for (const char *p = l->reasons; *p;) {
        size_t n = strcspn(p, ",");

        if (n)
            json_array_append_new(reasons, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return json_pack("{s:s, s:o, s:s, s:{s:f, s:f, s:f, s:f, s:f}}", "verdict",
                     l->ok ? "ok" : "retake", "reasons", reasons, "reason", l->reason, "measures",
                     "focus", l->focus, "luma", l->luma, "clipped", l->clipped, "glare", l->glare,
                     "coverage", l->coverage);
}

/* Reads the "legibility" member of a receipt; an absent one leaves |ret| not present. */
static int legibility_parse(json_t *o, struct gw_receipt_legibility *ret)
{
    static const char *const names[] = {"focus", "luma", "clipped", "glare", "coverage"};
    double *vals[] = {&ret->focus, &ret->luma, &ret->clipped, &ret->glare, &ret->coverage};
    const char *verdict = json_string_value(json_object_get(o, "verdict"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    json_t *reasons = json_object_get(o, "reasons"), *m = json_object_get(o, "measures"), *v;
    size_t i, used = 0;

    if (!o)
        return 0;
    if (!verdict || (strcmp(verdict, "ok") != 0 && strcmp(verdict, "retake") != 0) || !reason ||
        strlen(reason) >= sizeof(ret->reason) || !json_is_array(reasons) || !json_is_object(m))
        return -EINVAL;
    ret->ok = strcmp(verdict, "ok") == 0;
    memcpy(ret->reason, reason, strlen(reason) + 1);
    json_array_foreach(reasons, i, v)
    {
        const char *t = json_string_value(v);
        size_t n = t ? strlen(t) : 0;

        if (!n || strchr(t, ',') || used + n + (i > 0) >= sizeof(ret->reasons))
            return -EINVAL;
        if (i > 0)
            ret->reasons[used++] = ',';
        memcpy(ret->reasons + used, t, n + 1);
        used += n;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        v = json_object_get(m, names[i]);
        if (!json_is_number(v))
            return -EINVAL;
        *vals[i] = json_number_value(v);
    }
    ret->present = true;
    return 0;
}

char *gw_receipt_json(const struct gw_receipt *r, const char *status, size_t *ret_len)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:i, s:s}", "photo_id", r->photo_id,
                          "clave_acta", r->clave, "sha256", r->sha256, "bytes",
                          (json_int_t)r->bytes, "received_at", r->received_at, "width",
                          (int)r->width, "height", (int)r->height, "status", status);
    char *s;

    if (!o)
        return NULL;
    if (r->device[0])
        json_object_set_new(o, "device", json_string(r->device));
    if (r->ledger_seq > 0) {
        json_object_set_new(o, "ledger",
                            json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)r->ledger_seq, "prev",
                                      r->ledger_prev, "hash", r->ledger_hash));
        json_object_set_new(o, "gateway_key", json_string(r->gateway_key));
        json_object_set_new(o, "signature", json_string(r->signature));
    }
    if (r->legibility.present)
        json_object_set_new(o, "legibility", legibility_json(&r->legibility));
    if (r->request_id[0])
        json_object_set_new(o, "request_id", json_string(r->request_id));
    /* Measures carry 3 decimals (gw_receipt_set_measures): 12 significant digits print them as
     * written, and strtod() reads back the very doubles that were signed. */
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (s && ret_len)
        *ret_len = strlen(s);
    return s;
}

static int copy_str(json_t *o, const char *key, char *dst, size_t cap, size_t exact)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n;

    if (!s)
        return -EINVAL;
    n = strlen(s);
    if (n >= cap || (exact && n != exact))
        return -EINVAL;
    memcpy(dst, s, n + 1);
    return 0;
}

int gw_receipt_parse(const char *buf, size_t len, struct gw_receipt *ret)
{
    json_t *o = json_loadb(buf, len, 0, NULL);
    json_t *b;
    int r = -EINVAL;

    if (!o)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    if (copy_str(o, "photo_id", ret->photo_id, sizeof(ret->photo_id), GW_PHOTO_ID_LEN) < 0 ||
        copy_str(o, "clave_acta", ret->clave, sizeof(ret->clave), 0) < 0 ||
        copy_str(o, "sha256", ret->sha256, sizeof(ret->sha256), GW_SHA256_HEX_LEN) < 0 ||
        copy_str(o, "received_at", ret->received_at, sizeof(ret->received_at), 0) < 0)
        goto out;
    b = json_object_get(o, "bytes");
    if (!json_is_integer(b) || json_integer_value(b) < 0)
        goto out;
    ret->bytes = (uint64_t)json_integer_value(b);
    ret->width = (uint32_t)json_integer_value(json_object_get(o, "width"));
    ret->height = (uint32_t)json_integer_value(json_object_get(o, "height"));
    if (json_object_get(o, "request_id") &&
        copy_str(o, "request_id", ret->request_id, sizeof(ret->request_id), 0) < 0)
        goto out;
    if (json_object_get(o, "device") &&
        copy_str(o, "device", ret->device, sizeof(ret->device), 0) < 0)
        goto out;
    if (json_object_get(o, "ledger")) {
        json_t *l = json_object_get(o, "ledger");
        json_t *seq = json_object_get(l, "seq");

        if (!json_is_integer(seq) || json_integer_value(seq) <= 0 ||
            copy_str(l, "prev", ret->ledger_prev, sizeof(ret->ledger_prev), GW_SHA256_HEX_LEN) <
                0 ||
            copy_str(l, "hash", ret->ledger_hash, sizeof(ret->ledger_hash), GW_SHA256_HEX_LEN) <
                0 ||
            copy_str(o, "gateway_key", ret->gateway_key, sizeof(ret->gateway_key),
                     GW_SHA256_HEX_LEN) < 0 ||
            copy_str(o, "signature", ret->signature, sizeof(ret->signature), 0) < 0)
            goto out;
        ret->ledger_seq = (uint64_t)json_integer_value(seq);
    }
    if (legibility_parse(json_object_get(o, "legibility"), &ret->legibility) < 0)
        goto out;
    r = 0;
out:
    json_decref(o);
    return r;
}

const char *gw_receipt_verify(const char *buf, size_t len, const struct gw_key *k,
                              struct gw_receipt *ret)
{
    char text[GW_RECEIPT_TEXT_MAX], id[GW_PHOTO_ID_LEN + 1];
    uint8_t sig[GW_KEY_SIG_LEN + 2];
    struct gw_receipt r;
    size_t n;

    if (gw_receipt_parse(buf, len, &r) < 0)
        return "not a receipt (malformed JSON or fields)";
    if (ret)
        *ret = r;
    if (r.ledger_seq == 0 || !r.signature[0])
        return "the receipt carries no signature";
    if (strcmp(r.gateway_key, k->fingerprint) != 0)
        return "signed by another key than the one given";
    if (gw_photo_id(r.clave, r.sha256, id) < 0 || strcmp(id, r.photo_id) != 0)
        return "photo_id does not match clave_acta and sha256";
    if (gw_b64_decode(r.signature, sig, sizeof(sig)) != GW_KEY_SIG_LEN)
        return "malformed signature";
    n = gw_receipt_text(&r, text, sizeof(text));
    if (!gw_key_verify(k, text, n, sig))
        return "the signature does not match the receipt's fields";
    return NULL;
}

int gw_receipt_verify_file(const char *path, const struct gw_key *k, char *why, size_t cap)
{
    char *buf = malloc(GW_RECEIPT_FILE_MAX);
    const char *bad;
    FILE *f;
    size_t len;

    if (!buf) {
        snprintf(why, cap, "could not read %s: %s", path, strerror(ENOMEM));
        return -EINVAL;
    }
    f = fopen(path, "rb");
    if (!f) {
        snprintf(why, cap, "could not read %s: %s", path, strerror(errno));
        free(buf);
        return -EINVAL;
    }
    len = fread(buf, 1, GW_RECEIPT_FILE_MAX, f);
    fclose(f);
    bad = len == GW_RECEIPT_FILE_MAX ? "not a receipt (malformed JSON or fields)"
                                     : gw_receipt_verify(buf, len, k, NULL);
    free(buf);
    if (!bad)
        return 0;
    snprintf(why, cap, "%s", bad);
    return -EINVAL;
}
