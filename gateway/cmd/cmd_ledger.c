/* `prep-gateway ledger verify|checkpoint` (see cmd_provenance.h). */
#include "cmd_provenance.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_export.h"
#include "db_photos.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_evidence.h"
#include "gw_keys.h"
#include "gw_ledger.h"
#include "gw_merkle.h"
#include "gw_receipt.h"

static const char ledger_usage[] =
    "Usage: prep-gateway ledger verify [--data DIR] [--db CONNINFO] [--json]\n"
    "       prep-gateway ledger checkpoint [--data DIR] [--json]\n"
    "\n"
    "verify      walks the hash chain of DIR/ledger.jsonl and every gateway's chain of the\n"
    "            ledger table in PostgreSQL, recomputing every hash, and reports the first\n"
    "            broken link; the file and its chain in the table (the one that begins with the\n"
    "            file's first entry) must agree entry by entry. Then checks the published cuts\n"
    "            (export_cuts: their chain and each signature with the gateway key).\n"
    "            Exit status 0 when all hold.\n"
    "checkpoint  prints a statement of (length, head hash, Merkle tree head, time) signed\n"
    "            with the gateway key, to publish or have witnessed: checkpoint version 2 of\n"
    "            docs/evidence.md (version 1, before the tree head, had no root line).\n";

static int open_ledger(const struct gw_cmd_opts *o)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", o->data, GW_LEDGER_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fprintf(stderr, "prep-gateway: could not open %s: %s\n", path, strerror(errno));
    return fd;
}

/* The walk of the ledger table, one chain per gateway: the file's entries to compare with (the
 * chain whose first entry is the file's is this spool's), and the first broken row. */
struct db_walk {
    const struct gw_ledger_entry *file;
    int n_file, rows, chains, mine_rows; /* mine_rows: rows of the file's chain */
    int in_chain;                        /* rows of the current chain seen */
    bool mine;                           /* the current chain is the file's */
    char chain[72];
    struct gw_ledger_entry prev;
    const char *why;
    uint64_t bad;
    char bad_chain[72];
};

static void check_row(void *arg, const struct gw_db_ledger_row *row)
{
    struct db_walk *w = arg;
    struct gw_ledger_entry e;

    /* Rows after the first broken one are counted, not checked. */
    if (w->why) {
        w->rows++;
        return;
    }
    memset(&e, 0, sizeof(e));
    e.seq = strtoull(row->seq, NULL, 10);
    snprintf(e.prev, sizeof(e.prev), "%s", row->prev);
    snprintf(e.hash, sizeof(e.hash), "%s", row->hash);
    snprintf(e.photo_id, sizeof(e.photo_id), "%s", row->photo_id);
    snprintf(e.clave, sizeof(e.clave), "%s", row->clave);
    snprintf(e.device, sizeof(e.device), "%s", row->device);
    snprintf(e.sha256, sizeof(e.sha256), "%s", row->sha256);
    e.bytes = strtoull(row->bytes, NULL, 10);
    e.width = (uint32_t)strtoul(row->width, NULL, 10);
    e.height = (uint32_t)strtoul(row->height, NULL, 10);
    snprintf(e.time, sizeof(e.time), "%s", row->time);
    if (w->chains == 0 || strcmp(w->chain, row->gateway) != 0) {
        /* Another gateway's chain begins: from seq 1 and the zero hash, on its own. */
        snprintf(w->chain, sizeof(w->chain), "%s", row->gateway);
        w->chains++;
        w->in_chain = 0;
        w->mine = w->n_file > 0 && strcmp(w->file[0].hash, e.hash) == 0;
    }
    /* Rows not ingested yet leave gaps at the end only: ingest follows the spool. */
    w->why = gw_ledger_check_link(w->in_chain > 0 ? &w->prev : NULL, &e);
    if (!w->why && w->mine &&
        ((int)e.seq > w->n_file || strcmp(w->file[e.seq - 1].hash, e.hash) != 0))
        w->why = "differs from the spool's ledger file";
    if (w->why) {
        w->bad = e.seq;
        snprintf(w->bad_chain, sizeof(w->bad_chain), "%s", w->chain);
    }
    w->prev = e;
    w->mine_rows += w->mine;
    w->in_chain++;
    w->rows++;
}

