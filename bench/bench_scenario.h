/*
 * bench_scenario: arrival curves for prep-bench's open workload, read from scenario files.
 *
 * A scenario file (bench/scenarios/) has comment lines starting with '#' and, in time order,
 * lines "HH:MM COUNT": COUNT uploads arrive in the interval from HH:MM to the next line's time,
 * evenly spread. The last line closes the curve with a count of 0. A time earlier than the one
 * before it is on the next day (the night goes past midnight). bench_scenario_schedule() turns
 * the curve, or the part of it between two clock times, into the intended send times of every
 * upload, compressed by a speed factor. Parsing only: no I/O besides reading the file, no output.
 */
#ifndef BENCH_SCENARIO_H
#define BENCH_SCENARIO_H

#include <stddef.h>

#define BENCH_SCENARIO_MAX 512 /* intervals in one file */

struct bench_scenario {
    int n;                                 /* intervals */
    int start_min[BENCH_SCENARIO_MAX + 1]; /* minutes since the first day's midnight */
    long count[BENCH_SCENARIO_MAX];
    long total;
};

/*
 * Reads the scenario file |path| into |ret|. Returns 0, or -1 with a static reason in |*ret_why|
 * (a line that is not "HH:MM COUNT", no closing line, too many lines, cannot open).
 */
int bench_scenario_load(const char *path, struct bench_scenario *ret, const char **ret_why);

/*
 * Parses a clock time "HH:MM" into minutes since midnight; -1 when malformed.
 */
int bench_scenario_clock(const char *s);

/*
 * The intended send times, in ms from the run's start, of the uploads of |sc| arriving from
 * clock minute |from_min| up to |to_min| (-1: the whole curve; a minute before the curve's start
 * is on the next day, as in the file), replayed |speed| times faster. Stores a malloc'ed array in
 * |*ret_ms| and returns its length (0 with NULL when nothing arrives then), or -1 when out of
 * memory.
 */
long bench_scenario_schedule(const struct bench_scenario *sc, int from_min, int to_min,
                             double speed, double **ret_ms);

#endif
