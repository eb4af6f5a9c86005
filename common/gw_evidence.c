#include "gw_evidence.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_sig.h"

size_t gw_checkpoint_text(const struct gw_checkpoint *c, char *buf, size_t cap)
{
    int n;

    if (c->version == 1)
        n = snprintf(buf, cap, "prep-casilla checkpoint v1\nlength=%llu\nhead=%s\ntime=%s\n",
                     (unsigned long long)c->length, c->head, c->time);
    else
        n = snprintf(buf, cap,
                     "prep-casilla checkpoint v2\nlength=%llu\nhead=%s\nroot=%s\ntime=%s\n",
                     (unsigned long long)c->length, c->head, c->root, c->time);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t gw_checkpoint_sign(struct gw_checkpoint *c, const struct gw_key *k, char *buf, size_t cap)
{
    uint8_t sig[GW_KEY_SIG_LEN];
    size_t len = gw_checkpoint_text(c, buf, cap);
    int n;

    if (len == 0 || gw_key_sign(k, buf, len, sig) < 0)
        return 0;
    memcpy(c->gateway_key, k->fingerprint, sizeof(c->gateway_key));
    gw_b64_encode(sig, sizeof(sig), c->signature);
    n = snprintf(buf + len, cap - len, "gateway_key=%s\nsignature=%s\n", c->gateway_key,
                 c->signature);
    return n < 0 || (size_t)n >= cap - len ? 0 : len + (size_t)n;
}

/* The value of line "|name|=" at |*p| (|end|), copied into |dst| (|cap|); advances |*p|. */
static int line(const char **p, const char *end, const char *name, char *dst, size_t cap)
{
    size_t n = strlen(name);
    const char *nl;

    if ((size_t)(end - *p) <= n || memcmp(*p, name, n) != 0 || (*p)[n] != '=')
        return -EINVAL;
    *p += n + 1;
    nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) >= cap)
        return -EINVAL;
    memcpy(dst, *p, (size_t)(nl - *p));
    dst[nl - *p] = '\0';
    *p = nl + 1;
    return 0;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != GW_SHA256_HEX_LEN)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

const char *gw_checkpoint_verify(const char *buf, size_t len, const struct gw_key *k,
                                 struct gw_checkpoint *ret)
{
    static const char v1[] = "prep-casilla checkpoint v1\n", v2[] = "prep-casilla checkpoint v2\n";
    struct gw_checkpoint c = {0};
    const char *p = buf, *end = buf + len;
    char num[24], text[GW_CHECKPOINT_TEXT_MAX], *e = NULL;
    uint8_t sig[GW_KEY_SIG_LEN];
    size_t n;

    if (len > sizeof(v2) - 1 && memcmp(buf, v2, sizeof(v2) - 1) == 0)
        c.version = 2;
    else if (len > sizeof(v1) - 1 && memcmp(buf, v1, sizeof(v1) - 1) == 0)
        c.version = 1;
    else
        return "it is not a prep-casilla checkpoint";
    p += sizeof(v2) - 1;
    if (line(&p, end, "length", num, sizeof(num)) < 0 || !num[0] || num[0] == '-' ||
        line(&p, end, "head", c.head, sizeof(c.head)) < 0 ||
        (c.version == 2 && line(&p, end, "root", c.root, sizeof(c.root)) < 0) ||
        line(&p, end, "time", c.time, sizeof(c.time)) < 0 ||
        line(&p, end, "gateway_key", c.gateway_key, sizeof(c.gateway_key)) < 0 ||
        line(&p, end, "signature", c.signature, sizeof(c.signature)) < 0 || p != end)
        return "its lines are not those of a checkpoint";
    errno = 0;
    c.length = strtoull(num, &e, 10);
    if (errno || *e || (c.length > 0 && !is_hex64(c.head)) || (c.version == 2 && !is_hex64(c.root)))
        return "its length or hashes are malformed";
    if (strcmp(c.gateway_key, k->fingerprint) != 0)
        return "it names another gateway key";
    n = gw_checkpoint_text(&c, text, sizeof(text));
    if (n == 0 || gw_b64_decode(c.signature, sig, sizeof(sig)) != GW_KEY_SIG_LEN ||
        !gw_key_verify(k, text, n, sig))
        return "the gateway's signature over it does not verify";
    if (ret)
        *ret = c;
    return NULL;
}

