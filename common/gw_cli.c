#include "gw_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_keys.h"

#define HELP_COLUMN_DEFAULT 18
/* getopt_long's value for entry i without a short name: above every char. */
#define LONG_ONLY_BASE 256

/* Whether |o| takes an argument: its kind says, but for GW_CLI_CALL, which takes one when the
 * usage names it. */
static bool takes_arg(const struct gw_cli_opt *o)
{
    return o->kind == GW_CLI_STRING || o->kind == GW_CLI_INT || (o->kind == GW_CLI_CALL && o->arg);
}

void gw_cli_usage(const struct gw_cli *cli, FILE *out)
{
    int col = cli->help_column > 0 ? cli->help_column : HELP_COLUMN_DEFAULT;

    if (cli->usage)
        fputs(cli->usage, out);
    for (const struct gw_cli_opt *o = cli->opts; o && o->name; o++) {
        const char *h = o->help;
        int n;

        if (!h)
            continue;
        n = fprintf(out, "  --%s%s%s", o->name, takes_arg(o) ? " " : "",
                    takes_arg(o) ? (o->arg ? o->arg : "N") : "");
        /* At least two spaces between the option and its help, as man pages do. */
        if (n > col - 2) {
            fputc('\n', out);
            n = 0;
        }
        fprintf(out, "%*s", col - n, "");
        for (;;) {
            size_t len = strcspn(h, "\n");

            fprintf(out, "%.*s\n", (int)len, h);
            if (!h[len])
                break;
            h += len + 1;
            fprintf(out, "%*s", col, "");
        }
    }
    if (cli->usage_end)
        fputs(cli->usage_end, out);
}

int gw_cli_parse_int(const char *s, long lo, long hi, long *ret)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno || end == s || *end)
        return -EINVAL;
    if (v < lo || v > hi)
        return -ERANGE;
    *ret = v;
    return 0;
}

/* Stores |arg| as |o| says; prints why it cannot. */
static int store(const struct gw_cli *cli, const struct gw_cli_opt *o, const char *arg)
{
    long v;

    switch (o->kind) {
    case GW_CLI_FLAG:
        *(bool *)o->value = true;
        return 0;
    case GW_CLI_SET:
        *(int *)o->value = o->set;
        return 0;
    case GW_CLI_STRING:
        *(const char **)o->value = arg;
        return 0;
    case GW_CLI_INT:
        if (gw_cli_parse_int(arg, o->lo, o->hi, &v) < 0) {
            if (o->bad)
                fprintf(stderr, "%s: %s\n", cli->prog, o->bad);
            else
                fprintf(stderr, "%s: --%s must be an integer in %ld..%ld\n", cli->prog, o->name,
                        o->lo, o->hi);
            return -EINVAL;
        }
        *(int *)o->value = (int)v;
        return 0;
    case GW_CLI_CALL:
        return o->call(o->value, arg) < 0 ? -EINVAL : 0;
    }
    return -EINVAL;
}

int gw_cli_parse(const struct gw_cli *cli, int argc, char **argv, int *ret_first)
{
    struct option lo[GW_CLI_OPTS_MAX + 2];
    char shorts[2 * GW_CLI_OPTS_MAX + 4];
    size_t n = 0, ns = 0;
    int c, r = 0;

    /* A leading '+' would stop at the first operand; sub-commands take options after them. */
    for (; cli->opts && cli->opts[n].name; n++) {
        const struct gw_cli_opt *o = &cli->opts[n];

        if (n == GW_CLI_OPTS_MAX) {
            fprintf(stderr, "%s: more than %d options in the table\n", cli->prog, GW_CLI_OPTS_MAX);
            return -EINVAL;
        }
        lo[n] = (struct option){o->name, takes_arg(o) ? required_argument : no_argument, NULL,
                                o->short_name ? o->short_name : LONG_ONLY_BASE + (int)n};
        if (o->short_name) {
            shorts[ns++] = (char)o->short_name;
            if (takes_arg(o))
                shorts[ns++] = ':';
        }
    }
    lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n] = (struct option){NULL, 0, NULL, 0};
    shorts[ns++] = 'h';
    shorts[ns] = '\0';
    optind = 1;
    while (r == 0 && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const struct gw_cli_opt *o = NULL;

        if (c == 'h') {
            gw_cli_usage(cli, stdout);
            r = 1;
            break;
        }
        if (c >= LONG_ONLY_BASE)
            o = &cli->opts[c - LONG_ONLY_BASE];
        for (size_t i = 0; !o && i + 1 < n; i++)
            if (cli->opts[i].short_name == c)
                o = &cli->opts[i];
        if (!o) {
            gw_cli_usage(cli, stderr);
            r = -EINVAL;
            break;
        }
        r = store(cli, o, optarg);
    }
    if (r == 0 && ret_first)
        *ret_first = optind;
    return r;
}

int gw_cli_command(const struct gw_cli *cli, int argc, char **argv, const char *const *names,
                   int *ret_index, int *ret_first)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd && (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)) {
        gw_cli_usage(cli, stdout);
        return 1;
    }
    for (int i = 0; cmd && names[i]; i++) {
        if (strcmp(cmd, names[i]) == 0) {
            int r = gw_cli_parse(cli, argc - 1, argv + 1, ret_first);

            if (r == 0)
                *ret_index = i;
            return r;
        }
    }
    gw_cli_usage(cli, stderr);
    return -EINVAL;
}

int gw_cli_print_json(json_t *o, size_t flags)
{
    char *s = o ? json_dumps(o, flags | JSON_PRESERVE_ORDER) : NULL;

    json_decref(o);
    if (!s)
        return -ENOMEM;
    puts(s);
    free(s);
    fflush(stdout);
    return 0;
}

int gw_cli_parse_pubkey(const char *b64, struct gw_key *ret)
{
    uint8_t pub[GW_KEY_PUB_LEN + 2];

    if (gw_b64_decode(b64, pub, sizeof(pub)) != GW_KEY_PUB_LEN)
        return -EINVAL;
    return gw_key_from_public(pub, ret) < 0 ? -EINVAL : 0;
}

int gw_cli_load_key(const char *prog, const char *what, const char *path, bool create,
                    struct gw_key *ret)
{
    int r = gw_key_load(path, create, ret);

    if (r < 0)
        fprintf(stderr, "%s: could not load the %s %s: %s\n", prog, what, path,
                r == -EPERM ? "readable by others (chmod 600)" : strerror(-r));
    return r;
}
