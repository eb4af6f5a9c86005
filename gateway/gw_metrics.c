#include "gw_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw_error.h"

static _Atomic unsigned long long problems[GW_E__MAX];
static _Atomic unsigned long long uploads_created, uploads_retried;

void gw_metrics_problem(int err)
{
    if (err > 0 && err < GW_E__MAX)
        atomic_fetch_add(&problems[err], 1);
}

void gw_metrics_upload(bool created)
{
    atomic_fetch_add(created ? &uploads_created : &uploads_retried, 1);
}

char *gw_metrics_text(size_t devices, size_t *ret_len)
{
    size_t cap = 8192, len = 0;
    char *b = malloc(cap);

    if (!b)
        return NULL;
    len += (size_t)snprintf(b + len, cap - len,
                            "# HELP prep_uploads_total Uploads acknowledged.\n"
                            "# TYPE prep_uploads_total counter\n"
                            "prep_uploads_total{result=\"created\"} %llu\n"
                            "prep_uploads_total{result=\"retry\"} %llu\n"
                            "# HELP prep_devices Devices known to the intake path.\n"
                            "# TYPE prep_devices gauge\nprep_devices %zu\n"
                            "# HELP prep_problems_total Requests refused, by problem type.\n"
                            "# TYPE prep_problems_total counter\n",
                            atomic_load(&uploads_created), atomic_load(&uploads_retried), devices);
    for (int i = GW_OK + 1; i < GW_E__MAX && len < cap; i++)
        len += (size_t)snprintf(b + len, cap - len, "prep_problems_total{type=\"%s\"} %llu\n",
                                gw_err_name(i), atomic_load(&problems[i]));
    if (len >= cap)
        len = cap - 1;
    *ret_len = len;
    return b;
}
