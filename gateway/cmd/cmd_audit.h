/*
 * cmd_audit: the audit ceremony. `audit manifest` hashes every file that makes up the installed
 * system (the gateway binary and the shared libraries it loads, the schema, the web assets and
 * any file named with --include) into a manifest signed with the gateway key; `audit verify`
 * re-hashes and lists what was added, is missing or changed; `audit zero` certifies that every
 * operational table and the spool are empty ("en ceros") with a signed, timestamped statement.
 */
#ifndef CMD_AUDIT_H
#define CMD_AUDIT_H

/* `prep-gateway audit manifest|verify|zero`. Returns the process exit status. */
int gw_cmd_audit(int argc, char **argv, const char *schema_dir, const char *web_dir);

#endif
