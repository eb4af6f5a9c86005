#include "cmd_export.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db_export.h"
#include "gw_cli.h"
#include "gw_cli_db.h"
#include "gw_config.h"

#define EXPORT_FIELDS_MAX 64 /* vote columns of one election */
#define EXPORT_TZ "America/Mexico_City"

static const char export_usage[] =
    "Usage: prep-gateway export prep-csv [--out FILE|DIR] [--at TIME] [--election ID]\n"
    "                                    [--tz ZONE] [--every MIN [--count N]] [--db CONNINFO]\n"
    "\n"
    "Writes the election's PREP results as the CSV INE publishes (docs/export.md): a header\n"
    "block (the election, the cut time, the totals: actas esperadas, registradas, fuera de\n"
    "catalogo, capturadas, contabilizadas, lista nominal, votes, participacion) and one row per\n"
    "acta of the catalogue, received or not, in CLAVE_ACTA order. UTF-8, lines end with LF.\n"
    "\n"
    "A cut at TIME (--at, any time PostgreSQL reads, e.g. '2021-06-06 20:00-05'; default now)\n"
    "uses only the receipts, review decisions and captures made up to TIME, so the same cut\n"
    "gives the same bytes. Every cut is recorded with its SHA-256 in export_cuts, a hash chain\n"
    "linked to the photo ledger's last entry at the cut.\n"
    "\n"
    "--out FILE   written atomically (temporary file, fsync, rename); default stdout\n"
    "--out DIR    an existing folder: DIR/YYYYMMDD_HHMM_PREP_<election>.csv (the cut's time in\n"
    "             --tz), and DIR/latest.csv, a symbolic link to the newest cut\n"
    "--election   the election to export, needed when more than one is loaded\n"
    "--tz         the zone of the times written (default " EXPORT_TZ ")\n"
    "--every MIN  a cut every MIN minutes (at whole minutes) into --out DIR, until stopped\n"
    "             or --count cuts are written\n"
    "--db defaults to $PREP_DB, else the database ./run.sh set up ($PREP_VAR/conninfo).\n"
    "Exit status: 0 done, 1 failed, 2 usage.\n";

struct field {
    char id[40];
    bool total;
};

struct export_opts {
    const char *db, *out, *at, *election, *tz;
    int every, count;
};

/* One cut being built: the vote columns, the rows' bytes and the totals of the header. */
struct cut_build {
    struct field fields[EXPORT_FIELDS_MAX];
    int n_fields;
    bool too_many;
    FILE *rows;
    char *rows_buf;
    size_t rows_len;
    int n_rows;
    long long esperadas, registradas, fuera, capturadas, contabilizadas, no_contabilizadas;
    long long nominal, votes, votes_no_especiales;
};

/* The 32 entidades by their INE number, as INE writes them (capitals, with accents). */
static const char *const entidades[33] = {
    "-",
    "AGUASCALIENTES",
    "BAJA CALIFORNIA",
    "BAJA CALIFORNIA SUR",
    "CAMPECHE",
    "COAHUILA",
    "COLIMA",
    "CHIAPAS",
    "CHIHUAHUA",
    "CIUDAD DE MÉXICO",
    "DURANGO",
    "GUANAJUATO",
    "GUERRERO",
    "HIDALGO",
    "JALISCO",
    "MÉXICO",
    "MICHOACÁN",
    "MORELOS",
    "NAYARIT",
    "NUEVO LEÓN",
    "OAXACA",
    "PUEBLA",
    "QUERÉTARO",
    "QUINTANA ROO",
    "SAN LUIS POTOSÍ",
    "SINALOA",
    "SONORA",
    "TABASCO",
    "TAMAULIPAS",
    "TLAXCALA",
    "VERACRUZ",
    "YUCATÁN",
    "ZACATECAS",
};

/* Writes |s| as one CSV field: quoted (quotes doubled) only when it holds a comma, a quote or a
 * line end (RFC 4180). */
