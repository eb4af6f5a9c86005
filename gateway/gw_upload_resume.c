/*
 * gw_upload_resume.c: the disk jobs of resumable uploads (draft-ietf-httpbis-resumable-upload,
 * gw_resumable.h for the protocol, gw_resume.h for the storage). A creation opens an upload
 * resource, an append takes it over at its offset and replays the bytes already there through the
 * hash and the JPEG scan, and the completing request commits the whole photo as a plain upload
 * would. Pool threads only.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "gw_app.h"
#include "gw_error.h"
#include "gw_h2.h"
#include "gw_stage.h"
#include "gw_upload_int.h"

static int md_start(struct gw_upload *u)
{
    u->md = EVP_MD_CTX_new();
    return u->md && EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

/* gw_resume_read()'s callback: the bytes before an append go through the hash and the scan. */
static int replay(void *arg, const uint8_t *buf, size_t n)
{
    struct gw_upload *u = arg;

    u->img_rc = img_jpeg_scan_feed(&u->scan, buf, n, &u->why);
    if (u->img_rc < 0)
        return -EILSEQ;
    return EVP_DigestUpdate(u->md, buf, n) == 1 ? 0 : -ENOMEM;
}

/* The bytes are refused: the upload resource goes now, before the refusal is sent. */
static void refuse_bytes(struct gw_upload *u)
{
    u->invalidate = true;
    gw_resume_delete(u->app->resumes, &u->hold);
}

/* The length this request implies: Upload-Length, or the end of a completing request. */
static bool implied_length(const struct gw_upload *u, uint64_t start, uint64_t *ret)
{
    if (u->req.has_length) {
        *ret = u->req.length;
        return true;
    }
    if (u->req.complete && u->s->content_length >= 0) {
        *ret = start + (uint64_t)u->s->content_length;
        return true;
    }
    return false;
}

/* Checks this request against the lengths known: the draft's inconsistent-upload-length. */
static bool length_consistent(struct gw_upload *u, uint64_t start)
{
    uint64_t len = 0;
    bool has = implied_length(u, start, &len);

    if (has && u->meta.has_length && len != u->meta.length)
        return false;
    if (has && !u->meta.has_length) {
        u->meta.has_length = true;
        u->meta.length = len;
    }
    if (u->meta.has_length && u->s->content_length >= 0 &&
        start + (uint64_t)u->s->content_length > u->meta.length)
        return false;
    return true;
}

static void resumable_create(struct gw_upload *u)
{
    memset(&u->meta, 0, sizeof(u->meta));
    snprintf(u->meta.clave, sizeof(u->meta.clave), "%s", u->receipt.clave);
    snprintf(u->meta.device, sizeof(u->meta.device), "%s", u->receipt.device);
    if (u->signed_upload) {
        u->meta.has_sha = true;
        memcpy(u->meta.sha, u->digest, 32);
        u->rc = gw_devices_sigrec(&u->auth, u->meta.sigrec, sizeof(u->meta.sigrec));
        if (u->rc < 0)
            return;
    }
    if (!length_consistent(u, 0)) {
        u->auth_err = GW_E_UPLOAD_LENGTH;
        u->why = "Upload-Length and Content-Length disagree";
        return;
    }
    u->rc = md_start(u);
    if (u->rc == 0)
        u->rc = gw_resume_create(u->app->resumes, &u->meta, &u->hold);
    if (u->rc == 0)
        memcpy(u->token, u->meta.token, sizeof(u->token));
}

static void resumable_append(struct gw_upload *u)
{
    uint64_t at = 0;
    int e = gw_resume_take(u->app->resumes, u->token, &u->meta, &u->hold, &at);

    u->expected = at;
    if (e == -ENOENT) {
        u->auth_err = GW_E_UPLOAD_NOT_FOUND;
        u->why = "no such upload: it expired, was cancelled, or never existed";
        return;
    }
    if (e < 0) {
        u->rc = e;
        return;
    }
    if (u->meta.complete) {
        u->auth_err = u->s->content_length > 0 ? GW_E_UPLOAD_LENGTH : GW_E_UPLOAD_COMPLETED;
        u->why = "this upload is already complete";
        return;
    }
    if (u->req.offset != at) {
        u->auth_err = GW_E_UPLOAD_OFFSET;
        u->why = "Upload-Offset is not the upload's offset: send from expected-offset";
        return;
    }
    if (!length_consistent(u, at) ||
        (u->meta.has_length && u->meta.length > u->app->cfg->max_body)) {
        u->auth_err = u->meta.has_length && u->meta.length > u->app->cfg->max_body
                          ? GW_E_TOO_LARGE
                          : GW_E_UPLOAD_LENGTH;
        u->why = "the lengths of this upload's requests disagree";
        return;
    }
    snprintf(u->receipt.clave, sizeof(u->receipt.clave), "%s", u->meta.clave);
    snprintf(u->receipt.device, sizeof(u->receipt.device), "%s", u->meta.device);
    u->signed_upload = u->meta.has_sha;
    memcpy(u->digest, u->meta.sha, 32);
    if (u->meta.device[0] && !gw_upload_take_device_slot(u))
        return;
    /* A length learnt now is kept for the next append (and for HEAD). */
    u->rc = gw_resume_save(u->app->resumes, &u->hold, &u->meta);
    if (u->rc == 0)
        u->rc = md_start(u);
    if (u->rc == 0)
        u->rc = gw_resume_read(&u->hold, at, replay, u);
    if (u->rc == -EILSEQ) {
        u->rc = 0;
        refuse_bytes(u); /* the JPEG was bad already: the upload cannot be completed */
    }
    u->offset = at;
}

