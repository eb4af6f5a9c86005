#include "pu_bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_evidence.h"
#include "gw_file.h"
#include "gw_keys.h"
#include "gw_merkle.h"
#include "gw_receipt.h"
#include "gw_sig.h"
#include "gw_tar.h"

/* The bundle being checked: its members, the statement's list, what was proved so far. */
struct check {
    const char *path;
    struct gw_tar_member m[GW_TAR_MEMBERS_MAX];
    size_t n;
    struct listed {
        char name[GW_TAR_NAME_MAX + 1];
        char sha[GW_SHA256_HEX_LEN + 1];
        size_t len;
    } list[GW_TAR_MEMBERS_MAX];
    size_t nlist;
    char clave[GW_CLAVE_MAX + 1], created[GW_TIME_LEN + 1], fingerprint[GW_KEY_FP_LEN + 1];
    struct gw_key gateway;
    struct gw_checkpoint cp;
    char *proved; /* the lines printed when everything verifies */
    size_t proved_len;
    FILE *out;
};

/* Prints the verdict that |part| does not verify, and returns 1. */
__attribute__((format(printf, 3, 4))) static int fail(struct check *c, const char *part,
                                                      const char *fmt, ...)
{
    va_list ap;

    fprintf(c->out, "INVALID %s: %s: ", c->path, part);
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    fputc('\n', c->out);
    return 1;
}

/* Adds a line of what the bundle proves. */
__attribute__((format(printf, 2, 3))) static void say(struct check *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;
    char *grown;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    grown = realloc(c->proved, c->proved_len + (size_t)n + 2);
    if (!grown)
        return;
    c->proved = grown;
    memcpy(c->proved + c->proved_len, line, (size_t)n);
    c->proved_len += (size_t)n;
    c->proved[c->proved_len++] = '\n';
    c->proved[c->proved_len] = '\0';
}

static const struct gw_tar_member *member(const struct check *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->m[i].name, name) == 0)
            return &c->m[i];
    return NULL;
}

static void sha256_hex(const void *data, size_t len, char *ret)
{
    uint8_t md[32];
    unsigned n = 0;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof(md));
    gw_hex(md, sizeof(md), ret);
}

static int unhex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char b[3] = {hex[2 * i], hex[2 * i + 1], '\0'}, *end = NULL;

        out[i] = (uint8_t)strtoul(b, &end, 16);
        if (*end || !((b[0] >= '0' && b[0] <= '9') || (b[0] >= 'a' && b[0] <= 'f')))
            return -EINVAL;
    }
    return 0;
}

/* A "name=value\n" line at |*p| into |dst| (|cap| bytes); advances |*p|. */
static bool line(const char **p, const char *end, const char *name, char *dst, size_t cap)
{
    size_t n = strlen(name);
    const char *nl;

    if ((size_t)(end - *p) <= n || memcmp(*p, name, n) != 0 || (*p)[n] != '=')
        return false;
    *p += n + 1;
    nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl || (size_t)(nl - *p) >= cap || memchr(*p, '\0', (size_t)(nl - *p)))
        return false;
    memcpy(dst, *p, (size_t)(nl - *p));
    dst[nl - *p] = '\0';
    *p = nl + 1;
    return true;
}

