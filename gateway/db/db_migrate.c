#include "db_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"
#include "gw_receipt.h"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf) {
            buf[n] = '\0';
            *ret_len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

static void sha256_hex(const void *buf, size_t len, char *out)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof(md));
    gw_hex(md, 32, out);
}

static int migrate_one(PGconn *c, const char *dir, const char *name, FILE *progress, char *errbuf,
                       size_t errcap)
{
    char path[4096], hash[65], version[16];
    const char *params[3];
    char *endp, *sql;
    size_t len;
    PGresult *res;
    long v;
    int r = 0;

    errno = 0;
    v = strtol(name, &endp, 10);
    if (errno || endp == name || *endp != '_' || v <= 0 || v > 99999) {
        snprintf(errbuf, errcap, "migration file name must be NNN_name.sql: %s", name);
        return -EINVAL;
    }
    snprintf(version, sizeof(version), "%ld", v);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    sql = slurp(path, &len);
    if (!sql) {
        snprintf(errbuf, errcap, "could not read %s: %s", path, strerror(errno));
        return -EIO;
    }
    sha256_hex(sql, len, hash);

    r = gw_db_run(c, "BEGIN; SELECT pg_advisory_xact_lock(7304155)", 0, NULL, PGRES_TUPLES_OK,
                  NULL);
    if (r < 0)
        goto fail;
    params[0] = version;
    r = gw_db_run(c, "SELECT sha256 FROM schema_migrations WHERE version = $1", 1, params,
                  PGRES_TUPLES_OK, &res);
    if (r == 0 && PQntuples(res) == 1) {
        if (strcmp(PQgetvalue(res, 0, 0), hash) != 0) {
            snprintf(errbuf, errcap, "migration %s was applied with different contents", name);
            r = -EINVAL;
        } else {
            r = 1; /* already applied */
        }
    }
    PQclear(res);
    if (r != 0)
        goto rollback;

    r = gw_db_run(c, sql, 0, NULL, PGRES_COMMAND_OK, &res);
    if (r < 0 && res && PQresultStatus(res) == PGRES_TUPLES_OK)
        r = 0;
    PQclear(res);
    if (r < 0)
        goto fail;
    params[1] = name;
    params[2] = hash;
    r = gw_db_cmd(c, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)", 3,
                  params);
    if (r >= 0)
        r = gw_db_run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
    if (r < 0)
        goto fail;
    fprintf(progress, "migrate: applied %s\n", name);
    free(sql);
    return 1;

fail:
    snprintf(errbuf, errcap, "migration %s failed: %s", name, PQerrorMessage(c));
    errbuf[strcspn(errbuf, "\n")] = '\0';
rollback:
    (void)gw_db_run(c, "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL);
    free(sql);
    if (r == 1) {
        fprintf(progress, "migrate: %s already applied\n", name);
        return 0;
    }
    return r;
}

int gw_db_migrate(PGconn *c, const char *schema_dir, FILE *progress, char *errbuf, size_t errcap)
{
    DIR *d = opendir(schema_dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int applied = 0, r = 0;

    if (!d) {
        snprintf(errbuf, errcap, "could not open schema folder %s: %s", schema_dir,
                 strerror(errno));
        return -errno;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || e->d_name[0] < '0' ||
            e->d_name[0] > '9')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));

            if (!grown) {
                r = -ENOMEM;
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            r = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (r == 0) {
        r = gw_db_run(c,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version integer PRIMARY KEY, name text NOT NULL,"
                      " sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                      0, NULL, PGRES_COMMAND_OK, NULL);
        if (r < 0)
            snprintf(errbuf, errcap, "could not create schema_migrations: %s", PQerrorMessage(c));
    } else {
        snprintf(errbuf, errcap, "out of memory");
    }
    if (r == 0)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; r == 0 && i < n; i++) {
        int one = migrate_one(c, schema_dir, names[i], progress, errbuf, errcap);

        if (one < 0)
            r = one;
        else
            applied += one;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r < 0 ? r : applied;
}
