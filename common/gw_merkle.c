#include "gw_merkle.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

static int sha256_prefixed(uint8_t prefix, const void *a, size_t alen, const void *b, size_t blen,
                           gw_merkle_hash ret)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok;

    if (!md)
        return -ENOMEM;
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, &prefix, 1) == 1 &&
         (alen == 0 || EVP_DigestUpdate(md, a, alen) == 1) &&
         (blen == 0 || EVP_DigestUpdate(md, b, blen) == 1) && EVP_DigestFinal_ex(md, ret, &n) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -ENOMEM;
}

int gw_merkle_leaf(const void *data, size_t len, gw_merkle_hash ret)
{
    return sha256_prefixed(0x00, data, len, NULL, 0, ret);
}

int gw_merkle_node(const gw_merkle_hash left, const gw_merkle_hash right, gw_merkle_hash ret)
{
    return sha256_prefixed(0x01, left, GW_MERKLE_HASH_LEN, right, GW_MERKLE_HASH_LEN, ret);
}

/* The largest power of two smaller than |n| (n >= 2): the size of the left subtree. */
static uint64_t split(uint64_t n)
{
    uint64_t k = 1;

    while (k < n - k)
        k <<= 1;
    return k;
}

static int root(const uint8_t *leaves, uint64_t n, gw_merkle_hash ret)
{
    gw_merkle_hash l, r;
    uint64_t k;
    int e;

    if (n == 1) {
        memcpy(ret, leaves, GW_MERKLE_HASH_LEN);
        return 0;
    }
    k = split(n);
    e = root(leaves, k, l);
    if (e == 0)
        e = root(leaves + k * GW_MERKLE_HASH_LEN, n - k, r);
    return e < 0 ? e : gw_merkle_node(l, r, ret);
}

int gw_merkle_root(const uint8_t *leaves, uint64_t n, gw_merkle_hash ret)
{
    unsigned len = 0;

    if (n == 0)
        return EVP_Digest("", 0, ret, &len, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
    return root(leaves, n, ret);
}

int gw_merkle_path(const uint8_t *leaves, uint64_t n, uint64_t index, uint8_t *ret_path,
                   size_t *ret_len)
{
    gw_merkle_hash path[GW_MERKLE_PATH_MAX];
    size_t depth = 0;
    int e;

    if (index >= n)
        return -EINVAL;
    /* Walking down from the whole tree finds the siblings top first; the path lists them from
     * the leaf up, so they are stored from the end and moved to the front. */
    while (n > 1) {
        uint64_t k = split(n);
        gw_merkle_hash *slot = &path[GW_MERKLE_PATH_MAX - 1 - depth];

        if (index < k) {
            e = root(leaves + k * GW_MERKLE_HASH_LEN, n - k, *slot);
            n = k;
        } else {
            e = root(leaves, k, *slot);
            leaves += k * GW_MERKLE_HASH_LEN;
            n -= k;
            index -= k;
        }
        if (e < 0)
            return e;
        depth++;
    }
    memcpy(ret_path, path[GW_MERKLE_PATH_MAX - depth], depth * GW_MERKLE_HASH_LEN);
    *ret_len = depth;
    return 0;
}

bool gw_merkle_verify(uint64_t index, uint64_t size, const gw_merkle_hash leaf, const uint8_t *path,
                      size_t len, const gw_merkle_hash root_hash)
{
    uint64_t fn = index, sn;
    gw_merkle_hash r;

    if (index >= size)
        return false;
    sn = size - 1;
    memcpy(r, leaf, GW_MERKLE_HASH_LEN);
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return false; /* a path longer than the tree is high */
        if ((fn & 1) || fn == sn) {
            /* A right child, or the last node of its level that has no right sibling: the
             * sibling is on the left, and levels where the node is promoted alone are skipped. */
            if (gw_merkle_node(path + i * GW_MERKLE_HASH_LEN, r, r) < 0)
                return false;
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else if (gw_merkle_node(r, path + i * GW_MERKLE_HASH_LEN, r) < 0) {
            return false;
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root_hash, GW_MERKLE_HASH_LEN) == 0;
}
