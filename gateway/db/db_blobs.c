#include "db_blobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_db.h"

int gw_db_blob_put(PGconn *c, const char *kind, const char *sha_hex, const uint8_t *buf, size_t len)
{
    char sha[68];
    const char *params[] = {sha, kind, (const char *)buf};
    int r;

    snprintf(sha, sizeof(sha), "\\x%s", sha_hex);
    r = gw_db_cmd_binary(c,
                         "INSERT INTO blobs (sha256, kind, data) VALUES ($1::bytea, $2, $3::bytea)"
                         " ON CONFLICT DO NOTHING",
                         3, params, 2, len);
    return r < 0 ? r : 0;
}

int gw_db_blob_read(PGconn *c, const char *sha_hex, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
    char sha[68];
    const char *params[] = {sha};
    PGresult *res;
    size_t len;
    int rc;

    snprintf(sha, sizeof(sha), "\\x%s", sha_hex);
    /* The result in binary: the bytes as they are stored, no hex to decode. */
    res = PQexecParams(c, "SELECT data FROM blobs WHERE sha256 = $1::bytea", 1, NULL, params, NULL,
                       NULL, 1);
    rc = gw_db_status(c, res, PGRES_TUPLES_OK);
    if (rc == 0 && PQntuples(res) != 1)
        rc = -ENOENT;
    if (rc == 0 && (len = (size_t)PQgetlength(res, 0, 0)) > max)
        rc = -EFBIG;
    if (rc == 0) {
        *ret_buf = malloc(len ? len : 1);
        if (*ret_buf) {
            memcpy(*ret_buf, PQgetvalue(res, 0, 0), len);
            *ret_len = len;
        } else {
            rc = -ENOMEM;
        }
    }
    PQclear(res);
    return rc;
}

int gw_db_photo_known(PGconn *c, const char *photo_id)
{
    const char *params[] = {photo_id};
    int n = gw_db_rows(c, "SELECT 1 FROM photos WHERE photo_id = $1::uuid", 1, params);

    return n < 0 ? n : n > 0;
}
