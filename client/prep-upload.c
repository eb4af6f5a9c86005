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
 *   verify-bundle  checks an evidence bundle of `prep-gateway evidence` offline (pu_bundle.h,
 *           docs/evidence.md).
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
 * Retry policy: network errors, timeouts, 429 and 5xx are retried with exponential backoff (0.5 s
 * doubling up to 8 s, "equal jitter": half the delay fixed, half random) so that a whole
 * district's phones coming back after an outage do not reconnect in lockstep. 4xx are final:
 * sending the same request again cannot change the answer. 200 and 201 both end the upload: the
 * gateway answers a repeated photo with its original receipt.
 *
 * Resuming (IETF draft-ietf-httpbis-resumable-upload-15, pu_resume.h): the POST also says
 * Upload-Complete: ?1 and Upload-Length, and a gateway that can resume answers 104 with the
 * upload resource's Location before it reads the body. A retry after a cut then costs only the
 * missing bytes: HEAD on the resource for Upload-Offset, PATCH with the rest, answered with the
 * receipt the POST would have had. Each retry, resumed or not, counts against --retries. On a
 * phone's link a 9 MB photo cut at 90% would otherwise cost 17 MB, and might never get through.
 *
 * This file is the command line; the state folder is pu_state.c, an upload pu_send.c.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_clave.h"
#include "gw_cli.h"
#include "gw_keys.h"
#include "gw_receipt.h"
#include "gw_sig.h"
#include "pu_bundle.h"
#include "pu_h2.h"
#include "pu_send.h"
#include "pu_state.h"

#define PROG "prep-upload"
#define RETRIES_DEFAULT 6
#define RETRIES_MAX 100
#define STR_(x) #x
#define STR(x) STR_(x)

/* The commands, to pick each option's help line for its usage. */
enum cmd { ENROL, SEND, VERIFY, BUNDLE, NCMDS };

struct opts {
    const char *state, *server, *code, *label, *clave, *pubkey, *cacert;
    int retries, timeout_s;
    bool json, insecure, no_resume;
    bool state_given; /* --state or $PREP_UPLOAD_STATE */
    int progress;     /* send: -1 when stderr is a terminal (and not --json), else 0 or 1 */
    int first_arg;
};

/* ---- usage ---- */

static const char main_usage[] =
    "Usage: prep-upload enrol --code CODE --server URL [--label L] [--state DIR] [--json]\n"
    "       prep-upload send --clave CLAVE FILE... [--server URL] [--state DIR] [--retries N]\n"
    "                        [--insecure | --cacert FILE] [--timeout SEC] [--[no-]progress]\n"
    "                        [--no-resume] [--json]\n"
    "       prep-upload verify RECEIPT... [--pubkey BASE64] [--state DIR] [--json]\n"
    "       prep-upload verify-bundle FILE [--pubkey BASE64]\n"
    "\n"
    "The reference client of the PREP casilla gateway: enrols this device, uploads signed photos\n"
    "of actas over HTTP/2 and keeps the gateway's signed receipts. `prep-upload COMMAND --help`\n"
    "says more. The state folder (keys, device.json, receipts/) is --state, else\n"
    "$PREP_UPLOAD_STATE, else ./.prep-upload.\n";

