#include "gw_originals.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "db_blobs.h"
#include "db_photos.h"

int gw_original_ingest(struct gw_spool *s, PGconn *pg, const struct gw_receipt *r,
                       const char *gateway, size_t max)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = gw_spool_original_read(s, r->sha256, max, &buf, &len);

    if (rc == 0)
        rc = gw_db_ingest(pg, r, gateway, buf, len);
    free(buf);
    return rc;
}

int gw_original_load(struct gw_spool *s, PGconn *pg, const char *sha_hex, size_t max,
                     uint8_t **ret_buf, size_t *ret_len)
{
    int rc = gw_spool_original_read(s, sha_hex, max, ret_buf, ret_len);

    return rc == -ENOENT && pg ? gw_db_blob_read(pg, sha_hex, max, ret_buf, ret_len) : rc;
}

int gw_review_load(struct gw_spool *s, PGconn *pg, const char *sha_hex, size_t max,
                   uint8_t **ret_buf, size_t *ret_len)
{
    int rc = gw_spool_review_read(s, sha_hex, max, ret_buf, ret_len);

    return rc == -ENOENT && pg ? gw_db_blob_read(pg, sha_hex, max, ret_buf, ret_len) : rc;
}

void gw_worker_token(const char *gateway, char *ret)
{
    uint8_t b[16] = {0};
    char hex[33];

    /* getrandom() without flags blocks until the pool is ready, and does not fail short for 16
     * bytes; should it fail anyway, the time and thread still make the token this worker's. */
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        struct timespec ts;
        pthread_t self = pthread_self();

        clock_gettime(CLOCK_REALTIME, &ts);
        memcpy(b, &ts, sizeof(b) < sizeof(ts) ? sizeof(b) : sizeof(ts));
        memcpy(b + 8, &self, sizeof(self) < 8 ? sizeof(self) : 8);
    }
    gw_hex(b, sizeof(b), hex);
    snprintf(ret, GW_WORKER_TOKEN_LEN + 1, "%.64s/%.8s-%.4s-%.4s-%.4s-%.12s", gateway, hex, hex + 8,
             hex + 12, hex + 16, hex + 20);
}
