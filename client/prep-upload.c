/*
 * prep-upload: the reference client, doing what a polling station's phone app does.
 *
 *   enrol   makes the device's Ed25519 key (<state>/device-ed25519.pem, 0600) and trades a
 *           one-time code and the public key for a device id at POST /v1/devices; keeps the
 *           answer, with the gateway's public key, in <state>/device.json.
 *   send    signs and uploads photos over HTTP/2, retries what may succeed later, and keeps each
 *           receipt as <state>/receipts/<photo_id>.json once it verifies.
 *   verify  checks receipts offline with the gateway key (same verdicts as
 *           `prep-gateway receipt verify`: both call gw_receipt_verify()).
 *
 * How an upload is signed (RFC 9421 HTTP Message Signatures, RFC 9530 Content-Digest):
 *   1. One pass over the file computes its SHA-256; Content-Digest is "sha-256=:<base64>:"
 *      (gw_sig_digest_value). The bytes are then streamed from disk, never held in memory.
 *   2. Each attempt (retries too) takes a fresh `created` (Unix seconds) and `nonce` (16 random
 *      bytes, base64url without padding): the gateway refuses a nonce it has seen, and a retry
 *      of a request that did reach it would otherwise be refused as a replay.
 *   3. Signature-Input is gw_sig_make_input()'s output, verbatim:
 *        sig1=("@method" "@path" "content-digest");created=..;nonce="..";keyid="<device_id>";
 *        alg="ed25519"
 *   4. The signature base (gw_sig_base, RFC 9421 section 2.5) is
 *        "@method": POST
 *        "@path": /v1/actas/<clave>/photos
 *        "content-digest": sha-256=:...:
 *        "@signature-params": ("@method" "@path" "content-digest");created=...;alg="ed25519"
 *      signed with the device key (Ed25519, 64 bytes), sent as Signature: sig1=:<base64>:.
 *   Because the digest covers the body and the signature covers the digest, method and path, a
 *   changed byte, clave or replayed request is refused by the gateway.
 *
 * Retry policy: network errors, timeouts and 5xx are retried with exponential backoff (0.5 s
 * doubling up to 8 s, "equal jitter": half the delay fixed, half random) so that a whole
 * district's phones coming back after an outage do not reconnect in lockstep. 4xx are final:
 * sending the same request again cannot change the answer. 200 and 201 both end the upload: the
 * gateway answers a repeated photo with its original receipt.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw_clave.h"
#include "gw_keys.h"
#include "gw_receipt.h"
#include "gw_sig.h"
#include "pu_h2.h"
#include "pu_sign.h"

#define PROG "prep-upload"
#define RETRIES_DEFAULT 6
#define RETRIES_MAX 100
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 8000
#define RECEIPT_MAX 8192 /* what `prep-gateway receipt verify` reads */

struct opts {
    const char *state, *server, *code, *label, *clave, *pubkey, *cacert;
    int retries, timeout_s;
    bool json, insecure;
    bool state_given; /* --state or $PREP_UPLOAD_STATE */
    int progress;     /* send: -1 when stderr is a terminal (and not --json), else 0 or 1 */
    int first_arg;
};

struct device {
    char device_id[GW_SIG_TOKEN_MAX];
    char server[1024];
    struct gw_key gateway; /* public half only */
};

/* ---- usage ---- */

static const char main_usage[] =
    "Usage: prep-upload enrol --code CODE --server URL [--label L] [--state DIR] [--json]\n"
    "       prep-upload send --clave CLAVE FILE... [--server URL] [--state DIR] [--retries N]\n"
    "                        [--insecure | --cacert FILE] [--timeout SEC] [--[no-]progress]\n"
    "                        [--json]\n"
    "       prep-upload verify RECEIPT... [--pubkey BASE64] [--state DIR] [--json]\n"
    "\n"
    "The reference client of the PREP casilla gateway: enrols this device, uploads signed photos\n"
    "of actas over HTTP/2 and keeps the gateway's signed receipts. `prep-upload COMMAND --help`\n"
    "says more. The state folder (keys, device.json, receipts/) is --state, else\n"
    "$PREP_UPLOAD_STATE, else ./.prep-upload.\n";

