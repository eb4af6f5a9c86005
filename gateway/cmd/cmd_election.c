#include "cmd_election.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_capture.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"
#include "gw_db.h"

/* An election file is a few kilobytes; anything near this is not one. */
#define ELECTION_FILE_MAX (1024 * 1024)

static const char election_usage[] =
    "Usage: prep-gateway election import FILE.json [--json] [--db CONNINFO]\n"
    "\n"
    "Loads the election structure that capture needs: for each acta type (the last 1-2\n"
    "digits of CLAVE_ACTA) its vote fields in the order of the acta (parties, coalitions,\n"
    "independent candidates, candidatos no registrados, votos nulos and the total), each\n"
    "with an id and a label. The format is in docs/capture.md; an example is\n"
    "fixtures/elections/jalisco-2021-diputaciones-locales.json. Importing again replaces\n"
    "the acta types the file names, unless one of them has captures and its fields change.\n"
    "The lista nominal of each acta comes from the catalogue (prep-gateway catalog import).\n"
    "--db defaults to $PREP_DB, else the database ./run.sh set up ($PREP_VAR/conninfo).\n"
    "Exit status: 0 done, 1 refused or failed, 2 usage.\n";

static int election_import(PGconn *pg, const char *file, bool json)
{
    json_error_t err;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &err);
    char *text = NULL, *summary = NULL;
    int rc = 1;

    if (!doc) {
        fprintf(stderr, "prep-gateway election import: %s:%d: %s\n", file, err.line, err.text);
        return 1;
    }
    text = json_is_object(doc) ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!text || strlen(text) > ELECTION_FILE_MAX) {
        fprintf(stderr, "prep-gateway election import: %s: %s\n", file,
                text ? "too large for an election file" : "not a JSON object");
    } else if (gw_db_capture_election_import(pg, text, &summary) < 0) {
        fprintf(stderr, "prep-gateway election import: %s: %s", file, PQerrorMessage(pg));
    } else {
        json_t *s = json_loads(summary, 0, NULL);

        if (json)
            printf("%s\n", summary);
        else
            printf("election import: %s, %lld acta type(s), %lld field(s)\n",
                   json_string_value(json_object_get(s, "election_id")),
                   (long long)json_integer_value(json_object_get(s, "acta_types")),
                   (long long)json_integer_value(json_object_get(s, "fields")));
        json_decref(s);
        rc = 0;
    }
    free(summary);
    free(text);
    json_decref(doc);
    return rc;
}

int gw_cmd_election(int argc, char **argv)
{
    return gw_cli_db_import(argc, argv, "prep-gateway election", election_usage, election_import);
}
