/*
 * db_events: PostgreSQL notifications, for the threads that wait on them.
 *
 * The events thread (gw_events) LISTENs on the queue's channels and the devices thread
 * (gw_devices, through db_devices.h) on devices_changed; both then poll PQsocket() next to their
 * own wake-up descriptor and, when it is readable, drain what arrived with gw_db_notifies_drain().
 * Only the fact of a notification matters to them, never its payload, so it is counted and freed
 * here. The statements that send notifications (pg_notify in db_photos and db_review, triggers in
 * schema/) are elsewhere. Blocking only as far as LISTEN is; draining never blocks.
 */
#ifndef DB_EVENTS_H
#define DB_EVENTS_H

#include <libpq-fe.h>
#include <stdbool.h>

/* LISTENs on photo_queued, review_changed, acta_accepted and capture_changed. Returns 0, -EIO or
 * -EPROTO. */
int gw_db_events_listen(PGconn *c);

/*
 * Counts and frees the notifications that have arrived on |c|, first reading what the socket
 * holds when |consume| is true (after poll() said it is readable). Never blocks. Returns the
 * count, or -EIO when reading failed (the connection is lost: reconnect).
 */
int gw_db_notifies_drain(PGconn *c, bool consume);

#endif
