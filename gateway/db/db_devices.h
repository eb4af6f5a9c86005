/*
 * db_devices: the devices table as the gateway reads and writes it.
 *
 * Enrolment turns a one-time code (known to PostgreSQL only by its SHA-256) into a device with a
 * public key, in one transaction. The device registry (gw_devices) reads the whole list to rebuild
 * its in-memory copy and LISTENs on channel devices_changed, whose notifications db_events.h
 * drains. `prep-gateway device` (cmd_device) makes the enrolment codes, lists the devices and
 * revokes them through here. Blocking functions on a connection owned by the caller (gw_db.h);
 * the signature check itself never reaches PostgreSQL.
 */
#ifndef DB_DEVICES_H
#define DB_DEVICES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define GW_DB_DEVICE_TIME_LEN 40 /* bytes of an RFC 3339 enrolment time, with its NUL */

/*
 * Enrols a device: in one transaction, takes the unused, unexpired enrolment code whose SHA-256
 * is |code_sha| (hex), creates the device with |pubkey_b64| and |label| and the code's actas, and
 * marks the code used. Stores the new id in |ret_id| (GW_PHOTO_ID_LEN + 1 bytes), the actas in
 * |ret_actas| (|actas_cap| bytes) and the enrolment time in |ret_time| (GW_DB_DEVICE_TIME_LEN
 * bytes). Returns 0, -EACCES (no such usable code), -EEXIST (the key is already enrolled), -EIO
 * or -EPROTO; on failure nothing is changed.
 */
int gw_db_enrol(PGconn *c, const char *code_sha, const char *pubkey_b64, const char *label,
                char *ret_id, char *ret_actas, size_t actas_cap, char *ret_time);

/*
 * Calls |cb| (on the calling thread, before returning) with each device, in device id order: its
 * id, base64 public key, actas (the JSON text of the column) and whether it is revoked. The
 * strings live only during the call. Returns the number of devices, -EIO or -EPROTO.
 */
int gw_db_devices_load(PGconn *c,
                       void (*cb)(void *arg, const char *id, const char *public_key,
                                  const char *actas, bool revoked),
                       void *arg);

/*
 * Stores a one-time enrolment code, known only by its SHA-256 |code_sha| (hex), for a phone
 * labelled |label| that may send the actas of |actas| (the list as `device code --actas` takes
 * it), usable for |life_s| seconds from now. Stores its expiry time in |ret_expires|
 * (GW_DB_DEVICE_TIME_LEN bytes, RFC 3339 UTC; untouched on failure). Returns 0, -EIO or -EPROTO
 * (also for a code that exists already).
 */
int gw_db_enrol_code_add(PGconn *c, const char *code_sha, const char *label, const char *actas,
                         long life_s, char *ret_expires);

/*
 * Calls |cb| (on the calling thread, before returning) with each device in enrolment order: its
 * id, label, actas (the JSON text of the column), enrolment time and revocation time (RFC 3339
 * UTC; |revoked_at| is NULL for a device in service). The strings live only during the call.
 * Returns the number of devices, -EIO or -EPROTO (|cb| is then never called).
 */
int gw_db_devices_list(PGconn *c,
                       void (*cb)(void *arg, const char *id, const char *label, const char *actas,
                                  const char *enrolled_at, const char *revoked_at),
                       void *arg);

/* Revokes device |device_id| (a uuid); revoking it again keeps the first time. Returns 0, -ENOENT
 * when there is no such device, -EIO or -EPROTO (also for a malformed id). */
int gw_db_device_revoke(PGconn *c, const char *device_id);

/*
 * The photos device |device_id| sent, oldest first, as the JSON text answered by GET
 * /v1/devices/self/photos (docs/api.md): each with its status, the verification state and latest
 * decision (reason, note) and retake_of, the earlier photo of the same clave and device that a
 * clerk sent back. Stores a new string in |*ret_json| (caller frees). Returns 0, -EIO or -EPROTO.
 */
int gw_db_device_photos(PGconn *c, const char *device_id, char **ret_json);

/* LISTENs on devices_changed, so that gw_db_notifies_drain() sees enrolments and revocations.
 * Returns 0, -EIO or -EPROTO. */
int gw_db_devices_listen(PGconn *c);

#endif