/* evidence.txt: its header lines and the list of members. */
static int read_statement(struct check *c, const struct gw_tar_member *st)
{
    static const char head[] = "prep-casilla evidence v1\n";
    const char *p = (const char *)st->data, *end = p + st->len;
    char entry[GW_SHA256_HEX_LEN + GW_TAR_NAME_MAX + 32];

    if (st->len < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
        return fail(c, GW_EVIDENCE_STATEMENT, "it is not a prep-casilla evidence statement");
    p += sizeof(head) - 1;
    if (!line(&p, end, "clave", c->clave, sizeof(c->clave)) ||
        !line(&p, end, "created", c->created, sizeof(c->created)) ||
        !line(&p, end, "gateway_key", c->fingerprint, sizeof(c->fingerprint)))
        return fail(c, GW_EVIDENCE_STATEMENT, "its first lines are malformed");
    while (p < end) {
        struct listed *l = &c->list[c->nlist];
        char *sp, *sp2, *e = NULL;

        if (c->nlist == GW_TAR_MEMBERS_MAX || !line(&p, end, "member", entry, sizeof(entry)))
            return fail(c, GW_EVIDENCE_STATEMENT, "a member line is malformed");
        sp = strchr(entry, ' ');
        sp2 = sp ? strchr(sp + 1, ' ') : NULL;
        if (!sp || !sp2 || sp - entry != GW_SHA256_HEX_LEN)
            return fail(c, GW_EVIDENCE_STATEMENT, "a member line is malformed");
        memcpy(l->sha, entry, GW_SHA256_HEX_LEN);
        l->sha[GW_SHA256_HEX_LEN] = '\0';
        errno = 0;
        l->len = (size_t)strtoull(sp + 1, &e, 10);
        if (errno || e != sp2 || strlen(sp2 + 1) > GW_TAR_NAME_MAX)
            return fail(c, GW_EVIDENCE_STATEMENT, "a member line is malformed");
        snprintf(l->name, sizeof(l->name), "%s", sp2 + 1);
        c->nlist++;
    }
    return 0;
}

/* The statement, the gateway key, the signature, and every member against the list. */
static int check_integrity(struct check *c, const struct gw_key *pin)
{
    const struct gw_tar_member *st = member(c, GW_EVIDENCE_STATEMENT),
                               *sig = member(c, GW_EVIDENCE_SIGNATURE),
                               *pub = member(c, "keys/gateway.pub");
    uint8_t raw[GW_KEY_SIG_LEN + 1], key[GW_KEY_PUB_LEN + 1];
    char b64[GW_KEY_SIG_B64 + GW_KEY_PUB_B64 + 2];

    if (!st || !sig || !pub)
        return fail(c,
                    !st    ? GW_EVIDENCE_STATEMENT
                    : !sig ? GW_EVIDENCE_SIGNATURE
                           : "keys/gateway.pub",
                    "the member is missing");
    if (read_statement(c, st))
        return 1;
    if (pub->len != GW_KEY_PUB_B64 + 1 || pub->data[GW_KEY_PUB_B64] != '\n')
        return fail(c, "keys/gateway.pub", "it is not one line of base64");
    memcpy(b64, pub->data, GW_KEY_PUB_B64);
    b64[GW_KEY_PUB_B64] = '\0';
    if (gw_b64_decode(b64, key, sizeof(key)) != GW_KEY_PUB_LEN ||
        gw_key_from_public(key, &c->gateway) < 0)
        return fail(c, "keys/gateway.pub", "it is not a base64 Ed25519 public key");
    if (strcmp(c->gateway.fingerprint, c->fingerprint) != 0)
        return fail(c, "keys/gateway.pub",
                    "its fingerprint %s is not the gateway_key %s that " GW_EVIDENCE_STATEMENT
                    " names",
                    c->gateway.fingerprint, c->fingerprint);
    if (pin && strcmp(pin->fingerprint, c->gateway.fingerprint) != 0)
        return fail(c, "keys/gateway.pub",
                    "the bundle is signed with key %s, not with the gateway key given (%s)",
                    c->gateway.fingerprint, pin->fingerprint);
    if (sig->len != GW_KEY_SIG_B64 + 1 || sig->data[GW_KEY_SIG_B64] != '\n')
        return fail(c, GW_EVIDENCE_SIGNATURE, "it is not one line of base64");
    memcpy(b64, sig->data, GW_KEY_SIG_B64);
    b64[GW_KEY_SIG_B64] = '\0';
    if (gw_b64_decode(b64, raw, sizeof(raw)) != GW_KEY_SIG_LEN)
        return fail(c, GW_EVIDENCE_SIGNATURE, "it is not a base64 Ed25519 signature");
    if (!gw_key_verify(&c->gateway, st->data, st->len, raw))
        return fail(c, GW_EVIDENCE_STATEMENT " or " GW_EVIDENCE_SIGNATURE,
                    "the gateway's signature over the statement does not verify (one of "
                    "the two was changed)");
    for (size_t i = 0; i < c->n; i++) {
        const struct gw_tar_member *m = &c->m[i];
        const struct listed *l = NULL;
        char hex[GW_SHA256_HEX_LEN + 1];

        if (m == st || m == sig)
            continue;
        for (size_t j = 0; j < c->nlist && !l; j++)
            if (strcmp(c->list[j].name, m->name) == 0)
                l = &c->list[j];
        if (!l)
            return fail(c, m->name,
                        "the member is not in the signed list of " GW_EVIDENCE_STATEMENT);
        sha256_hex(m->data, m->len, hex);
        if (l->len != m->len || strcmp(l->sha, hex) != 0)
            return fail(
                c, m->name,
                "its SHA-256 %s (%zu bytes) is not the %s (%zu bytes) that " GW_EVIDENCE_STATEMENT
                " lists: the member was changed",
                hex, m->len, l->sha, l->len);
    }
    for (size_t j = 0; j < c->nlist; j++)
        if (!member(c, c->list[j].name))
            return fail(c, c->list[j].name,
                        "the member is listed in " GW_EVIDENCE_STATEMENT
                        " but missing from the archive");
    say(c, "- the bundle of acta %s was made on %s and signed by the gateway key %s%s", c->clave,
        c->created, c->gateway.fingerprint,
        pin ? " (the key given with --pubkey)"
            : "\n  (keys/gateway.pub: compare this fingerprint with the one the gateway publishes, "
              "or pass --pubkey)");
    return 0;
}

static int check_checkpoint(struct check *c)
{
    const struct gw_tar_member *m = member(c, "checkpoint.txt");
    const char *why;

    if (!m)
        return fail(c, "checkpoint.txt", "the member is missing");
    why = gw_checkpoint_verify((const char *)m->data, m->len, &c->gateway, &c->cp);
    if (why)
        return fail(c, "checkpoint.txt", "%s", why);
    if (c->cp.version != 2)
        return fail(c, "checkpoint.txt", "a version 1 checkpoint has no Merkle tree head");
    return 0;
}

/* ledger-entry.txt: its text hashes to the receipt's ledger_hash and says what the receipt says. */
static int check_entry(struct check *c, const char *dir, const struct gw_receipt *r)
{
    char name[128], hex[GW_SHA256_HEX_LEN + 1], want[1024];
    const struct gw_tar_member *m;
    int n;

    snprintf(name, sizeof(name), "%s/ledger-entry.txt", dir);
    m = member(c, name);
    if (!m)
        return fail(c, name, "the member is missing");
    sha256_hex(m->data, m->len, hex);
    if (strcmp(hex, r->ledger_hash) != 0)
        return fail(c, name, "its SHA-256 is not the ledger hash %s of the receipt",
                    r->ledger_hash);
    /* The text of docs/evidence.md: the fields must be the receipt's. */
    n = snprintf(want, sizeof(want),
                 "prep-casilla ledger v1\nseq=%llu\nprev=%s\nphoto_id=%s\nclave=%s\ndevice=%s\n"
                 "sha256=%s\nbytes=%llu\nwidth=%u\nheight=%u\ntime=%s\n",
                 (unsigned long long)r->ledger_seq, r->ledger_prev, r->photo_id, r->clave,
                 r->device, r->sha256, (unsigned long long)r->bytes, r->width, r->height,
                 r->received_at);
    if (n < 0 || (size_t)n != m->len || memcmp(want, m->data, m->len) != 0)
        return fail(c, name, "its fields are not those of the receipt");
    return 0;
}

/* inclusion.json: the entry is leaf seq-1 of the checkpoint's tree. */
static int check_inclusion(struct check *c, const char *dir, const struct gw_receipt *r)
{
    uint8_t path[GW_MERKLE_PATH_MAX * GW_MERKLE_HASH_LEN], raw[32], root[32];
    gw_merkle_hash leaf;
    char name[128], hex[GW_SHA256_HEX_LEN + 1];
    const struct gw_tar_member *m;
    json_t *o, *list, *v;
    const char *alg, *leaf_hex;
    size_t i, len;
    int rc = 0;

    snprintf(name, sizeof(name), "%s/inclusion.json", dir);
    m = member(c, name);
    if (!m)
        return fail(c, name, "the member is missing");
    o = json_loadb((const char *)m->data, m->len, 0, NULL);
    alg = json_string_value(json_object_get(o, "algorithm"));
    leaf_hex = json_string_value(json_object_get(o, "leaf_hash"));
    list = json_object_get(o, "path");
    len = json_array_size(list);
    if (!o || !alg || strcmp(alg, "rfc9162-sha256") != 0 || !leaf_hex || !json_is_array(list) ||
        len > GW_MERKLE_PATH_MAX) {
        json_decref(o);
        return fail(c, name, "it is not an rfc9162-sha256 inclusion proof");
    }
    json_array_foreach(list, i, v)
    {
        const char *h = json_string_value(v);

        if (!h || unhex(h, path + i * GW_MERKLE_HASH_LEN, GW_MERKLE_HASH_LEN) < 0)
            rc = fail(c, name, "hash %zu of the path is malformed", i);
        if (rc)
            break;
    }
    if (!rc &&
        (json_integer_value(json_object_get(o, "leaf_index")) != (json_int_t)r->ledger_seq - 1 ||
         json_integer_value(json_object_get(o, "tree_size")) != (json_int_t)c->cp.length))
        rc = fail(c, name, "it is not about entry %llu in the tree of the checkpoint (%llu)",
                  (unsigned long long)r->ledger_seq, (unsigned long long)c->cp.length);
    if (!rc) {
        unhex(r->ledger_hash, raw, sizeof(raw));
        gw_merkle_leaf(raw, sizeof(raw), leaf);
        gw_hex(leaf, sizeof(leaf), hex);
        if (strcmp(hex, leaf_hex) != 0)
            rc = fail(c, name, "its leaf_hash is not the leaf of the entry's hash");
    }
    if (!rc && (unhex(c->cp.root, root, sizeof(root)) < 0 ||
                !gw_merkle_verify(r->ledger_seq - 1, c->cp.length, leaf, path, len, root)))
        rc = fail(c, name, "the audit path does not lead to the checkpoint's root %s", c->cp.root);
    json_decref(o);
    if (!rc)
        say(c,
            "- entry %llu is in the checkpoint of length %llu signed by the gateway on %s\n"
            "  (a Merkle audit path of %zu hash(es) leads to the tree head %s)",
            (unsigned long long)r->ledger_seq, (unsigned long long)c->cp.length, c->cp.time, len,
            c->cp.root);
    return rc;
}

/* signature.json: the device signed exactly these bytes. */
static int check_device(struct check *c, const char *dir, const struct gw_receipt *r,
                        const uint8_t *sha)
{
    char name[128], keyname[128], path[512], keyid[GW_SIG_TOKEN_MAX], b64[GW_KEY_PUB_B64 + 1];
    const struct gw_tar_member *m, *km;
    struct gw_sigrec rec;
    struct gw_key dev;
    uint8_t pub[GW_KEY_PUB_LEN + 1];
    int64_t created = 0;
    const char *why;
    time_t t;
    struct tm tm;
    char when[64];

    snprintf(name, sizeof(name), "%s/signature.json", dir);
    m = member(c, name);
    if (!m && strcmp(r->device, "open-upload") == 0) {
        say(c, "- NOTE: photo %s was an open upload: no device signed it", r->photo_id);
        return 0;
    }
    if (!m)
        return fail(c, name, "the member is missing (the receipt names device %s)", r->device);
    if (gw_sigrec_parse((const char *)m->data, m->len, &rec) < 0)
        return fail(c, name, "it is not a signature record");
    snprintf(path, sizeof(path), "/v1/actas/%s/photos", r->clave);
    if (strcmp(rec.method, "POST") != 0 || strcmp(rec.path, path) != 0)
        return fail(c, name, "the signed request is not the POST of a photo of acta %s", r->clave);
    snprintf(keyname, sizeof(keyname), "keys/device-%s.pub", r->device);
    km = member(c, keyname);
    if (!km)
        return fail(c, keyname, "the member is missing");
    if (km->len != GW_KEY_PUB_B64 + 1 || km->data[GW_KEY_PUB_B64] != '\n')
        return fail(c, keyname, "it is not one line of base64");
    memcpy(b64, km->data, GW_KEY_PUB_B64);
    b64[GW_KEY_PUB_B64] = '\0';
    if (gw_b64_decode(b64, pub, sizeof(pub)) != GW_KEY_PUB_LEN || gw_key_from_public(pub, &dev) < 0)
        return fail(c, keyname, "it is not a base64 Ed25519 public key");
    why = gw_sigrec_verify(&rec, &dev, sha, keyid, &created);
    gw_key_finish(&dev);
    if (why)
        return fail(c, name, "%s", why);
    if (strcmp(keyid, r->device) != 0)
        return fail(c, name, "it was signed by %s, not by the device %s the receipt names", keyid,
                    r->device);
    t = (time_t)created;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    say(c,
        "- the photo %s/original.jpg (%llu bytes, SHA-256 %s) is byte for byte what device %s\n"
        "  signed at %s (RFC 9421 Ed25519 signature, key %s)",
        dir, (unsigned long long)r->bytes, r->sha256, r->device, when, keyname);
    return 0;
}

/* review.webp: the one the acta's list names for the photo. */
static int check_review(struct check *c, const char *dir, const char *photo_id, json_t *acta)
{
    const struct gw_tar_member *m;
    char name[128], hex[GW_SHA256_HEX_LEN + 1];
    const char *want = NULL;
    size_t i;
    json_t *p;

    json_array_foreach(json_object_get(acta, "photos"), i, p)
    {
        const char *id = json_string_value(json_object_get(p, "photo_id"));

        if (id && strcmp(id, photo_id) == 0)
            want = json_string_value(json_object_get(p, "review_sha256"));
    }
    snprintf(name, sizeof(name), "%s/review.webp", dir);
    m = member(c, name);
    if (!m && !want)
        return 0;
    if (!m || !want)
        return fail(c, name, m ? "acta.json names no review image" : "the member is missing");
    sha256_hex(m->data, m->len, hex);
    if (strcmp(hex, want) != 0)
        return fail(c, name, "its SHA-256 is not the review_sha256 that acta.json names");
    say(c, "- its review image is %s (%zu bytes, SHA-256 %s)", name, m->len, hex);
    return 0;
}

/* Everything about photo |id| (its folder photos/<id>/ in the bundle). */
static int check_photo(struct check *c, const char *id, json_t *acta)
{
    char dir[64], name[128], hex[GW_SHA256_HEX_LEN + 1];
    const struct gw_tar_member *m;
    struct gw_receipt r;
    uint8_t sha[32];
    const char *why;

    snprintf(dir, sizeof(dir), "photos/%s", id);
    snprintf(name, sizeof(name), "%s/receipt.json", dir);
    m = member(c, name);
    if (!m)
        return fail(c, name, "the member is missing");
    why = gw_receipt_verify((const char *)m->data, m->len, &c->gateway, &r);
    if (why)
        return fail(c, name, "%s", why);
    if (strcmp(r.photo_id, id) != 0 || strcmp(r.clave, c->clave) != 0)
        return fail(c, name, "it is the receipt of another photo or acta");
    snprintf(name, sizeof(name), "%s/original.jpg", dir);
    m = member(c, name);
    if (!m)
        return fail(c, name, "the member is missing");
    sha256_hex(m->data, m->len, hex);
    if (strcmp(hex, r.sha256) != 0 || m->len != r.bytes)
        return fail(c, name, "its SHA-256 %s is not the %s of its receipt", hex, r.sha256);
    unhex(hex, sha, sizeof(sha));
    if (check_device(c, dir, &r, sha))
        return 1;
    say(c,
        "- the gateway acknowledged it on %s as ledger entry %llu\n"
        "  (%s/receipt.json, signed by the gateway key)",
        r.received_at, (unsigned long long)r.ledger_seq, dir);
    if (check_entry(c, dir, &r) || check_inclusion(c, dir, &r))
        return 1;
    return check_review(c, dir, id, acta);
}

static json_t *load_json(struct check *c, const char *name)
{
    const struct gw_tar_member *m = member(c, name);
    json_t *o = m ? json_loadb((const char *)m->data, m->len, 0, NULL) : NULL;

    if (!o)
        fail(c, name, m ? "it is not JSON" : "the member is missing");
    return o;
}

/* decisions.json: who decided what and when, about photos of this bundle. */
static int check_decisions(struct check *c, json_t *d)
{
    json_t *review = json_object_get(d, "review"), *capture = json_object_get(d, "capture"), *x;
    const char *clave = json_string_value(json_object_get(d, "clave"));
    size_t i;

    if (!json_is_array(review) || !json_is_array(capture) || !clave || strcmp(clave, c->clave) != 0)
        return fail(c, "decisions.json", "it has no review and capture lists for acta %s",
                    c->clave);
    say(c,
        "- %zu review decision(s) and %zu capture decision(s), as the gateway's database "
        "held them on %s:",
        json_array_size(review), json_array_size(capture), c->created);
    json_array_foreach(review, i, x)
    {
        const char *photo = json_string_value(json_object_get(x, "photo_id"));
        const char *what = json_string_value(json_object_get(x, "decision"));
        const char *who = json_string_value(json_object_get(x, "username"));
        const char *when = json_string_value(json_object_get(x, "decided_at"));
        const char *reason = json_string_value(json_object_get(x, "reason"));
        char name[128];

        if (!photo || !what || !who || !when)
            return fail(c, "decisions.json",
                        "review decision %zu lacks photo, decision, who or "
                        "when",
                        i);
        snprintf(name, sizeof(name), "photos/%s/receipt.json", photo);
        if (!member(c, name))
            return fail(c, "decisions.json",
                        "review decision %zu is about photo %s, which the "
                        "bundle does not hold",
                        i, photo);
        say(c, "  review: %s%s%s of photo %s by %s at %s", what, reason ? " " : "",
            reason ? reason : "", photo, who, when);
    }
    json_array_foreach(capture, i, x)
    {
        const char *photo = json_string_value(json_object_get(x, "photo_id"));
        const char *kind = json_string_value(json_object_get(x, "kind"));
        const char *who = json_string_value(json_object_get(x, "username"));
        json_t *at = json_object_get(x, "captured_at");
        const char *when = json_string_value(at ? at : json_object_get(x, "returned_at"));
        json_t *counted = json_object_get(x, "contabilizada");
        const char *reason = json_string_value(json_object_get(x, "reason"));
        char name[128];

        if (!photo || !kind || !who || !when)
            return fail(c, "decisions.json", "capture entry %zu lacks photo, kind, who or when", i);
        snprintf(name, sizeof(name), "photos/%s/receipt.json", photo);
        if (!member(c, name))
            return fail(c, "decisions.json",
                        "capture entry %zu is about photo %s, which the bundle does not hold", i,
                        photo);
        say(c, "  capture: %s (round %lld) of photo %s by %s at %s%s%s%s", kind,
            (long long)json_integer_value(json_object_get(x, "round")), photo, who, when,
            !counted                ? ""
            : json_is_true(counted) ? ", contabilizada"
                                    : ", not contabilizada",
            reason ? ": " : "", reason ? reason : "");
    }
    return 0;
}

int pu_bundle_verify_mem(const uint8_t *buf, size_t len, const char *label,
                         const struct gw_key *pin, FILE *out)
{
    static struct check c;
    size_t nphotos = 0;
    json_t *acta = NULL, *dec = NULL;
    const char *why = NULL;
    int at = -1, rc = 1;

    memset(&c, 0, sizeof(c));
    c.path = label;
    c.out = out;
    if (gw_tar_read(buf, len, c.m, GW_TAR_MEMBERS_MAX, &c.n, &at, &why) < 0) {
        if (at >= 0)
            fail(&c, "the archive", "%s (the header of member %d)", why, at + 1);
        else
            fail(&c, "the archive", "%s", why);
        goto out;
    }
    if (check_integrity(&c, pin) || check_checkpoint(&c))
        goto out;
    acta = load_json(&c, "acta.json");
    dec = acta ? load_json(&c, "decisions.json") : NULL;
    if (!dec)
        goto out;
    for (size_t i = 0; i < c.n; i++) {
        const char *n = c.m[i].name, *slash;
        char id[GW_PHOTO_ID_LEN + 1];

        if (strncmp(n, "photos/", 7) != 0 || !(slash = strchr(n + 7, '/')) ||
            strcmp(slash, "/receipt.json") != 0)
            continue;
        if (slash - (n + 7) != GW_PHOTO_ID_LEN || !gw_photo_id_valid(n + 7, GW_PHOTO_ID_LEN)) {
            fail(&c, n, "it is not in the folder of a photo id");
            goto out;
        }
        memcpy(id, n + 7, GW_PHOTO_ID_LEN);
        id[GW_PHOTO_ID_LEN] = '\0';
        if (check_photo(&c, id, acta))
            goto out;
        nphotos++;
    }
    if (nphotos == 0) {
        fail(&c, "photos/", "the bundle holds no photo");
        goto out;
    }
    /* Every photo of the acta's list is in the bundle (the loop above checked the converse). */
    {
        json_t *p, *list = json_object_get(acta, "photos");
        size_t i;

        json_array_foreach(list, i, p)
        {
            const char *id = json_string_value(json_object_get(p, "photo_id"));
            char name[128];

            snprintf(name, sizeof(name), "photos/%s/receipt.json", id ? id : "");
            if (!member(&c, name)) {
                fail(&c, "acta.json", "it lists photo %s, which the bundle does not hold",
                     id ? id : "(no id)");
                goto out;
            }
        }
        if (json_array_size(list) != nphotos) {
            fail(&c, "acta.json", "it lists %zu photos, the bundle holds %zu",
                 json_array_size(list), nphotos);
            goto out;
        }
    }
    if (check_decisions(&c, dec))
        goto out;
    fprintf(out, "VALID %s: acta %s, %zu photo(s); everything verifies:\n%s", label, c.clave,
            nphotos, c.proved ? c.proved : "");
    rc = 0;
out:
    json_decref(acta);
    json_decref(dec);
    gw_key_finish(&c.gateway);
    free(c.proved);
    return rc;
}

int pu_bundle_verify(const char *path, const struct gw_key *pin, FILE *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int e = gw_file_read_at(AT_FDCWD, path, PU_BUNDLE_MAX, &buf, &len);

    if (e < 0) {
        fprintf(out, "INVALID %s: could not read it: %s\n", path, strerror(-e));
        return 1;
    }
    e = pu_bundle_verify_mem(buf, len, path, pin, out);
    free(buf);
    return e;
}