static int resumable_commit_cb(void *arg, struct gw_spool_file *f)
{
    struct gw_upload *u = arg;

    f->sigrec = u->meta.sigrec[0] ? u->meta.sigrec : NULL;
    return gw_spool_commit(&u->app->spool, f, u->signed_upload ? u->digest : NULL, &u->receipt,
                           &u->existed);
}

static void resumable_write(struct gw_upload *u)
{
    struct iovec span[2];
    int n = gw_upload_spans(u, span);

    for (int i = 0; i < n; i++) {
        u->img_rc = img_jpeg_scan_feed(&u->scan, span[i].iov_base, span[i].iov_len, &u->why);
        if (u->img_rc < 0) {
            refuse_bytes(u);
            return;
        }
    }
    if (u->meta.has_length && u->offset + u->inflight_len > u->meta.length) {
        u->auth_err = GW_E_UPLOAD_LENGTH;
        u->why = "more bytes than the upload's length";
        refuse_bytes(u);
        return;
    }
    u->rc = 0;
    for (int i = 0; i < n && u->rc == 0; i++) {
        u->rc = gw_resume_write(&u->hold, u->offset, span[i].iov_base, span[i].iov_len);
        if (u->rc == 0 && EVP_DigestUpdate(u->md, span[i].iov_base, span[i].iov_len) != 1)
            u->rc = -ENOMEM;
        if (u->rc == 0)
            u->offset += span[i].iov_len;
    }
}

static void resumable_end(struct gw_upload *u)
{
    struct gw_spool_file f = {.fd = -1};

    if (!u->req.complete) {
        /* Not the last part: acknowledge a durable offset. */
        u->rc = gw_resume_sync(&u->hold);
        return;
    }
    if (u->meta.has_length && u->offset != u->meta.length) {
        u->auth_err = GW_E_UPLOAD_LENGTH;
        u->why = "the upload ended before its length";
        return;
    }
    u->img_rc = img_jpeg_scan_end(&u->scan, &u->why);
    if (u->img_rc < 0) {
        refuse_bytes(u);
        return;
    }
    u->receipt.width = u->scan.info.width;
    u->receipt.height = u->scan.info.height;
    f.md = u->md;
    f.bytes = u->offset;
    u->md = NULL; /* the spool file owns it from here */
    u->rc = gw_resume_complete(u->app->resumes, &u->hold, &u->meta, &f, resumable_commit_cb, u,
                               u->receipt.photo_id);
    if (f.md)
        EVP_MD_CTX_free(f.md); /* when the commit was not reached */
    if (u->rc == -EBADMSG)
        refuse_bytes(u);
    if (u->rc == 0 && !u->existed)
        gw_stage_received(u->app->stage, u->receipt.photo_id);
}

void gw_upload_resumable_work(struct gw_upload *u)
{
    switch (u->op) {
    case OP_OPEN:
        if (u->req.token) {
            resumable_append(u);
            break;
        }
        if (u->signed_upload) {
            u->auth_err =
                gw_devices_check(u->app->devices, &u->auth, u->receipt.device, u->digest, &u->why);
            if (u->auth_err || !gw_upload_take_device_slot(u))
                break;
        }
        resumable_create(u);
        break;
    case OP_WRITE:
#ifdef GW_TEST_HOOKS
        gw_upload_test_slow_disk();
#endif
        resumable_write(u);
        break;
    case OP_COMMIT:
        resumable_end(u);
        break;
    case OP_ABORT:
        /* The partial bytes stay for a later append (refused ones went already). */
        gw_resume_drop(u->app->resumes, &u->hold);
        break;
    }
}
