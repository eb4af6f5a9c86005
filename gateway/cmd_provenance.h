/*
 * cmd_provenance: the `key`, `ledger` and `receipt` commands of prep-gateway, for operators and
 * auditors. They read the data folder (and PostgreSQL for `ledger verify`) and never need the
 * gateway to be running.
 */
#ifndef CMD_PROVENANCE_H
#define CMD_PROVENANCE_H

/* `prep-gateway device code|list|revoke`. Returns the process exit status. */
int gw_cmd_device(int argc, char **argv);

/* `prep-gateway key show`. Returns the process exit status. */
int gw_cmd_key(int argc, char **argv);

/* `prep-gateway ledger verify|checkpoint`. Returns the process exit status. */
int gw_cmd_ledger(int argc, char **argv);

/* `prep-gateway receipt verify FILE`. Returns the process exit status. */
int gw_cmd_receipt(int argc, char **argv);

#endif
