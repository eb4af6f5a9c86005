#include "gw_cli_db.h"

#include <stdio.h>

#include "gw_db.h"

PGconn *gw_cli_db_connect(const char *conninfo, const char *what)
{
    char err[512];
    PGconn *pg = gw_db_connect(conninfo, err, sizeof(err));

    if (!pg)
        fprintf(stderr, "%s: %s\n", what, err);
    return pg;
}
