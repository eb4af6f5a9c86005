/*
 * cmd_provenance: the `key`, `receipt`, `ledger` and `device` commands of prep-gateway, for
 * operators and auditors (cmd_key.c: key and receipt; cmd_ledger.c; cmd_device.c). They read the
 * data folder (and PostgreSQL for `ledger verify` and `device`) and never need the gateway to be
 * running. Also what those commands and `audit` share: their options and the gateway key.
 */
#ifndef CMD_PROVENANCE_H
#define CMD_PROVENANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_key;
struct gw_ledger_entry;
struct gw_checkpoint;

/* `prep-gateway evidence CLAVE --out FILE` (cmd_evidence.c). Returns the process exit status. */
int gw_cmd_evidence(int argc, char **argv);

/* `prep-gateway relay status|verify` for a CATD edge (cmd_relay.c). Returns the exit status. */
int gw_cmd_relay(int argc, char **argv);

/*
 * Reads and verifies the ledger file of the data folder |data|: every entry into a new array
 * |*ret| (caller frees), their count in |*ret_n|. Prints why on stderr and returns -EIO (cannot
 * read), -EBADMSG (a broken chain) or -ENOMEM.
 */
int gw_cmd_ledger_load(const char *data, struct gw_ledger_entry **ret, int *ret_n);

/*
 * The Merkle leaf hashes (gw_merkle_leaf() of the 32 raw bytes of each entry's hash) of the |n|
 * entries |all| into a new array |*ret| of n * 32 bytes (caller frees). Returns 0 or -ENOMEM.
 */
int gw_cmd_ledger_leaves(const struct gw_ledger_entry *all, int n, uint8_t **ret);

/*
 * Makes the version 2 checkpoint of the |n| entries |all| (their leaf hashes |leaves|) at the
 * current time, signed with |k|, into |*ret_c| and its printed form into |buf| (|cap| bytes).
 * Returns 0, -ENOMEM or -EINVAL.
 */
int gw_cmd_checkpoint_make(const struct gw_ledger_entry *all, int n, const uint8_t *leaves,
                           const struct gw_key *k, struct gw_checkpoint *ret_c, char *buf,
                           size_t cap);

/* `prep-gateway device code|list|revoke`. Returns the process exit status. */
int gw_cmd_device(int argc, char **argv);

/* `prep-gateway key show`. Returns the process exit status. */
int gw_cmd_key(int argc, char **argv);

/* `prep-gateway ledger verify|checkpoint`. Returns the process exit status. */
int gw_cmd_ledger(int argc, char **argv);

/* `prep-gateway spool list|ingest`: a stopped gateway's pending receipts (cmd_spool.c). */
int gw_cmd_spool(int argc, char **argv);

/* `prep-gateway receipt verify FILE`. Returns the process exit status. */
int gw_cmd_receipt(int argc, char **argv);

/* The options of `key`, `receipt` and `ledger`, with gw_config_defaults()'s defaults. */
struct gw_cmd_opts {
    const char *data;
    const char *db;
    const char *pubkey; /* base64 */
    bool json, pem;
    int first_arg; /* the first operand is argv[first_arg + 1] */
};

/*
 * Finds the sub-command argv[1] among |subs| (its index to |*ret_sub|) and parses the --data,
 * --db, --pubkey, --json and --pem after it into |*ret| as gw_cli_command() does, printing
 * |usage| for --help or a usage error; messages are prefixed by |prog|. Returns 0 to go on, or
 * gw_cli_command()'s non-zero result (the exit status is gw_cli_exit() of it; |*ret| is then
 * untouched).
 */
int gw_cmd_opts_parse(const char *prog, const char *usage, int argc, char **argv,
                      const char *const *subs, int *ret_sub, struct gw_cmd_opts *ret);

/*
 * Loads the gateway key DIR/keys/gateway-ed25519.pem of the data folder |data| into |*ret|,
 * making it first when |create| (as the first `serve` would). On failure prints
 * "|who|: could not load the gateway key PATH: REASON" and returns the negative errno of
 * gw_key_load().
 */
int gw_cmd_load_key(const char *data, bool create, const char *who, struct gw_key *ret);

#endif