static void csv_field(FILE *f, const char *s, bool first)
{
    if (!first)
        fputc(',', f);
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_int(FILE *f, long long v)
{
    fprintf(f, ",%lld", v);
}

/* 100 * |num| / |den| with four decimals, rounded half up, in integers so that every machine
 * prints the same digits. */
static void csv_pct(FILE *f, long long num, long long den)
{
    long long x;

    if (den <= 0) {
        fputs(",0.0000", f);
        return;
    }
    x = (num * 2000000LL + den) / (2 * den);
    fprintf(f, ",%lld.%04lld", x / 10000, x % 10000);
}

static void add_field(void *arg, const char *field_id, const char *kind)
{
    struct cut_build *b = arg;
    struct field *f;
    size_t i;

    if (b->n_fields == EXPORT_FIELDS_MAX) {
        b->too_many = true;
        return;
    }
    f = &b->fields[b->n_fields++];
    f->total = strcmp(kind, "total") == 0;
    snprintf(f->id, sizeof(f->id), "%s", f->total ? "TOTAL_VOTOS_ASENTADO" : field_id);
    for (i = 0; f->id[i]; i++)
        if (f->id[i] >= 'a' && f->id[i] <= 'z')
            f->id[i] = (char)(f->id[i] - 'a' + 'A');
}

static long digits(const char *s, size_t from, size_t n)
{
    char buf[8];

    if (strlen(s) < from + n || n >= sizeof(buf))
        return 0;
    memcpy(buf, s + from, n);
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

/* A figure as INE writes it: the count, "Ilegible", "Sin dato"; "-" when there is none. */
static void csv_figure(FILE *f, json_t *figs, const char *id)
{
    json_t *v = json_object_get(figs, id);
    char buf[24];

    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        csv_field(f, buf, false);
    } else if (json_is_string(v) && strcmp(json_string_value(v), "ilegible") == 0)
        csv_field(f, "Ilegible", false);
    else if (json_is_string(v) && strcmp(json_string_value(v), "sin_dato") == 0)
        csv_field(f, "Sin dato", false);
    else
        csv_field(f, "-", false);
}

static const char *observation_text(const char *code)
{
    static const char *const map[][2] = {
        {"excede_lista_nominal", "Excede lista nominal"},
        {"sin_datos_legibles", "Todos los campos ilegibles o sin dato"},
        {"campos_ilegibles", "Ilegible"},
        {"campos_sin_dato", "Sin dato"},
        {"total_distinto_de_suma", "Total asentado distinto de la suma"},
        {"sin_lista_nominal", "Sin lista nominal"},
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(code, map[i][0]) == 0)
            return map[i][1];
    return code;
}

/* OBSERVACIONES of a captured acta: the reason it is not counted, then the capture's
 * observations ({a,b} as PostgreSQL prints a text[]), joined by ", "; "-" when there is none. */
static void csv_observations(FILE *f, const struct gw_db_export_row *r)
{
    char out[512] = "", code[64];
    const char *s = r->observations ? r->observations : "";
    size_t len = 0, n;

    if (r->reason)
        len = (size_t)snprintf(out, sizeof(out), "%s", observation_text(r->reason));
    while (*s) {
        s += strspn(s, "{},");
        n = strcspn(s, "{},");
        if (n == 0)
            break;
        snprintf(code, sizeof(code), "%.*s", (int)(n < sizeof(code) ? n : sizeof(code) - 1), s);
        s += n;
        if (len < sizeof(out))
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? ", " : "",
                                    observation_text(code));
    }
    csv_field(f, len ? out : "-", false);
}

