/* `prep-gateway evidence CLAVE --out FILE`: the evidence bundle of one acta (docs/evidence.md). */
#include "cmd_provenance.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_blobs.h"
#include "db_evidence.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_evidence.h"
#include "gw_file.h"
#include "gw_keys.h"
#include "gw_ledger.h"
#include "gw_merkle.h"
#include "gw_receipt.h"
#include "gw_tar.h"

#define FILE_MAX (64u << 20) /* a member read from the data folder: the originals are 20 MiB */

static const char evidence_usage[] =
    "Usage: prep-gateway evidence CLAVE --out FILE [--data DIR] [--db CONNINFO] [--json]\n"
    "\n"
    "Writes the evidence bundle of acta CLAVE to FILE: one ustar archive (docs/evidence.md)\n"
    "holding, for each photo of the acta, the original JPEG, the review image, the device's\n"
    "request signature, the signed receipt, the ledger entry and its Merkle inclusion proof; a\n"
    "ledger checkpoint (version 2) signed now; every review decision with who and when; the\n"
    "device and gateway public keys; and evidence.txt, the list of every member with its SHA-256,\n"
    "signed with the gateway key. Check it anywhere with `prep-upload verify-bundle FILE`.\n"
    "Exit status 0 when written, 1 on an error (an unknown clave too), 2 for bad usage.\n"
    "\n";

/* The bundle being built: its members in memory, in order, and the statement's lines. */
struct bundle {
    struct gw_member {
        char name[GW_TAR_NAME_MAX + 1];
        uint8_t *data;
        size_t len;
    } m[GW_TAR_MEMBERS_MAX];
    size_t n;
};

/* Takes over |data| (malloc'ed, |len| bytes) as member |name|. */
static int add(struct bundle *b, const char *name, void *data, size_t len)
{
    if (b->n == GW_TAR_MEMBERS_MAX || strlen(name) > GW_TAR_NAME_MAX) {
        free(data);
        return -E2BIG;
    }
    snprintf(b->m[b->n].name, sizeof(b->m[b->n].name), "%s", name);
    b->m[b->n].data = data;
    b->m[b->n].len = len;
    b->n++;
    return 0;
}

static int add_str(struct bundle *b, const char *name, const char *s)
{
    char *copy = strdup(s);

    return copy ? add(b, name, copy, strlen(s)) : -ENOMEM;
}

static int add_json(struct bundle *b, const char *name, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    size_t n;

    json_decref(o);
    if (!s)
        return -ENOMEM;
    n = strlen(s);
    s = realloc(s, n + 2);
    if (!s)
        return -ENOMEM;
    s[n] = '\n';
    s[n + 1] = '\0';
    return add(b, name, s, n + 1);
}

/* Adds the file DATA/|rel| as member |name|. */
static int add_file(struct bundle *b, const char *data, const char *rel, const char *name)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    int e;

    snprintf(path, sizeof(path), "%s/%s", data, rel);
    e = gw_file_read_at(AT_FDCWD, path, FILE_MAX, &buf, &len);
    if (e < 0) {
        fprintf(stderr, "prep-gateway: could not read %s: %s\n", path, strerror(-e));
        return e;
    }
    return add(b, name, buf, len);
}

/* The review image |sha| as member |name|: DATA/|rel|, else (processed by another gateway of the
 * database) its copy in PostgreSQL. */
static int add_review(struct bundle *b, const char *data, PGconn *pg, const char *sha,
                      const char *rel, const char *name)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    int e;

    snprintf(path, sizeof(path), "%s/%s", data, rel);
    if (access(path, F_OK) == 0 || !pg)
        return add_file(b, data, rel, name);
    e = gw_db_blob_read(pg, sha, FILE_MAX, &buf, &len);
    if (e < 0) {
        fprintf(stderr, "prep-gateway: review image %s neither in %s nor in PostgreSQL: %s\n", sha,
                path, strerror(-e));
        return e;
    }
    return add(b, name, buf, len);
}

static void bundle_free(struct bundle *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->m[i].data);
    b->n = 0;
}

