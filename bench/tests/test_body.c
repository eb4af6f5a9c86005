/* bench_body: distinct bytes, same pixels and EXIF, the hashes of the body, bad input refused. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "bench_body.h"
#include "decode.h"
#include "gw_receipt.h"
#include "jpeg_scan.h"
#include "tap.h"

#ifndef FIXTURE
#define FIXTURE "fixtures/small/ok_o3.jpg"
#endif

static void decode(const uint8_t *buf, size_t len, struct img_image *ret)
{
    struct img_limits lim;

    img_limits_init(&lim);
    CHECK(img_jpeg_decode_scaled(buf, len, &lim, 1u << 16, ret, NULL) == 0);
}

int main(void)
{
    struct bench_body a = {.photo.fd = -1}, b = {.photo.fd = -1};
    struct img_jpeg_info io, ia;
    struct img_image po = {0}, pa = {0};
    struct img_limits lim;
    uint8_t *src = NULL, md[32];
    char hex[65];
    unsigned mdlen;
    const uint8_t *com;
    size_t n = 0, len1;

    img_limits_init(&lim);
    CHECK(bench_body_load(FIXTURE, &src, &n) == 0 && n > 1000);
    if (!src)
        return TAP_DONE();
    CHECK(bench_body_make(&a, src, n, 0x1234, 1) == 0);
    CHECK(bench_body_make(&b, src, n, 0x1234, 2) == 0);

    /* distinct bytes and hashes, each the hash of its own body */
    CHECK(a.len > n && a.len == a.photo.size && strcmp(a.photo.sha_hex, b.photo.sha_hex) != 0);
    CHECK(EVP_Digest(a.data, a.len, md, &mdlen, EVP_sha256(), NULL) == 1);
    gw_hex(md, 32, hex);
    CHECK_STR(a.photo.sha_hex, hex);
    CHECK(strncmp(a.photo.digest, "sha-256=:", 9) == 0 && a.photo.fd == -1);
    CHECK(atol(a.photo.length) == (long)a.len);

    /* the comment follows the APPn segments; the EXIF is found as before, the pixels are equal */
    CHECK(memmem(a.data, a.len, "prep-bench run 0000000000001234 upload 1", 40) != NULL);
    CHECK(img_jpeg_probe(src, n, &lim, &io, NULL) == 0);
    CHECK(img_jpeg_probe(a.data, a.len, &lim, &ia, NULL) == 0);
    CHECK(io.has_exif && ia.has_exif && io.exif_len == ia.exif_len &&
          io.exif_offset == ia.exif_offset);
    com = memmem(a.data, a.len, "prep-bench run", 14);
    CHECK(com && com - 4 >= a.data + ia.exif_offset + ia.exif_len && com[-4] == 0xFF &&
          com[-3] == 0xFE);
    decode(src, n, &po);
    decode(a.data, a.len, &pa);
    CHECK(po.width == pa.width && po.height == pa.height && po.width > 0 &&
          memcmp(po.pixels, pa.pixels, po.stride * po.height) == 0);
    img_image_finish(&po);
    img_image_finish(&pa);

    /* the buffer is reused from a longer body to a shorter one */
    len1 = a.len;
    CHECK(bench_body_make(&a, src, n, 0x1234, 1000000) == 0 && a.len == len1 + 6);
    CHECK(bench_body_make(&a, src, n, 0x1234, 1) == 0 && a.len == len1 && a.cap >= len1 + 6);

    /* not a JPEG, or an APPn segment that runs past the end */
    CHECK(bench_body_make(&b, (const uint8_t *)"GIF89a", 6, 1, 1) == -EINVAL);
    CHECK(src[2] == 0xFF && src[3] >= 0xE0 && bench_body_make(&b, src, 8, 1, 1) == -EINVAL);
    CHECK(bench_body_load("/nonexistent/x.jpg", &src, &n) == -ENOENT);

    bench_body_finish(&a);
    bench_body_finish(&b);
    free(src);
    return TAP_DONE();
}
