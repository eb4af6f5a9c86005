/*
 * dup on the committed re-shot fixtures (fixtures/reshots/manifest.tsv): every photo goes through
 * img_process_jpeg() as the gateway's workers run it, then every pair is compared with
 * img_dup_compare(), the way gw_stage.c compares a photo with its clave's earlier ones -- but over
 * all pairs, not only those of one clave, which is stricter. Two photos of the same sheet must be
 * judged a duplicate (recall), two photos of different sheets never (precision).
 *
 * usage: test_imaging_dup_reshots FIXTURES_RESHOTS_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "dup.h"
#include "img_error.h"
#include "legibility.h"
#include "orient.h"
#include "process.h"
#include "testutil.h"

#define MAX_PHOTOS 128
#define MAX_FILE (4u << 20)

struct photo {
    char file[64], sheet[16], clave[32], shot[16];
    struct img_dup_sig sig;
    bool ok;
};

static struct photo photos[MAX_PHOTOS];

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(MAX_FILE);
    size_t n;

    if (!f || !buf) {
        if (f)
            fclose(f);
        free(buf);
        return NULL;
    }
    n = fread(buf, 1, MAX_FILE, f);
    fclose(f);
    *ret_len = n;
    return buf;
}

/* Splits |line| at tabs into |n| fields (the last keeps the rest of the line). */
static bool fields(char *line, char **f, int n)
{
    for (int i = 0; i < n; i++) {
        f[i] = line;
        line = i + 1 < n ? strchr(line, '\t') : NULL;
        if (i + 1 < n) {
            if (!line)
                return false;
            *line++ = '\0';
        }
    }
    f[n - 1][strcspn(f[n - 1], "\r\n")] = '\0';
    return true;
}

/* Copies the field |src| into |dst| of |cap| bytes; a field too long fails the test. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    CHECK(n < cap);
    n = n < cap ? n : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static size_t load_manifest(const char *dir)
{
    char path[512], line[512];
    FILE *m;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
    m = fopen(path, "r");
    CHECK(m != NULL);
    if (!m)
        return 0;
    CHECK(fgets(line, sizeof(line), m) != NULL); /* header */
    while (n < MAX_PHOTOS && fgets(line, sizeof(line), m)) {
        char *f[5] = {NULL};
        struct photo *p = &photos[n];

        if (!fields(line, f, 5)) {
            CHECK(!"manifest line with fewer than 5 fields");
            continue;
        }
        copy_field(p->file, sizeof(p->file), f[0]);
        copy_field(p->sheet, sizeof(p->sheet), f[1]);
        copy_field(p->clave, sizeof(p->clave), f[2]);
        copy_field(p->shot, sizeof(p->shot), f[3]);
        n++;
    }
    fclose(m);
    return n;
}

