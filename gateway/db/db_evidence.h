/*
 * db_evidence: what `prep-gateway evidence` (cmd_evidence) reads of PostgreSQL for one acta: its
 * photos (with the enrolled key of the device that sent each) and every review decision with the
 * clerk who made it, as one JSON document built by one statement, so that the photos and the
 * decisions are one consistent snapshot. Read-only. Blocking, on a connection owned by the caller
 * (gw_db.h); the reason of a failure is in PQerrorMessage().
 */
#ifndef DB_EVIDENCE_H
#define DB_EVIDENCE_H

#include <libpq-fe.h>

/*
 * The evidence of acta |clave| as a new JSON string |*ret_json| (caller frees):
 *   {"photos": [{"photo_id", "sha256", "bytes", "status", "received_at", "ledger_seq",
 *                "review_sha256", "device", "device_public_key", "device_label",
 *                "device_revoked_at"}, ...],          in the order they were received
 *    "review": [{"decision_id", "photo_id", "decision", "reason", "duplicate_of", "note",
 *                "user_id", "username", "role", "decided_at"}, ...]}   in decision order
 * Returns 0, -ENOENT when the clave has no photo, or -ENOMEM, -EIO, -EPROTO.
 */
int gw_db_evidence(PGconn *c, const char *clave, char **ret_json);

#endif
