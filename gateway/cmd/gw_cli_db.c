#include "gw_cli_db.h"

#include <stdio.h>
#include <string.h>

#include "gw_cli.h"
#include "gw_config.h"
#include "gw_db.h"

PGconn *gw_cli_db_connect(const char *conninfo, const char *what)
{
    char err[512];
    PGconn *pg = gw_db_connect(conninfo, err, sizeof(err));

    if (!pg)
        fprintf(stderr, "%s: %s\n", what, err);
    return pg;
}

int gw_cli_db_import(int argc, char **argv, const char *prog, const char *usage,
                     int (*import)(PGconn *pg, const char *file, bool json))
{
    struct gw_config cfg;
    bool json = false;
    const struct gw_cli_opt opts[] = {GW_CLI_OPT_DB(&cfg.db), GW_CLI_OPT_JSON(&json),
                                      GW_CLI_OPT_END};
    const struct gw_cli cli = {.prog = prog, .usage = usage, .opts = opts};
    char what[128];
    PGconn *pg;
    int first, rc;

    gw_config_defaults(&cfg);
    rc = gw_cli_parse(&cli, argc, argv, &first);
    if (rc != 0)
        return gw_cli_exit(rc);
    if (first + 2 != argc || strcmp(argv[first], "import") != 0) {
        fputs(usage, stderr);
        return 2;
    }
    snprintf(what, sizeof(what), "%s import: could not connect", prog);
    pg = gw_cli_db_connect(cfg.db, what);
    if (!pg)
        return 1;
    rc = import(pg, argv[first + 1], json);
    PQfinish(pg);
    return rc;
}
