#include "bench_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POINTS_MAX 600 /* points of a time series: the interval grows with the run */

static void pct_json(FILE *f, const char *name, const struct bench_hist *h)
{
    fprintf(f,
            "\"%s\":{\"count\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
            "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f,\"over_1s\":%llu}",
            name, (unsigned long long)h->count, bench_hist_pct(h, 50) / 1e3,
            bench_hist_pct(h, 90) / 1e3, bench_hist_pct(h, 99) / 1e3, bench_hist_pct(h, 99.9) / 1e3,
            bench_hist_pct(h, 100) / 1e3,
            h->count ? (double)h->sum_us / (double)h->count / 1e3 : 0.0,
            (unsigned long long)bench_hist_count_above(h, 1000000));
}

/* The series over time, one point per |step| seconds: offered (by intended time) and achieved
 * (by completion) uploads/s, MB/s, errors/s, p99 and max of the latency of what completed. */
static void series_json(FILE *f, const struct bench_result *r)
{
    double end = r->seconds, step = 1;
    static struct bench_hist h;
    int points;

    while (end / step > POINTS_MAX)
        step *= 2;
    points = (int)ceil(end / step);
    if (points < 1)
        points = 1;
    fprintf(f, "\"series\":{\"step_s\":%g,\"t\":[", step);
    for (int p = 0; p < points; p++)
        fprintf(f, "%s%g", p ? "," : "", p * step);
    fputs("],\"rows\":[", f);
    for (int p = 0; p < points; p++) {
        double lo = p * step * 1e3, hi = (p + 1) * step * 1e3;
        long offered = 0, done = 0, errors = 0;

        bench_hist_init(&h);
        for (long i = 0; i < r->nsamples; i++) {
            const struct bench_sample *s = &r->samples[i];

            if (s->intended_ms >= lo && s->intended_ms < hi)
                offered++;
            if (s->done_ms < lo || s->done_ms >= hi)
                continue;
            done++;
            if (s->cls >= 0)
                errors++;
            bench_hist_record(&h, (uint64_t)((s->done_ms - s->intended_ms) * 1e3));
        }
        fprintf(f, "%s[%.3f,%.3f,%.3f,%.3f,%.3f]", p ? "," : "", offered / step, done / step,
                errors / step, bench_hist_pct(&h, 99) / 1e3, bench_hist_pct(&h, 100) / 1e3);
    }
    fputs("],\"columns\":[\"offered_per_s\",\"done_per_s\",\"errors_per_s\",\"p99_ms\","
          "\"max_ms\"]}",
          f);
}

