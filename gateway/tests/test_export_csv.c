/* The bytes of a PREP CSV cut (cmd_export_csv): rows as db_export gives them, the header block
 * and its totals, quoting, percentages, figures and observations as docs/export.md lists them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_export_csv.h"
#include "tap.h"

static const char expected[] =
    "\"Elección \"\"X\"\", local\"\n"
    "06/06/2021 21:00 (UTC-5)\n"
    "ACTAS_ESPERADAS,ACTAS_REGISTRADAS,ACTAS_FUERA_CATALOGO,ACTAS_CAPTURADAS,"
    "PORCENTAJE_ACTAS_CAPTURADAS,ACTAS_CONTABILIZADAS,PORCENTAJE_ACTAS_CONTABILIZADAS,"
    "ACTAS_NO_CONTABILIZADAS,LISTA_NOMINAL_ACTAS_CONTABILIZADAS,TOTAL_VOTOS_C_CS,"
    "TOTAL_VOTOS_S_CS,PORCENTAJE_PARTICIPACION_CIUDADANA\n"
    "3,3,1,2,66.6667,1,33.3333,1,300,7,0,0.0000\n"
    "CLAVE_CASILLA,CLAVE_ACTA,ID_ENTIDAD,ENTIDAD,ID_DISTRITO,DISTRITO,SECCION,ID_CASILLA,"
    "TIPO_CASILLA,EXT_CONTIGUA,TIPO_ACTA,TOTAL_BOLETAS_SOBRANTES,TOTAL_PERSONAS_VOTARON,"
    "TOTAL_REP_PARTIDO_CI_VOTARON,TOTAL_VOTOS_SACADOS,PAN,TOTAL_VOTOS_ASENTADO,"
    "TOTAL_VOTOS_CALCULADOS,LISTA_NOMINAL,REPRESENTANTES_PP_CI,OBSERVACIONES,CONTABILIZADA,"
    "MECANISMOS_TRASLADO,CODIGO_INTEGRIDAD,FECHA_HORA_ACOPIO,FECHA_HORA_CAPTURA,"
    "FECHA_HORA_VERIFICACION,ORIGEN,DIGITALIZACION,TIPO_DOCUMENTO,COTEJADA\n"
    /* an especial casilla, captured, contabilizada, its total illegible */
    "090338S0201,090338S020102,9,CIUDAD DE MÉXICO,5,-,338,2,S,1,2,-,-,-,-,7,Ilegible,7,300,4,"
    "Ilegible,1,-,ab,01/01/2021 10:00:00,01/01/2021 11:00:00,01/01/2021 11:01:00,CASILLA,MOVIL,"
    "Acta PREP,-\n"
    /* captured, over the lista nominal */
    "150339B0100,150339B010012,15,MÉXICO,1,-,339,1,B,0,12,-,-,-,-,900,Sin dato,900,10,4,"
    "\"Excede lista nominal, Sin dato\",0,-,cd,01/01/2021 10:00:00,01/01/2021 11:00:00,"
    "01/01/2021 11:01:00,CASILLA,MOVIL,Acta PREP,-\n"
    /* expected, never received */
    "150340B0100,150340B010012,15,MÉXICO,1,-,340,1,B,0,12,-,-,-,-,-,-,-,10,4,Sin Acta,0,-,-,-,-,"
    "-,-,-,-,-\n"
    /* outside the catalogue, received, not captured */
    "329999C0302,329999C030202,32,ZACATECAS,-,-,9999,3,C,2,2,-,-,-,-,-,-,-,-,4,"
    "Fuera de catálogo,0,-,ef,01/01/2021 10:00:00,-,-,CASILLA,MOVIL,Acta PREP,-\n";

int main(void)
{
    struct gw_export_csv *b = calloc(1, sizeof(*b));
    struct gw_db_export_cut cut = {.utc = "2021-06-07T02:00:00.000000Z",
                                   .local = "06/06/2021 21:00",
                                   .stamp = "20210606_2100",
                                   .offset_min = -300};
    const char *t = "01/01/2021 10:00:00", *c1 = "01/01/2021 11:00:00", *c2 = "01/01/2021 11:01:00";
    struct gw_db_export_row rows[] = {
        {.clave = "090338S020102",
         .in_catalog = true,
         .state = "9",
         .district = "5",
         .section = "338",
         .nominal_list = "300",
         .allowance = "4",
         .sha256 = "ab",
         .received = t,
         .first_capture = c1,
         .result_at = c2,
         .figures = "{\"pan\":7,\"total\":\"ilegible\"}",
         .sum_votes = "7",
         .contabilizada = true,
         .observations = "{campos_ilegibles}"},
        {.clave = "150339B010012",
         .in_catalog = true,
         .state = "15",
         .district = "1",
         .section = "339",
         .nominal_list = "10",
         .allowance = "4",
         .sha256 = "cd",
         .received = t,
         .first_capture = c1,
         .result_at = c2,
         .figures = "{\"pan\":900,\"total\":\"sin_dato\"}",
         .sum_votes = "900",
         .reason = "excede_lista_nominal",
         .observations = "{campos_sin_dato}"},
        {.clave = "150340B010012",
         .in_catalog = true,
         .state = "15",
         .district = "1",
         .section = "340",
         .nominal_list = "10",
         .allowance = "4"},
        {.clave = "329999C030202", .allowance = "4", .sha256 = "ef", .received = t},
    };
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f;

    if (!b)
        return 1;
    gw_export_csv_field(b, "pan", "party");
    gw_export_csv_field(b, "total", "total");
    CHECK(b->n_fields == 2 && !b->too_many);
    CHECK(strcmp(b->fields[0].id, "PAN") == 0);
    b->rows = open_memstream(&b->rows_buf, &b->rows_len);
    if (!b->rows)
        return 1;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        gw_export_csv_row(b, &rows[i]);
    CHECK(fclose(b->rows) == 0);
    b->rows = NULL;
    f = open_memstream(&buf, &len);
    if (!f)
        return 1;
    gw_export_csv_write(f, b, "Elección \"X\", local", &cut);
    CHECK(fclose(f) == 0);
    CHECK_STR(buf, expected);
    free(buf);

    /* Past the column limit the election is refused, not cut short. */
    for (i = 0; i < GW_EXPORT_FIELDS_MAX; i++)
        gw_export_csv_field(b, "x", "party");
    CHECK(b->too_many && b->n_fields == GW_EXPORT_FIELDS_MAX);
    free(b->rows_buf);
    free(b);
    return TAP_DONE();
}
