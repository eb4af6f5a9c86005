/*
 * gw_merkle: the Merkle tree of RFC 9162 (Certificate Transparency 2.0, section 2.1) over a list
 * of leaves, with SHA-256: the tree head (root) of the first n leaves, the audit path that proves
 * one leaf is in it, and the check of such a path.
 *
 * The ledger uses it with one leaf per entry, the leaf's input being the 32 raw bytes of the
 * entry's hash (docs/evidence.md): a signed checkpoint names the root over its first |length|
 * entries, and an evidence bundle carries the path of each of its entries, O(log n) hashes instead
 * of the O(n) chain. Leaves are given already hashed (gw_merkle_leaf()), so that the caller keeps
 * 32 bytes per entry. Pure: no I/O, no globals; thread-safe.
 */
#ifndef GW_MERKLE_H
#define GW_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_MERKLE_HASH_LEN 32
#define GW_MERKLE_PATH_MAX 64 /* a path of a tree of fewer than 2^64 leaves is shorter */

typedef uint8_t gw_merkle_hash[GW_MERKLE_HASH_LEN];

/* The leaf hash SHA-256(0x00 || |data|) of |len| bytes into |ret|. Returns 0 or -ENOMEM. */
int gw_merkle_leaf(const void *data, size_t len, gw_merkle_hash ret);

/* The interior node hash SHA-256(0x01 || |left| || |right|) into |ret|. Returns 0 or -ENOMEM. */
int gw_merkle_node(const gw_merkle_hash left, const gw_merkle_hash right, gw_merkle_hash ret);

/*
 * The tree head MTH of the |n| leaf hashes |leaves| (32 bytes each, one after the other) into
 * |ret|; for n = 0 the SHA-256 of no
 * bytes. O(n) hashes, recursion depth log2(n). Returns 0 or -ENOMEM (|ret| untouched).
 */
int gw_merkle_root(const uint8_t *leaves, uint64_t n, gw_merkle_hash ret);

/*
 * The audit path PATH(|index|, leaves[0..n)) of RFC 9162 section 2.1.3.1, from the leaf up, into
 * |ret_path| (room for GW_MERKLE_PATH_MAX hashes of 32 bytes), its length in |*ret_len|. Returns 0,
 * -EINVAL when |index| >= |n|, or -ENOMEM.
 */
int gw_merkle_path(const uint8_t *leaves, uint64_t n, uint64_t index, uint8_t *ret_path,
                   size_t *ret_len);

/*
 * Checks that the leaf hash |leaf| is leaf |index| of the tree of |size| leaves whose head is
 * |root|, with the audit path |path| of |len| hashes (32 bytes each) (RFC 9162 section 2.1.3.2).
 * Returns true when it is.
 */
bool gw_merkle_verify(uint64_t index, uint64_t size, const gw_merkle_hash leaf, const uint8_t *path,
                      size_t len, const gw_merkle_hash root);

#endif
