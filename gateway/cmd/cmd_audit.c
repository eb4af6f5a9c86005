#include "cmd_audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd_provenance.h"
#include "db_audit.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_keys.h"
#include "gw_ledger.h"
#include "gw_receipt.h"

#define MAX_INCLUDES 64

/* Tables that hold configuration loaded before election night, not results: audit zero does not
 * require them to be empty. Every other table of the public schema is operational. */
static const char *const reference_tables[] = {
    "schema_migrations", "users",           "sessions", "catalog",
    "review_priorities", "enrolment_codes", "devices",  "elections",
    "acta_types",        "acta_fields",     NULL,
};

static const char usage[] =
    "Usage: prep-gateway audit manifest --out FILE [--data DIR] [--include PATH]...\n"
    "       prep-gateway audit verify FILE [--data DIR | --pubkey BASE64] [--json]\n"
    "       prep-gateway audit zero [--data DIR] [--db CONNINFO] [--json]\n"
    "\n"
    "manifest  hashes (SHA-256) every file of the installed system: this binary and the shared\n"
    "          libraries it loads, the schema folder, the web folder and each --include (a file\n"
    "          or a folder, walked), and signs the list with the gateway key.\n"
    "verify    checks the manifest's signature, re-hashes every file and lists each one that\n"
    "          was added (in a listed folder), is missing or changed. Exit status 0 on pass.\n"
    "zero      checks that every operational table and the spool are empty and prints a\n"
    "          signed, timestamped statement with the counts; exit status 1, naming what is\n"
    "          not empty, otherwise.\n";

struct file {
    char *path;
    char sha[GW_SHA256_HEX_LEN + 1];
    uint64_t bytes;
};

struct list {
    struct file *v;
    size_t n, cap;
};

static int hash_file(const char *path, char *ret_sha, uint64_t *ret_bytes)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    uint64_t total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
    ssize_t n;

    if (fd < 0 || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        r = fd < 0 ? -errno : -ENOMEM;
        goto out;
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (n < 0 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        r = -EIO;
        goto out;
    }
    gw_hex(md, 32, ret_sha);
    *ret_bytes = total;
out:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(ctx);
    return r;
}

/* Appends |path| as it is (manifest entries are already resolved). */
static int append(struct list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct file *grown = realloc(l->v, cap * sizeof(*grown));

        if (!grown)
            return -ENOMEM;
        l->v = grown;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
    l->v[l->n].path = strdup(path);
    if (!l->v[l->n].path)
        return -ENOMEM;
    l->n++;
    return 0;
}

/* Adds the resolved |path| once. */
static int add(struct list *l, const char *path)
{
    char real[PATH_MAX];

    if (!realpath(path, real))
        return -errno;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].path, real) == 0)
            return 0;
    return append(l, real);
}

/* Adds |path|, or every regular file under it when it is a folder. */
static int add_tree(struct list *l, const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int r = 0;

    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return S_ISREG(st.st_mode) ? add(l, path) : 0;
    d = opendir(path);
    if (!d)
        return -errno;
    while (r == 0 && (e = readdir(d))) {
        char child[PATH_MAX];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "node_modules") == 0)
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        r = add_tree(l, child);
    }
    closedir(d);
    return r;
}

/* The executable and every shared object mapped into this process. */
static int add_binaries(struct list *l)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 128];
    int r = add(l, "/proc/self/exe");

    if (!f)
        return r < 0 ? r : -errno;
    while (r == 0 && fgets(line, sizeof(line), f)) {
        char *p = strchr(line, '/');

        if (!p)
            continue;
        p[strcspn(p, "\n")] = '\0';
        if (strstr(p, ".so"))
            r = add(l, p);
    }
    fclose(f);
    return r;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct file *)a)->path, ((const struct file *)b)->path);
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* The signed text: "prep-casilla manifest v1", the roots, then sha256sum lines. */
static char *manifest_text(const struct list *files, json_t *roots, const char *created,
                           size_t *ret_len)
{
    size_t cap = 256 + files->n * (GW_SHA256_HEX_LEN + PATH_MAX / 8), len = 0;
    char *s = malloc(cap);
    size_t i;
    json_t *v;

#define APPEND(...)                                                                                \
    do {                                                                                           \
        int n_ = snprintf(s + len, cap - len, __VA_ARGS__);                                        \
        if (n_ < 0 || (size_t)n_ >= cap - len) {                                                   \
            char *g_;                                                                              \
            cap = cap * 2 + (n_ > 0 ? (size_t)n_ : 0);                                             \
            g_ = realloc(s, cap);                                                                  \
            if (!g_)                                                                               \
                goto oom;                                                                          \
            s = g_;                                                                                \
            n_ = snprintf(s + len, cap - len, __VA_ARGS__);                                        \
        }                                                                                          \
        len += (size_t)n_;                                                                         \
    } while (0)

    if (!s)
        return NULL;
    APPEND("prep-casilla manifest v1\ncreated_at=%s\n", created);
    json_array_foreach(roots, i, v) APPEND("root=%s\n", json_string_value(v));
    for (i = 0; i < files->n; i++)
        APPEND("%s  %s\n", files->v[i].sha, files->v[i].path);
#undef APPEND
    *ret_len = len;
    return s;
oom:
    free(s);
    return NULL;
}