/* Checks the PostgreSQL copy against itself and against the file's entries |file| (|n|). */
static int verify_db(const struct gw_cmd_opts *o, int n_file, struct db_walk *ret_w,
                     struct gw_ledger_entry *file)
{
    PGconn *pg = gw_cli_db_connect(o->db, "prep-gateway: could not connect to PostgreSQL");
    struct db_walk w = {.file = file, .n_file = n_file};
    int rows;

    if (!pg)
        return -EIO;
    rows = gw_db_ledger_each(pg, check_row, &w);
    if (rows < 0) {
        fprintf(stderr, "prep-gateway: could not read the ledger table: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return -EIO;
    }
    *ret_w = w;
    PQfinish(pg);
    return w.why ? -EBADMSG : 0;
}

/* The walk of export_cuts' signatures: the gateway key (loaded at the first cut) and the first
 * cut whose signature does not hold. */
struct cut_walk {
    const struct gw_cmd_opts *o;
    struct gw_key key;
    int loaded; /* 0 not yet, 1 loaded, -1 could not */
    long long bad;
    const char *why;
};

static void check_cut(void *arg, const char *cut_id, const char *text, const char *signature,
                      const char *key_fp)
{
    struct cut_walk *w = arg;
    uint8_t sig[GW_KEY_SIG_LEN];

    if (w->why)
        return;
    if (w->loaded == 0)
        w->loaded = gw_cmd_load_key(w->o->data, false, "prep-gateway", &w->key) < 0 ? -1 : 1;
    if (w->loaded < 0)
        w->why = "the gateway key could not be loaded to check its signature";
    else if (strcmp(key_fp, w->key.fingerprint) != 0)
        w->why = "signed by another key than this gateway's";
    else if (gw_b64_decode(signature, sig, sizeof(sig)) != GW_KEY_SIG_LEN ||
             !gw_key_verify(&w->key, text, strlen(text), sig))
        w->why = "the signature does not match the cut";
    if (w->why)
        w->bad = strtoll(cut_id, NULL, 10);
}

/*
 * Checks the published cuts (export_cuts, docs/export.md): their chain, in PostgreSQL, and each
 * signature against the gateway key. Returns the number of cuts, -EBADMSG with the first bad cut
 * in |*ret_bad| and the reason in |why| (|cap| bytes), or -EIO.
 */
static int verify_cuts(const struct gw_cmd_opts *o, uint64_t *ret_bad, char *why, size_t cap)
{
    PGconn *pg = gw_cli_db_connect(o->db, "prep-gateway: could not connect to PostgreSQL");
    struct cut_walk w = {.o = o};
    int64_t bad = 0;
    char *chain_why = NULL;
    int n;

    if (!pg)
        return -EIO;
    n = gw_db_export_check(pg, &bad, &chain_why);
    if (n == -EBADMSG) {
        *ret_bad = (uint64_t)bad;
        snprintf(why, cap, "%s", chain_why);
        free(chain_why);
    } else if (n >= 0 && gw_db_export_cuts_each(pg, check_cut, &w) < 0)
        n = -EIO;
    else if (n >= 0 && w.why) {
        *ret_bad = (uint64_t)w.bad;
        snprintf(why, cap, "%s", w.why);
        n = -EBADMSG;
    }
    if (n == -EIO || n == -EPROTO) {
        fprintf(stderr, "prep-gateway: could not read export_cuts: %s", PQerrorMessage(pg));
        n = -EIO;
    }
    if (w.loaded > 0)
        gw_key_finish(&w.key);
    PQfinish(pg);
    return n;
}

/* Loads every entry of the (already verified) file into an array. */
static struct gw_ledger_entry *load_all(int fd, int n)
{
    struct gw_ledger_entry *all = calloc(n > 0 ? (size_t)n : 1, sizeof(*all));
    FILE *f = fdopen(dup(fd), "r");
    char *line = NULL;
    size_t cap = 0;
    int i = 0;

