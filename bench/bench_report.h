/*
 * bench_report: what prep-bench measured, as a JSON result file and a self-contained HTML report.
 *
 * The run hands over its samples (one per upload: intended, sent and done times, status, error
 * class) and totals; this module derives the per-second series (offered and achieved uploads/s,
 * MB/s, p99 and max of the latency per second, errors per second) and the histograms' percentiles,
 * and writes them. The HTML page carries the JSON inline and draws its four plots on canvases with
 * inline JavaScript: no external resource, it opens offline from a file. No network, no globals.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "bench_hist.h"

#define BENCH_CLASSES_MAX 32 /* error classes kept apart; the rest count as "other" */

struct bench_sample {
    double intended_ms, sent_ms, done_ms; /* from the run's start */
    int status;                           /* HTTP status, 0 when none came */
    int cls;                              /* -1: success, else an index in the error classes */
};

struct bench_class {
    char name[80];
    long n;
};

struct bench_result {
    const char *model;    /* "closed" or "open" */
    const char *scenario; /* NULL unless one was replayed */
    double speed;
    int conns;
    double rtt_ms; /* --rtt: the phones' round trip (0: none) */
    long kbps;     /* --kbps: their upstream limit (0: none) */
    long planned, done, ok, bytes_ok;
    double seconds;
    struct bench_hist latency, service,
        connect; /* from the intended time, from the send, TCP+TLS */
    /* From the moment nghttp2 took the body's last byte to the receipt: what the gateway adds
     * once the phone has sent everything (uploads cut and resumed are not in it). */
    struct bench_hist after_body;
    long receipts_verified;
    /* --drop: uploads cut mid-body; of them, those resumed to a verified receipt, the bytes the
     * gateway had kept across their cuts and their whole size. */
    long dropped, resumed, kept_bytes, cut_bytes;
    /* --queued: photos whose receipt started a wait, those seen queued, and the waits. */
    long tracked, queued, polls_refused;
    double poll_s;
    struct bench_hist to_queued;
    /* --abusive: the hostile clients beside the phones, what they sent and got. */
    const char *abuse; /* NULL: none ran */
    int abusers;
    long abuse_sent;
    struct bench_class abuse_classes[BENCH_CLASSES_MAX];
    int nabuse_classes;
    struct bench_class classes[BENCH_CLASSES_MAX];
    int nclasses;
    const struct bench_sample *samples;
    long nsamples;
};

/* Writes |r| as JSON to |f|. Returns 0, or -EIO when the write failed. */
int bench_report_json(FILE *f, const struct bench_result *r);

/* Writes the HTML report of |r| to |f|. Returns 0, or -EIO when the write failed. */
int bench_report_html(FILE *f, const struct bench_result *r);

#endif
