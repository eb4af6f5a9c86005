#include "gw_sig.h"

#include <stdio.h>
#include <string.h>

/* ---- a tiny RFC 8941 reader over a bounded buffer ---- */

struct rd {
    const char *p, *end;
};

static void ows(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t'))
        r->p++;
}

static bool is_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static int key(struct rd *r, char *out, size_t cap)
{
    size_t n = 0;

    if (r->p >= r->end || !(is_lcalpha(*r->p) || *r->p == '*'))
        return -1;
    while (r->p < r->end && (is_lcalpha(*r->p) || is_digit(*r->p) || strchr("_-.*", *r->p))) {
        if (n + 1 >= cap)
            return -1;
        out[n++] = *r->p++;
    }
    out[n] = '\0';
    return 0;
}

/* sf-string, without escapes beyond \" and \\ */
static int string(struct rd *r, char *out, size_t cap)
{
    size_t n = 0;

    if (r->p >= r->end || *r->p != '"')
        return -1;
    r->p++;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;

        if (c == '\\') {
            if (r->p >= r->end || (*r->p != '"' && *r->p != '\\'))
                return -1;
            c = *r->p++;
        } else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
            return -1;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    if (r->p >= r->end)
        return -1;
    r->p++;
    out[n] = '\0';
    return 0;
}

static int integer(struct rd *r, int64_t *ret)
{
    int64_t v = 0;
    int digits = 0;
    bool neg = false;

    if (r->p < r->end && *r->p == '-') {
        neg = true;
        r->p++;
    }
    while (r->p < r->end && is_digit(*r->p)) {
        if (++digits > 15)
            return -1;
        v = v * 10 + (*r->p++ - '0');
    }
    if (!digits)
        return -1;
    *ret = neg ? -v : v;
    return 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* sf-binary ":base64:" into exactly |want| bytes */
static int binary(struct rd *r, uint8_t *out, size_t want)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    if (r->p >= r->end || *r->p != ':')
        return -1;
    r->p++;
    while (r->p < r->end && *r->p != ':' && *r->p != '=') {
        int v = b64val(*r->p++);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == want)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    while (r->p < r->end && *r->p == '=')
        r->p++;
    if (r->p >= r->end || *r->p != ':' || n != want)
        return -1;
    r->p++;
    return 0;
}

/* Skips one bare item or inner list (for members we do not use). */
static int skip_item(struct rd *r)
{
    char tmp[GW_SIG_PARAMS_MAX];
    uint8_t bin[256];
    int64_t i;

    if (r->p >= r->end)
        return -1;
    if (*r->p == '"')
        return string(r, tmp, sizeof(tmp));
    if (*r->p == ':') {
        const char *close = memchr(r->p + 1, ':', (size_t)(r->end - r->p - 1));

        (void)bin;
        if (!close)
            return -1;
        r->p = close + 1;
        return 0;
    }
    if (*r->p == '(') {
        r->p++;
        for (;;) {
            ows(r);
            if (r->p < r->end && *r->p == ')') {
                r->p++;
                return 0;
            }
            if (skip_item(r) < 0)
                return -1;
        }
    }
    if (*r->p == '-' || is_digit(*r->p))
        return integer(r, &i);
    if (*r->p == '?') {
        r->p += 2;
        return r->p <= r->end ? 0 : -1;
    }
    return key(r, tmp, sizeof(tmp)); /* a token */
}

/* Skips ";key[=item]" parameters. */
static int skip_params(struct rd *r)
{
    char k[64];

    while (r->p < r->end && *r->p == ';') {
        r->p++;
        ows(r);
        if (key(r, k, sizeof(k)) < 0)
            return -1;
        if (r->p < r->end && *r->p == '=') {
            r->p++;
            if (skip_item(r) < 0)
                return -1;
        }
    }
    return 0;
}

/* Moves past the ", " between dictionary members. Returns 1 at the end, 0 for more, -1 bad. */
static int next_member(struct rd *r)
{
    ows(r);
    if (r->p >= r->end)
        return 1;
    if (*r->p != ',')
        return -1;
    r->p++;
    ows(r);
    return r->p < r->end ? 0 : -1;
}

/* ---- Signature-Input ---- */