/* The signature of one photo, as the gateway computes it: img_process_jpeg() with analysis. */
static void sign(const char *dir, struct photo *p, double *ret_signature_seconds)
{
    struct img_process_opts o;
    struct img_result res;
    struct img_image gray = {0}, small = {0};
    struct img_legibility leg;
    struct img_dup_sig again;
    char path[512];
    size_t len = 0;
    uint8_t *buf;
    double t0;
    uint16_t orientation;

    snprintf(path, sizeof(path), "%s/%s", dir, p->file);
    buf = slurp(path, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    img_process_opts_init(&o);
    o.encode = false;
    CHECK_EQ(img_process_jpeg(buf, len, &o, &res, NULL), 0);
    p->ok = res.analysed && res.sig.has_sheet;
    if (!p->ok)
        printf("  %s: no sheet found\n", p->file);
    p->sig = res.sig;
    orientation = res.exif.orientation;
    img_result_finish(&res);

    /* The cost of the signature alone, on an analysis image made the same way. */
    if (img_jpeg_decode_gray(buf, len, &o.limits, &gray, NULL) == 0 &&
        img_orient(&gray, orientation) == 0 && img_gray_shrink(&gray, IMG_LEG_SIDE, &small) == 0 &&
        img_legibility_assess(&small, &leg) == 0) {
        t0 = now();
        CHECK_EQ(img_dup_signature(&small, &leg, &again), 0);
        *ret_signature_seconds += now() - t0;
    }
    img_image_finish(&small);
    img_image_finish(&gray);
    free(buf);
}

struct range {
    size_t n;
    double lo, hi;
};

static void note(struct range *r, double v)
{
    if (r->n == 0 || v < r->lo)
        r->lo = v;
    if (r->n == 0 || v > r->hi)
        r->hi = v;
    r->n++;
}

int main(int argc, char **argv)
{
    size_t n, dup_pairs = 0, dup_found = 0, diff_pairs = 0, false_matches = 0;
    size_t reshots = 0, reshots_found = 0, near_pairs = 0, clave_pairs = 0;
    struct range r_same = {0}, r_diff = {0}, r_near = {0}, r_clave = {0};
    double sig_seconds = 0.0, t0, cmp_seconds;
    size_t compares = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURES_RESHOTS_DIR\n", argv[0]);
        return 2;
    }
    n = load_manifest(argv[1]);
    CHECK(n >= 58);
    for (size_t i = 0; i < n; i++)
        sign(argv[1], &photos[i], &sig_seconds);

    t0 = now();
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            const struct photo *a = &photos[i], *b = &photos[j];
            bool same = strcmp(a->sheet, b->sheet) == 0;
            /* One is the near-identical copy of the other: sheet ids "aNN" and "aNNx". */
            bool near = !same && strncmp(a->sheet, b->sheet, 3) == 0;
            double thumb, ink;
            enum img_dup_kind k = img_dup_compare(&a->sig, &b->sig, &thumb, &ink);
            bool judged = k == IMG_DUP_REENCODE || k == IMG_DUP_RESHOT;

            compares++;
            if (same) {
                dup_pairs++;
                dup_found += judged;
                note(&r_same, ink);
                if (strcmp(b->shot, "reshot") == 0 && strcmp(a->shot, "reshot") != 0) {
                    reshots++;
                    reshots_found += judged;
                }
                printf("  %s %s ~ %s (%s, thumb %.1f, ink %.3f)\n",
                       judged ? "same:  " : "MISSED:", a->file, b->file, img_dup_kind_name(k),
                       thumb, ink);
            } else {
                diff_pairs++;
                false_matches += judged;
                note(&r_diff, ink);
                if (near) {
                    near_pairs++;
                    note(&r_near, ink);
                    if (!judged)
                        printf("  near:    %s ~ %s (%s, thumb %.1f, ink %.3f)\n", a->file, b->file,
                               img_dup_kind_name(k), thumb, ink);
                }
                if (strcmp(a->clave, b->clave) == 0) {
                    clave_pairs++;
                    note(&r_clave, ink);
                }
                if (judged)
                    printf("  FALSE MATCH: %s ~ %s (%s, ink %.3f)\n", a->file, b->file,
                           img_dup_kind_name(k), ink);
            }
        }
    }
    cmp_seconds = now() - t0;

    printf("dup_reshots: %zu photos, %zu sheets re-shot\n", n, reshots);
    printf("  re-shots recognised %zu/%zu (vs their original); same-sheet pairs %zu/%zu, "
           "ink %.3f..%.3f\n",
           reshots_found, reshots, dup_found, dup_pairs, r_same.lo, r_same.hi);
    printf("  false matches %zu/%zu pairs of different actas, ink %.3f..%.3f; of them %zu "
           "near-identical pairs (one digit), ink %.3f..%.3f; %zu same-clave pairs, ink "
           "%.3f..%.3f\n",
           false_matches, diff_pairs, r_diff.lo, r_diff.hi, near_pairs, r_near.lo, r_near.hi,
           clave_pairs, r_clave.lo, r_clave.hi);
    printf("  precision %.3f recall %.3f (threshold %.3f)\n",
           dup_found + false_matches ? (double)dup_found / (double)(dup_found + false_matches)
                                     : 0.0,
           dup_pairs ? (double)dup_found / (double)dup_pairs : 0.0, IMG_DUP_RESHOT_MAX);
    printf("  cost: img_dup_signature %.2f ms per photo, img_dup_compare %.1f us per pair\n",
           1e3 * sig_seconds / (double)n, 1e6 * cmp_seconds / (double)compares);

    CHECK(diff_pairs >= 50 * 49 / 2);
    CHECK(reshots >= 8);
    CHECK(near_pairs >= 4);
    CHECK(false_matches == 0);
    CHECK(8 * reshots_found >= 7 * reshots);
    CHECK(8 * dup_found >= 7 * dup_pairs);
    return t_done("dup_reshots");
}