static int load_key(const char *data, const char *pubkey, struct gw_key *k, bool private_key)
{
    if (pubkey && !private_key)
        return gw_cli_parse_pubkey(pubkey, k);
    /* Signing before the first `serve` (the ceremony runs first) makes the key, as serve would. */
    return gw_cmd_load_key(data, private_key, "prep-gateway audit", k);
}

static int cmd_manifest(const char *out, const char *data, const char **inc, int ninc,
                        const char *schema_dir, const char *web_dir)
{
    struct list files = {0};
    struct gw_key k;
    json_t *roots = json_array(), *doc, *arr;
    struct timespec now;
    char created[GW_TIME_LEN + 1], b64[GW_KEY_SIG_B64 + 1], *text, *s;
    uint8_t sig[GW_KEY_SIG_LEN];
    size_t len;
    FILE *f;
    int r;

    if (load_key(data, NULL, &k, true) < 0)
        return 1;
    r = add_binaries(&files);
    json_array_append_new(roots, json_string(schema_dir));
    if (r == 0)
        r = add_tree(&files, schema_dir);
    if (r == 0 && web_dir && access(web_dir, F_OK) == 0) {
        json_array_append_new(roots, json_string(web_dir));
        r = add_tree(&files, web_dir);
    }
    for (int i = 0; r == 0 && i < ninc; i++) {
        char real[PATH_MAX];

        if (!realpath(inc[i], real)) {
            r = -errno;
            fprintf(stderr, "prep-gateway audit: %s: %s\n", inc[i], strerror(errno));
            break;
        }
        json_array_append_new(roots, json_string(real));
        r = add_tree(&files, real);
    }
    if (r < 0) {
        fprintf(stderr, "prep-gateway audit: could not list the files: %s\n", strerror(-r));
        goto fail;
    }
    qsort(files.v, files.n, sizeof(*files.v), cmp_file);
    for (size_t i = 0; i < files.n; i++) {
        r = hash_file(files.v[i].path, files.v[i].sha, &files.v[i].bytes);
        if (r < 0) {
            fprintf(stderr, "prep-gateway audit: could not hash %s: %s\n", files.v[i].path,
                    strerror(-r));
            goto fail;
        }
        if (isatty(STDERR_FILENO))
            fprintf(stderr, "\raudit: hashed %zu/%zu files", i + 1, files.n);
    }
    fprintf(stderr, "%saudit: hashed %zu files\n", isatty(STDERR_FILENO) ? "\r" : "", files.n);
    clock_gettime(CLOCK_REALTIME, &now);
    gw_rfc3339(&now, created);
    text = manifest_text(&files, roots, created, &len);
    if (!text || gw_key_sign(&k, text, len, sig) < 0) {
        free(text);
        goto fail;
    }
    free(text);
    gw_b64_encode(sig, sizeof(sig), b64);
    arr = json_array();
    for (size_t i = 0; i < files.n; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:I}", "path", files.v[i].path, "sha256",
                                        files.v[i].sha, "bytes", (json_int_t)files.v[i].bytes));
    doc = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "format", "prep-casilla manifest v1",
                    "created_at", created, "roots", json_incref(roots), "files", arr, "gateway_key",
                    k.fingerprint, "signature", b64);
    s = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    f = s ? fopen(out, "w") : NULL;
    if (!f || fputs(s, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "prep-gateway audit: could not write %s\n", out);
        free(s);
        goto fail;
    }
    free(s);
    printf("audit: manifest of %zu files written to %s, signed by %s\n", files.n, out,
           k.fingerprint);
    json_decref(roots);
    list_free(&files);
    gw_key_finish(&k);
    return 0;
fail:
    json_decref(roots);
    list_free(&files);
    gw_key_finish(&k);
    return 1;
}