static void add_row(void *arg, const struct gw_db_export_row *r)
{
    struct cut_build *b = arg;
    FILE *f = b->rows;
    long state = r->state ? strtol(r->state, NULL, 10) : digits(r->clave, 0, 2);
    bool captured = r->result_at != NULL, photo = r->sha256 != NULL;
    json_t *figs = captured && r->figures ? json_loads(r->figures, 0, NULL) : NULL;
    char casilla[12], tipo[2] = {r->clave[6], '\0'};
    const char *obs;
    int i;

    b->n_rows++;
    b->esperadas += r->in_catalog;
    b->registradas += photo;
    b->fuera += !r->in_catalog;
    if (r->in_catalog && captured) {
        b->capturadas++;
        if (r->contabilizada) {
            long long v = r->sum_votes ? strtoll(r->sum_votes, NULL, 10) : 0;

            b->contabilizadas++;
            b->nominal += r->nominal_list ? strtoll(r->nominal_list, NULL, 10) : 0;
            b->votes += v;
            if (tipo[0] != 'S')
                b->votes_no_especiales += v;
        } else
            b->no_contabilizadas++;
    }
    snprintf(casilla, sizeof(casilla), "%.11s", r->clave);
    csv_field(f, casilla, true);
    csv_field(f, r->clave, false);
    fprintf(f, ",%ld", state);
    csv_field(f, state >= 1 && state <= 32 ? entidades[state] : "-", false);
    csv_field(f, r->district ? r->district : "-", false);
    csv_field(f, "-", false); /* DISTRITO: the catalogue has no district names */
    fprintf(f, ",%ld", r->section ? strtol(r->section, NULL, 10) : digits(r->clave, 2, 4));
    fprintf(f, ",%ld", digits(r->clave, 7, 2));
    csv_field(f, tipo, false);
    fprintf(f, ",%ld", digits(r->clave, 9, 2));
    fprintf(f, ",%ld", strtol(r->clave + 11, NULL, 10));
    /* Boletas sobrantes, personas que votaron, representantes que votaron, votos sacados de
     * la urna: written on INE's actas, not captured here. */
    for (i = 0; i < 4; i++)
        csv_field(f, "-", false);
    for (i = 0; i < b->n_fields; i++) {
        char id[40];
        size_t k;

        /* Back to the field's own id: lower case, and the total's. */
        snprintf(id, sizeof(id), "%s", b->fields[i].id);
        for (k = 0; id[k]; k++)
            if (id[k] >= 'A' && id[k] <= 'Z')
                id[k] = (char)(id[k] - 'A' + 'a');
        csv_figure(f, figs, b->fields[i].total ? "total" : id);
    }
    csv_field(f, captured && r->sum_votes ? r->sum_votes : "-", false);
    csv_field(f, r->nominal_list ? r->nominal_list : "-", false);
    csv_field(f, r->allowance ? r->allowance : "-", false);
    if (!photo)
        obs = "Sin Acta";
    else if (!r->in_catalog)
        obs = "Fuera de catálogo";
    else
        obs = captured ? NULL : "-";
    if (obs)
        csv_field(f, obs, false);
    else
        csv_observations(f, r);
    csv_field(f, captured && r->contabilizada ? "1" : "0", false);
    csv_field(f, "-", false); /* MECANISMOS_TRASLADO */
    csv_field(f, photo ? r->sha256 : "-", false);
    csv_field(f, r->received ? r->received : "-", false);
    csv_field(f, r->first_capture ? r->first_capture : "-", false);
    csv_field(f, r->result_at ? r->result_at : "-", false);
    csv_field(f, photo ? "CASILLA" : "-", false);
    csv_field(f, photo ? "MOVIL" : "-", false);
    csv_field(f, photo ? "Acta PREP" : "-", false);
    csv_field(f, "-", false); /* COTEJADA */
    fputc('\n', f);
    json_decref(figs);
}

static const char *const fixed_head[] = {"CLAVE_CASILLA",
                                         "CLAVE_ACTA",
                                         "ID_ENTIDAD",
                                         "ENTIDAD",
                                         "ID_DISTRITO",
                                         "DISTRITO",
                                         "SECCION",
                                         "ID_CASILLA",
                                         "TIPO_CASILLA",
                                         "EXT_CONTIGUA",
                                         "TIPO_ACTA",
                                         "TOTAL_BOLETAS_SOBRANTES",
                                         "TOTAL_PERSONAS_VOTARON",
                                         "TOTAL_REP_PARTIDO_CI_VOTARON",
                                         "TOTAL_VOTOS_SACADOS",
                                         NULL};