int gw_sig_parse_input(const char *hdr, size_t len, struct gw_sig_input *ret, const char **ret_why)
{
    struct rd r = {hdr, hdr + len};
    const char *start;
    char k[64];
    size_t n;

    memset(ret, 0, sizeof(*ret));
    ret->created = ret->expires = -1;
    ows(&r);
    if (key(&r, ret->label, sizeof(ret->label)) < 0 || r.p >= r.end || *r.p != '=') {
        *ret_why = "Signature-Input: expected a label";
        return -1;
    }
    r.p++;
    start = r.p;
    if (r.p >= r.end || *r.p != '(') {
        *ret_why = "Signature-Input: expected an inner list of components";
        return -1;
    }
    r.p++;
    for (;;) {
        while (r.p < r.end && *r.p == ' ')
            r.p++;
        if (r.p < r.end && *r.p == ')') {
            r.p++;
            break;
        }
        if (ret->ncomponents == GW_SIG_MAX_COMPONENTS ||
            string(&r, ret->components[ret->ncomponents], sizeof(ret->components[0])) < 0) {
            *ret_why = "Signature-Input: bad component list";
            return -1;
        }
        /* Component parameters (;sf, ;key, ;req ...) change what is signed: not supported. */
        if (r.p < r.end && *r.p == ';') {
            *ret_why = "Signature-Input: component parameters are not supported";
            return -1;
        }
        ret->ncomponents++;
    }
    while (r.p < r.end && *r.p == ';') {
        r.p++;
        if (key(&r, k, sizeof(k)) < 0 || r.p >= r.end || *r.p != '=') {
            *ret_why = "Signature-Input: bad parameter";
            return -1;
        }
        r.p++;
        if (strcmp(k, "created") == 0 || strcmp(k, "expires") == 0) {
            if (integer(&r, strcmp(k, "created") == 0 ? &ret->created : &ret->expires) < 0) {
                *ret_why = "Signature-Input: created and expires are integers";
                return -1;
            }
        } else if (strcmp(k, "nonce") == 0 || strcmp(k, "keyid") == 0 || strcmp(k, "alg") == 0 ||
                   strcmp(k, "tag") == 0) {
            char tmp[GW_SIG_TOKEN_MAX];
            char *dst = strcmp(k, "nonce") == 0   ? ret->nonce
                        : strcmp(k, "keyid") == 0 ? ret->keyid
                        : strcmp(k, "alg") == 0   ? ret->alg
                                                  : tmp;
            size_t cap = dst == ret->alg ? sizeof(ret->alg) : GW_SIG_TOKEN_MAX;

            if (string(&r, dst, cap) < 0) {
                *ret_why = "Signature-Input: nonce, keyid, alg and tag are strings";
                return -1;
            }
        } else {
            *ret_why = "Signature-Input: unknown parameter";
            return -1;
        }
    }
    n = (size_t)(r.p - start);
    if (n >= sizeof(ret->params)) {
        *ret_why = "Signature-Input: too long";
        return -1;
    }
    memcpy(ret->params, start, n);
    ret->params[n] = '\0';
    return 0;
}

/* ---- Signature and Content-Digest: a dictionary member holding a byte sequence ---- */

enum member_rc { MEMBER_OK, MEMBER_MALFORMED, MEMBER_ABSENT, MEMBER_BAD_VALUE };

/* Finds dictionary member |name| of |hdr| and decodes its byte sequence of exactly |want| bytes. */
static enum member_rc binary_member(const char *hdr, size_t len, const char *name, uint8_t *out,
                                    size_t want)
{
    struct rd r = {hdr, hdr + len};
    char k[GW_SIG_TOKEN_MAX];

    ows(&r);
    for (;;) {
        int m;

        if (key(&r, k, sizeof(k)) < 0 || r.p >= r.end || *r.p != '=')
            return MEMBER_MALFORMED;
        r.p++;
        if (strcmp(k, name) == 0)
            return binary(&r, out, want) < 0 ? MEMBER_BAD_VALUE : MEMBER_OK;
        if (skip_item(&r) < 0 || skip_params(&r) < 0 || (m = next_member(&r)) < 0)
            return MEMBER_MALFORMED;
        if (m == 1)
            return MEMBER_ABSENT;
    }
}

