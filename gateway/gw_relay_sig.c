#include "gw_relay_sig.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_relay_edge_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= GW_RELAY_EDGE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return 0;
    return 1;
}

int gw_relay_sig_text(const struct gw_relay_claim *c, const char *sha_hex, const char *phone_sig,
                      char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "prep-relay/1\nedge: %s\nseq: %" PRIu64 "\nhash: %s\nsha256: %s\n"
                     "signature: %s\n",
                     c->edge, c->seq, c->hash, sha_hex, phone_sig);

    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int gw_relay_sig_make(struct gw_relay_claim *c, const struct gw_key *k, const char *sha_hex,
                      const char *phone_sig, char *out)
{
    char text[1024], b64[GW_KEY_SIG_B64 + 1];
    int n = gw_relay_sig_text(c, sha_hex, phone_sig, text, sizeof(text));

    if (n < 0 || gw_key_sign(k, text, (size_t)n, c->sig) < 0)
        return -1;
    gw_b64_encode(c->sig, GW_KEY_SIG_LEN, b64);
    n = snprintf(out, GW_RELAY_HDR_MAX,
                 "edge=\"%s\", seq=%" PRIu64 ", hash=\"%s\", sig=:%s:", c->edge, c->seq, c->hash,
                 b64);
    return n < 0 || n >= GW_RELAY_HDR_MAX ? -1 : 0;
}

/* Reads `name=` at |*p|, then a value up to one of |stops|, into |out| (|cap| bytes). */
static int member(const char **p, const char *name, char open, char close, char *out, size_t cap)
{
    size_t nl = strlen(name), len;
    const char *end;

    while (**p == ' ')
        (*p)++;
    if (strncmp(*p, name, nl) != 0 || (*p)[nl] != '=')
        return -1;
    *p += nl + 1;
    if (open) {
        if (**p != open)
            return -1;
        (*p)++;
        end = strchr(*p, close);
    } else {
        end = *p + strspn(*p, "0123456789");
    }
    if (!end)
        return -1;
    len = (size_t)(end - *p);
    if (len == 0 || len >= cap)
        return -1;
    memcpy(out, *p, len);
    out[len] = '\0';
    *p = end + (open ? 1 : 0);
    while (**p == ' ')
        (*p)++;
    if (**p == ',')
        (*p)++;
    return 0;
}

static int is_hex64(const char *s)
{
    return strlen(s) == GW_SHA256_HEX_LEN && strspn(s, "0123456789abcdef") == GW_SHA256_HEX_LEN;
}

int gw_relay_sig_parse(const char *hdr, struct gw_relay_claim *ret, const char **ret_why)
{
    const char *p = hdr;
    char seq[24], sig[GW_KEY_SIG_B64 + 4];
    uint8_t raw[GW_KEY_SIG_LEN + 2];
    char *end;

    memset(ret, 0, sizeof(*ret));
    if (member(&p, "edge", '"', '"', ret->edge, sizeof(ret->edge)) < 0 ||
        !gw_relay_edge_name_valid(ret->edge)) {
        *ret_why = "Prep-Relay: edge=\"NAME\" must come first";
        return -1;
    }
    if (member(&p, "seq", 0, 0, seq, sizeof(seq)) < 0 || seq[0] == '0') {
        *ret_why = "Prep-Relay: seq=N (from 1) must follow edge";
        return -1;
    }
    errno = 0;
    ret->seq = strtoull(seq, &end, 10);
    if (errno || *end) {
        *ret_why = "Prep-Relay: seq is out of range";
        return -1;
    }
    if (member(&p, "hash", '"', '"', ret->hash, sizeof(ret->hash)) < 0 || !is_hex64(ret->hash)) {
        *ret_why = "Prep-Relay: hash=\"<64 lowercase hex>\" must follow seq";
        return -1;
    }
    if (member(&p, "sig", ':', ':', sig, sizeof(sig)) < 0 || *p != '\0' ||
        gw_b64_decode(sig, raw, sizeof(raw)) != GW_KEY_SIG_LEN) {
        *ret_why = "Prep-Relay: sig=:<base64 Ed25519 signature>: must come last";
        return -1;
    }
    memcpy(ret->sig, raw, GW_KEY_SIG_LEN);
    return 0;
}

int gw_relay_trust_load(const char *path, struct gw_relay_trust *ret, char *why, size_t cap)
{
    FILE *f = fopen(path, "re");
    char line[512];
    unsigned lineno = 0;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    if (!f) {
        r = -errno;
        snprintf(why, cap, "%s: %s", path, strerror(errno));
        return r;
    }
    while (r == 0 && fgets(line, sizeof(line), f)) {
        char name[GW_RELAY_EDGE_MAX + 1], key[128], extra[2];
        uint8_t pub[GW_KEY_PUB_LEN + 2];
        int got;

        lineno++;
        line[strcspn(line, "#\r\n")] = '\0';
        got = sscanf(line, "%64s %127s %1s", name, key, extra);
        if (got <= 0)
            continue;
        if (got != 2 || !gw_relay_edge_name_valid(name) ||
            gw_b64_decode(key, pub, sizeof(pub)) != GW_KEY_PUB_LEN) {
            snprintf(why, cap, "%s:%u: expected `EDGE-NAME BASE64-PUBLIC-KEY`", path, lineno);
            r = -EINVAL;
        } else if (ret->n == sizeof(ret->v) / sizeof(ret->v[0])) {
            snprintf(why, cap, "%s:%u: more than %zu edges", path, lineno,
                     sizeof(ret->v) / sizeof(ret->v[0]));
            r = -EINVAL;
        } else {
            for (size_t i = 0; i < ret->n && r == 0; i++) {
                if (strcmp(ret->v[i].edge, name) == 0) {
                    snprintf(why, cap, "%s:%u: edge %s is listed twice", path, lineno, name);
                    r = -EINVAL;
                }
            }
            if (r == 0) {
                memcpy(ret->v[ret->n].edge, name, strlen(name) + 1); /* valid: < 64 */
                memcpy(ret->v[ret->n].pub, pub, GW_KEY_PUB_LEN);
                ret->n++;
            }
        }
    }
    fclose(f);
    return r;
}

int gw_relay_sig_check(const struct gw_relay_trust *t, const char *hdr, const char *sha_hex,
                       const char *phone_sig, struct gw_relay_claim *ret, const char **ret_why)
{
    struct gw_relay_claim c;
    struct gw_key key;
    char text[1024];
    const uint8_t *pub = NULL;
    bool ok;
    int n;

    if (gw_relay_sig_parse(hdr, &c, ret_why) < 0)
        return -1;
    for (size_t i = 0; t && i < t->n && !pub; i++)
        if (strcmp(t->v[i].edge, c.edge) == 0)
            pub = t->v[i].pub;
    if (!pub) {
        *ret_why = "this gateway does not trust that edge (--relay-trust)";
        return -1;
    }
    n = gw_relay_sig_text(&c, sha_hex, phone_sig, text, sizeof(text));
    if (n < 0 || gw_key_from_public(pub, &key) < 0) {
        *ret_why = "the relay claim cannot be checked";
        return -1;
    }
    ok = gw_key_verify(&key, text, (size_t)n, c.sig);
    gw_key_finish(&key);
    if (!ok) {
        *ret_why = "the edge's signature over Prep-Relay does not verify";
        return -1;
    }
    if (ret)
        *ret = c;
    return 0;
}
