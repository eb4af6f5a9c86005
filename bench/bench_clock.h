/*
 * bench_clock.h: the load generators' clock. Milliseconds on CLOCK_MONOTONIC, as doubles, and a
 * sleep to a point on it.
 */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H

/* Now, in ms since an arbitrary point (CLOCK_MONOTONIC). */
double bench_now_ms(void);

/* Sleeps until bench_now_ms() reaches |t| (returns at once when it has); signals do not cut it
 * short. */
void bench_sleep_until(double t);

#endif
