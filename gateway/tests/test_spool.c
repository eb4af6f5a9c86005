/* The spool's commit protocol, on a real directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_spool.h"
#include "tap.h"

static char root[256];

static int exists(const char *sub, const char *name, const char *suffix)
{
    char p[512];

    snprintf(p, sizeof(p), "%s/%s/%s%s", root, sub, name, suffix);
    return access(p, F_OK) == 0;
}

static int count(const char *sub)
{
    char cmd[512];
    FILE *f;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A %s/%s | wc -l", root, sub);
    f = popen(cmd, "r");
    if (f && fscanf(f, "%d", &n) != 1)
        n = -1;
    if (f)
        pclose(f);
    return n;
}

static int upload(struct gw_spool *s, const char *clave, const char *body, struct gw_receipt *r,
                  bool *existed)
{
    struct gw_spool_file f;
    int rc;

    memset(r, 0, sizeof(*r));
    snprintf(r->clave, sizeof(r->clave), "%s", clave);
    r->width = 40;
    r->height = 30;
    rc = gw_spool_file_open(s, strlen(body), &f);
    if (rc < 0)
        return rc;
    /* Two writes, as the network delivers it. */
    rc = gw_spool_file_write(&f, body, 3);
    if (rc == 0)
        rc = gw_spool_file_write(&f, body + 3, strlen(body) - 3);
    if (rc < 0) {
        gw_spool_file_abort(s, &f);
        return rc;
    }
    return gw_spool_commit(s, &f, NULL, r, existed);
}

int main(void)
{
    struct gw_spool s;
    struct gw_receipt a, b, c, loaded;
    struct gw_spool_file f;
    bool existed = true;
    char **ids = NULL, path[512], stale[512];
    int n, fd;

    snprintf(root, sizeof(root), "%s/gw-spool-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(root) != NULL);
    CHECK(gw_spool_open(&s, root) == 0);

    /* A new upload: durable original, receipt in pending/ and receipts/, nothing in tmp/. */
    CHECK(upload(&s, "140338B010002", "abc-photo-bytes", &a, &existed) == 0);
    CHECK(!existed);
    CHECK_STR(a.sha256, "3b301b36e7cee5b49fa7a8deefe183b5a70a4ab6d4702daa47c45f16470a6aae");
    CHECK(a.bytes == 15);
    CHECK(exists("store/originals", a.sha256, ".jpg"));
    CHECK(exists("spool/pending", a.photo_id, ".json"));
    CHECK(exists("spool/receipts", a.photo_id, ".json"));
    CHECK(count("spool/tmp") == 0);

    /* The same bytes for the same clave: the first receipt, unchanged. */
    CHECK(upload(&s, "140338B010002", "abc-photo-bytes", &b, &existed) == 0);
    CHECK(existed);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    CHECK(count("spool/tmp") == 0);
    CHECK(count("store/originals") == 1);

    /* The same bytes for another clave: another photo sharing the stored original. */
    CHECK(upload(&s, "140338B010001", "abc-photo-bytes", &c, &existed) == 0);
    CHECK(!existed && strcmp(c.photo_id, a.photo_id) != 0);
    CHECK(count("store/originals") == 1);
    CHECK(gw_spool_receipt_load(&s, c.photo_id, &loaded) == 0);
    CHECK(memcmp(&c, &loaded, sizeof(c)) == 0);

    /* A crash after the commit point but before the receipts/ link: listing pending repairs it. */
    snprintf(path, sizeof(path), "%s/spool/receipts/%s.json", root, c.photo_id);
    CHECK(unlink(path) == 0);
    n = gw_spool_pending_list(&s, &ids);
    CHECK(n == 2);
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    CHECK(exists("spool/receipts", c.photo_id, ".json"));

    /* Recorded in PostgreSQL: out of pending/, still answerable from receipts/. */
    CHECK(gw_spool_pending_done(&s, a.photo_id) == 0);
    CHECK(!exists("spool/pending", a.photo_id, ".json"));
    CHECK(gw_spool_receipt_load(&s, a.photo_id, &loaded) == 0);
    CHECK(gw_spool_pending_load(&s, a.photo_id, &loaded) == -ENOENT);

    /* An aborted upload leaves nothing. */
    CHECK(gw_spool_file_open(&s, 10, &f) == 0);
    CHECK(gw_spool_file_write(&f, "xy", 2) == 0);
    gw_spool_file_abort(&s, &f);
    CHECK(count("spool/tmp") == 0);

    /* Review derivatives are content-addressed. */
    {
        char sha[65];
        uint8_t *buf = NULL;
        size_t len = 0;

        CHECK(gw_spool_review_write(&s, (const uint8_t *)"RIFFwebp", 8, sha) == 0);
        CHECK(exists("store/review", sha, ".webp"));
        CHECK(gw_spool_review_read(&s, sha, 100, &buf, &len) == 0 && len == 8);
        CHECK(buf && memcmp(buf, "RIFFwebp", 8) == 0);
        free(buf);
        CHECK(gw_spool_review_read(&s, sha, 4, &buf, &len) == -EFBIG);
    }
    CHECK(gw_spool_check_writable(&s) == 0);

    /* A partial upload from a crash is removed at the next open. */
    snprintf(stale, sizeof(stale), "%s/spool/tmp/stale.part", root);
    fd = open(stale, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    gw_spool_close(&s);
    CHECK(gw_spool_open(&s, root) == 0);
    CHECK(count("spool/tmp") == 0);
    gw_spool_close(&s);

    snprintf(path, sizeof(path), "rm -rf %s", root);
    CHECK(system(path) == 0);
    return TAP_DONE();
}
