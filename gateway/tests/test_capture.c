/* The pure parts of capture: the shape of a figures body, and who may capture (roles). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_capture.h"
#include "tap.h"

#define UUID "6f1c2a43-1d0e-4b6a-9c33-0f2b6b1e2a7d"

/* Parses |json|; on success compares the normalised figures with |want| (may be NULL). */
static int parse(const char *json, const char *want)
{
    char token[37], *figures = NULL;
    const char *why = NULL;
    int r = gw_capture_figures_parse(json, strlen(json), token, &figures, &why);

    if (r == 0) {
        CHECK(strcmp(token, UUID) == 0);
        CHECK(!want || strcmp(figures, want) == 0);
        free(figures);
    } else {
        CHECK(r == -EINVAL && why != NULL && figures == NULL);
    }
    return r;
}

int main(void)
{
    /* figures bodies */
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pt\":3,\"pan\":12,"
                "\"mc\":\"ilegible\",\"total\":\"sin_dato\"}}",
                "{\"mc\":\"ilegible\",\"pan\":12,\"pt\":3,\"total\":\"sin_dato\"}") == 0);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pan\":0,\"nulos\":100000}}", NULL) ==
          0);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pan\":100001}}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pan\":-1}}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pan\":1.5}}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pan\":\"12\"}}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pan\":null}}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{}}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":[1,2]}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"nope\",\"figures\":{\"pan\":1}}", NULL) == -EINVAL);
    CHECK(parse("{\"figures\":{\"pan\":1}}", NULL) == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"figures\":{\"pan\":1,\"pan\":2}}", NULL) ==
          -EINVAL);
    CHECK(parse("[]", NULL) == -EINVAL);
    CHECK(parse("", NULL) == -EINVAL);
    {
        /* GW_CAPTURE_FIELDS_MAX members, then one more */
        char body[4096];
        size_t n =
            (size_t)snprintf(body, sizeof(body), "{\"lease_token\":\"" UUID "\",\"figures\":{");

        for (int i = 0; i < GW_CAPTURE_FIELDS_MAX; i++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"f%d\":1", i ? "," : "", i);
        snprintf(body + n, sizeof(body) - n, "}}");
        CHECK(parse(body, NULL) == 0);
        snprintf(body + n, sizeof(body) - n, ",\"extra\":1}}");
        CHECK(parse(body, NULL) == -EINVAL);
    }

    /* roles: a capturist is outside clerk < supervisor < admin */
    CHECK(gw_auth_role_parse("capturist") == GW_ROLE_CAPTURIST);
    CHECK(strcmp(gw_auth_role_name(GW_ROLE_CAPTURIST), "capturist") == 0);
    CHECK(gw_auth_role_parse("any") == GW_ROLE_NONE);
    CHECK(gw_auth_role_allows(GW_ROLE_CAPTURIST, GW_ROLE_CAPTURIST));
    CHECK(gw_auth_role_allows(GW_ROLE_SUPERVISOR, GW_ROLE_CAPTURIST));
    CHECK(gw_auth_role_allows(GW_ROLE_ADMIN, GW_ROLE_CAPTURIST));
    CHECK(!gw_auth_role_allows(GW_ROLE_CLERK, GW_ROLE_CAPTURIST));
    CHECK(!gw_auth_role_allows(GW_ROLE_CAPTURIST, GW_ROLE_CLERK));
    CHECK(!gw_auth_role_allows(GW_ROLE_CAPTURIST, GW_ROLE_SUPERVISOR));
    CHECK(gw_auth_role_allows(GW_ROLE_CAPTURIST, GW_ROLE_ANY));
    CHECK(gw_auth_role_allows(GW_ROLE_CLERK, GW_ROLE_ANY));
    CHECK(!gw_auth_role_allows(GW_ROLE_NONE, GW_ROLE_ANY));
    CHECK(gw_auth_role_allows(GW_ROLE_SUPERVISOR, GW_ROLE_CLERK));
    CHECK(!gw_auth_role_allows(GW_ROLE_CLERK, GW_ROLE_SUPERVISOR));
    CHECK(gw_auth_role_allows(GW_ROLE_NONE, GW_ROLE_NONE));
    return TAP_DONE();
}
