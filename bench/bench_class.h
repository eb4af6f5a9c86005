/*
 * bench_class: the error classes prep-bench counts failed answers in ("http 429
 * too-many-requests": the status and the problem type's last part; "h2 reset or connection
 * lost"; "timeout"), for the phones and for the abusive clients beside them.
 */
#ifndef BENCH_CLASS_H
#define BENCH_CLASS_H

#include <stddef.h>

#include "bench_report.h"
#include "pu_h2.h"

/* Writes the class of the failed answer |q| to |out| (|cap| bytes). */
void bench_classify(const struct pu_h2_request *q, char *out, size_t cap);

/*
 * Index of class |name| in |cls| (|*n| used of BENCH_CLASSES_MAX), added when new (characters
 * that JSON or HTML would need escaped become '_'); once full, the last slot, "other", takes the
 * rest. The caller counts in it.
 */
int bench_class_of(struct bench_class *cls, int *n, const char *name);

#endif
