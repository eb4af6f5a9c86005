/* gw_ledger and gw_keys: the hash chain on a real file, torn tails, tampering, signatures. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_keys.h"
#include "gw_ledger.h"
#include "gw_spool.h"
#include "tap.h"

static void entry(struct gw_ledger_entry *e, int i)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->photo_id, sizeof(e->photo_id), "00000000-0000-8000-8000-%012d", i);
    snprintf(e->clave, sizeof(e->clave), "140338B0100%02u", (unsigned)i % 100u);
    snprintf(e->device, sizeof(e->device), "open-upload");
    memset(e->sha256, 'a' + i % 6, 64);
    e->bytes = 1000u + (unsigned)i;
    e->width = 4000;
    e->height = 3000;
    snprintf(e->time, sizeof(e->time), "2027-06-06T21:00:%02u.000-06:00", (unsigned)i % 60u);
}

static char root[256];

static int dir_fd(void)
{
    return open(root, O_RDONLY | O_DIRECTORY);
}

static void test_chain(void)
{
    struct gw_ledger l = {.fd = -1};
    struct gw_ledger_entry e, last;
    char path[512];
    uint64_t bad = 0;
    const char *why = NULL;
    int dfd = dir_fd(), fd;

    CHECK(gw_ledger_open(&l, dfd) == 0);
    CHECK(l.last.seq == 0);
    for (int i = 1; i <= 5; i++) {
        entry(&e, i);
        gw_ledger_lock(&l);
        CHECK(gw_ledger_append(&l, &e) == 0);
        gw_ledger_unlock(&l);
        CHECK(e.seq == (uint64_t)i);
    }
    gw_ledger_close(&l);

    /* A write cut by a crash: the torn line is dropped at the next open, the chain goes on. */
    snprintf(path, sizeof(path), "%s/%s", root, GW_LEDGER_FILE);
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "{\"seq\":6,\"prev\":\"ab", 19) == 19);
    close(fd);
    CHECK(gw_ledger_open(&l, dfd) == 0);
    CHECK(l.last.seq == 5);
    entry(&e, 6);
    CHECK(gw_ledger_append(&l, &e) == 0 && e.seq == 6);
    CHECK(gw_ledger_walk(l.fd, &last, NULL, NULL, NULL) == 6);
    CHECK(strcmp(last.hash, e.hash) == 0);
    gw_ledger_close(&l);

    /* Tampering with entry 3's bytes breaks the chain there, and the gateway refuses it. */
    {
        char cmd[700];

        snprintf(cmd, sizeof(cmd), "sed -i 's/\"bytes\":1003/\"bytes\":1004/' %s", path);
        CHECK(system(cmd) == 0);
    }
    fd = open(path, O_RDONLY);
    CHECK(gw_ledger_walk(fd, NULL, NULL, &bad, &why) == -EBADMSG);
    CHECK(bad == 3);
    CHECK_STR(why, "hash does not match the entry's fields");
    close(fd);
    CHECK(gw_ledger_open(&l, dfd) == -EBADMSG);
    gw_ledger_close(&l);
    unlink(path);
    close(dfd);
}

/* An entry whose receipt could not be written is taken back; the chain goes on from the one
 * before it. */
static void test_drop_last(void)
{
    struct gw_ledger l = {.fd = -1};
    struct gw_ledger_entry e, second;
    char path[512];
    int top = dir_fd(), dfd;

    snprintf(path, sizeof(path), "%s/drop", root);
    CHECK(mkdir(path, 0700) == 0);
    dfd = openat(top, "drop", O_RDONLY | O_DIRECTORY);
    close(top);
    CHECK(gw_ledger_open(&l, dfd) == 0);
    CHECK(gw_ledger_drop_last(&l) == -EINVAL);
    for (int i = 1; i <= 3; i++) {
        entry(&e, i);
        CHECK(gw_ledger_append(&l, &e) == 0);
        if (i == 2)
            second = e;
    }
    CHECK(gw_ledger_drop_last(&l) == 0);
    CHECK(l.last.seq == 2 && strcmp(l.last.hash, second.hash) == 0);
    entry(&e, 4);
    CHECK(gw_ledger_append(&l, &e) == 0);
    CHECK(e.seq == 3 && strcmp(e.prev, second.hash) == 0);
    gw_ledger_close(&l);
    CHECK(gw_ledger_open(&l, dfd) == 0);
    CHECK(l.last.seq == 3 && strcmp(l.last.photo_id, e.photo_id) == 0);
    /* Down to nothing: the next entry is the first again. */
    for (int i = 0; i < 3; i++)
        CHECK(gw_ledger_drop_last(&l) == 0);
    CHECK(l.last.seq == 0 && l.size == 0);
    entry(&e, 5);
    CHECK(gw_ledger_append(&l, &e) == 0 && e.seq == 1);
    gw_ledger_close(&l);
    close(dfd);
}

