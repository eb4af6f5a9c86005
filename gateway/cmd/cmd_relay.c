/*
 * `prep-gateway relay status|verify`: what a CATD edge relay forwarded to the central gateway,
 * from its data folder alone (gw_relay.h), for the operator and the auditor of a CATD.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_provenance.h"
#include "gw_cli.h"
#include "gw_keys.h"
#include "gw_ledger.h"
#include "gw_receipt.h"
#include "gw_relay.h"

static const char relay_usage[] =
    "Usage: prep-gateway relay status [--data DIR] [--json]\n"
    "       prep-gateway relay verify --pubkey CENTRAL-KEY [--data DIR] [--json]\n"
    "\n"
    "For a CATD edge relay (`serve --upstream`). Reads the edge's ledger and what its relay\n"
    "stage kept: the cursor (spool/relay/cursor), the central gateway's receipts\n"
    "(relay/central/) and the photos the centre refused (relay/refused/).\n"
    "\n"
    "status   entries in the edge's ledger, how many the centre holds, how many wait, and the\n"
    "         refused ones with the centre's answer.\n"
    "verify   checks every entry up to the cursor against the centre's receipt with the\n"
    "         centre's public key (`prep-gateway key show` at the centre): same photo, same\n"
    "         SHA-256, the centre's signature holds; prints each entry's place in both ledgers.\n"
    "         Exit status 0 when every forwarded entry is accounted for, 1 otherwise.\n";

enum state { WAITING, RELAYED, REFUSED, BAD };

static const char *const state_names[] = {"waiting", "relayed", "refused", "INVALID"};

/* The state of entry |e| (cursor |cursor|); a relayed one's receipt in |rc| (checked with |k|
 * when not NULL), the reason of a bad one in |*why|. */
static enum state entry_state(int root, const struct gw_ledger_entry *e, uint64_t cursor,
                              const struct gw_key *k, struct gw_receipt *rc, const char **why)
{
    char *json = NULL, name[128];
    size_t len = 0;
    int r = gw_relay_central_receipt(root, e->photo_id, &json, &len);

    *why = NULL;
    if (r == 0) {
        *why = k ? gw_receipt_verify(json, len, k, rc)
                 : (gw_receipt_parse(json, len, rc) < 0 ? "unreadable" : NULL);
        free(json);
        if (!*why && (strcmp(rc->photo_id, e->photo_id) != 0 || strcmp(rc->sha256, e->sha256)))
            *why = "the centre's receipt names another photo";
        return *why ? BAD : RELAYED;
    }
    snprintf(name, sizeof(name), GW_RELAY_DIR "/" GW_RELAY_REFUSED "/%s.json", e->photo_id);
    if (faccessat(root, name, F_OK, 0) == 0)
        return REFUSED;
    if (e->seq <= cursor) {
        *why = "forwarded (behind the cursor) but no receipt of the centre is kept";
        return BAD;
    }
    return WAITING;
}

int gw_cmd_relay(int argc, char **argv)
{
    static const char *const subs[] = {"status", "verify", NULL};
    struct gw_cmd_opts o;
    struct gw_ledger_entry *all = NULL;
    struct gw_key k;
    char hash[GW_SHA256_HEX_LEN + 1];
    unsigned counts[4] = {0, 0, 0, 0};
    uint64_t cursor = 0;
    json_t *list = NULL;
    int r, sub, n = 0, root;

    r = gw_cmd_opts_parse("prep-gateway relay", relay_usage, argc, argv, subs, &sub, &o);
    if (r != 0)
        return gw_cli_exit(r);
    if (sub == 1 && (!o.pubkey || gw_cli_parse_pubkey(o.pubkey, &k) < 0)) {
        fprintf(stderr, "prep-gateway relay verify: --pubkey must be the centre's base64 Ed25519"
                        " public key\n");
        return 2;
    }
    root = open(o.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0 || gw_relay_cursor_load(root, &cursor, hash) < 0 ||
        gw_cmd_ledger_load(o.data, &all, &n) < 0) {
        fprintf(stderr, "prep-gateway relay: cannot read the edge's data folder %s\n", o.data);
        if (root >= 0)
            close(root);
        if (sub == 1)
            gw_key_finish(&k);
        return 1;
    }
    list = json_array();
    for (int i = 0; i < n; i++) {
        struct gw_receipt rc;
        const char *why;
        enum state st = entry_state(root, &all[i], cursor, sub == 1 ? &k : NULL, &rc, &why);

        counts[st]++;
        if (sub == 0 && st != REFUSED)
            continue;
        json_array_append_new(
            list, json_pack("{s:I, s:s, s:s, s:o, s:s?}", "edge_seq", (json_int_t)all[i].seq,
                            "photo_id", all[i].photo_id, "state", state_names[st], "central_seq",
                            st == RELAYED ? json_integer((json_int_t)rc.ledger_seq) : json_null(),
                            "reason", why));
        if (!o.json && (sub == 1 || st == REFUSED))
            printf("%-8s edge #%llu %s%s%s\n", state_names[st], (unsigned long long)all[i].seq,
                   all[i].photo_id, why ? ": " : "", why ? why : "");
    }
    if (o.json) {
        gw_cli_print_json(json_pack("{s:i, s:I, s:i, s:i, s:i, s:i, s:o}", "entries", n, "cursor",
                                    (json_int_t)cursor, "relayed", counts[RELAYED], "refused",
                                    counts[REFUSED], "waiting", counts[WAITING], "invalid",
                                    counts[BAD], "photos", list),
                          JSON_INDENT(2));
    } else {
        json_decref(list);
        printf("edge ledger: %d entries; forwarded up to #%llu; the centre holds %u, refused %u,"
               " waiting %u%s\n",
               n, (unsigned long long)cursor, counts[RELAYED], counts[REFUSED], counts[WAITING],
               counts[BAD] ? "; INVALID entries above" : "");
    }
    free(all);
    close(root);
    if (sub == 1)
        gw_key_finish(&k);
    return counts[BAD] ? 1 : 0;
}
