/*
 * prep-gateway: the command line. Parses options and wires the modules together; the work is
 * done in the gw_* modules, and every command but serve in cmd/.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_admin.h"
#include "cmd_audit.h"
#include "cmd_election.h"
#include "cmd_export.h"
#include "cmd_provenance.h"
#include "gw_app.h"
#include "gw_config.h"
#include "gw_db.h"
#include "gw_log.h"

#ifndef PREP_VERSION
#define PREP_VERSION "dev"
#endif
#ifndef PREP_SCHEMA_DIR
#define PREP_SCHEMA_DIR "schema"
#endif
#ifndef PREP_WEB_DIR
#define PREP_WEB_DIR "web"
#endif

static void usage(FILE *out)
{
    fprintf(out, "Usage: prep-gateway COMMAND [OPTIONS]\n"
                 "\n"
                 "The PREP casilla photo gateway: receives photos of actas from polling stations\n"
                 "over HTTP/2 and queues them in PostgreSQL for verification.\n"
                 "\n"
                 "Commands:\n"
                 "  serve      run the gateway (see prep-gateway serve --help)\n"
                 "  config     check a configuration file for serve (config check FILE)\n"
                 "  migrate    apply the database schema migrations\n"
                 "  user       add, change or disable accounts (prep-gateway user --help)\n"
                 "  catalog    import the catalogue of expected actas\n"
                 "  election   import the election structure for capture (vote fields per acta)\n"
                 "  export     write the PREP results CSV of a cut (export prep-csv --help)\n"
                 "  device     enrolment codes, enrolled devices, revocation\n"
                 "  key        show the gateway's signing key (prep-gateway key show)\n"
                 "  ledger     verify the ledger or sign a checkpoint of it\n"
                 "  receipt    verify a receipt offline\n"
                 "  spool      a stopped gateway's pending receipts: list, ingest them\n"
                 "  evidence   write the evidence bundle of one acta (docs/evidence.md)\n"
                 "  relay      a CATD edge's forwarding to the centre: status, verify\n"
                 "  audit      hash the installed system, verify it, certify empty databases\n"
                 "  version    print the version\n"
                 "\n"
                 "Environment (the defaults follow ./run.sh, so run from the repository root):\n"
                 "  PREP_VAR   state folder (default var): --data is $PREP_VAR/data, and --db\n"
                 "             the database whose conninfo ./run.sh wrote to $PREP_VAR/conninfo\n"
                 "  PREP_DB    PostgreSQL connection string for --db, instead of that file\n");
}

static int cmd_serve(int argc, char **argv)
{
    struct gw_config cfg;
    sigset_t set;
    int r;

    gw_config_defaults(&cfg);
    r = gw_config_parse(&cfg, argc, argv, stdout);
    if (r != 0) {
        gw_config_finish(&cfg);
        return r > 0 ? 0 : 2;
    }
    if (!cfg.web_dir)
        cfg.web_dir = PREP_WEB_DIR;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            gw_log_set_level(GW_LOG_DEBUG);

    /* Signals go to the main thread only, through sigwait(): every thread started from here on
     * inherits the blocked mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "prep-gateway: libevent has no thread support\n");
        gw_config_finish(&cfg);
        return 1;
    }
    r = gw_app_run(&cfg, PREP_VERSION, &set);
    libevent_global_shutdown();
    gw_config_finish(&cfg);
    return r;
}

static int cmd_migrate(int argc, char **argv)
{
    return gw_cmd_migrate(argc, argv, PREP_SCHEMA_DIR);
}

static int cmd_audit(int argc, char **argv)
{
    return gw_cmd_audit(argc, argv, PREP_SCHEMA_DIR, PREP_WEB_DIR);
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv); /* |argv| starts at the command's name */
} commands[] = {
    {"serve", cmd_serve},          {"migrate", cmd_migrate},      {"user", gw_cmd_user},
    {"catalog", gw_cmd_catalog},   {"key", gw_cmd_key},           {"device", gw_cmd_device},
    {"audit", cmd_audit},          {"ledger", gw_cmd_ledger},     {"receipt", gw_cmd_receipt},
    {"election", gw_cmd_election}, {"evidence", gw_cmd_evidence}, {"config", gw_config_check},
    {"export", gw_cmd_export},     {"relay", gw_cmd_relay},       {"spool", gw_cmd_spool},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("prep-gateway %s\n", PREP_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "prep-gateway: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
