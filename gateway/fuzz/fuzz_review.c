/* Fuzz target: what a clerk's browser sends besides photos. The first line is a Cookie header
 * and the second an Authorization header, searched for a session token as every request is;
 * the rest is a decision body (POST /v1/review/{id}/decision). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gw_auth.h"
#include "gw_review.h"

static char *line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t len = (size_t)((nl ? nl : end) - *p);
    char *out = malloc(len + 1);

    if (out) {
        memcpy(out, *p, len);
        out[len] = '\0';
    }
    *p = nl ? nl + 1 : end;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *cookie = line(&p, end), *auth = line(&p, end);
    char token[GW_AUTH_TOKEN_LEN + 1], *body;
    struct gw_review_decision dec;
    const char *why = NULL;
    size_t len = (size_t)(end - p);
    bool bearer;

    if (cookie && auth) {
        gw_auth_token_find(cookie, auth, token, &bearer);
        gw_auth_token_find(cookie, NULL, token, &bearer);
    }
    /* The body exactly as received: not NUL-terminated. */
    body = malloc(len ? len : 1);
    if (body) {
        memcpy(body, p, len);
        gw_review_decision_parse(body, len, &dec, &why);
    }
    free(body);
    free(cookie);
    free(auth);
    return 0;
}
