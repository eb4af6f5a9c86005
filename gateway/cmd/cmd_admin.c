#include "cmd_admin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_auth.h"
#include "db_catalog.h"
#include "gw_auth.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_db.h"

#define CSV_HEADER "clave_acta,state,district,municipality,section,casilla_type,nominal_list"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char user_usage[] =
    "Usage: prep-gateway user add USERNAME --role clerk|supervisor|admin|capturist [--db "
    "CONNINFO]\n"
    "       prep-gateway user passwd USERNAME [--db CONNINFO]\n"
    "       prep-gateway user disable USERNAME [--db CONNINFO]\n"
    "       prep-gateway user list [--json] [--db CONNINFO]\n"
    "\n"
    "Manages the accounts of the verification clerks and the capturists. add and passwd read the "
    "password\n"
    "from the first line of standard input (at least " STR(
        GW_AUTH_PASSWORD_MIN) " characters); it is stored as an\n"
                              "Argon2id hash. passwd and disable end the user's open sessions at "
                              "once.\n"
                              "USERNAME: lowercase letters, digits, '.', '-', '_' (at most 64).\n"
                              "--db defaults to $PREP_DB, else the database ./run.sh set up "
                              "($PREP_VAR/conninfo).\n"
                              "Exit status: 0 done, 1 refused or failed, 2 usage.\n";

/* Reads one line of stdin into |buf|, without its newline. */
static int read_password(char *buf, size_t cap)
{
    size_t n;

    if (!fgets(buf, (int)cap, stdin))
        return -EINVAL;
    n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n == cap - 1)
        return -E2BIG;
    buf[n] = '\0';
    return 0;
}

static void print_user(void *arg, const char *username, const char *role, const char *state)
{
    (void)arg;
    printf("%-24s %-11s %s\n", username, role, state);
}

static int user_list(PGconn *pg, bool json)
{
    char *doc = NULL;
    int r;

    if (json) {
        r = gw_db_auth_users_json(pg, &doc);
        if (r == 0)
            printf("%s\n", doc);
        free(doc);
    } else {
        r = gw_db_auth_users_each(pg, print_user, NULL);
    }
    if (r < 0) {
        fprintf(stderr, "prep-gateway user list: %s", PQerrorMessage(pg));
        return 1;
    }
    return 0;
}

/* --role: stops at an unknown role, as a usage error. */
static int parse_role(void *value, const char *arg)
{
    enum gw_role *role = value;

    *role = gw_auth_role_parse(arg);
    if (*role == GW_ROLE_NONE) {
        fprintf(stderr, "prep-gateway user: unknown role '%s'\n", arg);
        return -EINVAL;
    }
    return 0;
}

int gw_cmd_user(int argc, char **argv)
{
    struct gw_config cfg;
    enum gw_role role = GW_ROLE_NONE;
    char password[GW_AUTH_PASSWORD_MAX + 2];
    const char *sub, *name = NULL, *why;
    bool json = false;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_DB(&cfg.db),
        {.name = "role", .kind = GW_CLI_CALL, .value = &role, .arg = "ROLE", .call = parse_role},
        GW_CLI_OPT_JSON(&json),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "prep-gateway user", .usage = user_usage, .opts = opts};
    PGconn *pg;
    int first, r = 0;

    gw_config_defaults(&cfg);
    r = gw_cli_parse(&cli, argc, argv, &first);
    if (r != 0)
        return gw_cli_exit(r);
    if (first >= argc) {
        fputs(user_usage, stderr);
        return 2;
    }
    sub = argv[first];
    if (strcmp(sub, "list") != 0) {
        if (first + 2 != argc) {
            fputs(user_usage, stderr);
            return 2;
        }
        name = argv[first + 1];
    }
    if (strcmp(sub, "add") == 0 && role == GW_ROLE_NONE) {
        fprintf(stderr, "prep-gateway user add: --role is required\n");
        return 2;
    }
    if (strcmp(sub, "add") != 0 && strcmp(sub, "passwd") != 0 && strcmp(sub, "disable") != 0 &&
        strcmp(sub, "list") != 0) {
        fprintf(stderr, "prep-gateway user: unknown command '%s'\n", sub);
        fputs(user_usage, stderr);
        return 2;
    }
    if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
        if (read_password(password, sizeof(password)) < 0) {
            fprintf(stderr, "prep-gateway user %s: give the password on standard input\n", sub);
            return 1;
        }
        why = gw_auth_password_weak(password);
        if (why) {
            fprintf(stderr, "prep-gateway user %s: %s\n", sub, why);
            return 1;
        }
    }
    pg = gw_cli_db_connect(cfg.db, "prep-gateway user: could not connect");
    if (!pg)
        return 1;
    if (strcmp(sub, "list") == 0) {
        r = user_list(pg, json);
        PQfinish(pg);
        return r;
    }
    if (strcmp(sub, "add") == 0)
        r = gw_auth_user_add(pg, name, role, password);
    else if (strcmp(sub, "passwd") == 0)
        r = gw_auth_user_passwd(pg, name, password);
    else
        r = gw_auth_user_disable(pg, name);
    explicit_bzero(password, sizeof(password));
    if (r == -EEXIST)
        fprintf(stderr, "prep-gateway user %s: user '%s' exists already\n", sub, name);
    else if (r == -ENOENT)
        fprintf(stderr, "prep-gateway user %s: no user '%s'\n", sub, name);
    else if (r == -EINVAL)
        fprintf(stderr, "prep-gateway user %s: invalid user name '%s'\n", sub, name);
    else if (r < 0)
        fprintf(stderr, "prep-gateway user %s: %s", sub, PQerrorMessage(pg));
    else if (json)
        printf("{\"user\":\"%s\",\"done\":\"%s\"}\n", name, sub);
    else
        printf("user %s: %s done\n", name, sub);
    PQfinish(pg);
    return r < 0 ? 1 : 0;
}

