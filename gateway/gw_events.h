/*
 * gw_events: live queue counters for the clerks' pages, from PostgreSQL to Server-Sent Events.
 *
 * One thread holds its own PGconn, LISTENs on the channels photo_queued, review_changed,
 * acta_accepted and capture_changed, and after a notification (coalesced: at most one query per
 * GW_EVENTS_COALESCE_MS) or every GW_EVENTS_HEARTBEAT_S seconds reads the queue counters, with the
 * capture totals as their member "capture", and fans the result out as one SSE message ("event:
 * counts") to every subscribed stream, on each stream's own loop through gw_loop_post(). A new
 * subscriber gets the last message at once. PostgreSQL going away only pauses the messages: the
 * thread reconnects with backoff.
 *
 * It does not authenticate (gw_review does, before subscribing) and keeps no history: a client
 * that reconnects gets the current counters, which is all a counter needs.
 */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H

struct gw_events;
struct gw_app;
struct gw_stream;

#define GW_EVENTS_COALESCE_MS 200
#define GW_EVENTS_HEARTBEAT_S 5
#define GW_EVENTS_MAX_SUBSCRIBERS 256 /* per loop; more get 503 */

/*
 * Makes the fan-out for |app| (one subscriber list per loop of app->cfg->loops) that will listen
 * on |conninfo|, in |*ret|. Call before the listeners start, so that handlers find app->events.
 * Returns 0 or -ENOMEM.
 */
int gw_events_new(struct gw_app *app, const char *conninfo, struct gw_events **ret);

/* Starts the listener thread, once the loops of |app| run. Returns 0 or -errno. */
int gw_events_start(struct gw_events *ev);

/*
 * Adds |s|, whose streaming response has started, to the subscribers of its loop and sends it the
 * last message; the module holds a reference until the stream closes. Returns 0, or -ENOSPC when
 * the loop has GW_EVENTS_MAX_SUBSCRIBERS already. Loop thread only.
 */
int gw_events_subscribe(struct gw_events *ev, struct gw_stream *s);

/* Stops and joins the thread; no message is posted afterwards. Call before gw_listen_stop().
 * Accepts NULL. */
void gw_events_stop(struct gw_events *ev);

/* Releases the remaining subscribers and frees |ev|. Call after gw_listen_free(), when no loop
 * runs. Accepts NULL. */
void gw_events_free(struct gw_events *ev);

#endif