static int cmd_verify(const char *path, const char *data, const char *pubkey, bool as_json)
{
    json_t *doc = json_load_file(path, 0, NULL), *files, *roots, *v, *report;
    struct list listed = {0}, now_files = {0};
    struct gw_key k;
    uint8_t sig[GW_KEY_SIG_LEN + 2];
    const char *created, *b64;
    char *text = NULL;
    size_t i, len, problems = 0;
    int r = 1;

    report = json_array();
    if (!doc || !(files = json_object_get(doc, "files")) || !json_is_array(files) ||
        !(roots = json_object_get(doc, "roots")) ||
        !(created = json_string_value(json_object_get(doc, "created_at"))) ||
        !(b64 = json_string_value(json_object_get(doc, "signature")))) {
        fprintf(stderr, "prep-gateway audit: %s is not a manifest\n", path);
        goto out;
    }
    if (load_key(data, pubkey, &k, false) < 0)
        goto out;
    json_array_foreach(files, i, v)
    {
        const char *p = json_string_value(json_object_get(v, "path"));
        const char *h = json_string_value(json_object_get(v, "sha256"));

        if (!p || !h || strlen(h) != GW_SHA256_HEX_LEN || append(&listed, p) < 0)
            goto bad_doc;
        memcpy(listed.v[listed.n - 1].sha, h, GW_SHA256_HEX_LEN + 1);
    }
    text = manifest_text(&listed, roots, created, &len);
    if (!text || gw_b64_decode(b64, sig, sizeof(sig)) != GW_KEY_SIG_LEN ||
        !gw_key_verify(&k, text, len, sig)) {
        json_array_append_new(report,
                              json_pack("{s:s, s:s}", "status", "bad-signature", "path", path));
        problems++;
    }
    for (i = 0; i < listed.n; i++) {
        char sha[GW_SHA256_HEX_LEN + 1];
        uint64_t bytes;

        if (hash_file(listed.v[i].path, sha, &bytes) < 0) {
            json_array_append_new(
                report, json_pack("{s:s, s:s}", "status", "missing", "path", listed.v[i].path));
            problems++;
        } else if (strcmp(sha, listed.v[i].sha) != 0) {
            json_array_append_new(
                report, json_pack("{s:s, s:s}", "status", "changed", "path", listed.v[i].path));
            problems++;
        }
    }
    /* Files that appeared in the listed folders since the manifest. */
    json_array_foreach(roots, i, v)
    {
        if (json_string_value(v))
            add_tree(&now_files, json_string_value(v));
    }
    for (size_t j = 0; j < now_files.n; j++) {
        bool known = false;

        for (size_t m = 0; m < listed.n && !known; m++)
            known = strcmp(listed.v[m].path, now_files.v[j].path) == 0;
        if (!known) {
            json_array_append_new(
                report, json_pack("{s:s, s:s}", "status", "added", "path", now_files.v[j].path));
            problems++;
        }
    }
    if (as_json) {
        gw_cli_print_json(json_pack("{s:b, s:I, s:o}", "pass", problems == 0, "files",
                                    (json_int_t)listed.n, "problems", json_incref(report)),
                          JSON_INDENT(2));
    } else {
        json_array_foreach(report, i, v)
            printf("%-8s %s\n", json_string_value(json_object_get(v, "status")),
                   json_string_value(json_object_get(v, "path")));
        printf("audit: %s: %zu files, %zu problem(s)\n", problems ? "FAIL" : "pass", listed.n,
               problems);
    }
    r = problems ? 1 : 0;
    gw_key_finish(&k);
    goto out;
bad_doc:
    fprintf(stderr, "prep-gateway audit: %s has a malformed file entry\n", path);
    gw_key_finish(&k);
out:
    free(text);
    list_free(&listed);
    list_free(&now_files);
    json_decref(report);
    json_decref(doc);
    return r;
}

static int count_dir(const char *data, const char *sub)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", data, sub);
    d = opendir(path);
    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* What audit zero gathers: the counts by name, the statement being signed. */
struct zero {
    json_t *counts;
    char *text;
    size_t len, cap;
    long long nonzero;
};

static void add_table(void *arg, const char *table, long long n)
{
    struct zero *z = arg;

    json_object_set_new(z->counts, table, json_integer(n));
    z->nonzero += n > 0;
    if (z->len + 128 < z->cap)
        z->len += (size_t)snprintf(z->text + z->len, z->cap - z->len, "table %s=%lld\n", table, n);
}