static const char *const fixed_tail[] = {"TOTAL_VOTOS_CALCULADOS",
                                         "LISTA_NOMINAL",
                                         "REPRESENTANTES_PP_CI",
                                         "OBSERVACIONES",
                                         "CONTABILIZADA",
                                         "MECANISMOS_TRASLADO",
                                         "CODIGO_INTEGRIDAD",
                                         "FECHA_HORA_ACOPIO",
                                         "FECHA_HORA_CAPTURA",
                                         "FECHA_HORA_VERIFICACION",
                                         "ORIGEN",
                                         "DIGITALIZACION",
                                         "TIPO_DOCUMENTO",
                                         "COTEJADA",
                                         NULL};

/* The header block, then the rows: the whole file into |f|. */
static void write_csv(FILE *f, const struct cut_build *b, const char *name,
                      const struct gw_db_export_cut *cut)
{
    char when[80];
    int off = cut->offset_min < 0 ? -cut->offset_min : cut->offset_min, i;

    csv_field(f, name, true);
    fputc('\n', f);
    if (off % 60)
        snprintf(when, sizeof(when), "%s (UTC%c%d:%02d)", cut->local,
                 cut->offset_min < 0 ? '-' : '+', off / 60, off % 60);
    else
        snprintf(when, sizeof(when), "%s (UTC%c%d)", cut->local, cut->offset_min < 0 ? '-' : '+',
                 off / 60);
    csv_field(f, when, true);
    fputc('\n', f);
    fputs("ACTAS_ESPERADAS,ACTAS_REGISTRADAS,ACTAS_FUERA_CATALOGO,ACTAS_CAPTURADAS,"
          "PORCENTAJE_ACTAS_CAPTURADAS,ACTAS_CONTABILIZADAS,PORCENTAJE_ACTAS_CONTABILIZADAS,"
          "ACTAS_NO_CONTABILIZADAS,LISTA_NOMINAL_ACTAS_CONTABILIZADAS,TOTAL_VOTOS_C_CS,"
          "TOTAL_VOTOS_S_CS,PORCENTAJE_PARTICIPACION_CIUDADANA\n",
          f);
    fprintf(f, "%lld", b->esperadas);
    csv_int(f, b->registradas);
    csv_int(f, b->fuera);
    csv_int(f, b->capturadas);
    csv_pct(f, b->capturadas, b->esperadas);
    csv_int(f, b->contabilizadas);
    csv_pct(f, b->contabilizadas, b->esperadas);
    csv_int(f, b->no_contabilizadas);
    csv_int(f, b->nominal);
    csv_int(f, b->votes);
    csv_int(f, b->votes_no_especiales);
    csv_pct(f, b->votes_no_especiales, b->nominal);
    fputc('\n', f);
    for (i = 0; fixed_head[i]; i++)
        csv_field(f, fixed_head[i], i == 0);
    for (i = 0; i < b->n_fields; i++)
        csv_field(f, b->fields[i].id, false);
    for (i = 0; fixed_tail[i]; i++)
        csv_field(f, fixed_tail[i], false);
    fputc('\n', f);
    fwrite(b->rows_buf, 1, b->rows_len, f);
}

/* Builds the bytes of the cut at |cut| of election |id| (named |name|) into a new buffer
 * |*ret_buf| of |*ret_len| bytes (caller frees), its rows' count in |*ret_rows|. Returns 0 or
 * -1 after saying why on stderr. */