/* Before and after each command's option lines. */
static const char *const usage_head[NCMDS] = {
    [ENROL] =
        "Usage: prep-upload enrol --code CODE --server URL [--label L] [--state DIR] [--json]\n"
        "\n"
        "Creates the device key DIR/device-ed25519.pem (Ed25519, mode 0600, folder 0700) unless "
        "it\n"
        "exists, sends the one-time enrolment CODE and the public key to URL (POST /v1/devices) "
        "and\n"
        "stores the device id, the actas it may send and the gateway's public key in "
        "DIR/device.json.\n"
        "URL is http://host:port (HTTP/2 cleartext) or https://host:port (TLS, ALPN h2).\n",
    [SEND] =
        "Usage: prep-upload send --clave CLAVE FILE... [--server URL] [--state DIR] [--retries N]\n"
        "                        [--insecure | --cacert FILE] [--timeout SEC] [--[no-]progress]\n"
        "                        [--no-resume] [--json]\n"
        "\n"
        "Uploads each JPEG FILE as a photo of acta CLAVE, signed with the device key (RFC 9421,\n"
        "Ed25519) with its SHA-256 in Content-Digest, over one HTTP/2 connection. Network errors,\n"
        "timeouts, 429 and 5xx answers are retried up to N times (default 6) with backoff from 0.5 "
        "s\n"
        "doubling to 8 s, with jitter; 4xx answers are final and printed. Each receipt is checked\n"
        "with the gateway key from enrolment and saved as DIR/receipts/<photo_id>.json, whose "
        "path\n"
        "is printed. The server is the enrolment's unless --server is given.\n"
        "\n"
        "Interrupted uploads are resumed (IETF Resumable Uploads for HTTP): when the gateway\n"
        "offers it, a retry asks how many bytes it holds and sends only the rest, and stderr says\n"
        "so (\"the gateway holds 4.2 MB; sending the remaining 4.8 MB\"). --retries bounds these\n"
        "attempts too. When the gateway no longer holds the partial upload, or holds the whole\n"
        "photo, the retry sends it again from the start (the gateway answers a photo it has with\n"
        "its original receipt); a photo given up on a 4xx has its partial upload cancelled.\n"
        "A gateway without resumable uploads gets plain retries from byte 0.\n",
    [VERIFY] =
        "Usage: prep-upload verify RECEIPT... [--pubkey BASE64] [--state DIR] [--json]\n"
        "\n"
        "Checks receipts offline, as `prep-gateway receipt verify` does: the gateway's signature\n"
        "over the receipt's fields, that it names the gateway key given (--pubkey, else the one "
        "in\n"
        "DIR/device.json) and that its photo id is the one its clave and SHA-256 give. Without\n"
        "--state, a receipt kept by `send` (DIR/receipts/ID.json) is checked with DIR's key.\n",
    [BUNDLE] =
        "Usage: prep-upload verify-bundle FILE [--pubkey BASE64]\n"
        "\n"
        "Checks an evidence bundle (`prep-gateway evidence CLAVE --out FILE`, docs/evidence.md)\n"
        "offline, without the gateway or its database: the archive, the gateway's signature over\n"
        "the list of members and every member's SHA-256; for each photo, that the original is\n"
        "byte for byte what the device signed (RFC 9421, with the device key in the bundle), the\n"
        "gateway's signed receipt, its ledger entry and the Merkle inclusion proof of the entry\n"
        "in the signed checkpoint; the review image; the decisions. Prints what it proved in "
        "plain\n"
        "words, or the part that does not verify and why. --pubkey: the gateway key to trust\n"
        "(`prep-gateway key show`); without it the bundle's own key is used and its fingerprint\n"
        "printed, to be compared with the published one.\n",
};
static const char *const usage_end[NCMDS] = {
    [ENROL] = "Exit status 0 when enrolled, 1 on refusal or error, 2 on bad usage.\n",
    [SEND] = "Exit status 0 when every file has a receipt, 1 otherwise, 2 on bad usage.\n",
    [VERIFY] = "Exit status 0 when all are valid, 1 when any is not, 2 on bad usage.\n",
    [BUNDLE] = "Exit status 0 only when everything verifies, 1 when not, 2 on bad usage.\n",
};

/* --state also says that the state folder was chosen (verify then does not look for one). */
static int set_state(void *value, const char *arg)
{
    struct opts *o = value;

    o->state = arg;
    o->state_given = true;
    return 0;
}

#define NOPTS 14

/* A command's options table and usage; |cli| points into |opts|: do not copy. */
struct cmd_cli {
    struct gw_cli_opt opts[NOPTS + 1];
    struct gw_cli cli;
};

/*
 * Every command takes every option (a script may pass the same ones to all); |cmd|'s usage lists
 * those it documents. Sets |*o| to the defaults for gw_cli_parse() to fill.
 */