/* The latency distribution: the value at each percentile from 0 to 99.999 on a log scale. */
static void distribution_json(FILE *f, const struct bench_hist *h)
{
    static const double ps[] = {10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100};

    fputs("\"distribution\":[", f);
    for (unsigned i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        fprintf(f, "%s[%g,%.3f]", i ? "," : "", ps[i], bench_hist_pct(h, ps[i]) / 1e3);
    fputc(']', f);
}

int bench_report_json(FILE *f, const struct bench_result *r)
{
    long errors = r->done - r->ok;

    fprintf(f, "{\"tool\":\"prep-bench\",\"model\":\"%s\",", r->model);
    if (r->scenario)
        fprintf(f, "\"scenario\":\"%s\",\"speed\":%g,", r->scenario, r->speed);
    fprintf(f,
            "\"connections\":%d,\"planned\":%ld,\"done\":%ld,\"ok\":%ld,\"errors\":%ld,"
            "\"error_pct\":%.4f,\"seconds\":%.3f,\"uploads_per_s\":%.3f,\"mb_per_s\":%.3f,"
            "\"receipts_verified\":%ld,",
            r->conns, r->planned, r->done, r->ok, errors,
            r->done ? 100.0 * (double)errors / (double)r->done : 0.0, r->seconds,
            r->seconds > 0 ? (double)r->ok / r->seconds : 0.0,
            r->seconds > 0 ? (double)r->bytes_ok / r->seconds / 1e6 : 0.0, r->receipts_verified);
    fprintf(f, "\"phone_rtt_ms\":%g,\"phone_kbps\":%ld,", r->rtt_ms, r->kbps);
    fprintf(f, "\"dropped\":%ld,\"resumed\":%ld,\"resume_pct\":%.2f,\"kept_pct\":%.2f,", r->dropped,
            r->resumed, r->dropped ? 100.0 * (double)r->resumed / (double)r->dropped : 0.0,
            r->cut_bytes ? 100.0 * (double)r->kept_bytes / (double)r->cut_bytes : 0.0);
    pct_json(f, "latency", &r->latency);
    fputc(',', f);
    pct_json(f, "service", &r->service);
    fputc(',', f);
    pct_json(f, "connect", &r->connect);
    fputc(',', f);
    pct_json(f, "after_body", &r->after_body);
    if (r->tracked > 0) {
        fprintf(f, ",\"tracked\":%ld,\"queued\":%ld,\"poll_s\":%g,\"polls_refused\":%ld,",
                r->tracked, r->queued, r->poll_s, r->polls_refused);
        pct_json(f, "to_queued", &r->to_queued);
    }
    if (r->abuse) {
        fprintf(f, ",\"abuse\":{\"kind\":\"%s\",\"clients\":%d,\"sent\":%ld,\"classes\":{",
                r->abuse, r->abusers, r->abuse_sent);
        for (int i = 0; i < r->nabuse_classes; i++)
            fprintf(f, "%s\"%s\":%ld", i ? "," : "", r->abuse_classes[i].name,
                    r->abuse_classes[i].n);
        fputs("}}", f);
    }
    fputs(",\"error_classes\":{", f);
    for (int i = 0; i < r->nclasses; i++)
        fprintf(f, "%s\"%s\":%ld", i ? "," : "", r->classes[i].name, r->classes[i].n);
    fputs("},", f);
    distribution_json(f, &r->latency);
    fputc(',', f);
    series_json(f, r);
    fputs("}\n", f);
    return ferror(f) ? -EIO : 0;
}

/* The page: the result JSON inline, four canvases, and a small plotter (axes, ticks, lines). */
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"es\"><head><meta charset=\"utf-8\">\n"
    "<title>prep-bench report</title>\n<style>\n"
    "body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\n"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
    "canvas{border:1px solid #ddd;margin:8px 0;display:block}\n"
    "</style></head><body>\n<h1>prep-bench report</h1>\n<div id=\"summary\"></div>\n"
    "<h2>Throughput over time</h2><canvas id=\"throughput\" width=\"960\" "
    "height=\"260\"></canvas>\n"
    "<h2>Latency over time (from the intended send time)</h2>"
    "<canvas id=\"latency\" width=\"960\" height=\"260\"></canvas>\n"
    "<h2>Latency distribution</h2>"
    "<canvas id=\"distribution\" width=\"960\" height=\"260\"></canvas>\n"
    "<h2>Errors over time</h2><canvas id=\"errors\" width=\"960\" height=\"200\"></canvas>\n"
    "<script id=\"result\" type=\"application/json\">\n";

static const char page_tail[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const R = JSON.parse(document.getElementById('result').textContent);\n"
    "function esc(s){return String(s).replace(/[&<>\"]/g,c=>'&#'+c.charCodeAt(0)+';');}\n"
    "function row(k,v){return '<tr><th>'+esc(k)+'</th><td>'+esc(v)+'</td></tr>';}\n"
    "const L = R.latency;\n"
    "let h = '<table>' + row('model', R.model + (R.scenario ? ' (' + R.scenario + ' at speed ' + "
    "R.speed + ')' : ''))\n"
    "  + row('connections', R.connections) + row('uploads done / planned', R.done + ' / ' + "
    "R.planned)\n"
    "  + row('accepted', R.ok) + row('errors', R.errors + ' (' + R.error_pct.toFixed(3) + "
    "'%)')\n"
    "  + row('uploads/s', R.uploads_per_s.toFixed(2)) + row('MB/s', R.mb_per_s.toFixed(1))\n"
    "  + row('receipts verified', R.receipts_verified)\n"
    "  + (R.phone_rtt_ms || R.phone_kbps ? row('phones\\' network', (R.phone_rtt_ms ? 'round trip "
    "' "
    "+ R.phone_rtt_ms + ' ms' : '') + (R.phone_rtt_ms && R.phone_kbps ? ', ' : '') + "
    "(R.phone_kbps ? R.phone_kbps + ' kbit/s up' : '')) : '')\n"
    "  + (R.dropped ? row('cut mid-upload / resumed', R.dropped + ' / ' + R.resumed + ' (' + "
    "R.resume_pct.toFixed(1) + '%, ' + R.kept_pct.toFixed(0) + '% of their bytes kept)') : '')\n"
    "  + row('latency p50 / p90 / p99 / p99.9 / max (ms)', [L.p50_ms, L.p90_ms, L.p99_ms, "
    "L.p999_ms, L.max_ms].map(x => x.toFixed(1)).join(' / '))\n"
    "  + row('connect p99 (ms)', R.connect.p99_ms.toFixed(1))\n"
    "  + row('receipt after the last byte p50 / p99 / max (ms)', [R.after_body.p50_ms, "
    "R.after_body.p99_ms, R.after_body.max_ms].map(x => x.toFixed(1)).join(' / '))\n"
    "  + (R.tracked ? row('receipt to queued p50 / p99 / max (s; polled every ' + R.poll_s + "
    "' s)', [R.to_queued.p50_ms, R.to_queued.p99_ms, R.to_queued.max_ms].map(x => (x / "
    "1e3).toFixed(1)).join(' / ') + ' (' + R.queued + ' of ' + R.tracked + ' queued)') : '')\n"
    "  + (R.abuse ? row('abusive clients beside them', R.abuse.clients + ' ' + R.abuse.kind + "
    "': ' + R.abuse.sent + ' requests: ' + Object.entries(R.abuse.classes).map(([k, v]) => v + "
    "' ' + k).join(', ')) : '')\n"
    "  + '</table>';\n"
    "for (const [k, v] of Object.entries(R.error_classes)) h += '<div>' + esc(k) + ': ' + v + "
    "'</div>';\n"
    "document.getElementById('summary').innerHTML = h;\n";

static const char page_plot[] =
    "function plot(id, xs, lines, opt) {\n"
    "  const c = document.getElementById(id), g = c.getContext('2d');\n"
    "  const W = c.width, H = c.height, l = 70, r = 150, t = 12, b = 36;\n"
    "  g.fillStyle = '#fff'; g.fillRect(0, 0, W, H);\n"
    "  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1e-9);\n"
    "  let y1 = 0; for (const s of lines) for (const v of s.v) y1 = Math.max(y1, v);\n"
    "  if (y1 <= 0) y1 = 1; y1 *= 1.08;\n"
    "  const X = x => l + (W - l - r) * (x - x0) / (x1 - x0), Y = y => H - b - (H - t - b) * y / "
    "y1;\n"
    "  g.strokeStyle = '#999'; g.fillStyle = '#333'; g.font = '11px sans-serif'; g.lineWidth = 1;\n"
    "  g.beginPath(); g.moveTo(l, t); g.lineTo(l, H - b); g.lineTo(W - r, H - b); g.stroke();\n"
    "  g.textAlign = 'right';\n"
    "  for (let i = 0; i <= 4; i++) { const y = y1 * i / 4; g.fillText(y.toPrecision(3), l - 6, "
    "Y(y) + 4); }\n"
    "  g.textAlign = 'left';\n"
    "  const ticks = opt.xticks || [0, 1, 2, 3, 4].map(i => { const x = x0 + (x1 - x0) * i / 4;\n"
    "    return [x, x.toFixed(0)]; });\n"
    "  for (const [x, s] of ticks) if (x >= x0 && x <= x1) g.fillText(s, X(x) - 10, H - b + 14);\n"
    "  g.fillText(opt.x, (W - r) / 2, H - 6); g.save(); g.translate(12, H / 2); g.rotate(-Math.PI "
    "/ 2);\n"
    "  g.fillText(opt.y, -30, 0); g.restore();\n"
    "  lines.forEach((s, k) => { g.strokeStyle = s.c; g.lineWidth = s.w || 2; "
    "g.setLineDash(s.dash || []); g.beginPath();\n"
    "    s.v.forEach((v, i) => i ? g.lineTo(X(xs[i]), Y(v)) : g.moveTo(X(xs[i]), Y(v))); "
    "g.stroke(); g.setLineDash([]);\n"
    "    g.fillStyle = s.c; g.fillRect(W - r + 10, t + 16 * k, 12, 4); g.fillStyle = '#333';\n"
    "    g.fillText(s.n, W - r + 26, t + 16 * k + 6); });\n"
    "  c.dataset.drawn = String(lines.reduce((n, s) => n + s.v.length, 0));\n"
    "}\n"
    "const S = R.series, col = k => S.rows.map(r => r[S.columns.indexOf(k)]);\n"
    "plot('throughput', S.t, [{n: 'offered/s', c: '#999', v: col('offered_per_s')},\n"
    "  {n: 'done/s', c: '#1565c0', v: col('done_per_s')}], {x: 'seconds', y: 'uploads/s'});\n"
    "plot('latency', S.t, [{n: 'max ms', c: '#b71c1c', w: 1, dash: [4, 3], v: col('max_ms')},\n"
    "  {n: 'p99 ms', c: '#e65100', w: 2.5, v: col('p99_ms')}], {x: 'seconds', y: 'ms'});\n"
    "const D = R.distribution;\n"
    "plot('distribution', D.map(d => -Math.log10(1.0001 - d[0] / 100)), [{n: 'latency ms', c: "
    "'#2e7d32',\n"
    "  v: D.map(d => d[1])}], {x: 'percentile (log scale)', y: 'ms',\n"
    "  xticks: [0, 50, 90, 99, 99.9, 99.99].map(p => [-Math.log10(1.0001 - p / 100), "
    "String(p)])});\n"
    "plot('errors', S.t, [{n: 'errors/s', c: '#c62828', v: col('errors_per_s')}], {x: "
    "'seconds', y: 'errors/s'});\n"
    "document.body.dataset.ready = '1';\n"
    "</script></body></html>\n";

int bench_report_html(FILE *f, const struct bench_result *r)
{
    fputs(page_head, f);
    /* the JSON has no "</" (class names are sanitised): it cannot close the script element */
    if (bench_report_json(f, r) < 0)
        return -EIO;
    fputs(page_tail, f);
    fputs(page_plot, f);
    return ferror(f) ? -EIO : 0;
}
