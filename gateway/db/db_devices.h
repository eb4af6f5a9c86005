/*
 * db_devices: the devices table as the gateway reads and writes it.
 *
 * Enrolment turns a one-time code (known to PostgreSQL only by its SHA-256) into a device with a
 * public key, in one transaction. The device registry (gw_devices) reads the whole list to rebuild
 * its in-memory copy and LISTENs on channel devices_changed, whose notifications db_events.h
 * drains. Blocking functions on a connection owned by the caller (gw_db.h); the signature check
 * itself never reaches PostgreSQL.
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

/* LISTENs on devices_changed, so that gw_db_notifies_drain() sees enrolments and revocations.
 * Returns 0, -EIO or -EPROTO. */
int gw_db_devices_listen(PGconn *c);

#endif
