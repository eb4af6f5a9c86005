/* The problem table in docs/api.md must be the table in gw_error.h, row for row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_error.h"
#include "tap.h"

int main(void)
{
    FILE *f = fopen(DOCS_API, "r");
    char line[512], want[512];
    int in_table = 0, row = GW_OK + 1;
    size_t len = 0;
    char *json;

    CHECK(f != NULL);
    while (f && fgets(line, sizeof(line), f)) {
        if (strstr(line, "problem-table:begin")) {
            in_table = 1;
            continue;
        }
        if (strstr(line, "problem-table:end"))
            break;
        if (!in_table || strncmp(line, "| `", 3) != 0)
            continue;
        if (row >= GW_E__MAX) {
            fprintf(stderr, "docs row without a code: %s", line);
            tap_failed++;
            continue;
        }
        snprintf(want, sizeof(want), "| `/problems/%s` | %d | %s |\n", gw_err_name(row),
                 gw_err_status(row), gw_err_title(row));
        if (strcmp(line, want) != 0) {
            fprintf(stderr, "docs/api.md has:\n  %s  the code has:\n  %s", line, want);
            tap_failed++;
        }
        row++;
    }
    if (f)
        fclose(f);
    if (row != GW_E__MAX) {
        fprintf(stderr, "docs/api.md lists %d problem types, the code %d\n", row - 1,
                GW_E__MAX - 1);
        tap_failed++;
    }

    CHECK(gw_err_status(GW_E_TOO_LARGE) == 413);
    CHECK(gw_err_from_name("truncated-jpeg") == GW_E_TRUNCATED_JPEG);
    CHECK(gw_err_from_name("nope") == 0);
    /* Only passing conditions say when to come back. */
    CHECK(gw_err_retry_after(GW_E_STORAGE) > 0);
    CHECK(gw_err_retry_after(GW_E_UNAVAILABLE) > 0);
    CHECK(gw_err_retry_after(GW_E_INVALID_JPEG) == 0);
    CHECK(gw_err_retry_after(12345) == 0);
    CHECK_STR(gw_err_name(12345), "internal-error");

    json =
        gw_problem_json(GW_E_INVALID_CLAVE, "state must be 2 digits", "/v1/actas/x/photos", &len);
    CHECK_STR(json, "{\"type\":\"/problems/invalid-clave-acta\",\"title\":\"Invalid CLAVE_ACTA\","
                    "\"status\":400,\"detail\":\"state must be 2 digits\","
                    "\"instance\":\"/v1/actas/x/photos\"}");
    CHECK(json && len == strlen(json));
    free(json);
    /* Invalid UTF-8 from a hostile path must not drop the document. */
    json = gw_problem_json(GW_E_NOT_FOUND, NULL, "/\xff\xfe", &len);
    CHECK(json && strstr(json, "\"status\":404"));
    free(json);
    return TAP_DONE();
}
