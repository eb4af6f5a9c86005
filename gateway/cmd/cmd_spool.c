/* `prep-gateway spool list|ingest` (see cmd_provenance.h). */
#include "cmd_provenance.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_blobs.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_originals.h"
#include "gw_spool.h"

static const char spool_usage[] =
    "Usage: prep-gateway spool list [--data DIR] [--db CONNINFO] [--json]\n"
    "       prep-gateway spool ingest --gateway-id ID [--data DIR] [--db CONNINFO] [--json]\n"
    "\n"
    "For the spool of a gateway that is stopped or dead (never of one running: opening the\n"
    "spool empties its tmp/ folder). What it acknowledged to phones but holds only on its\n"
    "disk are the receipts in DIR/spool/pending/ that PostgreSQL does not record yet.\n"
    "list    prints each pending receipt (photo id, clave, SHA-256, seq in that gateway's\n"
    "        ledger) and whether PostgreSQL already has the photo; exit status 0.\n"
    "ingest  records every pending receipt in PostgreSQL with its original, as the gateway's\n"
    "        ingest stage would have, in the ledger chain of gateway ID (the dead gateway's\n"
    "        --gateway-id), and clears it from pending/; any gateway then processes it.\n"
    "        Exit status 0 when every one was recorded.\n";

int gw_cmd_spool(int argc, char **argv)
{
    static const char *const subs[] = {"list", "ingest", NULL};
    struct gw_config cfg;
    const char *data, *db, *gateway = NULL;
    bool json = false;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_STRING("data", &data, "DIR", NULL),
        GW_CLI_OPT_DB(&db),
        GW_CLI_OPT_STRING("gateway-id", &gateway, "ID", NULL),
        GW_CLI_OPT_JSON(&json),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "prep-gateway spool", .usage = spool_usage, .opts = opts};
    struct gw_spool s;
    PGconn *pg;
    json_t *list;
    char **ids = NULL;
    int sub, r, n, failed = 0, done = 0;

    gw_config_defaults(&cfg);
    data = cfg.data_dir;
    db = cfg.db;
    r = gw_cli_command(&cli, argc, argv, subs, &sub, NULL);
    if (r != 0)
        return gw_cli_exit(r);
    if (sub == 1 && !gateway) {
        fprintf(stderr, "prep-gateway spool ingest: --gateway-id ID (the dead gateway's) is "
                        "needed: its ledger entries belong to that gateway's chain\n");
        return 2;
    }
    r = gw_spool_open(&s, data);
    if (r < 0) {
        fprintf(stderr, "prep-gateway spool: could not open the spool of %s: %s\n", data,
                strerror(-r));
        return 1;
    }
    pg = gw_cli_db_connect(db, "prep-gateway spool: could not connect to PostgreSQL");
    n = pg ? gw_spool_pending_list(&s, &ids) : -EIO;
    if (n < 0) {
        if (pg)
            fprintf(stderr, "prep-gateway spool: could not list pending/: %s\n", strerror(-n));
        PQfinish(pg);
        gw_spool_close(&s);
        return 1;
    }
    list = json_array();
    for (int i = 0; i < n; i++) {
        struct gw_receipt rc;
        int known, e = gw_spool_pending_load(&s, ids[i], &rc);

        if (e < 0) {
            fprintf(stderr, "prep-gateway spool: %s: unreadable receipt: %s\n", ids[i],
                    strerror(-e));
            failed++;
            continue;
        }
        if (sub == 1) {
            e = gw_original_ingest(&s, pg, &rc, gateway, SIZE_MAX);
            if (e == 0)
                e = gw_spool_pending_done(&s, ids[i]);
            if (e < 0) {
                fprintf(stderr, "prep-gateway spool: %s: not recorded: %s\n", ids[i],
                        e == -EPROTO || e == -EIO ? PQerrorMessage(pg) : strerror(-e));
                failed++;
                continue;
            }
            done++;
        }
        known = gw_db_photo_known(pg, rc.photo_id);
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:I, s:b}", "photo_id", rc.photo_id,
                                        "clave", rc.clave, "sha256", rc.sha256, "ledger_seq",
                                        (json_int_t)rc.ledger_seq, "in_database", known == 1));
        if (!json)
            printf("%s %s %s seq=%llu %s\n", rc.photo_id, rc.clave, rc.sha256,
                   (unsigned long long)rc.ledger_seq, known == 1 ? "in-database" : "only-in-spool");
    }
    if (json)
        gw_cli_print_json(json_pack("{s:o, s:i, s:i, s:i}", "pending", list, "ingested", done,
                                    "failed", failed, "count", n),
                          JSON_INDENT(2));
    else {
        json_decref(list);
        printf("%d pending receipt(s)%s; %d failed\n", n, sub == 1 ? " ingested" : "", failed);
    }
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    PQfinish(pg);
    gw_spool_close(&s);
    return failed ? 1 : 0;
}
