#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_cli.h"
#include "gw_keys.h"
#include "tap.h"

struct vals {
    const char *db, *name;
    bool json;
    int n, progress, calls;
};

static int count_call(void *value, const char *arg)
{
    struct vals *v = value;

    v->calls++;
    return strcmp(arg, "bad") == 0 ? -EINVAL : 0;
}

/* Runs the parser over the words of |line| (at most 15) with a fresh table. */
static int parse(const char *line, struct vals *v, int *ret_first)
{
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_DB(&v->db),
        GW_CLI_OPT_JSON(&v->json),
        {.name = "name", .kind = GW_CLI_STRING, .value = &v->name, .arg = "N", .help = "a name"},
        {.name = "count", .short_name = 'c', .kind = GW_CLI_INT, .value = &v->n, .lo = 1, .hi = 9},
        {.name = "progress", .kind = GW_CLI_SET, .value = &v->progress, .set = 1},
        {.name = "no-progress", .kind = GW_CLI_SET, .value = &v->progress, .set = 0},
        {.name = "call", .kind = GW_CLI_CALL, .value = v, .arg = "X", .call = count_call},
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "test-cli", .usage = "Usage: t\n", .opts = opts};
    static char buf[256];
    char *argv[16];
    int argc = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    for (char *p = buf; *p && argc < 15;) {
        argv[argc++] = p;
        p += strcspn(p, " ");
        if (*p)
            *p++ = '\0';
    }
    argv[argc] = NULL;
    memset(v, 0, sizeof(*v));
    v->progress = -1;
    return gw_cli_parse(&cli, argc, argv, ret_first);
}

static void check_usage(void)
{
    const struct gw_cli_opt opts[] = {
        {.name = "timeout", .kind = GW_CLI_STRING, .arg = "SEC", .help = "one line"},
        {.name = "quiet", .help = "two\nlines"},
        {.name = "a-very-long-option", .kind = GW_CLI_STRING, .arg = "ARGUMENT", .help = "below"},
        {.name = "silent"},
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.usage = "Usage: x\n", .usage_end = "end\n", .opts = opts};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    gw_cli_usage(&cli, f);
    fclose(f);
    CHECK_STR(text, "Usage: x\n"
                    "  --timeout SEC   one line\n"
                    "  --quiet         two\n"
                    "                  lines\n"
                    "  --a-very-long-option ARGUMENT\n"
                    "                  below\n"
                    "end\n");
    free(text);
}

int main(void)
{
    struct vals v;
    long n = 0;
    int first = -1;

    CHECK(gw_cli_parse_int("42", 0, 100, &n) == 0 && n == 42);
    CHECK(gw_cli_parse_int("-3", -5, 5, &n) == 0 && n == -3);
    n = 7;
    CHECK(gw_cli_parse_int("", 0, 100, &n) == -EINVAL && n == 7);
    CHECK(gw_cli_parse_int("12x", 0, 100, &n) == -EINVAL && n == 7);
    CHECK(gw_cli_parse_int("101", 0, 100, &n) == -ERANGE && n == 7);
    CHECK(gw_cli_parse_int("99999999999999999999999", 0, 100, &n) == -ERANGE && n == 7);

    CHECK(parse("prog --db x --json op1 --name=y -c 3 op2 --no-progress", &v, &first) == 0);
    CHECK_STR(v.db, "x");
    CHECK_STR(v.name, "y");
    CHECK(v.json && v.n == 3 && v.progress == 0);
    CHECK(first == 8); /* operands permuted to the end */
    CHECK(parse("prog --progress --count 9", &v, &first) == 0 && v.progress == 1 && v.n == 9);
    CHECK(parse("prog --count 10", &v, &first) == -EINVAL);
    CHECK(parse("prog -c abc", &v, &first) == -EINVAL);
    CHECK(parse("prog --call ok --call bad", &v, &first) == -EINVAL && v.calls == 2);
    first = -1;
    CHECK(parse("prog --nope", &v, &first) == -EINVAL && first == -1); /* untouched */
    CHECK(parse("prog --name", &v, &first) == -EINVAL);
    CHECK(parse("prog --help --nope", &v, &first) == 1);
    CHECK(parse("prog -h", &v, &first) == 1);
    CHECK(gw_cli_exit(1) == 0 && gw_cli_exit(-EINVAL) == 2);

    {
        static const char *const names[] = {"show", "list", NULL};
        const struct gw_cli cli = {.prog = "t", .usage = "u\n"};
        char *a1[] = {"key", "list", NULL}, *a2[] = {"key", "frob", NULL}, *a3[] = {"key", NULL};
        char *a4[] = {"key", "--help", NULL};
        int i = -1;

        CHECK(gw_cli_command(&cli, 2, a1, names, &i, NULL) == 0 && i == 1);
        CHECK(gw_cli_command(&cli, 2, a2, names, &i, NULL) == -EINVAL && i == 1);
        CHECK(gw_cli_command(&cli, 1, a3, names, &i, NULL) == -EINVAL);
        CHECK(gw_cli_command(&cli, 2, a4, names, &i, NULL) == 1);
    }

    {
        struct gw_key k = {0};

        CHECK(gw_cli_parse_pubkey("xx", &k) == -EINVAL);
        CHECK(gw_cli_parse_pubkey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &k) == 0);
        gw_key_finish(&k);
    }
    CHECK(gw_cli_print_json(NULL, JSON_COMPACT) == -ENOMEM);
    CHECK(gw_cli_print_json(json_pack("{s:i}", "a", 1), JSON_COMPACT) == 0);
    check_usage();
    return TAP_DONE();
}
