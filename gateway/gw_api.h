/*
 * gw_api: request routing and the read-only endpoints.
 *
 * gw_api_route() runs once a request's headers are complete: it validates the method, path and
 * upload headers, then either answers at once (health, problems, errors), hands the stream to
 * gw_upload, or queues a PostgreSQL or disk read on a pool and answers when it returns.
 */
#ifndef GW_API_H
#define GW_API_H

#include <libpq-fe.h>
#include <stddef.h>

struct gw_app;
struct gw_stream;

/* Routes the request on |s|. Loop thread only; never blocks. */
void gw_api_route(struct gw_stream *s);

/*
 * The text of GET /metrics (gw_metrics_text() with the gauges gathered now: devices, the spool's
 * backlog and free space, and through |pg|, when not NULL, the photos and the queue by state), its
 * length in |*ret_len|; NULL when out of memory. Blocking: a pool thread or gw_scrape's own.
 */
char *gw_api_metrics(struct gw_app *app, PGconn *pg, size_t *ret_len);

#endif
