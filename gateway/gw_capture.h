/*
 * gw_capture: the capturists' API, double-blind capture of accepted actas (issue 12).
 *
 * Routes POST /v1/capture/claim, POST /v1/capture/disputes/claim, POST
 * /v1/capture/{photo_id}/figures|illegible|release, GET /v1/capture/{photo_id} and GET
 * /v1/capture/counters (docs/api.md, "Capture"). Bodies are parsed and checked for shape on the
 * loop; the session, role and CSRF checks and then the operation run as one gw_review_job on the
 * db pool (GW_REVIEW_OP_RUN with this module's operation), and the answer or an RFC 9457 problem
 * comes back on the stream's loop, exactly as for the clerks' API. The statements are in
 * db/db_capture.c; the rules (leases, two blind captures by two users, disputes, the checks and
 * contabilizada) are in PostgreSQL: schema/007_capture.sql, described in docs/capture.md.
 *
 * What a capturist is shown of an acta is its clave, its review image and the fields to fill:
 * never another capture's figures. Only supervisors read captures (GET /v1/capture/{photo_id}).
 * It serves no images and no pages.
 */
#ifndef GW_CAPTURE_H
#define GW_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

struct gw_stream;

#define GW_CAPTURE_FIELDS_MAX 64 /* members of a figures object */

/*
 * Checks the shape of a figures body |json| (|len| bytes): {"lease_token": UUID, "figures":
 * {field_id: count 0-100000 | "ilegible" | "sin_dato", ...}}. Returns 0 with the lease token in
 * |ret_token| (37 bytes) and the figures as compact JSON in a new string |*ret_figures| (caller
 * frees), -EINVAL with a static reason in |*ret_why|, or -ENOMEM. Whether the fields are those of
 * the acta's type is PostgreSQL's to check (capture_validate()). Pure.
 */
int gw_capture_figures_parse(const char *json, size_t len, char *ret_token, char **ret_figures,
                             const char **ret_why);

/*
 * Routes |s| when its path (|path|, |len| bytes, without the query) is under /v1/capture/.
 * Returns true when it took the request (answered now or later), false otherwise. Loop thread
 * only.
 */
bool gw_capture_route(struct gw_stream *s, const char *path, size_t len);

#endif
