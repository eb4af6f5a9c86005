/*
 * gw_devices: the enrolled devices, as the intake path sees them, and the upload signature check.
 *
 * PostgreSQL is the system of record (tables devices and enrolment_codes), but intake must not
 * wait on it: a thread keeps an in-memory copy, reloaded at start, on every NOTIFY
 * devices_changed (a revocation applies within a second) and every 30 s, and mirrored into a
 * snapshot file in the data folder so a restart while PostgreSQL is away still knows every device.
 * gw_devices_check() verifies one upload's HTTP Message Signature (RFC 9421, Ed25519) against
 * that copy, with a clock-skew window and a replay cache of nonces. Thread-safe.
 */
#ifndef GW_DEVICES_H
#define GW_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_devices;

/* What an upload presents, copied from its request headers. */
struct gw_upload_auth {
    char clave[16];
    char path[512];
    char signature_input[1024];
    char signature[256];
    char content_digest[256];
    char relay[512]; /* Prep-Relay: forwarded by a CATD edge (gw_relay_sig); "" when direct */
};

/*
 * Starts the registry: loads the snapshot in |data_dir|, then keeps it in step with the database
 * at |conninfo| on its own thread. |skew_s| is the accepted distance between a signature's
 * `created` and the gateway clock. Returns 0 and the registry in |*ret|, or a negative errno.
 */
int gw_devices_start(const char *conninfo, const char *data_dir, int skew_s,
                     struct gw_devices **ret);

/* Stops the thread and frees. Accepts NULL. */
void gw_devices_stop(struct gw_devices *d);

/*
 * Trusts the edges listed in |path| (gw_relay_trust_load()) to relay uploads: a relayed upload
 * whose Prep-Relay claim one of them signed may carry a phone signature up to |max_age_s| old
 * (the photo waited at the edge), and its nonce is not checked against replays (the centre
 * answers a photo it holds with the same receipt, so a replay adds nothing). Call before the
 * listeners start. Returns 0, or a negative errno with the reason in |why| (|cap| bytes).
 */
int gw_devices_trust_edges(struct gw_devices *d, const char *path, unsigned max_age_s, char *why,
                           size_t cap);

/* Asks for a reload now (after an enrolment). Any thread. */
void gw_devices_reload(struct gw_devices *d);

/*
 * Checks the signature of an upload: the device exists and is not revoked, the clave is within
 * its enrolment, the signature covers @method, @path and content-digest with `created` within
 * the skew and a nonce not seen before, and it verifies. On success stores the device id in
 * |ret_device| (64 bytes) and the SHA-256 announced by Content-Digest in |ret_sha| (32 bytes)
 * and returns 0; otherwise returns a GW_E_* code with a static reason in |*ret_why|. Any thread.
 */
int gw_devices_check(struct gw_devices *d, const struct gw_upload_auth *a, char *ret_device,
                     uint8_t *ret_sha, const char **ret_why);

/*
 * The same check for a device's own GET request (GET /v1/devices/self/photos): |a|'s clave is
 * ignored and the signature must cover "@method" (GET), "@path" and "content-digest" (of the
 * empty body), with `created`, `nonce` and `keyid`, exactly as an upload's. On success stores the
 * device id in |ret_device| (64 bytes) and returns 0; otherwise a GW_E_* code with a static reason
 * in |*ret_why|. Any thread.
 */
int gw_devices_check_get(struct gw_devices *d, const struct gw_upload_auth *a, char *ret_device,
                         const char **ret_why);

/*
 * The signature record (gw_sigrec JSON, docs/evidence.md) of the signed upload |a| into |out|
 * (|cap| bytes), for the spool to keep with the photo. Returns 0, -ENOMEM, or -ENOSPC when it does
 * not fit.
 */
int gw_devices_sigrec(const struct gw_upload_auth *a, char *out, size_t cap);

/* Returns true when |clave| is within the enrolment scope |actas| (comma-separated claves or
 * prefixes ending in '*'). */
bool gw_devices_scope_allows(const char *actas, const char *clave);

/* The number of devices known (for /metrics and the start log). */
size_t gw_devices_count(struct gw_devices *d);

#endif
