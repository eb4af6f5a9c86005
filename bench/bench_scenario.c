#include "bench_scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_scenario_clock(const char *s)
{
    int h, m;
    char tail;

    if (sscanf(s, "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
        return -1;
    return h * 60 + m;
}

int bench_scenario_load(const char *path, struct bench_scenario *ret, const char **ret_why)
{
    FILE *f = fopen(path, "re");
    char line[256];
    int rows = 0, prev = -1, day = 0;
    long last = -1;

    if (!f) {
        *ret_why = "could not open the scenario file";
        return -1;
    }
    memset(ret, 0, sizeof(*ret));
    while (fgets(line, sizeof(line), f)) {
        char clock[8];
        long count;
        int min;

        if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
            continue;
        if (sscanf(line, "%7s %ld", clock, &count) != 2 || count < 0 ||
            (min = bench_scenario_clock(clock)) < 0) {
            *ret_why = "a line is not \"HH:MM COUNT\"";
            goto fail;
        }
        if (rows > BENCH_SCENARIO_MAX) {
            *ret_why = "too many lines";
            goto fail;
        }
        if (prev >= 0 && min + day <= prev)
            day += 24 * 60;
        prev = ret->start_min[rows] = min + day;
        if (rows < BENCH_SCENARIO_MAX)
            ret->count[rows] = count;
        ret->total += count;
        last = count;
        rows++;
    }
    fclose(f);
    if (rows < 2 || last != 0) {
        *ret_why = "the curve has no closing line \"HH:MM 0\"";
        return -1;
    }
    ret->n = rows - 1;
    return 0;
fail:
    fclose(f);
    return -1;
}

long bench_scenario_schedule(const struct bench_scenario *sc, int from_min, int to_min,
                             double speed, double **ret_ms)
{
    int first = sc->start_min[0], end = sc->start_min[sc->n];
    double from, to, *v;
    long n = 0;

    from = from_min < 0 ? first : from_min + (from_min < first % (24 * 60) ? 24 * 60 : 0);
    to = to_min < 0 ? end : to_min + (to_min <= first % (24 * 60) ? 24 * 60 : 0);
    *ret_ms = NULL;
    v = malloc(((size_t)sc->total + 1) * sizeof(*v));
    if (!v)
        return -1;
    for (int i = 0; i < sc->n; i++) {
        double t0 = sc->start_min[i], len = sc->start_min[i + 1] - t0;

        for (long k = 0; k < sc->count[i]; k++) {
            /* evenly spread, each arrival in the middle of its share of the interval */
            double t = t0 + len * ((double)k + 0.5) / (double)sc->count[i];

            if (t >= from && t < to)
                v[n++] = (t - from) * 60000.0 / speed;
        }
    }
    if (n == 0) {
        free(v);
        return 0;
    }
    *ret_ms = v;
    return n;
}
