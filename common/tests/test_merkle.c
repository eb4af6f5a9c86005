/* gw_merkle: the RFC 9162 tree head and audit paths against known vectors, and every leaf of
 * every tree of 1..17 leaves against a bottom-up construction and the path check. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw_merkle.h"
#include "gw_receipt.h"
#include "tap.h"

/* The eight leaves of the Certificate Transparency reference tests, and the tree heads of their
 * first 1..8 (computed independently with Python's hashlib from RFC 9162's definition). */
static const struct {
    const char *data;
    size_t len;
} vec[8] = {
    {"", 0},
    {"\x00", 1},
    {"\x10", 1},
    {"\x20\x21", 2},
    {"\x30\x31", 2},
    {"\x40\x41\x42\x43", 4},
    {"\x50\x51\x52\x53\x54\x55\x56\x57", 8},
    {"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16},
};
static const char *const vec_root[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
/* PATH(0, D[8]) and PATH(5, D[8]). */
static const char *const vec_path0[3] = {
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
};
static const char *const vec_path5[3] = {
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
};

static const char *hex(const gw_merkle_hash h)
{
    static char buf[2 * GW_MERKLE_HASH_LEN + 1];

    gw_hex(h, GW_MERKLE_HASH_LEN, buf);
    return buf;
}

/* The same tree built level by level: pairs hashed left to right, an odd last node carried up
 * unchanged (which is what RFC 9162's split at the largest power of two amounts to). */
static void bottom_up(const uint8_t *leaves, size_t n, gw_merkle_hash ret)
{
    gw_merkle_hash level[32];
    size_t i, m = n;

    memcpy(level, leaves, n * sizeof(gw_merkle_hash));
    while (m > 1) {
        for (i = 0; i + 1 < m; i += 2)
            CHECK(gw_merkle_node(level[i], level[i + 1], level[i / 2]) == 0);
        if (m & 1)
            memcpy(level[i / 2], level[m - 1], sizeof(gw_merkle_hash));
        m = (m + 1) / 2;
    }
    memcpy(ret, level[0], sizeof(gw_merkle_hash));
}

static void known_vectors(void)
{
    gw_merkle_hash leaves[8] = {{0}}, r;
    uint8_t path[GW_MERKLE_PATH_MAX * GW_MERKLE_HASH_LEN];
    size_t len = 0;

    CHECK(gw_merkle_root(leaves[0], 0, r) == 0);
    CHECK_STR(hex(r), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (int i = 0; i < 8; i++)
        CHECK(gw_merkle_leaf(vec[i].data, vec[i].len, leaves[i]) == 0);
    for (int n = 1; n <= 8; n++) {
        CHECK(gw_merkle_root(leaves[0], (uint64_t)n, r) == 0);
        CHECK_STR(hex(r), vec_root[n - 1]);
    }
    CHECK(gw_merkle_path(leaves[0], 8, 0, path, &len) == 0 && len == 3);
    for (size_t i = 0; i < len && i < 3; i++)
        CHECK_STR(hex(path + 32 * i), vec_path0[i]);
    CHECK(gw_merkle_path(leaves[0], 8, 5, path, &len) == 0 && len == 3);
    for (size_t i = 0; i < len && i < 3; i++)
        CHECK_STR(hex(path + 32 * i), vec_path5[i]);
    CHECK(gw_merkle_path(leaves[0], 8, 8, path, &len) == -EINVAL);
}

/* Every leaf of trees of 1..17 leaves: the path proves it, and nothing else. */
static void every_leaf(void)
{
    gw_merkle_hash leaves[17], root, other;
    uint8_t path[GW_MERKLE_PATH_MAX * GW_MERKLE_HASH_LEN], bad[(GW_MERKLE_PATH_MAX + 1) * 32];

    for (int i = 0; i < 17; i++) {
        uint8_t b = (uint8_t)i;

        CHECK(gw_merkle_leaf(&b, 1, leaves[i]) == 0);
    }
    for (uint64_t n = 1; n <= 17; n++) {
        CHECK(gw_merkle_root(leaves[0], n, root) == 0);
        bottom_up(leaves[0], n, other);
        CHECK(memcmp(root, other, sizeof(root)) == 0);
        for (uint64_t m = 0; m < n; m++) {
            size_t len = 0, want = 0;

            CHECK(gw_merkle_path(leaves[0], n, m, path, &len) == 0);
            /* The path is as long as the leaf is deep: at most ceil(log2 n). */
            while ((1ull << want) < n)
                want++;
            CHECK(len <= want && (n == 1 || len > 0));
            CHECK(gw_merkle_verify(m, n, leaves[m], path, len, root));
            /* Another leaf, index or root (the size is bound by the signed checkpoint, not the
             * path); a path cut short or made longer; one bit. */
            CHECK(!gw_merkle_verify(m, n, leaves[(m + 1) % 17], path, len, root));
            if (n > 1) {
                CHECK(!gw_merkle_verify((m + 1) % n, n, leaves[m], path, len, root));
                CHECK(!gw_merkle_verify(m, n, leaves[m], path, len - 1, root));
            }
            CHECK(!gw_merkle_verify(n, n, leaves[m], path, len, root));
            CHECK(!gw_merkle_verify(m, n, leaves[m], path, len, leaves[m]) || n == 1);
            memcpy(bad, path, len * 32);
            memset(bad + 32 * len, 0, 32);
            CHECK(!gw_merkle_verify(m, n, leaves[m], bad, len + 1, root));
            for (size_t i = 0; i < len; i++) {
                memcpy(bad, path, len * 32);
                bad[32 * i + i % 32] ^= 0x01;
                CHECK(!gw_merkle_verify(m, n, leaves[m], bad, len, root));
            }
        }
    }
}

int main(void)
{
    known_vectors();
    every_leaf();
    return TAP_DONE();
}
