/*
 * gw_api: request routing and the read-only endpoints.
 *
 * gw_api_route() runs once a request's headers are complete: it validates the method, path and
 * upload headers, then either answers at once (health, problems, errors), hands the stream to
 * gw_upload, or queues a PostgreSQL or disk read on a pool and answers when it returns.
 */
#ifndef GW_API_H
#define GW_API_H

struct gw_stream;

/* Routes the request on |s|. Loop thread only; never blocks. */
void gw_api_route(struct gw_stream *s);

#endif
