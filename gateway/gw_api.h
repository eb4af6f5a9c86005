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

/* Thread context of the db pool: connects lazily. |arg| is the conninfo. */
void *gw_api_db_thread_init(void *arg);
void gw_api_db_thread_fini(void *ctx);

/*
 * Returns the PGconn of a db-pool thread whose context is |thread_ctx|, connecting (again) when
 * there is none or it broke; NULL while PostgreSQL is unreachable. Pool threads only.
 */
struct pg_conn *gw_api_db_conn(void *thread_ctx);

#endif
