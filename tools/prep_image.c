/*
 * prep-image: the gateway's imaging pipeline on files, for operators, tests and benchmarks.
 *
 * It calls exactly what the gateway's processing stage calls (img_jpeg_probe, img_exif_parse,
 * img_process_jpeg with the same defaults), so a file's outcome here is its outcome there. Files
 * are processed by --jobs threads; results are printed in the order of the arguments once all are
 * done, progress goes to stderr as each finishes.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dup.h"
#include "exif.h"
#include "gw_cli.h"
#include "gw_file.h"
#include "img_error.h"
#include "jpeg_scan.h"
#include "process.h"

/* A constant of the library in the help text, so that the text follows the code. */
#define STR_(x) #x
#define STR(x) STR_(x)

#define MAX_FILE_BYTES (64u << 20)

enum cmd { CMD_PROBE, CMD_PROCESS, CMD_HASH };

struct job {
    const char *path;
    char *out; /* the result line, malloc'ed */
    bool ok;
    double ms;
};

struct run {
    enum cmd cmd;
    bool json, quiet;
    const char *out_dir;
    struct img_process_opts opts;
    struct job *jobs;
    size_t n;
    atomic_size_t next, done;
};

/* A growing string; on allocation failure the tool gives up (it is not a server). */
struct str {
    char *p;
    size_t len, cap;
};

static void put(struct str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct str *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (s->p && s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        s->cap = (s->cap + (size_t)n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        if (!s->p) {
            fputs("prep-image: out of memory\n", stderr);
            exit(1);
        }
    }
}

/* A JSON string literal (printable ASCII from our library; anything else escaped). */
static void put_jstr(struct str *s, const char *v)
{
    put(s, "\"");
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;

        if (c == '"' || c == '\\')
            put(s, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            put(s, "\\u%04x", c);
        else
            put(s, "%c", c);
    }
    put(s, "\"");
}

static void put_info(struct str *s, const struct img_jpeg_info *in)
{
    put(s,
        "\"jpeg\":{\"width\":%u,\"height\":%u,\"components\":%u,\"progressive\":%s,\"scans\":%u}",
        in->width, in->height, in->components, in->progressive ? "true" : "false", in->scans);
}

static void put_exif(struct str *s, const struct img_exif *e, bool valid)
{
    put(s, "\"exif\":{\"orientation\":%u,\"valid\":%s", e->orientation, valid ? "true" : "false");
    const struct {
        const char *name, *value;
    } texts[] = {{"make", e->make},
                 {"model", e->model},
                 {"software", e->software},
                 {"datetime_original", e->datetime_original},
                 {"offset_time_original", e->offset_time_original}};

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (!texts[i].value[0])
            continue;
        put(s, ",\"%s\":", texts[i].name);
        put_jstr(s, texts[i].value);
    }
    if (e->has_gps) {
        put(s, ",\"gps\":{\"latitude\":%.6f,\"longitude\":%.6f", e->gps_lat, e->gps_lon);
        if (e->has_gps_alt)
            put(s, ",\"altitude\":%.1f", e->gps_alt);
        if (e->gps_datetime[0]) {
            put(s, ",\"datetime\":");
            put_jstr(s, e->gps_datetime);
        }
        put(s, "}");
    }
    put(s, "}");
}

static void put_legibility(struct str *s, const struct img_legibility *l)
{
    bool first = true;

    put(s, "\"legibility\":{\"verdict\":\"%s\",\"reasons\":[", l->ok ? "ok" : "retake");
    for (unsigned bit = 1; bit <= IMG_LEG_NO_SHEET; bit <<= 1) {
        if (l->reasons & bit) {
            put(s, "%s\"%s\"", first ? "" : ",", img_legibility_reason_name(bit));
            first = false;
        }
    }
    put(s,
        "],\"focus\":%.1f,\"luma\":%.1f,\"clipped\":%.5f,\"glare\":%.5f,\"coverage\":%.3f,"
        "\"sheet\":%s}",
        l->focus, l->luma, l->clipped, l->glare, l->coverage, l->has_sheet ? "true" : "false");
}

static int write_webp(const char *dir, const char *path, const struct img_result *res,
                      char *ret_path, size_t cap)
{
    const char *base = strrchr(path, '/');
    const char *dot;
    FILE *f;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    snprintf(ret_path, cap, "%s/%.*s.%s", dir, dot ? (int)(dot - base) : (int)strlen(base), base,
             res->format == IMG_FORMAT_JPEG ? "jpg" : "webp");
    f = fopen(ret_path, "wb");
    if (!f)
        return -errno;
    if (fwrite(res->webp, 1, res->webp_len, f) != res->webp_len || fclose(f) != 0) {
        int e = errno ? errno : EIO;

        return -e;
    }
    return 0;
}

