#include "bench_class.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void bench_classify(const struct pu_h2_request *q, char *out, size_t cap)
{
    const char *type;

    if (q->error == -ETIMEDOUT)
        snprintf(out, cap, "timeout");
    else if (q->error != 0)
        snprintf(out, cap, "h2 %s",
                 q->error == -ECONNRESET ? "reset or connection lost" : strerror(-q->error));
    else if (q->resp_body && (type = strstr(q->resp_body, "\"type\"")) &&
             (type = strchr(type + 6, '"'))) {
        const char *end = strchr(type + 1, '"'), *slash = type;

        for (const char *p = type; end && p < end; p++)
            if (*p == '/' || *p == '#')
                slash = p;
        snprintf(out, cap, "http %d %.*s", q->status, end ? (int)(end - slash - 1) : 0, slash + 1);
    } else
        snprintf(out, cap, "http %d", q->status);
}

int bench_class_of(struct bench_class *cls, int *n, const char *name)
{
    char clean[80];
    size_t k = 0;

    for (const char *p = name; *p && k + 1 < sizeof(clean); p++)
        clean[k++] = (strchr("\"\\<>&", *p) || (unsigned char)*p < 0x20) ? '_' : *p;
    clean[k] = '\0';
    for (int i = 0; i < *n; i++)
        if (strcmp(cls[i].name, clean) == 0)
            return i;
    if (*n == BENCH_CLASSES_MAX)
        return BENCH_CLASSES_MAX - 1;
    snprintf(cls[*n].name, sizeof(cls[0].name), "%s",
             *n == BENCH_CLASSES_MAX - 1 ? "other" : clean);
    return (*n)++;
}
