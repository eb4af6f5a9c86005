/* bench_scenario: the shipped curves' totals and peaks, windows, speed, and malformed files. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_scenario.h"
#include "tap.h"

static char made[8][64];
static int nmade;

static void unlink_later(const char *path)
{
    snprintf(made[nmade++ % 8], sizeof(made[0]), "%s", path);
}

static const char *write_tmp(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/test-bench-scenario-XXXXXX");
    fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");

    fputs(text, f);
    fclose(f);
    unlink_later(path);
    return path;
}

int main(void)
{
    static struct bench_scenario sc;
    const char *why;
    double *ms;
    long n;

    CHECK(bench_scenario_load(BENCH_SCENARIO_DIR "/jalisco-2021", &sc, &why) == 0);
    CHECK(sc.total == 11137);
    /* the whole night at speed 60: 9 hours in 9 minutes, in time order */
    n = bench_scenario_schedule(&sc, -1, -1, 60, &ms);
    CHECK(n == 11137);
    CHECK(ms[0] >= 0 && ms[n - 1] < 9 * 60000.0 && ms[n - 1] > 8.9 * 60000.0);
    for (long i = 1; i < n; i++)
        CHECK(ms[i] >= ms[i - 1]);
    free(ms);

    CHECK(bench_scenario_load(BENCH_SCENARIO_DIR "/national-peak", &sc, &why) == 0);
    CHECK(sc.total == 85000);
    /* the steepest half hour: 13,000 actas, 7.2/s, over 1800 s at speed 1 */
    n = bench_scenario_schedule(&sc, 21 * 60 + 30, 22 * 60, 1, &ms);
    CHECK(n == 13000);
    CHECK(ms[n - 1] < 1800e3 && ms[n - 1] > 1799e3);
    CHECK(ms[1] - ms[0] > 138 && ms[1] - ms[0] < 139); /* 1800 s / 13000 */
    free(ms);
    /* a window past midnight is on the next day; 20:00-01:00 holds most of the night */
    n = bench_scenario_schedule(&sc, 20 * 60, 1 * 60, 1, &ms);
    CHECK(n == 74500);
    free(ms);

    CHECK(bench_scenario_load(write_tmp("18:00 10\n19:00 5\n"), &sc, &why) < 0);
    CHECK(bench_scenario_load(write_tmp("# x\n18:00 ten\n19:00 0\n"), &sc, &why) < 0);
    CHECK(bench_scenario_load(write_tmp("23:30 4\n00:30 0\n"), &sc, &why) == 0);
    CHECK(sc.start_min[1] == 24 * 60 + 30 && sc.total == 4);
    CHECK(bench_scenario_clock("25:00") < 0 && bench_scenario_clock("07:05") == 425);
    for (int i = 0; i < nmade && i < 8; i++)
        remove(made[i]);
    return TAP_DONE();
}