/* ---- catalog import ---- */

static const char catalog_usage[] =
    "Usage: prep-gateway catalog import FILE.csv [--json] [--db CONNINFO]\n"
    "\n"
    "Loads the catalogue of expected actas. FILE.csv is UTF-8 CSV whose first line is\n"
    "  " CSV_HEADER "\n"
    "(state 1-32; casilla_type B, C, E, S or V; nominal_list >= 0). Rows are inserted or\n"
    "updated by clave_acta in one transaction: a file with any bad row changes nothing.\n"
    "Photos already queued for claves now in the catalogue lose the fuera_de_catalogo\n"
    "flag. Progress goes to stderr; --json prints the summary as JSON.\n";

static int catalog_import(PGconn *pg, const char *file, bool json)
{
    char buf[65536], header[256];
    struct gw_db_catalog_counts counts;
    struct stat st;
    FILE *f;
    size_t n, sent = 0, total = 0;
    unsigned long long next = 0;

    f = fopen(file, "rb");
    if (!f || fstat(fileno(f), &st) < 0) {
        fprintf(stderr, "prep-gateway catalog import: could not open %s: %s\n", file,
                strerror(errno));
        if (f)
            fclose(f);
        return 1;
    }
    total = (size_t)st.st_size;
    if (!fgets(header, sizeof(header), f) || strncmp(header, CSV_HEADER, strlen(CSV_HEADER)) != 0 ||
        (header[strlen(CSV_HEADER)] != '\n' && header[strlen(CSV_HEADER)] != '\r')) {
        fprintf(stderr, "prep-gateway catalog import: %s: the first line must be\n  %s\n", file,
                CSV_HEADER);
        fclose(f);
        return 1;
    }
    sent = strlen(header);
    if (gw_db_catalog_import_begin(pg) < 0) {
        fprintf(stderr, "prep-gateway catalog import: %s", PQerrorMessage(pg));
        fclose(f);
        return 1;
    }
    /* PostgreSQL parses the CSV (quotes, commas in municipality names); we stream the bytes. */
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (gw_db_catalog_import_put(pg, buf, n) < 0)
            break;
        sent += n;
        if (sent >= next || sent == total) {
            fprintf(stderr, "\rcatalog import: %3u%% (%zu of %zu bytes)",
                    total ? (unsigned)(sent * 100 / total) : 100, sent, total);
            next = sent + total / 20;
        }
    }
    fprintf(stderr, "\n");
    fclose(f);
    if (gw_db_catalog_import_end(pg, &counts) < 0)
        goto fail;
    if (json)
        printf("{\"file\":\"%s\",\"inserted\":%lld,\"updated\":%lld,\"unflagged_photos\":%lld}\n",
               file, counts.inserted, counts.updated, counts.unflagged);
    else
        printf("catalog import: %lld rows inserted, %lld updated, %lld queued photos back in the"
               " catalogue\n",
               counts.inserted, counts.updated, counts.unflagged);
    if (gw_db_catalog_import_commit(pg) == 0)
        return 0;
fail:
    fprintf(stderr, "prep-gateway catalog import: %s: %s", file, PQerrorMessage(pg));
    gw_db_catalog_import_abort(pg);
    return 1;
}

int gw_cmd_catalog(int argc, char **argv)
{
    return gw_cli_db_import(argc, argv, "prep-gateway catalog", catalog_usage, catalog_import);
}

/* ---- migrate ---- */

int gw_cmd_migrate(int argc, char **argv, const char *schema_dir)
{
    struct gw_config cfg;
    const char *schema = schema_dir;
    char usage[1024], err[512];
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_DB(&cfg.db),
        GW_CLI_OPT_STRING("schema", &schema, "DIR", NULL),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "prep-gateway migrate", .usage = usage, .opts = opts};
    PGconn *pg;
    int r;

    snprintf(usage, sizeof(usage),
             "Usage: prep-gateway migrate [--db CONNINFO] [--schema DIR]\n"
             "\n"
             "Applies the numbered migrations NNN_name.sql of DIR (default %s) that the\n"
             "database has not recorded in schema_migrations, in order, each in its own\n"
             "transaction. Running it again applies nothing. --db defaults to $PREP_DB, else\n"
             "./run.sh's database ($PREP_VAR/conninfo).\n",
             schema_dir);
    gw_config_defaults(&cfg);
    r = gw_cli_parse(&cli, argc, argv, NULL);
    if (r != 0)
        return gw_cli_exit(r);
    pg = gw_cli_db_connect(cfg.db, "prep-gateway migrate: could not connect");
    if (!pg)
        return 1;
    r = gw_db_migrate(pg, schema, stdout, err, sizeof(err));
    PQfinish(pg);
    if (r < 0) {
        fprintf(stderr, "prep-gateway migrate: %s\n", err);
        return 1;
    }
    printf("migrate: %d migration(s) applied, schema up to date\n", r);
    return 0;
}
