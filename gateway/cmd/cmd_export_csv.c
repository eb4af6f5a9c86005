#include "cmd_export_csv.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 32 entidades by their INE number, as INE writes them (capitals, with accents). */
static const char *const entidades[33] = {"-",
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
                                          "ZACATECAS"};

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

void gw_export_csv_field(void *arg, const char *field_id, const char *kind)
{
    struct gw_export_csv *b = arg;
    struct gw_export_field *f;
    size_t i;

    if (b->n_fields == GW_EXPORT_FIELDS_MAX) {
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

void gw_export_csv_row(void *arg, const struct gw_db_export_row *r)
{
    struct gw_export_csv *b = arg;
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

void gw_export_csv_write(FILE *f, const struct gw_export_csv *b, const char *name,
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