int gw_sig_parse_signature(const char *hdr, size_t len, const char *label, uint8_t *ret_sig,
                           const char **ret_why)
{
    static const char *const why[] = {
        [MEMBER_MALFORMED] = "Signature: malformed",
        [MEMBER_ABSENT] = "Signature: no member with the Signature-Input label",
        [MEMBER_BAD_VALUE] = "Signature: not a 64-byte base64 byte sequence",
    };
    enum member_rc rc = binary_member(hdr, len, label, ret_sig, 64);

    if (rc == MEMBER_OK)
        return 0;
    *ret_why = why[rc];
    return -1;
}

int gw_sig_parse_digest(const char *hdr, size_t len, uint8_t *ret_sha, const char **ret_why)
{
    static const char *const why[] = {
        [MEMBER_MALFORMED] = "Content-Digest: malformed",
        [MEMBER_ABSENT] = "Content-Digest: no sha-256 member",
        [MEMBER_BAD_VALUE] = "Content-Digest: sha-256 is not a 32-byte base64 byte sequence",
    };
    enum member_rc rc = binary_member(hdr, len, "sha-256", ret_sha, 32);

    if (rc == MEMBER_OK)
        return 0;
    *ret_why = why[rc];
    return -1;
}

void gw_sig_digest_value(const uint8_t *sha, char *out, size_t cap)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char b64[48];
    size_t o = 0;

    for (size_t i = 0; i < 32; i += 3) {
        uint32_t v = (uint32_t)sha[i] << 16 | (i + 1 < 32 ? (uint32_t)sha[i + 1] << 8 : 0) |
                     (i + 2 < 32 ? sha[i + 2] : 0);

        b64[o++] = tab[v >> 18 & 63];
        b64[o++] = tab[v >> 12 & 63];
        b64[o++] = i + 1 < 32 ? tab[v >> 6 & 63] : '=';
        b64[o++] = i + 2 < 32 ? tab[v & 63] : '=';
    }
    b64[o] = '\0';
    snprintf(out, cap, "sha-256=:%s:", b64);
}

/* ---- the signature base ---- */

int gw_sig_base(const struct gw_sig_input *in, const struct gw_sig_request *req, char *out,
                size_t cap, const char **ret_why)
{
    size_t len = 0;

    for (unsigned i = 0; i < in->ncomponents; i++) {
        const char *c = in->components[i], *v;
        int n;

        if (strcmp(c, "@method") == 0)
            v = req->method;
        else if (strcmp(c, "@path") == 0)
            v = req->path;
        else if (strcmp(c, "@authority") == 0)
            v = req->authority;
        else if (strcmp(c, "content-digest") == 0)
            v = req->content_digest;
        else if (strcmp(c, "content-type") == 0)
            v = req->content_type;
        else if (strcmp(c, "content-length") == 0)
            v = req->content_length;
        else {
            *ret_why = "a covered component is not supported";
            return -1;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(in->components[j], c) == 0) {
                *ret_why = "a component is covered twice";
                return -1;
            }
        }
        if (!v) {
            *ret_why = "a covered component is missing from the request";
            return -1;
        }
        n = snprintf(out + len, cap - len, "\"%s\": %s\n", c, v);
        if (n < 0 || (size_t)n >= cap - len) {
            *ret_why = "signature base too long";
            return -1;
        }
        len += (size_t)n;
    }
    {
        int n = snprintf(out + len, cap - len, "\"@signature-params\": %s", in->params);

        if (n < 0 || (size_t)n >= cap - len) {
            *ret_why = "signature base too long";
            return -1;
        }
        len += (size_t)n;
    }
    return (int)len;
}

int gw_sig_make_input(int64_t created, const char *nonce, const char *keyid, char *out, size_t cap,
                      struct gw_sig_input *ret)
{
    const char *why;
    int n = snprintf(out, cap,
                     "sig1=(\"@method\" \"@path\" \"content-digest\");created=%lld;nonce=\"%s\";"
                     "keyid=\"%s\";alg=\"ed25519\"",
                     (long long)created, nonce, keyid);

    if (n < 0 || (size_t)n >= cap)
        return -1;
    return gw_sig_parse_input(out, (size_t)n, ret, &why);
}
