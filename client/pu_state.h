/*
 * pu_state: a device's state folder, as `prep-upload enrol` makes it and `send`, `verify` and
 * bench/prep-load read it: the device key device-ed25519.pem (0600), device.json (the device id,
 * the server, the gateway's public key) and receipts/<photo_id>.json, each written whole or not
 * at all. It talks to no server; messages go to stderr prefixed by the caller's program name.
 */
#ifndef PU_STATE_H
#define PU_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_keys.h"
#include "gw_sig.h"

struct pu_device {
    char device_id[GW_SIG_TOKEN_MAX];
    char server[1024];
    struct gw_key gateway; /* public half only; the caller gw_key_finish()es it */
};

/* Creates |dir| with mode 0700, or checks that it is a folder. Returns 0 or a negative errno. */
int pu_state_mkdir(const char *dir);

/*
 * Writes |len| bytes of |data| to |path| whole or not at all (gw_file_write_atomic): a temporary
 * file (mode 0600), fsync, rename, then the folder fsync'ed, so that what was printed survives a
 * power cut. Returns 0 or a negative errno (nothing is left behind).
 */
int pu_state_write(const char *path, const void *data, size_t len);

/*
 * Reads |state|/device.json into |*ret|, the gateway key checked against its fingerprint.
 * Prints why not, prefixed by |prog|. Returns 0, -ENOENT (no enrolment) or -EINVAL.
 */
int pu_state_load_device(const char *prog, const char *state, struct pu_device *ret);

/*
 * Loads |state|/device-ed25519.pem into |*ret|, making it first when |create|. Prints why not,
 * prefixed by |prog|. Returns 0 or gw_key_load()'s negative errno.
 */
int pu_state_load_key(const char *prog, const char *state, bool create, struct gw_key *ret);

/*
 * Stores the receipt |body| (|len| bytes, the gateway's bytes as received and verified) as
 * |state|/receipts/|photo_id|.json, whose path goes to |ret_path| (|cap| bytes). Returns 0 or a
 * negative errno (|ret_path| then holds the path that could not be written).
 */
int pu_state_keep_receipt(const char *state, const char *photo_id, const void *body, size_t len,
                          char *ret_path, size_t cap);

/*
 * The state folder that `send` kept |receipt| in (DIR/receipts/NAME) when DIR/device.json is
 * there, written to |buf| (|size| bytes) and returned; NULL otherwise.
 */
const char *pu_state_of_receipt(const char *receipt, char *buf, size_t size);

#endif
