/*
 * gw_cli: what every command-line program of the project (prep-gateway's commands,
 * prep-upload, the benchmarks and tools) does the same way: a table of options parsed with
 * getopt_long, whose option lines in the usage are printed from that same table, so that what is
 * accepted and what --help says cannot drift apart; the common --json and --db options; the
 * sub-command word; integers parsed with strtol, an end pointer, errno and a range; JSON on
 * stdout; a base64 --pubkey.
 *
 * It does not connect to PostgreSQL (that is gateway/cmd/gw_cli_db, so that the client does not
 * link libpq), knows no defaults (the caller fills the values before parsing) and never exits: the
 * caller turns the result into an exit status with gw_cli_exit(). Messages go to stderr prefixed
 * by the program's name, usage to stdout for --help and to stderr on a usage error. Not
 * thread-safe: getopt_long's state is global.
 */
#ifndef GW_CLI_H
#define GW_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct gw_key;

#define GW_CLI_OPTS_MAX 48 /* entries of one table */

enum gw_cli_kind {
    GW_CLI_FLAG,   /* no argument: *(bool *)value = true */
    GW_CLI_SET,    /* no argument: *(int *)value = set (e.g. --progress 1, --no-progress 0) */
    GW_CLI_STRING, /* *(const char **)value = the argument (pointing into argv) */
    GW_CLI_INT,    /* *(int *)value = the argument, a decimal integer in lo..hi */
    GW_CLI_CALL,   /* call(value, the argument or NULL) */
};

/*
 * One option. |help| is its line in the usage (continuation lines after '\n' are indented to
 * the help column); NULL when the usage's text describes it instead.
 */
struct gw_cli_opt {
    const char *name; /* long name, without the dashes; NULL ends the table */
    int short_name;   /* a letter for -x as well, or 0 */
    enum gw_cli_kind kind;
    void *value;
    const char *arg;  /* the argument's name in the usage ("SEC"; "N" when NULL); GW_CLI_STRING
                       * and GW_CLI_INT take an argument, GW_CLI_CALL when |arg| is set */
    const char *help; /* may be NULL */
    long lo, hi;      /* GW_CLI_INT: the range */
    int set;          /* GW_CLI_SET: the value stored */
    const char *bad;  /* GW_CLI_INT: the message for a bad value, instead of "--NAME must be
                       * an integer in LO..HI" */
    /* GW_CLI_CALL: returns 0, or a negative errno after printing why (a usage error). */
    int (*call)(void *value, const char *arg);
};

/* Table entries on one line each: long name, where the value goes, the argument's name, the
 * range, the help line (NULL when the usage's text describes the option). */
#define GW_CLI_OPT_FLAG(nm, ptr, text)                                                             \
    {                                                                                              \
        .name = (nm), .kind = GW_CLI_FLAG, .value = (ptr), .help = (text)                          \
    }
#define GW_CLI_OPT_STRING(nm, ptr, argname, text)                                                  \
    {                                                                                              \
        .name = (nm), .kind = GW_CLI_STRING, .value = (ptr), .arg = (argname), .help = (text)      \
    }
#define GW_CLI_OPT_INT(nm, ptr, argname, min, max, text)                                           \
    {                                                                                              \
        .name = (nm), .kind = GW_CLI_INT, .value = (ptr), .arg = (argname), .help = (text),        \
        .lo = (min), .hi = (max)                                                                   \
    }

/* The entry that ends every table (designated, so that no compiler warns of missing fields). */
#define GW_CLI_OPT_END                                                                             \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* The options every command that prints results or opens the database spells the same way. */
#define GW_CLI_OPT_JSON(ptr)                                                                       \
    {                                                                                              \
        .name = "json", .kind = GW_CLI_FLAG, .value = (ptr)                                        \
    }
#define GW_CLI_OPT_DB(ptr)                                                                         \
    {                                                                                              \
        .name = "db", .kind = GW_CLI_STRING, .value = (ptr), .arg = "CONNINFO"                     \
    }