static const char enrol_usage[] =
    "Usage: prep-upload enrol --code CODE --server URL [--label L] [--state DIR] [--json]\n"
    "\n"
    "Creates the device key DIR/device-ed25519.pem (Ed25519, mode 0600, folder 0700) unless it\n"
    "exists, sends the one-time enrolment CODE and the public key to URL (POST /v1/devices) and\n"
    "stores the device id, the actas it may send and the gateway's public key in DIR/device.json.\n"
    "URL is http://host:port (HTTP/2 cleartext) or https://host:port (TLS, ALPN h2).\n"
    "  --label L       a name for this device in the gateway's list\n"
    "  --insecure      do not check the TLS certificate   --cacert FILE  trust these CAs only\n"
    "  --json          print {\"device_id\", \"actas\", \"server\", \"gateway_key\"}\n"
    "Exit status 0 when enrolled, 1 on refusal or error, 2 on bad usage.\n";

static const char send_usage[] =
    "Usage: prep-upload send --clave CLAVE FILE... [--server URL] [--state DIR] [--retries N]\n"
    "                        [--insecure | --cacert FILE] [--timeout SEC] [--[no-]progress]\n"
    "                        [--json]\n"
    "\n"
    "Uploads each JPEG FILE as a photo of acta CLAVE, signed with the device key (RFC 9421,\n"
    "Ed25519) with its SHA-256 in Content-Digest, over one HTTP/2 connection. Network errors,\n"
    "timeouts and 5xx answers are retried up to N times (default 6) with backoff from 0.5 s\n"
    "doubling to 8 s, with jitter; 4xx answers are final and printed. Each receipt is checked\n"
    "with the gateway key from enrolment and saved as DIR/receipts/<photo_id>.json, whose path\n"
    "is printed. The server is the enrolment's unless --server is given.\n"
    "  --timeout SEC   give up an attempt after SEC seconds without progress (default 30)\n"
    "  --progress      show each upload's progress on stderr (the default when stderr is a\n"
    "                  terminal and --json is not given); --no-progress: never\n"
    "  --json          print {\"file\", \"status\", \"receipt\", \"photo_id\"} per file\n"
    "Exit status 0 when every file has a receipt, 1 otherwise, 2 on bad usage.\n";

static const char verify_usage[] =
    "Usage: prep-upload verify RECEIPT... [--pubkey BASE64] [--state DIR] [--json]\n"
    "\n"
    "Checks receipts offline, as `prep-gateway receipt verify` does: the gateway's signature\n"
    "over the receipt's fields, that it names the gateway key given (--pubkey, else the one in\n"
    "DIR/device.json) and that its photo id is the one its clave and SHA-256 give. Without\n"
    "--state, a receipt kept by `send` (DIR/receipts/ID.json) is checked with DIR's key.\n"
    "  --json          print {\"receipt\", \"valid\", \"reason\"} per receipt\n"
    "Exit status 0 when all are valid, 1 when any is not, 2 on bad usage.\n";

/* ---- helpers ---- */

static void print_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    if (s)
        puts(s);
    free(s);
    json_decref(o);
    fflush(stdout);
}

static int parse_int(const char *s, int lo, int hi, int *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *ret = (int)v;
    return 0;
}