static void test_keys(void)
{
    struct gw_key k, pub;
    char path[512], b64[GW_KEY_SIG_B64 + 1];
    uint8_t sig[GW_KEY_SIG_LEN], back[GW_KEY_SIG_LEN + 2];
    struct stat st;

    snprintf(path, sizeof(path), "%s/keys/k.pem", root);
    CHECK(gw_key_load(path, false, &k) == -ENOENT);
    CHECK(gw_key_load(path, true, &k) == 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(gw_key_sign(&k, "receipt", 7, sig) == 0);
    CHECK(gw_key_from_public(k.pub, &pub) == 0);
    CHECK(strcmp(pub.fingerprint, k.fingerprint) == 0);
    CHECK(gw_key_verify(&pub, "receipt", 7, sig));
    CHECK(!gw_key_verify(&pub, "receipT", 7, sig));
    sig[10] ^= 1;
    CHECK(!gw_key_verify(&pub, "receipt", 7, sig));
    gw_b64_encode(sig, sizeof(sig), b64);
    CHECK(strlen(b64) == GW_KEY_SIG_B64);
    CHECK(gw_b64_decode(b64, back, sizeof(back)) == GW_KEY_SIG_LEN);
    CHECK(memcmp(back, sig, sizeof(sig)) == 0);
    CHECK(gw_b64_decode("not base64!", back, sizeof(back)) < 0);
    gw_key_finish(&pub);
    gw_key_finish(&k);
    /* The same key comes back; a key readable by others is refused. */
    CHECK(gw_key_load(path, true, &k) == 0);
    gw_key_finish(&k);
    CHECK(chmod(path, 0644) == 0);
    CHECK(gw_key_load(path, false, &k) == -EPERM);
}

/* A crash after the ledger append but before the receipt: the next start finishes it. */
static void test_spool_recovery(void)
{
    struct gw_spool s;
    struct gw_ledger l = {.fd = -1}, l2 = {.fd = -1};
    struct gw_key k;
    struct gw_spool_file f;
    struct gw_receipt r = {0}, again;
    bool existed = false;
    char path[600], text[1024];
    uint8_t sig[GW_KEY_SIG_LEN + 2];

    snprintf(path, sizeof(path), "%s/keys/k2.pem", root);
    CHECK(gw_key_load(path, true, &k) == 0);
    CHECK(gw_spool_open(&s, root) == 0);
    CHECK(gw_spool_attach_ledger(&s, &l, &k) == 0);
    snprintf(r.clave, sizeof(r.clave), "140338B010002");
    r.width = 40;
    r.height = 30;
    CHECK(gw_spool_file_open(&s, 5, &f) == 0);
    CHECK(gw_spool_file_write(&f, "bytes", 5) == 0);
    CHECK(gw_spool_commit(&s, &f, NULL, &r, &existed) == 0 && !existed);
    CHECK(r.ledger_seq == 1 && strcmp(r.device, "open-upload") == 0);
    CHECK(gw_b64_decode(r.signature, sig, sizeof(sig)) == GW_KEY_SIG_LEN);
    CHECK(gw_key_verify(&k, text, gw_receipt_text(&r, text, sizeof(text)), sig));

    /* Lose the receipt files as if the process died right after the ledger append. */
    snprintf(path, sizeof(path), "%s/spool/pending/%s.json", root, r.photo_id);
    CHECK(unlink(path) == 0);
    snprintf(path, sizeof(path), "%s/spool/receipts/%s.json", root, r.photo_id);
    CHECK(unlink(path) == 0);
    gw_ledger_close(&l);
    gw_spool_close(&s);

    CHECK(gw_spool_open(&s, root) == 0);
    CHECK(gw_spool_attach_ledger(&s, &l2, &k) == 0);
    CHECK(gw_spool_receipt_load(&s, r.photo_id, &again) == 0);
    CHECK(memcmp(&again, &r, sizeof(r)) == 0);
    CHECK(gw_spool_pending_load(&s, r.photo_id, &again) == 0);
    gw_ledger_close(&l2);
    gw_spool_close(&s);
    gw_key_finish(&k);
}

int main(void)
{
    char cmd[300];

    snprintf(root, sizeof(root), "%s/gw-ledger-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(root) != NULL);
    test_chain();
    test_drop_last();
    test_keys();
    test_spool_recovery();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    return TAP_DONE();
}