struct gw_cli {
    const char *prog;              /* prefix of messages: "prep-upload", "prep-gateway device" */
    const char *usage;             /* synopsis and description, printed before the option lines */
    const char *usage_end;         /* printed after the option lines; may be NULL */
    const struct gw_cli_opt *opts; /* ends with an entry whose name is NULL */
    int help_column;               /* where the options' help starts in the usage; 0 means 18 */
};

/*
 * Prints |cli|'s usage on |out|: |usage|, a line per option of the table that has a help text
 * ("  --name ARG" padded to the help column, or followed by a new line when longer), then
 * |usage_end|.
 */
void gw_cli_usage(const struct gw_cli *cli, FILE *out);

/*
 * Parses the options of |argv| (|argc| entries, argv[0] being the program or the sub-command,
 * skipped) with getopt_long against |cli|'s table plus --help (-h), storing each value as its
 * entry says; operands are permuted after the options and the first one's index stored in
 * |*ret_first| (may be NULL). An option given twice keeps its last value.
 * Returns 0 to go on; 1 after printing the usage on stdout for --help; -EINVAL after printing
 * the usage (unknown option, missing argument) or a message (bad value, a table of more than
 * GW_CLI_OPTS_MAX entries) on stderr. |*ret_first| is set only when 0 is returned; the values
 * stored before a failure stay stored.
 */
int gw_cli_parse(const struct gw_cli *cli, int argc, char **argv, int *ret_first);

/*
 * Finds the sub-command argv[1] among |names| (NULL-terminated), then parses the options as
 * gw_cli_parse() does on |argv| + 1, so that |*ret_first| (may be NULL) counts from the
 * sub-command: its first operand is argv[*ret_first + 1]. Stores the sub-command's index in
 * |*ret_index| when 0 is returned. Returns 0; 1 after printing the usage on stdout when argv[1] is
 * --help or -h, or for --help after the sub-command; -EINVAL after printing the usage on stderr
 * when argv[1] is missing or unknown, or gw_cli_parse()'s -EINVAL.
 */
int gw_cli_command(const struct gw_cli *cli, int argc, char **argv, const char *const *names,
                   int *ret_index, int *ret_first);

/* The exit status for a result |r| of gw_cli_parse() or gw_cli_command() that is not 0: 0 for
 * --help, 2 (bad usage) otherwise. */
static inline int gw_cli_exit(int r)
{
    return r > 0 ? 0 : 2;
}

/*
 * Parses the decimal integer |s| (an optional sign, digits, nothing after) into |*ret|.
 * Returns 0, or -EINVAL when it is not one, or -ERANGE when it is outside |lo|..|hi|
 * (|*ret| untouched on failure).
 */
int gw_cli_parse_int(const char *s, long lo, long hi, long *ret);

/*
 * Prints |o| on one line of stdout (json_dumps with |flags|, e.g. JSON_COMPACT or
 * JSON_INDENT(2), plus JSON_PRESERVE_ORDER) and flushes, so that a consumer reading line by
 * line sees each result at once. Takes over the reference to |o|, which may be NULL (a failed
 * json_pack: nothing is printed). Returns 0, or -ENOMEM when nothing was printed.
 */
int gw_cli_print_json(json_t *o, size_t flags);

/*
 * Decodes |b64|, the base64 of a raw Ed25519 public key as `prep-gateway key show` prints it,
 * into |*ret| (a public-only key: free it with gw_key_finish()). Returns 0, or -EINVAL.
 */
int gw_cli_parse_pubkey(const char *b64, struct gw_key *ret);

/*
 * Loads the Ed25519 private key file |path| into |*ret| with gw_key_load(), making it first when
 * |create|. On failure prints "|prog|: could not load the |what| PATH: REASON" on stderr, the
 * reason for a key file that others may read being "readable by others (chmod 600)". Returns 0,
 * or gw_key_load()'s negative errno.
 */
int gw_cli_load_key(const char *prog, const char *what, const char *path, bool create,
                    struct gw_key *ret);

#endif
