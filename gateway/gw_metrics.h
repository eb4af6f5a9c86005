/*
 * gw_metrics: the gateway's counters, and their Prometheus text rendering.
 *
 * Counters are process-wide atomics that any thread bumps: every problem type answered (counted
 * by the protocol layer where a problem document is sent) and every upload acknowledged, new or
 * a retry. It serves nothing itself: GET /metrics (gw_api) renders them with gw_metrics_text().
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* Counts one answer with problem |err| (a GW_E_* code). Any thread. */
void gw_metrics_problem(int err);

/* Counts one acknowledged upload: |created|, or a retry of a known one. Any thread. */
void gw_metrics_upload(bool created);

/*
 * Renders every counter, and the gauge |devices| (devices known to the intake path), in the
 * Prometheus text exposition format 0.0.4 into a new string (caller frees), its length in
 * |*ret_len|. Returns NULL when out of memory. Any thread.
 */
char *gw_metrics_text(size_t devices, size_t *ret_len);

#endif
