#include "bench_stats.h"

#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

void bench_stats_sort(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
}

double bench_stats_pct(const double *v, size_t n, int p)
{
    return n ? v[(n - 1) * (size_t)p / 100] : 0.0;
}