static int cmd_zero(const char *data, const char *db, bool as_json)
{
    char path[PATH_MAX], t[GW_TIME_LEN + 1], b64[GW_KEY_SIG_B64 + 1];
    PGconn *pg = gw_cli_db_connect(db, "prep-gateway audit zero: could not connect");
    struct zero z = {.counts = json_object(), .cap = 4096};
    struct gw_key k;
    struct timespec now;
    struct stat st;
    uint8_t sig[GW_KEY_SIG_LEN];
    int r = 1;

    if (!pg) {
        json_decref(z.counts);
        return 1;
    }
    z.text = malloc(z.cap);
    if (!z.text)
        goto out;
    clock_gettime(CLOCK_REALTIME, &now);
    gw_rfc3339(&now, t);
    z.len = (size_t)snprintf(z.text, z.cap, "prep-casilla zero v1\ntime=%s\n", t);
    if (gw_db_audit_table_counts(pg, reference_tables, add_table, &z) < 0) {
        fprintf(stderr, "prep-gateway audit zero: %s", PQerrorMessage(pg));
        goto out;
    }
    /* The spool is a database too: receipts, pending entries, signature records and the ledger
     * file. */
    {
        static const char *const dirs[] = {"spool/receipts", "spool/pending", "spool/signatures",
                                           "store/originals", "store/review"};

        for (size_t j = 0; j < sizeof(dirs) / sizeof(*dirs); j++) {
            int n = count_dir(data, dirs[j]);

            json_object_set_new(z.counts, dirs[j], json_integer(n));
            z.nonzero += n > 0;
            z.len += (size_t)snprintf(z.text + z.len, z.cap - z.len, "spool %s=%d\n", dirs[j], n);
        }
        snprintf(path, sizeof(path), "%s/%s", data, GW_LEDGER_FILE);
        json_object_set_new(z.counts, GW_LEDGER_FILE,
                            json_integer(stat(path, &st) == 0 ? (json_int_t)st.st_size : 0));
        z.nonzero += stat(path, &st) == 0 && st.st_size > 0;
        z.len +=
            (size_t)snprintf(z.text + z.len, z.cap - z.len, "spool %s bytes=%lld\n", GW_LEDGER_FILE,
                             stat(path, &st) == 0 ? (long long)st.st_size : 0LL);
    }
    if (z.nonzero) {
        const char *key;
        json_t *v;

        fprintf(stderr, "prep-gateway audit zero: NOT empty:");
        json_object_foreach(z.counts, key, v) if (json_integer_value(v) > 0)
            fprintf(stderr, " %s=%lld", key, (long long)json_integer_value(v));
        fprintf(stderr, "\n");
        if (as_json) {
            gw_cli_print_json(
                json_pack("{s:b, s:s, s:O}", "zero", 0, "time", t, "counts", z.counts),
                JSON_INDENT(2));
        }
        goto out;
    }
    if (load_key(data, NULL, &k, true) < 0 || gw_key_sign(&k, z.text, z.len, sig) < 0)
        goto out;
    gw_b64_encode(sig, sizeof(sig), b64);
    if (as_json) {
        gw_cli_print_json(json_pack("{s:b, s:s, s:O, s:s, s:s, s:s}", "zero", 1, "time", t,
                                    "counts", z.counts, "statement", z.text, "gateway_key",
                                    k.fingerprint, "signature", b64),
                          JSON_INDENT(2));
    } else {
        printf("%sgateway_key=%s\nsignature=%s\n", z.text, k.fingerprint, b64);
    }
    gw_key_finish(&k);
    r = 0;
out:
    free(z.text);
    json_decref(z.counts);
    PQfinish(pg);
    return r;
}

struct includes {
    const char *v[MAX_INCLUDES];
    int n;
};

static int add_include(void *value, const char *arg)
{
    struct includes *inc = value;

    if (inc->n == MAX_INCLUDES) {
        fprintf(stderr, "prep-gateway audit: at most %d --include\n", MAX_INCLUDES);
        return -E2BIG;
    }
    inc->v[inc->n++] = arg;
    return 0;
}

int gw_cmd_audit(int argc, char **argv, const char *schema_dir, const char *web_dir)
{
    static const char *const subs[] = {"manifest", "verify", "zero", NULL};
    struct includes inc = {.n = 0};
    const char *out = NULL, *pubkey = NULL;
    struct gw_config cfg;
    bool as_json = false;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_STRING("out", &out, "FILE", NULL),
        GW_CLI_OPT_STRING("data", &cfg.data_dir, "DIR", NULL),
        GW_CLI_OPT_DB(&cfg.db),
        {.name = "include", .kind = GW_CLI_CALL, .value = &inc, .arg = "PATH", .call = add_include},
        GW_CLI_OPT_STRING("pubkey", &pubkey, "BASE64", NULL),
        GW_CLI_OPT_JSON(&as_json),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "prep-gateway audit", .usage = usage, .opts = opts};
    int r, sub, first;

    gw_config_defaults(&cfg);
    r = gw_cli_command(&cli, argc, argv, subs, &sub, &first);
    if (r != 0)
        return gw_cli_exit(r);
    if (sub == 0) {
        if (!out) {
            fprintf(stderr, "prep-gateway audit manifest: --out FILE is required\n");
            return 2;
        }
        return cmd_manifest(out, cfg.data_dir, inc.v, inc.n, schema_dir, web_dir);
    }
    if (sub == 1) {
        /* gw_cli_parse() ran on argv + 1: |first| counts from there. */
        if (first + 2 != argc) {
            fputs(usage, stderr);
            return 2;
        }
        return cmd_verify(argv[first + 1], cfg.data_dir, pubkey, as_json);
    }
    return cmd_zero(cfg.data_dir, cfg.db, as_json);
}
