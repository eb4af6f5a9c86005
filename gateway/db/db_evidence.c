#include "db_evidence.h"

#include "gw_db.h"

static const char evidence_sql[] =
    "SELECT json_build_object("
    " 'photos', (SELECT json_agg(json_build_object("
    "   'photo_id', p.photo_id, 'sha256', encode(p.sha256, 'hex'), 'bytes', p.bytes,"
    "   'status', p.status, 'received_at', p.received_text, 'ledger_seq', p.ledger_seq,"
    "   'review_sha256', encode(p.review_sha256, 'hex'), 'device', p.source, 'gateway', p.gateway,"
    "   'device_public_key', d.public_key, 'device_label', d.label,"
    "   'device_revoked_at', d.revoked_at) ORDER BY p.received_at, p.photo_id)"
    "   FROM photos p LEFT JOIN devices d ON d.device_id::text = p.source"
    "   WHERE p.clave_acta = $1),"
    " 'review', COALESCE((SELECT json_agg(json_build_object("
    "   'decision_id', r.decision_id, 'photo_id', r.photo_id, 'decision', r.decision,"
    "   'reason', r.reason, 'duplicate_of', r.duplicate_of, 'note', r.note,"
    "   'user_id', r.user_id, 'username', u.username, 'role', u.role,"
    "   'decided_at', r.decided_at) ORDER BY r.decision_id)"
    "   FROM review_decisions r JOIN users u ON u.user_id = r.user_id"
    "   WHERE r.clave_acta = $1), '[]'::json),"
    /* Every capture (both blind ones and a supervisor's) and every send-back to review, in the
     * order they happened: the disagreements stay visible. */
    " 'capture', COALESCE((SELECT json_agg(x.o ORDER BY x.at, x.id) FROM ("
    "   SELECT c.captured_at AS at, c.capture_id AS id, json_build_object("
    "     'capture_id', c.capture_id, 'photo_id', c.photo_id, 'round', c.round, 'kind', c.kind,"
    "     'user_id', c.user_id, 'username', u.username, 'role', u.role,"
    "     'captured_at', c.captured_at, 'figures', c.figures, 'sum_votes', c.sum_votes,"
    "     'total_written', c.total_written, 'nominal_list', c.nominal_list,"
    "     'contabilizada', c.contabilizada, 'reason', c.reason,"
    "     'observations', c.observations) AS o"
    "   FROM captures c JOIN users u ON u.user_id = c.user_id WHERE c.clave_acta = $1"
    "   UNION ALL"
    "   SELECT t.returned_at, t.return_id, json_build_object("
    "     'return_id', t.return_id, 'photo_id', t.photo_id, 'round', t.round,"
    "     'kind', 'sent_back_illegible', 'user_id', t.user_id, 'username', u.username,"
    "     'role', u.role, 'returned_at', t.returned_at, 'note', t.note)"
    "   FROM capture_returns t JOIN users u ON u.user_id = t.user_id"
    "   JOIN capture_queue q ON q.photo_id = t.photo_id WHERE q.clave_acta = $1) x),"
    "  '[]'::json))"
    " WHERE EXISTS (SELECT 1 FROM photos WHERE clave_acta = $1)";

int gw_db_evidence(PGconn *c, const char *clave, char **ret_json)
{
    const char *params[1] = {clave};

    /* No row (-ENOENT) when the acta has no photo. */
    return gw_db_text(c, evidence_sql, 1, params, ret_json);
}
