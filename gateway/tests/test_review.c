/* The pure parts of the review modules: decision bodies, session tokens from headers, the
 * login backoff, and web paths (no traversal). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_review.h"
#include "gw_static.h"
#include "tap.h"

#define TOK "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define UUID "6f1c2a43-1d0e-4b6a-9c33-0f2b6b1e2a7d"

static int parse(const char *json)
{
    struct gw_review_decision d;
    const char *why = NULL;
    int r = gw_review_decision_parse(json, strlen(json), &d, &why);

    CHECK(r == 0 || why != NULL);
    return r;
}

static int resolve(const char *path, char *out)
{
    const char *why = NULL;

    return gw_static_resolve(path, strlen(path), out, 256, &why);
}

int main(void)
{
    char tok[GW_AUTH_TOKEN_LEN + 1], file[256], t2[GW_AUTH_TOKEN_LEN + 1];
    bool bearer = false;

    /* decisions: the table of what is accepted */
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"accept\"}") == 0);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"retake\",\"note\":\"x\"}") == 0);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"reject\",\"reason\":\"ilegible\"}") ==
          0);
    CHECK(parse("{\"lease_token\":\"" UUID
                "\",\"decision\":\"reject\",\"reason\":\"incompleta\"}") == 0);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"duplicate\",\"duplicate_of\":\"" UUID
                "\"}") == 0);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"reject\"}") == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"reject\",\"reason\":\"feo\"}") ==
          -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"accept\",\"reason\":\"ilegible\"}") ==
          -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"duplicate\"}") == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"accept\",\"duplicate_of\":\"" UUID
                "\"}") == -EINVAL);
    CHECK(parse("{\"lease_token\":\"nope\",\"decision\":\"accept\"}") == -EINVAL);
    CHECK(parse("{\"decision\":\"accept\"}") == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":7}") == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"lease_token\":\"" UUID
                "\",\"decision\":\"accept\"}") == -EINVAL);
    CHECK(parse("[1]") == -EINVAL);
    CHECK(parse("") == -EINVAL);
    CHECK(parse("{\"lease_token\":\"" UUID "\",\"decision\":\"accept\"") == -EINVAL);

    /* tokens: bearer wins, cookie among others, malformed ones refused */
    CHECK(gw_auth_token_find(NULL, "Bearer " TOK, tok, &bearer) == 0 && bearer);
    CHECK(gw_auth_token_find("a=b; prep_session=" TOK "; c=d", NULL, tok, &bearer) == 0 &&
          !bearer && strcmp(tok, TOK) == 0);
    CHECK(gw_auth_token_find("xprep_session=" TOK, NULL, tok, &bearer) == -ENOENT);
    CHECK(gw_auth_token_find("prep_session=short", NULL, tok, &bearer) == -ENOENT);
    CHECK(gw_auth_token_find("prep_session=" TOK "x", NULL, tok, &bearer) == -ENOENT);
    CHECK(gw_auth_token_find(NULL, "Basic " TOK, tok, &bearer) == -ENOENT);
    CHECK(gw_auth_token_find(NULL, "Bearer " TOK "!", tok, &bearer) == -ENOENT);
    CHECK(gw_auth_token_find(NULL, NULL, tok, &bearer) == -ENOENT);
    CHECK(gw_auth_token_new(tok) == 0 && gw_auth_token_new(t2) == 0);
    CHECK(strlen(tok) == GW_AUTH_TOKEN_LEN && strcmp(tok, t2) != 0);
    CHECK(gw_auth_token_find(NULL, "Bearer x", t2, &bearer) == -ENOENT);
    CHECK(gw_auth_equal("abc", "abc") && !gw_auth_equal("abc", "abd") &&
          !gw_auth_equal("abc", "ab") && !gw_auth_equal("", "a"));

    /* backoff */
    CHECK(gw_auth_backoff_s(0) == 0 && gw_auth_backoff_s(2) == 0);
    CHECK(gw_auth_backoff_s(3) == 1 && gw_auth_backoff_s(4) == 2 && gw_auth_backoff_s(7) == 16);
    CHECK(gw_auth_backoff_s(13) == GW_AUTH_BACKOFF_MAX_S);
    CHECK(gw_auth_backoff_s(1000) == GW_AUTH_BACKOFF_MAX_S);

    /* passwords: Argon2id round trip */
    {
        char hash[GW_AUTH_HASH_MAX];

        CHECK(gw_auth_password_hash("corta", hash, sizeof(hash)) == -EINVAL);
        CHECK(gw_auth_password_hash("una clave larga", hash, sizeof(hash)) == 0);
        CHECK(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
        CHECK(gw_auth_password_check(hash, "una clave larga"));
        CHECK(!gw_auth_password_check(hash, "una clave largA"));
        CHECK(!gw_auth_password_check("garbage", "una clave larga"));
    }
    CHECK(gw_auth_role_parse("supervisor") == GW_ROLE_SUPERVISOR &&
          gw_auth_role_parse("root") == GW_ROLE_NONE);

    /* static paths */
    CHECK(resolve("/review/", file) == 0 && strcmp(file, "review/index.html") == 0);
    CHECK(resolve("/static/app.css", file) == 0 && strcmp(file, "static/app.css") == 0);
    CHECK(resolve("/static/../etc/passwd", file) == -EINVAL);
    CHECK(resolve("/static/./app.css", file) == -EINVAL);
    CHECK(resolve("/static/.env", file) == -EINVAL);
    CHECK(resolve("/static//app.css", file) == -EINVAL);
    CHECK(resolve("/static/%2e%2e/x", file) == -EINVAL);
    CHECK(resolve("/static/a\\b", file) == -EINVAL);
    CHECK(resolve("static/app.css", file) == -EINVAL);
    CHECK(resolve("/static/a\x01", file) == -EINVAL);
    {
        char longp[600];

        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        CHECK(resolve(longp, file) == -ENAMETOOLONG);
    }
    CHECK(strcmp(gw_static_content_type("a.js"), "text/javascript; charset=utf-8") == 0);
    CHECK(strcmp(gw_static_content_type("a.html"), "text/html; charset=utf-8") == 0);
    CHECK(strcmp(gw_static_content_type("js"), "application/octet-stream") == 0);
    return TAP_DONE();
}
