/* gw_config: sizes, options, their checks, and the configuration file (--config): keys,
 * comments, the command line overriding it, and each kind of mistake naming its line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_config.h"
#include "tap.h"

/* A configuration file holding |text|; its path in |path| (PATH_MAX-free: a short template). */
static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Parses "serve --config FILE(text) extra..." and returns gw_config_parse()'s answer. */
static int parse_file(struct gw_config *c, const char *text, char *extra)
{
    char path[] = "/tmp/test-gw-config.XXXXXX";
    char *argv[] = {"serve", "--config", path, extra, NULL};
    int r;

    write_file(path, text);
    gw_config_defaults(c);
    r = gw_config_parse(c, extra ? 4 : 3, argv, stdout);
    unlink(path);
    return r;
}

static void file_cases(void)
{
    struct gw_config c;
    char *line = NULL;
    size_t cap = 0;
    FILE *out;

    /* Keys, blanks and comments; strings point into the file's text, kept by the config. */
    CHECK(parse_file(&c,
                     "# the CATD's gateway\n"
                     "h2c = off\n"
                     "tls = 0.0.0.0:8443   # all addresses\n"
                     "\n"
                     "cert = /etc/prep/cert.pem\n"
                     "key=/etc/prep/key.pem\n"
                     "max-body = 8MiB\r\n"
                     "insecure-open-uploads = true\n",
                     NULL) == 0);
    CHECK(c.h2c_addr == NULL && c.tls_addr && strcmp(c.tls_addr, "0.0.0.0:8443") == 0);
    CHECK(c.cert_file && strcmp(c.cert_file, "/etc/prep/cert.pem") == 0);
    CHECK(c.key_file && strcmp(c.key_file, "/etc/prep/key.pem") == 0);
    CHECK(c.max_body == 8u << 20 && c.open_uploads);
    /* gw_config_print writes what the file would hold. */
    out = tmpfile();
    gw_config_print(&c, out);
    rewind(out);
    int found = 0;
    while (getline(&line, &cap, out) > 0)
        found += strcmp(line, "max-body = 8388608\n") == 0 || strcmp(line, "h2c = off\n") == 0 ||
                 strcmp(line, "insecure-open-uploads = true\n") == 0;
    CHECK(found == 3);
    free(line);
    fclose(out);
    gw_config_finish(&c);

    /* The command line overrides the file. */
    CHECK(parse_file(&c, "tls = off\nloops = 3\nworkers = 5\n", "--loops=7") == 0);
    CHECK(c.loops == 7 && c.workers == 5);
    gw_config_finish(&c);

    /* Mistakes, each an error. */
    CHECK(parse_file(&c, "no-such-key = 1\n", NULL) < 0);
    gw_config_finish(&c);
    CHECK(parse_file(&c, "loops = 2\nloops = 3\n", NULL) < 0);
    gw_config_finish(&c);
    CHECK(parse_file(&c, "loops = many\n", NULL) < 0);
    gw_config_finish(&c);
    CHECK(parse_file(&c, "loops\n", NULL) < 0);
    gw_config_finish(&c);
    CHECK(parse_file(&c, "insecure-open-uploads = yes please\n", NULL) < 0);
    gw_config_finish(&c);
    CHECK(parse_file(&c, "tls = off\nh2c = off\n", NULL) < 0); /* both listeners off */
    gw_config_finish(&c);
    {
        char *argv[] = {"serve", "--config", "/nonexistent/prep.conf", NULL};

        gw_config_defaults(&c);
        CHECK(gw_config_parse(&c, 3, argv, stdout) < 0);
        gw_config_finish(&c);
    }
}

int main(void)
{
    struct gw_config c;
    uint64_t v = 0;
    char *ok[] = {"serve", "--h2c", "off",        "--tls", "127.0.0.1:9443", "--cert", "c.pem",
                  "--key", "k.pem", "--max-body", "1MiB",  "--loops",        "3",      NULL};
    char *bad_size[] = {"serve", "--max-body", "-5", NULL};
    char *no_cert[] = {"serve", "--tls", "127.0.0.1:9443", NULL};
    char *both_off[] = {"serve", "--h2c", "off", "--tls", "off", NULL};

    CHECK(gw_parse_size("20MiB", &v) == 0 && v == 20u << 20);
    CHECK(gw_parse_size("512k", &v) == 0 && v == 512u << 10);
    CHECK(gw_parse_size("1048576", &v) == 0 && v == 1048576);
    CHECK(gw_parse_size("12x", &v) < 0);
    CHECK(gw_parse_size("", &v) < 0);
    CHECK(gw_parse_size("99999999999999999999", &v) < 0);
    CHECK(gw_parse_size("99999999999G", &v) < 0);

    gw_config_defaults(&c);
    CHECK(c.max_body == 20u << 20 && c.max_pixels == 50000000 && c.max_streams == 8);
    CHECK(gw_config_parse(&c, 13, ok, stdout) == 0);
    CHECK(c.h2c_addr == NULL && c.max_body == 1u << 20 && c.loops == 3);
    gw_config_defaults(&c);
    CHECK(gw_config_parse(&c, 3, bad_size, stdout) < 0);
    gw_config_defaults(&c);
    CHECK(gw_config_parse(&c, 3, no_cert, stdout) < 0);
    gw_config_defaults(&c);
    CHECK(gw_config_parse(&c, 5, both_off, stdout) < 0);
    file_cases();
    return TAP_DONE();
}