static int add_pubkey(struct bundle *b, const char *name, const uint8_t *pub)
{
    char line[GW_KEY_PUB_B64 + 2];

    gw_b64_encode(pub, GW_KEY_PUB_LEN, line);
    line[GW_KEY_PUB_B64] = '\n';
    line[GW_KEY_PUB_B64 + 1] = '\0';
    return add_str(b, name, line);
}

/* photos/<id>/inclusion.json: the audit path of ledger entry |seq| in the tree of |n| leaves. */
static int add_inclusion(struct bundle *b, const char *dir, uint64_t seq, int n,
                         const uint8_t *leaves)
{
    uint8_t path[GW_MERKLE_PATH_MAX * GW_MERKLE_HASH_LEN];
    char hex[2 * GW_MERKLE_HASH_LEN + 1], name[128];
    json_t *o, *list = json_array();
    size_t len = 0;

    if (!list || gw_merkle_path(leaves, (uint64_t)n, seq - 1, path, &len) < 0) {
        json_decref(list);
        return -ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        gw_hex(path + i * GW_MERKLE_HASH_LEN, GW_MERKLE_HASH_LEN, hex);
        json_array_append_new(list, json_string(hex));
    }
    gw_hex(leaves + (seq - 1) * GW_MERKLE_HASH_LEN, GW_MERKLE_HASH_LEN, hex);
    o = json_pack("{s:s, s:I, s:I, s:s, s:o}", "algorithm", "rfc9162-sha256", "leaf_index",
                  (json_int_t)(seq - 1), "tree_size", (json_int_t)n, "leaf_hash", hex, "path",
                  list);
    snprintf(name, sizeof(name), "%s/inclusion.json", dir);
    return add_json(b, name, o);
}

/* The members of photo |p| (an element of gw_db_evidence()'s "photos"). */
static int add_photo(struct bundle *b, const char *data, PGconn *pg, json_t *p,
                     const struct gw_ledger_entry *all, int n, const uint8_t *leaves)
{
    const char *id = json_string_value(json_object_get(p, "photo_id"));
    const char *sha = json_string_value(json_object_get(p, "sha256"));
    const char *review = json_string_value(json_object_get(p, "review_sha256"));
    char dir[64], rel[256], name[128], text[1024];
    const struct gw_member *m;
    struct gw_receipt r;
    int e;

    if (!id || !sha)
        return -EINVAL;
    snprintf(dir, sizeof(dir), "photos/%s", id);
    snprintf(rel, sizeof(rel), "spool/receipts/%s.json", id);
    snprintf(name, sizeof(name), "%s/receipt.json", dir);
    e = add_file(b, data, rel, name);
    if (e < 0)
        return e;
    m = &b->m[b->n - 1];
    if (gw_receipt_parse((const char *)m->data, m->len, &r) < 0 || r.ledger_seq == 0 ||
        r.ledger_seq > (uint64_t)n || strcmp(all[r.ledger_seq - 1].photo_id, id) != 0) {
        fprintf(stderr, "prep-gateway: the receipt of photo %s names no entry of the ledger\n", id);
        return -EBADMSG;
    }
    snprintf(rel, sizeof(rel), "store/originals/%s.jpg", sha);
    snprintf(name, sizeof(name), "%s/original.jpg", dir);
    e = add_file(b, data, rel, name);
    if (e == 0 && review) {
        snprintf(rel, sizeof(rel), "store/review/%s.webp", review);
        snprintf(name, sizeof(name), "%s/review.webp", dir);
        e = add_review(b, data, pg, review, rel, name);
    }
    snprintf(rel, sizeof(rel), "%s/spool/signatures/%s.json", data, id);
    if (e == 0 && access(rel, F_OK) == 0) {
        snprintf(rel, sizeof(rel), "spool/signatures/%s.json", id);
        snprintf(name, sizeof(name), "%s/signature.json", dir);
        e = add_file(b, data, rel, name);
    }
    if (e < 0)
        return e;
    gw_ledger_text(&all[r.ledger_seq - 1], text, sizeof(text));
    snprintf(name, sizeof(name), "%s/ledger-entry.txt", dir);
    e = add_str(b, name, text);
    return e < 0 ? e : add_inclusion(b, dir, r.ledger_seq, n, leaves);
}