char *gw_sigrec_json(const struct gw_sigrec *r, size_t *ret_len)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "method", r->method, "path", r->path,
                          "signature-input", r->signature_input, "signature", r->signature,
                          "content-digest", r->content_digest);
    char *s;

    if (!o)
        return NULL;
    if (r->relay[0] && json_object_set_new(o, "prep-relay", json_string(r->relay)) < 0) {
        json_decref(o);
        return NULL;
    }
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s)
        *ret_len = strlen(s);
    return s;
}

static int get(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));

    if (!s || strlen(s) >= cap)
        return -EINVAL;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int gw_sigrec_parse(const char *buf, size_t len, struct gw_sigrec *ret)
{
    json_t *o = json_loadb(buf, len, 0, NULL);
    int r = -EINVAL;

    if (!o)
        return -EINVAL;
    if (get(o, "method", ret->method, sizeof(ret->method)) == 0 &&
        get(o, "path", ret->path, sizeof(ret->path)) == 0 &&
        get(o, "signature-input", ret->signature_input, sizeof(ret->signature_input)) == 0 &&
        get(o, "signature", ret->signature, sizeof(ret->signature)) == 0 &&
        get(o, "content-digest", ret->content_digest, sizeof(ret->content_digest)) == 0)
        r = 0;
    ret->relay[0] = '\0';
    if (r == 0 && json_object_get(o, "prep-relay"))
        r = get(o, "prep-relay", ret->relay, sizeof(ret->relay));
    json_decref(o);
    return r;
}

const char *gw_sigrec_verify(const struct gw_sigrec *r, const struct gw_key *device,
                             const uint8_t *sha, char *ret_keyid, int64_t *ret_created)
{
    struct gw_sig_input in;
    struct gw_sig_request req = {
        .method = r->method, .path = r->path, .content_digest = r->content_digest};
    uint8_t sig[GW_KEY_SIG_LEN], digest[32];
    bool covers[3] = {false, false, false};
    char base[2048];
    const char *why = NULL;
    int n;

    if (gw_sig_parse_input(r->signature_input, strlen(r->signature_input), &in, &why) < 0 ||
        gw_sig_parse_signature(r->signature, strlen(r->signature), in.label, sig, &why) < 0)
        return why;
    for (unsigned i = 0; i < in.ncomponents; i++) {
        covers[0] |= strcmp(in.components[i], "@method") == 0;
        covers[1] |= strcmp(in.components[i], "@path") == 0;
        covers[2] |= strcmp(in.components[i], "content-digest") == 0;
    }
    if (!covers[0] || !covers[1] || !covers[2])
        return "the signature does not cover @method, @path and content-digest";
    if (in.alg[0] && strcmp(in.alg, "ed25519") != 0)
        return "the signature's alg is not ed25519";
    if (gw_sig_parse_digest(r->content_digest, strlen(r->content_digest), digest, &why) < 0)
        return why;
    if (memcmp(digest, sha, 32) != 0)
        return "Content-Digest is not the SHA-256 of the photo";
    n = gw_sig_base(&in, &req, base, sizeof(base), &why);
    if (n < 0)
        return why;
    if (!gw_key_verify(device, base, (size_t)n, sig))
        return "the device's Ed25519 signature does not verify";
    snprintf(ret_keyid, GW_SIG_TOKEN_MAX, "%s", in.keyid);
    *ret_created = in.created;
    return NULL;
}