static void cmd_cli_init(struct cmd_cli *c, struct opts *o, enum cmd cmd)
{
    struct row {
        struct gw_cli_opt opt;
        const char *help[NCMDS];
    };
    const struct row rows[NOPTS] = {
        {.opt =
             {.name = "state", .kind = GW_CLI_CALL, .value = o, .arg = "DIR", .call = set_state}},
        {.opt = {.name = "server", .kind = GW_CLI_STRING, .value = &o->server, .arg = "URL"}},
        {.opt = {.name = "code", .kind = GW_CLI_STRING, .value = &o->code, .arg = "CODE"}},
        {.opt = {.name = "label", .kind = GW_CLI_STRING, .value = &o->label, .arg = "L"},
         .help = {[ENROL] = "a name for this device in the gateway's list"}},
        {.opt = {.name = "clave", .kind = GW_CLI_STRING, .value = &o->clave, .arg = "CLAVE"}},
        {.opt = {.name = "pubkey", .kind = GW_CLI_STRING, .value = &o->pubkey, .arg = "BASE64"}},
        {.opt = {.name = "insecure", .kind = GW_CLI_FLAG, .value = &o->insecure},
         .help = {[ENROL] = "do not check the TLS certificate"}},
        {.opt = {.name = "cacert", .kind = GW_CLI_STRING, .value = &o->cacert, .arg = "FILE"},
         .help = {[ENROL] = "trust these CAs only"}},
        {.opt = {.name = "retries",
                 .kind = GW_CLI_INT,
                 .value = &o->retries,
                 .lo = 0,
                 .hi = RETRIES_MAX,
                 .bad = "--retries must be 0.." STR(RETRIES_MAX)}},
        {.opt = {.name = "timeout",
                 .kind = GW_CLI_INT,
                 .value = &o->timeout_s,
                 .arg = "SEC",
                 .lo = 1,
                 .hi = 3600,
                 .bad = "--timeout must be 1..3600 seconds"},
         .help = {[SEND] = "give up an attempt after SEC seconds without progress (default 30)"}},
        {.opt = {.name = "progress", .kind = GW_CLI_SET, .value = &o->progress, .set = 1},
         .help = {[SEND] = "show each upload's progress on stderr (the default when stderr is a\n"
                           "terminal and --json is not given); --no-progress: never"}},
        {.opt = {.name = "no-progress", .kind = GW_CLI_SET, .value = &o->progress, .set = 0}},
        {.opt = {.name = "no-resume", .kind = GW_CLI_FLAG, .value = &o->no_resume},
         .help = {[SEND] = "plain uploads: never ask to resume, each retry starts from byte 0\n"
                           "(for comparison, and for old gateways)"}},
        {.opt = GW_CLI_OPT_JSON(&o->json),
         .help = {[ENROL] = "print {\"device_id\", \"actas\", \"server\", \"gateway_key\"}",
                  [SEND] = "print {\"file\", \"status\", \"receipt\", \"photo_id\", "
                           "\"resumed_from\"}\nper file; resumed_from is the bytes the gateway "
                           "held when the last\nattempt began (0: that attempt sent the whole "
                           "photo)",
                  [VERIFY] = "print {\"receipt\", \"valid\", \"reason\"} per receipt"}},
    };

    memset(o, 0, sizeof(*o));
    o->state = getenv("PREP_UPLOAD_STATE");
    o->state_given = o->state && *o->state;
    if (!o->state_given)
        o->state = "./.prep-upload";
    o->retries = RETRIES_DEFAULT;
    o->timeout_s = 30;
    o->progress = -1;
    for (size_t i = 0; i < NOPTS; i++) {
        c->opts[i] = rows[i].opt;
        c->opts[i].help = rows[i].help[cmd];
    }
    c->opts[NOPTS] = (struct gw_cli_opt)GW_CLI_OPT_END;
    c->cli = (struct gw_cli){
        .prog = PROG, .usage = usage_head[cmd], .usage_end = usage_end[cmd], .opts = c->opts};
}

static void h2_opts(const struct opts *o, struct pu_h2_opts *ret)
{
    pu_h2_opts_default(ret);
    ret->io_timeout_ms = o->timeout_s * 1000;
    ret->insecure = o->insecure;
    ret->cacert = o->cacert;
}

/* ---- enrol ---- */