static int build_cut(PGconn *pg, const char *id, const char *name, const char *tz,
                     const struct gw_db_export_cut *cut, char **ret_buf, size_t *ret_len,
                     int *ret_rows)
{
    struct cut_build *b = calloc(1, sizeof(*b));
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    int r = -1;

    if (!b)
        return -1;
    if (gw_db_export_fields(pg, id, add_field, b) < 0 || b->too_many) {
        fprintf(stderr, "prep-gateway export: could not read the election's fields: %s",
                b->too_many ? "more than 64 vote fields\n" : PQerrorMessage(pg));
        goto out;
    }
    b->rows = open_memstream(&b->rows_buf, &b->rows_len);
    if (!b->rows)
        goto out;
    if (gw_db_export_rows(pg, id, cut, tz, add_row, b) < 0) {
        fprintf(stderr, "prep-gateway export: could not read the actas: %s", PQerrorMessage(pg));
        goto out;
    }
    if (fclose(b->rows) != 0) {
        b->rows = NULL;
        goto out;
    }
    b->rows = NULL;
    f = open_memstream(&buf, &len);
    if (!f)
        goto out;
    write_csv(f, b, name, cut);
    if (fclose(f) != 0) {
        free(buf);
        goto out;
    }
    *ret_buf = buf;
    *ret_len = len;
    *ret_rows = b->n_rows;
    r = 0;
out:
    if (b->rows)
        fclose(b->rows);
    free(b->rows_buf);
    free(b);
    return r;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, r;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (!dir[0])
        snprintf(dir, sizeof(dir), "/");
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* Writes |len| bytes to |path| so that a reader sees the old file or the whole new one, never a
 * part: a temporary file beside it, fsync, rename, fsync of the folder. Returns 0 or -errno. */
static int write_atomic(const char *path, const char *buf, size_t len)
{
    char tmp[PATH_MAX];
    size_t done = 0;
    int fd, r = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        done += (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return fsync_dir_of(path);
}

/* Points DIR/latest.csv at |name| (a file in |dir|): a new link renamed over the old one. */
static int link_latest(const char *dir, const char *name)
{
    char tmp[PATH_MAX], path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/latest.csv", dir);
    snprintf(tmp, sizeof(tmp), "%s/.latest.csv.tmp.%ld", dir, (long)getpid());
    unlink(tmp);
    if (symlink(name, tmp) < 0)
        return -errno;
    if (rename(tmp, path) < 0) {
        int r = -errno;

        unlink(tmp);
        return r;
    }
    return fsync_dir_of(path);
}

static void sha256_hex(const char *buf, size_t len, char *ret)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
    for (i = 0; i < n; i++)
        snprintf(ret + 2 * i, 3, "%02x", md[i]);
}

static bool is_dir(const char *path)
{
    struct stat st;

    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One cut: resolve its time, build it, write it, record it. Returns 0 or 1 (said why). */
static int export_once(const struct export_opts *o, bool to_minute)
{
    PGconn *pg = gw_cli_db_connect(o->db, "prep-gateway export: could not connect");
    struct gw_db_export_cut cut;
    struct gw_db_export_record rec;
    char *id = NULL, *name = NULL, *buf = NULL, sha[65] = "", path[PATH_MAX], file[PATH_MAX];
    size_t len = 0;
    int rows = 0, rc = 1, r;
    bool dir = is_dir(o->out);

    if (!pg)
        return 1;
    r = gw_db_export_election(pg, o->election, &id, &name);
    if (r < 0) {
        if (r == -ENOENT)
            fprintf(stderr, "prep-gateway export: %s\n",
                    o->election ? "no such election" : "no election loaded (election import)");
        else if (r == -E2BIG)
            fprintf(stderr, "prep-gateway export: several elections loaded: name one with "
                            "--election\n");
        else
            fprintf(stderr, "prep-gateway export: could not read the election: %s",
                    PQerrorMessage(pg));
        goto out;
    }
    if (gw_db_export_cut_time(pg, o->at, to_minute, o->tz, &cut) < 0) {
        fprintf(stderr, "prep-gateway export: bad --at or --tz: %s", PQerrorMessage(pg));
        goto out;
    }
    if (build_cut(pg, id, name, o->tz, &cut, &buf, &len, &rows) < 0)
        goto out;
    sha256_hex(buf, len, sha);
    if (!o->out) {
        if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "prep-gateway export: could not write the CSV: %s\n", strerror(errno));
            goto out;
        }
        snprintf(path, sizeof(path), "-");
    } else {
        snprintf(file, sizeof(file), "%s_PREP_%s.csv", cut.stamp, id);
        if ((size_t)snprintf(path, sizeof(path), "%s%s%s", o->out, dir ? "/" : "",
                             dir ? file : "") >= sizeof(path)) {
            fprintf(stderr, "prep-gateway export: --out is too long\n");
            goto out;
        }
        r = write_atomic(path, buf, len);
        if (r == 0 && dir)
            r = link_latest(o->out, file);
        if (r < 0) {
            fprintf(stderr, "prep-gateway export: could not write %s: %s\n", path, strerror(-r));
            goto out;
        }
    }
    if (gw_db_export_record(pg, id, &cut, sha, len, rows, &rec) < 0) {
        fprintf(stderr, "prep-gateway export: could not record the cut: %s", PQerrorMessage(pg));
        goto out;
    }
    fprintf(stderr,
            "export: %s cut_at=%s actas=%d bytes=%zu sha256=%s cut_id=%lld hash=%s "
            "ledger_seq=%lld%s\n",
            path, cut.utc, rows, len, sha, (long long)rec.cut_id, rec.hash,
            (long long)rec.ledger_seq, rec.recorded ? "" : " (recorded before)");
    rc = 0;
out:
    free(buf);
    free(id);
    free(name);
    PQfinish(pg);
    return rc;
}

