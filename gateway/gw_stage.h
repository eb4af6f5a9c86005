/*
 * gw_stage: the stages behind the spool, each on its own threads.
 *
 * Ingest: one thread moves receipts from spool/pending/ into PostgreSQL (the photos table), with
 * retries and backoff while the database is unreachable; intake keeps working meanwhile.
 * Processing: a pool of threads claims received photos in PostgreSQL (FOR UPDATE SKIP LOCKED),
 * recompresses them with imaging/, stores the review derivative and marks the photo queued for
 * verification, in one transaction with a NOTIFY. A failure in one stage never stops another.
 */
#ifndef GW_STAGE_H
#define GW_STAGE_H

#include "gw_config.h"
#include "gw_spool.h"

struct gw_stage;

/*
 * Starts the stages for |cfg| over |spool| (both outlive the stage). Returns the stage in
 * |*ret|, or a negative errno.
 */
int gw_stage_start(const struct gw_config *cfg, struct gw_spool *spool, struct gw_stage **ret);

/* Tells the ingest stage that |photo_id| was committed to pending/. Any thread. */
void gw_stage_received(struct gw_stage *st, const char *photo_id);

/* Stops and joins the stage threads, and frees |st|. Work left over stays in the spool and in
 * PostgreSQL for the next start. Accepts NULL. */
void gw_stage_stop(struct gw_stage *st);

#endif