/* keys/device-<id>.pub of every enrolled device that sent a photo, once each. */
static int add_device_keys(struct bundle *b, json_t *photos)
{
    size_t i;
    json_t *p;

    json_array_foreach(photos, i, p)
    {
        const char *dev = json_string_value(json_object_get(p, "device"));
        const char *key = json_string_value(json_object_get(p, "device_public_key"));
        uint8_t pub[GW_KEY_PUB_LEN + 1];
        char name[128];
        bool seen = false;

        if (!dev || !key)
            continue; /* an open upload: no device, no key */
        snprintf(name, sizeof(name), "keys/device-%s.pub", dev);
        for (size_t j = 0; j < b->n; j++)
            seen |= strcmp(b->m[j].name, name) == 0;
        if (seen)
            continue;
        if (gw_b64_decode(key, pub, sizeof(pub)) != GW_KEY_PUB_LEN) {
            fprintf(stderr, "prep-gateway: device %s has an unusable public key\n", dev);
            return -EINVAL;
        }
        if (add_pubkey(b, name, pub) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* evidence.txt: every member's SHA-256, length and name, signed; then evidence.sig. */
static int statement(const struct bundle *b, const char *clave, const char *created,
                     const struct gw_key *k, char **ret_text, char **ret_sig)
{
    size_t cap = 256 + b->n * (GW_SHA256_HEX_LEN + GW_TAR_NAME_MAX + 32), len;
    char *text = malloc(cap), *sig = malloc(GW_KEY_SIG_B64 + 2);
    uint8_t raw[GW_KEY_SIG_LEN];
    int n;

    if (!text || !sig)
        goto fail;
    n = snprintf(text, cap, "prep-casilla evidence v1\nclave=%s\ncreated=%s\ngateway_key=%s\n",
                 clave, created, k->fingerprint);
    len = (size_t)n;
    for (size_t i = 0; i < b->n; i++) {
        uint8_t md[32];
        char hex[GW_SHA256_HEX_LEN + 1];
        unsigned mdlen = 0;

        if (EVP_Digest(b->m[i].data, b->m[i].len, md, &mdlen, EVP_sha256(), NULL) != 1)
            goto fail;
        gw_hex(md, sizeof(md), hex);
        n = snprintf(text + len, cap - len, "member=%s %zu %s\n", hex, b->m[i].len, b->m[i].name);
        if (n < 0 || (size_t)n >= cap - len)
            goto fail;
        len += (size_t)n;
    }
    if (gw_key_sign(k, text, len, raw) < 0)
        goto fail;
    gw_b64_encode(raw, sizeof(raw), sig);
    sig[GW_KEY_SIG_B64] = '\n';
    sig[GW_KEY_SIG_B64 + 1] = '\0';
    *ret_text = text;
    *ret_sig = sig;
    return 0;
fail:
    free(text);
    free(sig);
    return -ENOMEM;
}

/* Writes |t| to |path| through a temporary name, so that FILE is a whole bundle or nothing. */
static int write_out(const char *path, const struct gw_tar *t)
{
    char tmp[4096];
    int fd, e = 0;
    size_t off = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part", path) >= sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    while (off < t->len && e == 0) {
        ssize_t w = write(fd, t->buf + off, t->len - off);

        if (w < 0 && errno != EINTR)
            e = -errno;
        else if (w > 0)
            off += (size_t)w;
    }
    if (e == 0 && fsync(fd) < 0)
        e = -errno;
    close(fd);
    if (e == 0 && rename(tmp, path) < 0)
        e = -errno;
    if (e < 0)
        unlink(tmp);
    return e;
}

/* Keeps in |*arr| the entries whose photo_id is that of a photo in |mine| (or none). */
static void keep_mine(json_t *doc, const char *key, json_t *mine)
{
    json_t *arr = json_object_get(doc, key), *kept = json_array(), *x, *p;
    size_t i, j;

    json_array_foreach(arr, i, x)
    {
        const char *id = json_string_value(json_object_get(x, "photo_id"));
        bool keep = !id;

        json_array_foreach(mine, j, p)
        {
            if (id && strcmp(id, json_string_value(json_object_get(p, "photo_id"))) == 0)
                keep = true;
        }
        if (keep)
            json_array_append(kept, x);
    }
    json_object_set_new(doc, key, kept);
}

/*
 * With several gateways on one database, each spool holds the receipts, originals and ledger of
 * the photos that gateway received, signed with its own key: the bundle of the data folder of
 * gateway |gateway| holds its photos (and their decisions and captures); the others are named in
 * acta.json's "received_by_other_gateways" ({photo_id, gateway}), each in the bundle made from
 * its gateway's data folder. Returns how many photos are this gateway's.
 */
static size_t split_gateways(json_t *doc, const char *gateway)
{
    json_t *photos = json_object_get(doc, "photos"), *mine = json_array(), *others = json_array(),
           *p;
    size_t i, n;

    json_array_foreach(photos, i, p)
    {
        const char *g = json_string_value(json_object_get(p, "gateway"));

        if (g && strcmp(g, gateway) != 0)
            json_array_append_new(others, json_pack("{s:O, s:s}", "photo_id",
                                                    json_object_get(p, "photo_id"), "gateway", g));
        else
            json_array_append(mine, p);
    }
    json_object_set_new(doc, "photos", mine);
    keep_mine(doc, "review", mine);
    keep_mine(doc, "capture", mine);
    n = json_array_size(mine);
    json_object_set_new(doc, "received_by_other_gateways", others);
    return n;
}

/* Everything but evidence.txt and evidence.sig, in the order of docs/evidence.md. */
static int collect(struct bundle *b, const char *data, PGconn *pg, const char *clave, json_t *doc,
                   const struct gw_key *k, int *ret_length)
{
    struct gw_ledger_entry *all = NULL;
    struct gw_checkpoint c;
    json_t *photos = json_object_get(doc, "photos"), *p, *o;
    char text[GW_CHECKPOINT_TEXT_MAX];
    uint8_t *leaves = NULL;
    size_t i;
    int n = 0, e;

    e = gw_cmd_ledger_load(data, &all, &n);
    if (e < 0)
        return e;
    e = gw_cmd_ledger_leaves(all, n, &leaves);
    if (e == 0)
        e = add_pubkey(b, "keys/gateway.pub", k->pub);
    if (e == 0)
        e = add_device_keys(b, photos);
    if (e == 0)
        e = gw_cmd_checkpoint_make(all, n, leaves, k, &c, text, sizeof(text));
    if (e == 0)
        e = add_str(b, "checkpoint.txt", text);
    if (e == 0) {
        o = json_pack("{s:i, s:s, s:O}", "version", 1, "clave", clave, "photos", photos);
        if (o && json_array_size(json_object_get(doc, "received_by_other_gateways")))
            json_object_set(o, "received_by_other_gateways",
                            json_object_get(doc, "received_by_other_gateways"));
        e = add_json(b, "acta.json", o);
    }
    if (e == 0) {
        o = json_pack("{s:i, s:s, s:O, s:O}", "version", 1, "clave", clave, "review",
                      json_object_get(doc, "review"), "capture", json_object_get(doc, "capture"));
        e = add_json(b, "decisions.json", o);
    }
    json_array_foreach(photos, i, p)
    {
        if (e == 0)
            e = add_photo(b, data, pg, p, all, n, leaves);
    }
    free(leaves);
    free(all);
    *ret_length = n;
    return e;
}

int gw_cmd_evidence(int argc, char **argv)
{
    const char *data, *db, *out = NULL, *clave, *why = NULL, *gateway = "main";
    bool json = false;
    struct gw_config cfg;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_STRING("out", &out, "FILE", "where to write the bundle (required)"),
        GW_CLI_OPT_STRING("data", &data, "DIR", "the gateway's data folder (as `serve --data`)"),
        GW_CLI_OPT_STRING("db", &db, "CONNINFO", "its PostgreSQL (as `serve --db`)"),
        GW_CLI_OPT_STRING("gateway-id", &gateway, "ID",
                          "the gateway of that data folder (as `serve --gateway-id`,\n"
                          "default main): its photos are in the bundle, others' are named"),
        GW_CLI_OPT_FLAG("json", &json,
                        "print {\"bundle\", \"clave\", \"members\", \"photos\",\n"
                        "\"review_decisions\", \"checkpoint_length\"}"),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {
        .prog = "prep-gateway evidence", .usage = evidence_usage, .opts = opts};
    static struct bundle b;
    struct gw_tar t = {0};
    struct gw_key k = {0};
    struct timespec now;
    char created[GW_TIME_LEN + 1], *doc_text = NULL, *text = NULL, *sig = NULL;
    json_t *doc = NULL;
    PGconn *pg;
    int first = 0, r, length = 0, status = 1;

    gw_config_defaults(&cfg);
    data = cfg.data_dir;
    db = cfg.db;
    r = gw_cli_parse(&cli, argc, argv, &first);
    if (r != 0)
        return gw_cli_exit(r);
    if (first != argc - 1 || !out) {
        gw_cli_usage(&cli, stderr);
        return 2;
    }
    clave = argv[first];
    if (!gw_clave_valid(clave, strlen(clave), &why)) {
        fprintf(stderr, "prep-gateway: %s is not a CLAVE_ACTA: %s\n", clave, why);
        return 2;
    }
    pg = gw_cli_db_connect(db, "prep-gateway evidence: could not connect to PostgreSQL");
    if (!pg)
        return 1;
    r = gw_db_evidence(pg, clave, &doc_text);
    if (r == -ENOENT)
        fprintf(stderr, "prep-gateway: no photo of acta %s was received\n", clave);
    else if (r < 0)
        fprintf(stderr, "prep-gateway: could not read acta %s: %s", clave, PQerrorMessage(pg));
    if (r < 0) {
        PQfinish(pg);
        return 1;
    }
    doc = json_loads(doc_text, 0, NULL);
    free(doc_text);
    if (doc && split_gateways(doc, gateway) == 0) {
        fprintf(stderr,
                "prep-gateway: no photo of acta %s was received by gateway %s (see the"
                " bundles of the others' data folders)\n",
                clave, gateway);
        goto out;
    }
    if (!doc || gw_cmd_load_key(data, false, "prep-gateway", &k) < 0)
        goto out;
    clock_gettime(CLOCK_REALTIME, &now);
    gw_rfc3339(&now, created);
    if (collect(&b, data, pg, clave, doc, &k, &length) < 0 ||
        statement(&b, clave, created, &k, &text, &sig) < 0)
        goto out;
    r = gw_tar_add(&t, GW_EVIDENCE_STATEMENT, text, strlen(text), (int64_t)now.tv_sec);
    if (r == 0)
        r = gw_tar_add(&t, GW_EVIDENCE_SIGNATURE, sig, strlen(sig), (int64_t)now.tv_sec);
    for (size_t i = 0; i < b.n && r == 0; i++)
        r = gw_tar_add(&t, b.m[i].name, b.m[i].data, b.m[i].len, (int64_t)now.tv_sec);
    if (r == 0)
        r = gw_tar_finish(&t);
    if (r == 0)
        r = write_out(out, &t);
    if (r < 0) {
        fprintf(stderr, "prep-gateway: could not write %s: %s\n", out, strerror(-r));
        goto out;
    }
    if (json)
        gw_cli_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:i}", "bundle", out, "clave", clave,
                                    "members", (json_int_t)(b.n + 2), "photos",
                                    (json_int_t)json_array_size(json_object_get(doc, "photos")),
                                    "review_decisions",
                                    (json_int_t)json_array_size(json_object_get(doc, "review")),
                                    "checkpoint_length", length),
                          JSON_INDENT(2));
    else
        printf("wrote %s: acta %s, %zu photo(s), %zu review decision(s), ledger checkpoint of "
               "length %d\n",
               out, clave, json_array_size(json_object_get(doc, "photos")),
               json_array_size(json_object_get(doc, "review")), length);
    status = 0;
out:
    PQfinish(pg);
    bundle_free(&b);
    gw_tar_free(&t);
    gw_key_finish(&k);
    json_decref(doc);
    free(text);
    free(sig);
    return status;
}