/* Sleeps until the next whole multiple of |every| minutes of the clock (UTC). */
static void sleep_to_next(int every)
{
    struct timespec now, d;
    long long period = every * 60LL, next;

    clock_gettime(CLOCK_REALTIME, &now);
    next = (now.tv_sec / period + 1) * period;
    d.tv_sec = (time_t)(next - now.tv_sec - 1);
    d.tv_nsec = 1000000000L - now.tv_nsec;
    while (nanosleep(&d, &d) < 0 && errno == EINTR)
        ;
}

int gw_cmd_export(int argc, char **argv)
{
    struct gw_config cfg;
    struct export_opts o = {.tz = EXPORT_TZ};
    const struct gw_cli_opt opts[] = {GW_CLI_OPT_DB(&cfg.db),
                                      GW_CLI_OPT_STRING("out", &o.out, "FILE|DIR", NULL),
                                      GW_CLI_OPT_STRING("at", &o.at, "TIME", NULL),
                                      GW_CLI_OPT_STRING("election", &o.election, "ID", NULL),
                                      GW_CLI_OPT_STRING("tz", &o.tz, "ZONE", NULL),
                                      GW_CLI_OPT_INT("every", &o.every, "MIN", 1, 1440, NULL),
                                      GW_CLI_OPT_INT("count", &o.count, "N", 1, INT_MAX, NULL),
                                      GW_CLI_OPT_END};
    const struct gw_cli cli = {.prog = "prep-gateway export", .usage = export_usage, .opts = opts};
    int first, rc, done = 0;

    gw_config_defaults(&cfg);
    rc = gw_cli_parse(&cli, argc, argv, &first);
    if (rc != 0)
        return gw_cli_exit(rc);
    if (first + 1 != argc || strcmp(argv[first], "prep-csv") != 0) {
        fputs(export_usage, stderr);
        return 2;
    }
    o.db = cfg.db;
    if (!o.every)
        return export_once(&o, false);
    if (!is_dir(o.out) || o.at) {
        fprintf(stderr, "prep-gateway export: --every needs --out DIR (an existing folder) and "
                        "no --at\n");
        return 2;
    }
    /* Its own process, one cut per period, each at the whole minute: a failed cut is said and
     * the next one tried, so that a PostgreSQL restart costs one cut, not the schedule. */
    for (;;) {
        rc = export_once(&o, true);
        if (o.count && ++done >= o.count)
            return rc;
        sleep_to_next(o.every);
    }
}