    if (!all || !f) {
        free(all);
        if (f)
            fclose(f);
        return NULL;
    }
    rewind(f);
    while (i < n && getline(&line, &cap, f) > 0)
        gw_ledger_parse(line, strlen(line), &all[i++]);
    free(line);
    fclose(f);
    return all;
}

static int ledger_verify(const struct gw_cmd_opts *o)
{
    struct gw_ledger_entry last, *all;
    struct db_walk w = {0};
    uint64_t bad = 0, rows = 0;
    const char *why = NULL, *db_why = NULL;
    char cuts_why[128] = "";
    int fd = open_ledger(o), n, r, cuts = 0;

    if (fd < 0)
        return 1;
    n = gw_ledger_walk(fd, &last, NULL, &bad, &why);
    if (n < 0 && n != -EBADMSG) {
        fprintf(stderr, "prep-gateway: could not read the ledger: %s\n", strerror(-n));
        close(fd);
        return 1;
    }
    if (n == -EBADMSG) {
        if (o->json)
            gw_cli_print_json(json_pack("{s:b, s:s, s:I, s:s}", "valid", 0, "copy", "file", "seq",
                                        (json_int_t)bad, "reason", why),
                              JSON_INDENT(2));
        else
            printf("BROKEN ledger file at seq %llu: %s\n", (unsigned long long)bad, why);
        close(fd);
        return 1;
    }
    all = load_all(fd, n);
    close(fd);
    if (!all)
        return 1;
    r = verify_db(o, n, &w, all);
    free(all);
    rows = (uint64_t)w.rows;
    if (r != 0) {
        bad = w.bad;
        db_why = w.why;
    }
    if (r == -EIO)
        return 1;
    if (r == 0) {
        cuts = verify_cuts(o, &bad, cuts_why, sizeof(cuts_why));
        if (cuts == -EIO)
            return 1;
    }
    if (r == 0 && cuts == -EBADMSG) {
        if (o->json)
            gw_cli_print_json(json_pack("{s:b, s:s, s:I, s:s}", "valid", 0, "copy", "export_cuts",
                                        "cut_id", (json_int_t)bad, "reason", cuts_why),
                              JSON_INDENT(2));
        else
            printf("BROKEN export cuts at cut %llu: %s\n", (unsigned long long)bad, cuts_why);
        return 1;
    }
    if (o->json) {
        json_t *j = json_pack("{s:b, s:s, s:i, s:s, s:I, s:i, s:i, s:i}", "valid", r == 0, "copy",
                              "database", "entries", n, "head", n > 0 ? last.hash : "",
                              "database_rows", (json_int_t)rows, "chains", w.chains,
                              "spool_chain_rows", w.mine_rows, "export_cuts", cuts);

        if (j && r != 0) {
            json_object_set_new(j, "seq", json_integer((json_int_t)bad));
            json_object_set_new(j, "gateway", json_string(w.bad_chain));
            json_object_set_new(j, "reason", json_string(db_why));
        }
        gw_cli_print_json(j, JSON_INDENT(2));
    } else if (r == 0)
        printf("ledger valid: %d entries in the spool, %llu in PostgreSQL (%d gateway chains,"
               " %d rows in this spool's), head %s; %d export cuts chained and signed\n",
               n, (unsigned long long)rows, w.chains, w.mine_rows, n > 0 ? last.hash : "(empty)",
               cuts);
    else
        printf("BROKEN ledger table at seq %llu of gateway %s: %s\n", (unsigned long long)bad,
               w.bad_chain, db_why);
    return r == 0 ? 0 : 1;
}

int gw_cmd_ledger_load(const char *data, struct gw_ledger_entry **ret, int *ret_n)
{
    struct gw_ledger_entry *all;
    struct gw_cmd_opts o = {.data = data};
    const char *why = NULL;
    uint64_t bad = 0;
    int fd = open_ledger(&o), n;

    if (fd < 0)
        return -EIO;
    n = gw_ledger_walk(fd, NULL, NULL, &bad, &why);
    if (n < 0) {
        fprintf(stderr, "prep-gateway: the ledger does not verify (seq %llu: %s)\n",
                (unsigned long long)bad, why ? why : strerror(-n));
        close(fd);
        return -EBADMSG;
    }
    all = load_all(fd, n);
    close(fd);
    if (!all)
        return -ENOMEM;
    *ret = all;
    *ret_n = n;
    return 0;
}

int gw_cmd_ledger_leaves(const struct gw_ledger_entry *all, int n, uint8_t **ret)
{
    uint8_t *leaves = malloc(n > 0 ? (size_t)n * GW_MERKLE_HASH_LEN : 1);

    if (!leaves)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        uint8_t raw[32];

        for (int j = 0; j < 32; j++) {
            char byte[3] = {all[i].hash[2 * j], all[i].hash[2 * j + 1], '\0'};

            raw[j] = (uint8_t)strtoul(byte, NULL, 16);
        }
        if (gw_merkle_leaf(raw, sizeof(raw), leaves + (size_t)i * GW_MERKLE_HASH_LEN) < 0) {
            free(leaves);
            return -ENOMEM;
        }
    }
    *ret = leaves;
    return 0;
}