static int cmd_enrol(int argc, char **argv)
{
    struct opts o;
    struct cmd_cli c;
    struct pu_url u;
    struct pu_h2_opts ho;
    struct gw_key dev = {0}, gwk = {0};
    struct pu_h2_conn *conn = NULL;
    struct pu_h2_request req = {0};
    char why[512] = "", pub_b64[GW_KEY_PUB_B64 + 1], path[4096], len_s[24];
    const char *uwhy, *id, *pub, *fp;
    json_t *body = NULL, *resp = NULL, *out = NULL;
    char *body_s = NULL, *out_s = NULL;
    int r, rc = 1;

    cmd_cli_init(&c, &o, ENROL);
    r = gw_cli_parse(&c.cli, argc, argv, &o.first_arg);
    if (r != 0)
        return gw_cli_exit(r);
    if (!o.code || !o.server || o.first_arg != argc) {
        gw_cli_usage(&c.cli, stderr);
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
    r = pu_state_mkdir(o.state);
    if (r < 0) {
        fprintf(stderr, PROG ": could not create %s: %s\n", o.state, strerror(-r));
        return 1;
    }
    if (pu_state_load_key(PROG, o.state, true, &dev) < 0)
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
    h2_opts(&o, &ho);
    r = pu_h2_connect(&u, &ho, &conn, why, sizeof(why));
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
        pu_send_print_problem(PROG, "enrolment refused", &req, NULL);
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
    if (gw_cli_parse_pubkey(pub, &gwk) < 0 || strcmp(gwk.fingerprint, fp) != 0) {
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
    r = pu_state_write(path, out_s, strlen(out_s));
    if (r < 0) {
        fprintf(stderr, PROG ": could not write %s: %s\n", path, strerror(-r));
        goto out;
    }
    if (o.json) {
        gw_cli_print_json(json_incref(out), JSON_COMPACT);
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

static void report(const struct pu_upload *up, bool ok, bool json)
{
    if (json) {
        json_t *o = json_pack("{s:s, s:i, s:I}", "file", up->photo.file, "status", up->status,
                              "resumed_from", (json_int_t)up->resumed_from);

        if (o && ok) {
            json_object_set_new(o, "receipt", json_string(up->receipt_path));
            json_object_set_new(o, "photo_id", json_string(up->photo_id));
        } else if (o) {
            json_object_set_new(o, "error", json_string(up->why));
            if (up->problem)
                json_object_set(o, "problem", up->problem);
        }
        gw_cli_print_json(o, JSON_COMPACT);
    } else if (ok) {
        printf("%s\n", up->receipt_path);
        fflush(stdout);
    } else {
        fprintf(stderr, PROG ": %s: not sent: %s\n", up->photo.file, up->why);
    }
}

static int cmd_send(int argc, char **argv)
{
    struct opts o;
    struct cmd_cli c;
    struct pu_device d;
    struct gw_key k = {0};
    struct pu_url u;
    struct pu_sender s = {.prog = PROG};
    const char *why;
    int failed = 0, r;

    cmd_cli_init(&c, &o, SEND);
    r = gw_cli_parse(&c.cli, argc, argv, &o.first_arg);
    if (r != 0)
        return gw_cli_exit(r);
    if (!o.clave || o.first_arg >= argc) {
        gw_cli_usage(&c.cli, stderr);
        return 2;
    }
    /* Caught here: a phone must not spend its data on an upload the gateway will refuse. */
    if (!gw_clave_valid(o.clave, strlen(o.clave), &why)) {
        fprintf(stderr, PROG ": --clave %s is not a valid CLAVE_ACTA: %s\n", o.clave, why);
        return 2;
    }
    if (pu_state_load_device(PROG, o.state, &d) < 0)
        return 1;
    if (pu_state_load_key(PROG, o.state, false, &k) < 0) {
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
    s.state = o.state;
    s.dev = &d;
    s.key = &k;
    s.url = &u;
    s.resume = !o.no_resume;
    h2_opts(&o, &s.opts);
    for (int i = o.first_arg; i < argc; i++) {
        struct pu_upload up;
        enum pu_outcome res = PU_FAILED;

        if (pu_upload_init(&up, argv[i], o.clave, o.progress) == 0) {
            for (int n = 0;; n++) {
                res = pu_send_attempt(&s, &up);
                if (res != PU_RETRY || n >= o.retries)
                    break;
                long ms = pu_send_backoff_ms(n);

                if (up.location[0])
                    fprintf(stderr, PROG ": %s: %s; resuming in %.1f s (retry %d of %d)\n",
                            up.photo.file, up.why, (double)ms / 1000.0, n + 1, o.retries);
                else
                    fprintf(stderr, PROG ": %s: %s; retry %d of %d in %.1f s\n", up.photo.file,
                            up.why, n + 1, o.retries, (double)ms / 1000.0);
                pu_send_sleep_ms(ms);
            }
        }
        pu_photo_close(&up.photo);
        report(&up, res == PU_DONE, o.json);
        pu_upload_finish(&up);
        if (res != PU_DONE)
            failed++;
    }
    pu_h2_conn_free(s.conn);
    gw_key_finish(&k);
    gw_key_finish(&d.gateway);
    return failed ? 1 : 0;
}

/* ---- verify ---- */

static int cmd_verify(int argc, char **argv)
{
    struct opts o;
    struct cmd_cli c;
    struct gw_key k = {0};
    int invalid = 0;

    int r;

    cmd_cli_init(&c, &o, VERIFY);
    r = gw_cli_parse(&c.cli, argc, argv, &o.first_arg);
    if (r != 0)
        return gw_cli_exit(r);
    if (o.first_arg >= argc) {
        gw_cli_usage(&c.cli, stderr);
        return 2;
    }
    if (o.pubkey) {
        if (gw_cli_parse_pubkey(o.pubkey, &k) < 0) {
            fprintf(stderr, PROG ": --pubkey is not a base64 Ed25519 public key\n");
            return 2;
        }
    } else {
        struct pu_device d;
        char kept[PATH_MAX];
        const char *state =
            o.state_given ? NULL : pu_state_of_receipt(argv[o.first_arg], kept, sizeof(kept));

        if (pu_state_load_device(PROG, state ? state : o.state, &d) < 0)
            return 1;
        k = d.gateway;
    }
    for (int i = o.first_arg; i < argc; i++) {
        char why[600];
        bool valid = gw_receipt_verify_file(argv[i], &k, why, sizeof(why)) == 0;

        if (o.json)
            gw_cli_print_json(json_pack("{s:s, s:b, s:s?}", "receipt", argv[i], "valid", valid,
                                        "reason", valid ? NULL : why),
                              JSON_COMPACT);
        else if (!valid)
            printf("INVALID %s: %s\n", argv[i], why);
        else
            printf("valid %s (key %s)\n", argv[i], k.fingerprint);
        if (!valid)
            invalid++;
    }
    gw_key_finish(&k);
    return invalid ? 1 : 0;
}

/* ---- verify-bundle ---- */

static int cmd_verify_bundle(int argc, char **argv)
{
    struct opts o;
    struct cmd_cli c;
    struct gw_key k = {0};
    int r;

    cmd_cli_init(&c, &o, BUNDLE);
    r = gw_cli_parse(&c.cli, argc, argv, &o.first_arg);
    if (r != 0)
        return gw_cli_exit(r);
    if (o.first_arg != argc - 1) {
        gw_cli_usage(&c.cli, stderr);
        return 2;
    }
    if (o.pubkey && gw_cli_parse_pubkey(o.pubkey, &k) < 0) {
        fprintf(stderr, PROG ": --pubkey is not a base64 Ed25519 public key\n");
        return 2;
    }
    r = pu_bundle_verify(argv[o.first_arg], o.pubkey ? &k : NULL, stdout);
    gw_key_finish(&k);
    return r;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";

    signal(SIGPIPE, SIG_IGN); /* a TLS peer that closes under a write (pu_h2.h) */

    if (strcmp(cmd, "enrol") == 0 || strcmp(cmd, "enroll") == 0)
        return cmd_enrol(argc - 1, argv + 1);
    if (strcmp(cmd, "send") == 0)
        return cmd_send(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "verify-bundle") == 0)
        return cmd_verify_bundle(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    fputs(main_usage, stderr);
    return 2;
}