static void sha256_hex(const uint8_t *buf, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void do_one(struct run *rn, struct job *j)
{
    struct str s = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *why = NULL;
    int rc;
    bool write_failed = false;
    double t0 = now_ms();

    put(&s, "{\"file\":");
    put_jstr(&s, j->path);
    rc = gw_file_read_at(AT_FDCWD, j->path, MAX_FILE_BYTES, &buf, &len);
    if (rc < 0) {
        put(&s, ",\"ok\":false,\"error\":\"IO\",\"message\":");
        put_jstr(&s, strerror(-rc));
        goto done;
    }
    put(&s, ",\"bytes\":%zu", len);
    if (rn->cmd == CMD_PROBE) {
        struct img_jpeg_info in;
        struct img_exif ex;
        bool exif_ok = false;

        rc = img_jpeg_probe(buf, len, &rn->opts.limits, &in, &why);
        if (rc == 0) {
            img_exif_init(&ex);
            if (in.has_exif && in.exif_offset <= len && in.exif_len <= len - in.exif_offset)
                exif_ok = img_exif_parse(buf + in.exif_offset, in.exif_len, &ex, NULL) == 0;
            put(&s, ",\"ok\":true,");
            put_info(&s, &in);
            put(&s, ",");
            put_exif(&s, &ex, exif_ok);
        }
    } else {
        struct img_process_opts o = rn->opts;
        struct img_result res;

        o.encode = rn->cmd == CMD_PROCESS;
        rc = img_process_jpeg(buf, len, &o, &res, &why);
        if (rc == 0) {
            put(&s, ",\"ok\":true,");
            if (rn->cmd == CMD_HASH) {
                char sha[65];

                sha256_hex(buf, len, sha);
                put(&s, "\"sha256\":\"%s\",", sha);
            }
            put_info(&s, &res.info);
            put(&s, ",");
            put_exif(&s, &res.exif, res.exif_ok);
            if (res.analysed) {
                put(&s, ",");
                put_legibility(&s, &res.legibility);
            }
            put(&s, ",\"qr\":");
            if (res.qr_found)
                put_jstr(&s, res.qr);
            else
                put(&s, "null");
            put(&s, ",\"qr_full_scan\":%s", res.qr_full_scan ? "true" : "false");
            if (rn->cmd == CMD_PROCESS) {
                char out[4096];

                put(&s,
                    ",\"output\":{\"format\":\"%s\",\"quality\":%d,\"width\":%u,"
                    "\"height\":%u,\"bytes\":%zu",
                    res.format == IMG_FORMAT_JPEG ? "jpeg" : "webp", res.quality, res.width,
                    res.height, res.webp_len);
                if (rn->out_dir) {
                    int w = write_webp(rn->out_dir, j->path, &res, out, sizeof(out));

                    if (w < 0) {
                        fprintf(stderr, "prep-image: could not write %s: %s\n", out, strerror(-w));
                        write_failed = true;
                    } else {
                        put(&s, ",\"path\":");
                        put_jstr(&s, out);
                    }
                }
                put(&s, "}");
            }
            if (rn->cmd == CMD_HASH && res.analysed) {
                char *hex = malloc(IMG_DUP_HEX_LEN + 1);

                if (hex) {
                    img_dup_to_hex(&res.sig, hex);
                    put(&s, ",\"signature\":\"%s\"", hex);
                    free(hex);
                }
            }
            img_result_finish(&res);
        }
    }
    if (rc < 0) {
        put(&s, ",\"ok\":false,\"error\":\"%s\",\"message\":", img_err_name(rc));
        put_jstr(&s, img_strerror(rc));
        put(&s, ",\"why\":");
        put_jstr(&s, why ? why : "");
    }
done:
    j->ms = now_ms() - t0;
    j->ok = rc == 0 && !write_failed;
    put(&s, ",\"ms\":%.1f}", j->ms);
    j->out = s.p;
    free(buf);
}

static void *worker(void *arg)
{
    struct run *rn = arg;
    size_t i;

    while ((i = atomic_fetch_add(&rn->next, 1)) < rn->n) {
        size_t d;

        do_one(rn, &rn->jobs[i]);
        d = atomic_fetch_add(&rn->done, 1) + 1;
        if (!rn->quiet)
            fprintf(stderr, "prep-image: [%zu/%zu] %s %s %.0f ms\n", d, rn->n, rn->jobs[i].path,
                    rn->jobs[i].ok ? "ok" : "refused", rn->jobs[i].ms);
    }
    return NULL;
}

/* The text form: the JSON line is already compact; print it as is, or a short human summary. */
static void print_text(const struct job *j)
{
    fputs(j->out, stdout);
    fputc('\n', stdout);
}

static const char usage_head[] =
    "usage: prep-image probe|process|hash FILE... [options]\n"
    "\n"
    "Runs the gateway's imaging code on JPEG files and prints one JSON object per file,\n"
    "in argument order:\n"
    "  probe    marker walk and limits, EXIF; no pixels decoded\n"
    "  process  the whole pipeline: decode, orient, legibility, QR, resize, WebP\n"
    "  hash     SHA-256 of the bytes and the content signature for duplicate checks\n"
    "\n";

static const char usage_end[] =
    "  --help            this text\n"
    "\n"
    "Exit status: 0 when every file was accepted, 1 when any was refused, 2 on usage errors.\n"
    "A summary line (files, seconds, photos/s) goes to stderr.\n";

static int set_no_analyse(void *value, const char *arg)
{
    ((struct run *)value)->opts.analyse = false;
    return 0;
}

static int set_format(void *value, const char *arg)
{
    struct run *rn = value;

    if (!strcmp(arg, "webp")) {
        rn->opts.format = IMG_FORMAT_WEBP;
    } else if (!strcmp(arg, "jpeg")) {
        rn->opts.format = IMG_FORMAT_JPEG;
    } else {
        fprintf(stderr, "prep-image: --format is webp or jpeg\n");
        return -EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct run rn;
    int jobs = 1, quality = -1, method = -1, long_side = -1, max_bytes = -1;
    const struct gw_cli_opt opts[] = {
        GW_CLI_OPT_FLAG("json", &rn.json,
                        "one compact JSON object per line (the default output is the same)"),
        GW_CLI_OPT_STRING("out", &rn.out_dir, "DIR",
                          "process: write DIR/<name>.webp (.jpg with --format jpeg)"),
        GW_CLI_OPT_INT("jobs", &jobs, "N", 1, 64, "files processed in parallel (default 1)"),
        GW_CLI_OPT_INT(
            "quality", &quality, "Q", 0, 100,
            "WebP or JPEG quality 0..100 (default " STR(
                IMG_PROCESS_DEFAULT_WEBP_QUALITY) " WebP, " STR(IMG_PROCESS_DEFAULT_JPEG_QUALITY) " JPEG)"),
        GW_CLI_OPT_INT("method", &method, "M", 0, 6,
                       "WebP method 0..6 (default " STR(IMG_PROCESS_DEFAULT_WEBP_METHOD) ")"),
        GW_CLI_OPT_INT("long-side", &long_side, "N", 0, 16383,
                       "long side of the WebP (default 2000)"),
        {.name = "no-analyse",
         .kind = GW_CLI_CALL,
         .value = &rn,
         .call = set_no_analyse,
         .help = "skip legibility, signature and QR"},
        {.name = "format",
         .kind = GW_CLI_CALL,
         .value = &rn,
         .arg = "F",
         .call = set_format,
         .help = "process: webp (default) or jpeg (progressive, the fallback)"},
        GW_CLI_OPT_INT("max-bytes", &max_bytes, "N", 0, 1L << 30,
                       "process: lower the quality until the output fits in N bytes"),
        GW_CLI_OPT_FLAG("quiet", &rn.quiet, "no progress lines on stderr"),
        GW_CLI_OPT_END,
    };
    const struct gw_cli cli = {.prog = "prep-image",
                               .usage = usage_head,
                               .usage_end = usage_end,
                               .opts = opts,
                               .help_column = 20};
    int bad = 0, first, r;
    pthread_t *th;
    double t0, secs;

    memset(&rn, 0, sizeof(rn));
    img_process_opts_init(&rn.opts);
    r = gw_cli_parse(&cli, argc, argv, &first);
    if (r != 0)
        return gw_cli_exit(r);
    if (quality >= 0)
        rn.opts.webp_quality = rn.opts.jpeg_quality = quality;
    if (method >= 0)
        rn.opts.webp_method = method;
    if (long_side >= 0)
        rn.opts.long_side = (uint32_t)long_side;
    if (max_bytes >= 0)
        rn.opts.max_bytes = (size_t)max_bytes;
    if (first >= argc) {
        gw_cli_usage(&cli, stderr);
        return 2;
    }
    if (!strcmp(argv[first], "probe"))
        rn.cmd = CMD_PROBE;
    else if (!strcmp(argv[first], "process"))
        rn.cmd = CMD_PROCESS;
    else if (!strcmp(argv[first], "hash"))
        rn.cmd = CMD_HASH;
    else {
        fprintf(stderr, "prep-image: unknown command \"%s\"\n", argv[first]);
        gw_cli_usage(&cli, stderr);
        return 2;
    }
    rn.n = (size_t)(argc - first - 1);
    if (rn.n == 0) {
        fprintf(stderr, "prep-image: no files given\n");
        return 2;
    }
    rn.jobs = calloc(rn.n, sizeof(*rn.jobs));
    th = calloc((size_t)jobs, sizeof(*th));
    if (!rn.jobs || !th)
        return 1;
    for (size_t i = 0; i < rn.n; i++)
        rn.jobs[i].path = argv[first + 1 + (int)i];
    t0 = now_ms();
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&th[i], NULL, worker, &rn) != 0)
            return 1;
    for (int i = 0; i < jobs; i++)
        pthread_join(th[i], NULL);
    secs = (now_ms() - t0) / 1e3;
    for (size_t i = 0; i < rn.n; i++) {
        print_text(&rn.jobs[i]);
        bad += !rn.jobs[i].ok;
        free(rn.jobs[i].out);
    }
    fprintf(stderr, "prep-image: %zu files, %d refused, %.3f s, %.2f photos/s, %d jobs\n", rn.n,
            bad, secs, secs > 0 ? (double)rn.n / secs : 0.0, jobs);
    free(rn.jobs);
    free(th);
    return bad ? 1 : 0;
}
