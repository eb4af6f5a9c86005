/* `prep-gateway key show` and `prep-gateway receipt verify`, and the options and gateway key
 * that the provenance commands share (see cmd_provenance.h). */
#include "cmd_provenance.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "gw_cli.h"
#include "gw_config.h"
#include "gw_keys.h"
#include "gw_receipt.h"

int gw_cmd_opts_parse(const char *prog, const char *usage, int argc, char **argv,
                      const char *const *subs, int *ret_sub, struct gw_cmd_opts *ret)
{
    struct gw_cmd_opts o = {0};
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_STRING("data", &o.data, "DIR", NULL),
        GW_CLI_OPT_DB(&o.db),
        GW_CLI_OPT_STRING("pubkey", &o.pubkey, "BASE64", NULL),
        GW_CLI_OPT_JSON(&o.json),
        GW_CLI_OPT_FLAG("pem", &o.pem, NULL),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = prog, .usage = usage, .opts = opts};
    struct gw_config cfg;
    int r;

    gw_config_defaults(&cfg);
    o.data = cfg.data_dir;
    o.db = cfg.db;
    r = gw_cli_command(&cli, argc, argv, subs, ret_sub, &o.first_arg);
    if (r == 0)
        *ret = o;
    return r;
}

int gw_cmd_load_key(const char *data, bool create, const char *who, struct gw_key *ret)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/keys/gateway-ed25519.pem", data);
    return gw_cli_load_key(who, "gateway key", path, create, ret);
}

/* ---- key ---- */

static const char key_usage[] =
    "Usage: prep-gateway key show [--data DIR] [--json] [--pem]\n"
    "       prep-gateway key init [--data DIR] [--json] [--pem]\n"
    "\n"
    "Prints the gateway's Ed25519 public key (base64) and its fingerprint (hex SHA-256 of the\n"
    "32 key bytes), which receipts and checkpoints name. --pem prints the public key as PEM.\n"
    "The key is DIR/keys/gateway-ed25519.pem (created by the first `serve`). `init` makes it\n"
    "first when it does not exist yet: a CATD edge's key, for instance, which the central\n"
    "gateway must list in its --relay-trust file before the edge first forwards.\n";

int gw_cmd_key(int argc, char **argv)
{
    static const char *const subs[] = {"show", "init", NULL};
    struct gw_cmd_opts o;
    struct gw_key k;
    char b64[GW_KEY_PUB_B64 + 1];
    int r, sub;

    r = gw_cmd_opts_parse("prep-gateway key", key_usage, argc, argv, subs, &sub, &o);
    if (r != 0)
        return gw_cli_exit(r);
    if (sub == 1 && mkdir(o.data, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "prep-gateway key init: cannot make %s: %s\n", o.data, strerror(errno));
        return 1;
    }
    if (gw_cmd_load_key(o.data, sub == 1, "prep-gateway", &k) < 0)
        return 1;
    gw_b64_encode(k.pub, GW_KEY_PUB_LEN, b64);
    if (o.pem)
        PEM_write_PUBKEY(stdout, k.pkey);
    else if (o.json)
        gw_cli_print_json(json_pack("{s:s, s:s, s:s}", "algorithm", "ed25519", "public_key", b64,
                                    "fingerprint", k.fingerprint),
                          JSON_INDENT(2));
    else
        printf("algorithm:   ed25519\npublic key:  %s\nfingerprint: %s\n", b64, k.fingerprint);
    gw_key_finish(&k);
    return 0;
}

/* ---- receipt ---- */

static const char receipt_usage[] =
    "Usage: prep-gateway receipt verify FILE [--pubkey BASE64 | --data DIR] [--json]\n"
    "\n"
    "Checks a receipt offline: the gateway's signature over its fields (with the public key\n"
    "given, or the one in DIR), that the key is the one the receipt names, and that the photo id\n"
    "is the one its clave and SHA-256 give. Exit status 0 when valid, 1 when not.\n";

int gw_cmd_receipt(int argc, char **argv)
{
    static const char *const subs[] = {"verify", NULL};
    struct gw_cmd_opts o;
    struct gw_key k;
    char why[600];
    const char *file;
    int r, sub;

    r = gw_cmd_opts_parse("prep-gateway receipt", receipt_usage, argc, argv, subs, &sub, &o);
    if (r != 0)
        return gw_cli_exit(r);
    if (o.first_arg + 1 != argc - 1) {
        fputs(receipt_usage, stderr);
        return 2;
    }
    file = argv[o.first_arg + 1];
    if (o.pubkey) {
        if (gw_cli_parse_pubkey(o.pubkey, &k) < 0) {
            fprintf(stderr, "prep-gateway: --pubkey is not a base64 Ed25519 public key\n");
            return 2;
        }
    } else if (gw_cmd_load_key(o.data, false, "prep-gateway", &k) < 0) {
        return 1;
    }
    r = gw_receipt_verify_file(file, &k, why, sizeof(why));
    if (o.json)
        gw_cli_print_json(json_pack("{s:s, s:b, s:s?}", "receipt", file, "valid", r == 0, "reason",
                                    r == 0 ? NULL : why),
                          JSON_INDENT(2));
    else if (r < 0)
        printf("INVALID %s: %s\n", file, why);
    else
        printf("valid %s (key %s)\n", file, k.fingerprint);
    gw_key_finish(&k);
    return r < 0 ? 1 : 0;
}