int gw_cmd_checkpoint_make(const struct gw_ledger_entry *all, int n, const uint8_t *leaves,
                           const struct gw_key *k, struct gw_checkpoint *ret_c, char *buf,
                           size_t cap)
{
    struct gw_checkpoint c = {.version = 2, .length = (uint64_t)n};
    struct timespec now;
    gw_merkle_hash root;

    if (gw_merkle_root(leaves, (uint64_t)n, root) < 0)
        return -ENOMEM;
    gw_hex(root, sizeof(root), c.root);
    if (n > 0)
        memcpy(c.head, all[n - 1].hash, sizeof(c.head));
    clock_gettime(CLOCK_REALTIME, &now);
    gw_rfc3339(&now, c.time);
    if (gw_checkpoint_sign(&c, k, buf, cap) == 0)
        return -EINVAL;
    *ret_c = c;
    return 0;
}

static int ledger_checkpoint(const struct gw_cmd_opts *o)
{
    struct gw_ledger_entry *all = NULL;
    struct gw_checkpoint c;
    struct gw_key k;
    char text[GW_CHECKPOINT_TEXT_MAX];
    uint8_t *leaves = NULL;
    int n = 0, r;

    if (gw_cmd_ledger_load(o->data, &all, &n) < 0)
        return 1;
    r = gw_cmd_ledger_leaves(all, n, &leaves);
    if (r == 0 && (r = gw_cmd_load_key(o->data, false, "prep-gateway", &k)) == 0) {
        r = gw_cmd_checkpoint_make(all, n, leaves, &k, &c, text, sizeof(text));
        gw_key_finish(&k);
    }
    free(leaves);
    free(all);
    if (r < 0)
        return 1;
    if (o->json)
        gw_cli_print_json(json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:s}", "version", c.version,
                                    "length", n, "head", c.head, "root", c.root, "time", c.time,
                                    "gateway_key", c.gateway_key, "signature", c.signature),
                          JSON_INDENT(2));
    else
        fputs(text, stdout);
    return 0;
}

int gw_cmd_ledger(int argc, char **argv)
{
    static const char *const subs[] = {"verify", "checkpoint", NULL};
    struct gw_cmd_opts o;
    int r, sub;

    r = gw_cmd_opts_parse("prep-gateway ledger", ledger_usage, argc, argv, subs, &sub, &o);
    if (r != 0)
        return gw_cli_exit(r);
    return sub == 0 ? ledger_verify(&o) : ledger_checkpoint(&o);
}
