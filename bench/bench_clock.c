/* bench_clock.c: see bench_clock.h. */
#include "bench_clock.h"

#include <errno.h>
#include <time.h>

double bench_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void bench_sleep_until(double t)
{
    double d = t - bench_now_ms();
    struct timespec ts;

    if (d <= 0)
        return;
    ts.tv_sec = (time_t)(d / 1e3);
    ts.tv_nsec = (long)((d - (double)ts.tv_sec * 1e3) * 1e6);
    if (ts.tv_nsec >= 1000000000L) /* rounding */
        ts.tv_nsec = 999999999L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}