static int parse(int argc, char **argv, struct opts *o, const char *usage)
{
    static const struct option lo[] = {
        {"state", required_argument, NULL, 's'},
        {"server", required_argument, NULL, 'S'},
        {"code", required_argument, NULL, 'c'},
        {"label", required_argument, NULL, 'l'},
        {"clave", required_argument, NULL, 'k'},
        {"pubkey", required_argument, NULL, 'p'},
        {"cacert", required_argument, NULL, 'C'},
        {"retries", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"insecure", no_argument, NULL, 'i'},
        {"progress", no_argument, NULL, 'P'},
        {"no-progress", no_argument, NULL, 'N'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->state = getenv("PREP_UPLOAD_STATE");
    o->state_given = o->state && *o->state;
    if (!o->state_given)
        o->state = "./.prep-upload";
    o->retries = RETRIES_DEFAULT;
    o->timeout_s = 30;
    o->progress = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            o->state = optarg;
            o->state_given = true;
            break;
        case 'S':
            o->server = optarg;
            break;
        case 'c':
            o->code = optarg;
            break;
        case 'l':
            o->label = optarg;
            break;
        case 'k':
            o->clave = optarg;
            break;
        case 'p':
            o->pubkey = optarg;
            break;
        case 'C':
            o->cacert = optarg;
            break;
        case 'r':
            if (parse_int(optarg, 0, RETRIES_MAX, &o->retries) < 0) {
                fprintf(stderr, PROG ": --retries must be 0..%d\n", RETRIES_MAX);
                return -1;
            }
            break;
        case 't':
            if (parse_int(optarg, 1, 3600, &o->timeout_s) < 0) {
                fprintf(stderr, PROG ": --timeout must be 1..3600 seconds\n");
                return -1;
            }
            break;
        case 'i':
            o->insecure = true;
            break;
        case 'P':
            o->progress = 1;
            break;
        case 'N':
            o->progress = 0;
            break;
        case 'j':
            o->json = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    o->first_arg = optind;
    return 0;
}

static void h2_opts(const struct opts *o, struct pu_h2_opts *ret)
{
    pu_h2_opts_default(ret);
    ret->io_timeout_ms = o->timeout_s * 1000;
    ret->insecure = o->insecure;
    ret->cacert = o->cacert;
}

/* Creates |dir| with mode 0700, or checks that it is a folder. */
static int make_private_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/*
 * Writes |len| bytes to |path| whole or not at all: a temporary file (mode 0600), fsync,
 * rename, then the folder fsync'ed, so a receipt that was printed survives a power cut.
 */
static int write_atomic(const char *dir, const char *path, const void *data, size_t len)
{
    char tmp[4200];
    const char *p = data;
    int fd, dfd, r = 0;

    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Prints an RFC 9457 problem (or whatever body came) for |what|. */
static void print_problem(const char *what, const struct pu_h2_request *req, json_t **ret_problem)
{
    json_t *doc = req->resp_body ? json_loadb(req->resp_body, req->resp_len, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(doc, "type"));
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *detail = json_string_value(json_object_get(doc, "detail"));

    if (type || title)
        fprintf(stderr, PROG ": %s: HTTP %d %s: %s%s%s\n", what, req->status, type ? type : "",
                title ? title : "", detail ? ": " : "", detail ? detail : "");
    else
        fprintf(stderr, PROG ": %s: HTTP %d: %.200s\n", what, req->status,
                req->resp_body ? req->resp_body : "");
    if (ret_problem && json_is_object(doc))
        *ret_problem = json_incref(doc);
    json_decref(doc);
}

static int load_pubkey(const char *b64, struct gw_key *ret)
{
    uint8_t pub[GW_KEY_PUB_LEN + 2];

    if (gw_b64_decode(b64, pub, sizeof(pub)) != GW_KEY_PUB_LEN)
        return -EINVAL;
    return gw_key_from_public(pub, ret);
}

/* Reads <state>/device.json into |ret| (the gateway key checked against its fingerprint). */
static int load_device(const char *state, struct device *ret)
{
    char path[4096];
    json_error_t err;
    json_t *doc, *gk;
    const char *id, *server, *pub, *fp;
    int r = -EINVAL;

    snprintf(path, sizeof(path), "%s/device.json", state);
    doc = json_load_file(path, 0, &err);
    if (!doc) {
        fprintf(stderr, PROG ": could not read %s: %s (run `prep-upload enrol` first)\n", path,
                err.text);
        return -ENOENT;
    }
    gk = json_object_get(doc, "gateway_key");
    id = json_string_value(json_object_get(doc, "device_id"));
    server = json_string_value(json_object_get(doc, "server"));
    pub = json_string_value(json_object_get(gk, "public_key"));
    fp = json_string_value(json_object_get(gk, "fingerprint"));
    memset(ret, 0, sizeof(*ret));
    if (!id || !server || !pub || !fp || strlen(id) >= sizeof(ret->device_id) ||
        strlen(server) >= sizeof(ret->server)) {
        fprintf(stderr, PROG ": %s lacks device_id, server or gateway_key\n", path);
    } else if (load_pubkey(pub, &ret->gateway) < 0 || strcmp(ret->gateway.fingerprint, fp) != 0) {
        fprintf(stderr, PROG ": %s: the gateway key does not match its fingerprint\n", path);
        gw_key_finish(&ret->gateway);
    } else {
        memcpy(ret->device_id, id, strlen(id) + 1);
        memcpy(ret->server, server, strlen(server) + 1);
        r = 0;
    }
    json_decref(doc);
    return r;
}

static int load_device_key(const char *state, bool create, struct gw_key *ret)
{
    char path[4096];
    int r;

    snprintf(path, sizeof(path), "%s/device-ed25519.pem", state);
    r = gw_key_load(path, create, ret);
    if (r < 0)
        fprintf(stderr, PROG ": could not load the device key %s: %s\n", path,
                r == -EPERM ? "readable by others (chmod 600)" : strerror(-r));
    return r;
}

static int connect_to(const struct pu_url *u, const struct opts *o, struct pu_h2_conn **ret,
                      char *why, size_t cap)
{
    struct pu_h2_opts ho;

    h2_opts(o, &ho);
    return pu_h2_connect(u, &ho, ret, why, cap);
}

/* ---- enrol ---- */

static int cmd_enrol(int argc, char **argv)
{
    struct opts o;
    struct pu_url u;
    struct gw_key dev = {0}, gwk = {0};
    struct pu_h2_conn *conn = NULL;
    struct pu_h2_request req = {0};
    char why[512] = "", pub_b64[GW_KEY_PUB_B64 + 1], path[4096], len_s[24];
    const char *uwhy, *id, *pub, *fp;
    json_t *body = NULL, *resp = NULL, *out = NULL;
    char *body_s = NULL, *out_s = NULL;
    int r, rc = 1;

    r = parse(argc, argv, &o, enrol_usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (!o.code || !o.server || o.first_arg != argc) {
        fputs(enrol_usage, stderr);
        return 2;
    }
    if (pu_url_parse(o.server, &u, &uwhy) < 0) {
        fprintf(stderr, PROG ": --server %s: %s\n", o.server, uwhy);
        return 2;
    }
    snprintf(path, sizeof(path), "%s/device.json", o.state);
    if (access(path, F_OK) == 0) {
        fprintf(stderr,
                PROG ": %s exists: this state folder is enrolled already (use another"
                     " --state, or remove it to enrol again)\n",
                path);
        return 1;
    }
    r = make_private_dir(o.state);
    if (r < 0) {
        fprintf(stderr, PROG ": could not create %s: %s\n", o.state, strerror(-r));
        return 1;
    }
    if (load_device_key(o.state, true, &dev) < 0)
        return 1;
    gw_b64_encode(dev.pub, GW_KEY_PUB_LEN, pub_b64);
    body = json_pack("{s:s, s:s}", "code", o.code, "public_key", pub_b64);
    if (body && o.label)
        json_object_set_new(body, "label", json_string(o.label));
    body_s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!body_s)
        goto out;
    snprintf(len_s, sizeof(len_s), "%zu", strlen(body_s));
    req = (struct pu_h2_request){
        .method = "POST",
        .path = "/v1/devices",
        .headers = {{"content-type", "application/json"}, {"content-length", len_s}},
        .nheaders = 2,
        .body_fd = -1,
        .body = body_s,
        .body_len = strlen(body_s),
    };
    r = connect_to(&u, &o, &conn, why, sizeof(why));
    if (r == 0)
        r = pu_h2_submit(conn, &req);
    if (r == 0)
        r = pu_h2_run(conn);
    if (r == 0 && req.error)
        r = req.error;
    if (r < 0) {
        fprintf(stderr, PROG ": enrol at %s: %s\n", o.server, why[0] && !conn ? why : strerror(-r));
        goto out;
    }
    if (req.status != 201) {
        print_problem("enrolment refused", &req, NULL);
        goto out;
    }
    resp = json_loadb(req.resp_body ? req.resp_body : "", req.resp_len, 0, NULL);
    id = json_string_value(json_object_get(resp, "device_id"));
    pub = json_string_value(json_object_get(json_object_get(resp, "gateway_key"), "public_key"));
    fp = json_string_value(json_object_get(json_object_get(resp, "gateway_key"), "fingerprint"));
    if (!id || !*id || strlen(id) >= GW_SIG_TOKEN_MAX || strpbrk(id, "\"\\") || !pub || !fp) {
        fprintf(stderr, PROG ": the gateway's answer lacks device_id or gateway_key: %.300s\n",
                req.resp_body ? req.resp_body : "");
        goto out;
    }
    /* The key that will sign our receipts must be the one its fingerprint names. */
    if (load_pubkey(pub, &gwk) < 0 || strcmp(gwk.fingerprint, fp) != 0) {
        fprintf(stderr, PROG ": the gateway key in the answer does not match its fingerprint\n");
        goto out;
    }
    out = json_pack("{s:s, s:s, s:O?, s:s?, s:s?, s:{s:s, s:s}}", "device_id", id, "server",
                    o.server, "actas", json_object_get(resp, "actas"), "label", o.label,
                    "enrolled_at", json_string_value(json_object_get(resp, "enrolled_at")),
                    "gateway_key", "public_key", pub, "fingerprint", fp);
    out_s = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!out_s)
        goto out;
    r = write_atomic(o.state, path, out_s, strlen(out_s));
    if (r < 0) {
        fprintf(stderr, PROG ": could not write %s: %s\n", path, strerror(-r));
        goto out;
    }
    if (o.json) {
        print_json(json_incref(out));
    } else {
        char *actas = json_dumps(json_object_get(out, "actas"), JSON_ENCODE_ANY);

        printf("enrolled as device %s (actas %s); gateway key %s\n", id, actas ? actas : "?", fp);
        free(actas);
    }
    rc = 0;
out:
    free(out_s);
    json_decref(out);
    json_decref(resp);
    free(body_s);
    json_decref(body);
    pu_h2_request_finish(&req);
    pu_h2_conn_free(conn);
    gw_key_finish(&gwk);
    gw_key_finish(&dev);
    return rc;
}

/* ---- send ---- */

enum outcome { DONE, FAILED, RETRY };

struct upload {
    const char *file;
    const char *clave;
    int fd;
    uint64_t size;
    char sha_hex[GW_SHA256_HEX_LEN + 1];
    char digest[64]; /* Content-Digest value */
    char photo_id[GW_PHOTO_ID_LEN + 1];
    char path[64]; /* :path */
    /* progress line on stderr */
    bool show_progress;
    int64_t progress_ms;
    int progress_pct, progress_width;
    /* result */
    int status;
    char receipt_path[4200];
    char why[512];
    json_t *problem;
};

/* One pass over the file: size, SHA-256, Content-Digest and the photo id to expect. */
static int hash_file(struct upload *up)
{
    uint8_t buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx;
    struct stat st;
    int r = 0;

    up->fd = open(up->file, O_RDONLY | O_CLOEXEC);
    if (up->fd < 0 || fstat(up->fd, &st) < 0) {
        snprintf(up->why, sizeof(up->why), "could not open: %s", strerror(errno));
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(up->why, sizeof(up->why), "not a regular file");
        return -EINVAL;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    up->size = 0;
    for (;;) {
        ssize_t n = read(up->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            snprintf(up->why, sizeof(up->why), "could not read: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        up->size += (uint64_t)n;
    }
    if (r == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        r = -ENOMEM;
    EVP_MD_CTX_free(ctx);
    if (r < 0)
        return r;
    gw_hex(md, 32, up->sha_hex);
    gw_sig_digest_value(md, up->digest, sizeof(up->digest));
    if (gw_photo_id(up->clave, up->sha_hex, up->photo_id) < 0)
        return -ENOMEM;
    return 0;
}

/* Checks and stores the receipt in |req|'s body. */
static enum outcome keep_receipt(struct upload *up, const struct pu_h2_request *req,
                                 const struct device *d, const char *state)
{
    struct gw_receipt r;
    const char *why;
    char dir[4096];
    int e;

    if (!req->resp_body || req->resp_len >= RECEIPT_MAX) {
        snprintf(up->why, sizeof(up->why), "HTTP %d without a receipt", req->status);
        return FAILED;
    }
    why = gw_receipt_verify(req->resp_body, req->resp_len, &d->gateway, &r);
    if (why) {
        snprintf(up->why, sizeof(up->why), "the gateway's receipt does not verify: %s", why);
        return FAILED;
    }
    if (strcmp(r.photo_id, up->photo_id) != 0 || strcmp(r.sha256, up->sha_hex) != 0 ||
        r.bytes != up->size || strcmp(r.clave, up->clave) != 0) {
        snprintf(up->why, sizeof(up->why), "the receipt is for other bytes or another clave");
        return FAILED;
    }
    snprintf(dir, sizeof(dir), "%s/receipts", state);
    e = make_private_dir(dir);
    snprintf(up->receipt_path, sizeof(up->receipt_path), "%s/%s.json", dir, r.photo_id);
    /* The gateway's bytes exactly as received: they are what it signed and what we verified. */
    if (e == 0)
        e = write_atomic(dir, up->receipt_path, req->resp_body, req->resp_len);
    if (e < 0) {
        snprintf(up->why, sizeof(up->why), "could not store the receipt %.300s: %s",
                 up->receipt_path, strerror(-e));
        up->receipt_path[0] = '\0';
        return FAILED;
    }
    return DONE;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The progress line of |up|: "photo.jpg: 42% of 3.3 MB", redrawn at most every 200 ms. */
static void on_progress(const struct pu_h2_request *req, uint64_t sent, void *arg)
{
    struct upload *up = arg;
    int pct = req->body_len ? (int)(sent * 100 / req->body_len) : 100;
    int64_t now = now_ms();

    if (pct == up->progress_pct || (pct < 100 && now - up->progress_ms < 200))
        return;
    up->progress_pct = pct;
    up->progress_ms = now;
    up->progress_width =
        fprintf(stderr, "\r%s: %3d%% of %.1f MB", up->file, pct, (double)req->body_len / 1e6);
    fflush(stderr);
}

/* Clears the progress line, if one is shown. */
static void progress_clear(struct upload *up)
{
    if (up->progress_width > 0)
        fprintf(stderr, "\r%*s\r", up->progress_width, "");
    up->progress_width = 0;
    up->progress_pct = -1;
}

/* One attempt. |*conn| is reused, opened or dropped as needed. */
static enum outcome attempt(struct upload *up, const struct device *d, const struct gw_key *k,
                            const struct pu_url *u, const struct opts *o, struct pu_h2_conn **conn)
{
    char sig_input[GW_SIG_PARAMS_MAX + 16], signature[GW_KEY_SIG_B64 + 16], len_s[24];
    struct pu_h2_request req;
    enum outcome res;
    int r;

    if (*conn && !pu_h2_usable(*conn)) {
        pu_h2_conn_free(*conn);
        *conn = NULL;
    }
    if (!*conn) {
        r = connect_to(u, o, conn, up->why, sizeof(up->why));
        if (r < 0) {
            *conn = NULL;
            /* A bad certificate will not get better by retrying. */
            return r == -EPROTO && u->tls ? FAILED : RETRY;
        }
    }
    if (pu_sign_upload(k, d->device_id, up->path, up->digest, sig_input, sizeof(sig_input),
                       signature, sizeof(signature)) < 0) {
        snprintf(up->why, sizeof(up->why), "could not sign the request");
        return FAILED;
    }
    snprintf(len_s, sizeof(len_s), "%llu", (unsigned long long)up->size);
    req = (struct pu_h2_request){
        .method = "POST",
        .path = up->path,
        .headers = {{"content-type", "image/jpeg"},
                    {"content-length", len_s},
                    {"content-digest", up->digest},
                    {"signature-input", sig_input},
                    {"signature", signature}},
        .nheaders = 5,
        .body_fd = up->fd,
        .body_len = up->size,
        .on_progress = up->show_progress ? on_progress : NULL,
        .progress_arg = up,
    };
    r = pu_h2_submit(*conn, &req);
    if (r == 0)
        r = pu_h2_run(*conn);
    progress_clear(up);
    if (r < 0 || req.error) {
        int e = r < 0 ? r : req.error; /* the connection's failure says more */

        snprintf(up->why, sizeof(up->why), "%s",
                 e == -ETIMEDOUT    ? "timed out"
                 : e == -EIO        ? "the file changed while it was being sent"
                 : e == -ECONNRESET ? "connection lost before the answer"
                                    : strerror(-e));
        pu_h2_request_finish(&req);
        pu_h2_conn_free(*conn);
        *conn = NULL;
        return e == -EIO ? FAILED : RETRY;
    }
    up->status = req.status;
    if (req.status == 200 || req.status == 201) {
        res = keep_receipt(up, &req, d, o->state);
    } else if (req.status >= 500) {
        snprintf(up->why, sizeof(up->why), "HTTP %d", req.status);
        print_problem(up->file, &req, NULL);
        res = RETRY;
    } else {
        snprintf(up->why, sizeof(up->why), "HTTP %d", req.status);
        json_decref(up->problem);
        up->problem = NULL;
        print_problem(up->file, &req, &up->problem);
        res = FAILED;
    }
    pu_h2_request_finish(&req);
    return res;
}

/* The |n|th backoff (0-based) in ms: half of min(0.5 s * 2^n, 8 s) plus a random part of the
 * other half. */
static long backoff_ms(int n)
{
    uint32_t rnd = 0;
    long ms = BACKOFF_FIRST_MS;

    for (int i = 0; i < n && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    if (RAND_bytes((uint8_t *)&rnd, sizeof(rnd)) != 1)
        rnd = (uint32_t)getpid();
    return ms / 2 + (long)(rnd % (uint32_t)(ms / 2 + 1));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void report(const struct upload *up, bool ok, bool json)
{
    if (json) {
        json_t *o = json_pack("{s:s, s:i}", "file", up->file, "status", up->status);

        if (o && ok) {
            json_object_set_new(o, "receipt", json_string(up->receipt_path));
            json_object_set_new(o, "photo_id", json_string(up->photo_id));
        } else if (o) {
            json_object_set_new(o, "error", json_string(up->why));
            if (up->problem)
                json_object_set(o, "problem", up->problem);
        }
        print_json(o);
    } else if (ok) {
        printf("%s\n", up->receipt_path);
        fflush(stdout);
    } else {
        fprintf(stderr, PROG ": %s: not sent: %s\n", up->file, up->why);
    }
}

static int cmd_send(int argc, char **argv)
{
    struct opts o;
    struct device d;
    struct gw_key k = {0};
    struct pu_url u;
    struct pu_h2_conn *conn = NULL;
    const char *why;
    int failed = 0;

    int r = parse(argc, argv, &o, send_usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (!o.clave || o.first_arg >= argc) {
        fputs(send_usage, stderr);
        return 2;
    }
    /* Caught here: a phone must not spend its data on an upload the gateway will refuse. */
    if (!gw_clave_valid(o.clave, strlen(o.clave), &why)) {
        fprintf(stderr, PROG ": --clave %s is not a valid CLAVE_ACTA: %s\n", o.clave, why);
        return 2;
    }
    if (load_device(o.state, &d) < 0)
        return 1;
    if (load_device_key(o.state, false, &k) < 0) {
        gw_key_finish(&d.gateway);
        return 1;
    }
    if (pu_url_parse(o.server ? o.server : d.server, &u, &why) < 0) {
        fprintf(stderr, PROG ": server %s: %s\n", o.server ? o.server : d.server, why);
        gw_key_finish(&k);
        gw_key_finish(&d.gateway);
        return 2;
    }
    if (o.progress < 0)
        o.progress = !o.json && isatty(STDERR_FILENO);
    for (int i = o.first_arg; i < argc; i++) {
        struct upload up = {.file = argv[i], .clave = o.clave, .fd = -1, .progress_pct = -1};
        enum outcome res = FAILED;

        snprintf(up.path, sizeof(up.path), "/v1/actas/%s/photos", o.clave);
        up.show_progress = o.progress;
        if (hash_file(&up) == 0) {
            for (int n = 0;; n++) {
                res = attempt(&up, &d, &k, &u, &o, &conn);
                if (res != RETRY || n >= o.retries)
                    break;
                long ms = backoff_ms(n);

                fprintf(stderr, PROG ": %s: %s; retry %d of %d in %.1f s\n", up.file, up.why, n + 1,
                        o.retries, (double)ms / 1000.0);
                sleep_ms(ms);
            }
        }
        if (up.fd >= 0)
            close(up.fd);
        report(&up, res == DONE, o.json);
        json_decref(up.problem);
        if (res != DONE)
            failed++;
    }
    pu_h2_conn_free(conn);
    gw_key_finish(&k);
    gw_key_finish(&d.gateway);
    return failed ? 1 : 0;
}

/* ---- verify ---- */

/* The state folder that `send` kept |receipt| in (DIR/receipts/NAME) when DIR/device.json is
 * there, in |buf|; NULL otherwise. */
static const char *state_of_receipt(const char *receipt, char *buf, size_t size)
{
    char path[PATH_MAX];
    char *slash;

    if ((size_t)snprintf(buf, size, "%s", receipt) >= size || !(slash = strrchr(buf, '/')))
        return NULL;
    *slash = '\0'; /* buf: DIR/receipts or receipts */
    slash = strrchr(buf, '/');
    if (strcmp(slash ? slash + 1 : buf, "receipts") != 0)
        return NULL;
    if (slash)
        *slash = '\0';
    else
        snprintf(buf, size, ".");
    if ((size_t)snprintf(path, sizeof(path), "%s/device.json", buf) >= sizeof(path) ||
        access(path, R_OK) != 0)
        return NULL;
    return buf;
}

static int cmd_verify(int argc, char **argv)
{
    struct opts o;
    struct gw_key k = {0};
    int invalid = 0;

    int r = parse(argc, argv, &o, verify_usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (o.first_arg >= argc) {
        fputs(verify_usage, stderr);
        return 2;
    }
    if (o.pubkey) {
        if (load_pubkey(o.pubkey, &k) < 0) {
            fprintf(stderr, PROG ": --pubkey is not a base64 Ed25519 public key\n");
            return 2;
        }
    } else {
        struct device d;
        char kept[PATH_MAX];
        const char *state =
            o.state_given ? NULL : state_of_receipt(argv[o.first_arg], kept, sizeof(kept));

        if (load_device(state ? state : o.state, &d) < 0)
            return 1;
        k = d.gateway;
    }
    for (int i = o.first_arg; i < argc; i++) {
        static char buf[RECEIPT_MAX];
        char msg[600];
        const char *why;
        FILE *f = fopen(argv[i], "rb");
        size_t len = 0;

        if (!f) {
            snprintf(msg, sizeof(msg), "could not read %s: %s", argv[i], strerror(errno));
            why = msg;
        } else {
            len = fread(buf, 1, sizeof(buf), f);
            fclose(f);
            why = len == sizeof(buf) ? "not a receipt (malformed JSON or fields)"
                                     : gw_receipt_verify(buf, len, &k, NULL);
        }
        if (o.json)
            print_json(json_pack("{s:s, s:b, s:s?}", "receipt", argv[i], "valid", why == NULL,
                                 "reason", why));
        else if (why)
            printf("INVALID %s: %s\n", argv[i], why);
        else
            printf("valid %s (key %s)\n", argv[i], k.fingerprint);
        if (why)
            invalid++;
    }
    gw_key_finish(&k);
    return invalid ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    if (strcmp(cmd, "enrol") == 0 || strcmp(cmd, "enroll") == 0)
        return cmd_enrol(argc - 1, argv + 1);
    if (strcmp(cmd, "send") == 0)
        return cmd_send(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    fputs(main_usage, stderr);
    return 2;
}
