/*
 * gw_enrol: the device endpoints. POST /v1/devices enrols a phone's Ed25519 public key with a
 * one-time code (the database work runs on the db pool); GET /v1/gateway-key gives the key that
 * signs receipts, so a client can verify them offline; GET /v1/devices/self/photos, signed by the
 * device as an upload is, answers the states of the photos that device sent (and no other).
 */
#ifndef GW_ENROL_H
#define GW_ENROL_H

#include <stdbool.h>

struct gw_stream;

/* Handles |path| when it is one of this module's; returns false otherwise. Loop thread only. */
bool gw_enrol_route(struct gw_stream *s, const char *path);

/* Normalises a human-typed enrolment code (upper case, no separators) and hashes it: |ret| gets
 * the hex SHA-256 (65 bytes). Returns 0, or -EINVAL for a code of the wrong shape. */
int gw_enrol_code_hash(const char *code, char *ret);

#endif
