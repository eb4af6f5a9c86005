/*
 * gw_scrape: the metrics listener of its own (--metrics HOST:PORT), for Prometheus.
 *
 * One thread, apart from the event loops, answering plain HTTP/1.1 one connection at a time:
 * GET /metrics (the same text as the public GET /metrics, gw_api_metrics(), its database gauges
 * through a connection of its own) and GET /healthz; anything else is 404 or 405. It is meant for a
 * private address: a flood of phones on the public listeners does not delay a scrape, and the
 * figures are not published to the phones' network. Each connection has 5 s to send its request
 * and to read the answer, and is closed after it.
 */
#ifndef GW_SCRAPE_H
#define GW_SCRAPE_H

struct gw_app;
struct gw_scrape;

/*
 * Listens on |addr| and starts the thread, serving |app|'s figures; *ret is the handle to stop. A
 * NULL |addr| (off) starts nothing and sets *ret to NULL. Returns 0 or -errno (logged).
 */
int gw_scrape_start(struct gw_app *app, const char *addr, struct gw_scrape **ret);

/* Stops the thread and closes the listener; NULL is a no-op. */
void gw_scrape_stop(struct gw_scrape *s);

#endif
