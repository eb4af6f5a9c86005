/* qr: a code drawn with libqrencode is read back from gray and RGB images and from a crop. */
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "img_error.h"
#include "qr.h"
#include "testutil.h"

/* |text| as a QR code with |mod|-pixel modules at (ox, oy) on a white |w| x |h| image. */
static struct img_image draw(const char *text, uint8_t channels, uint32_t w, uint32_t h,
                             uint32_t ox, uint32_t oy, uint32_t mod)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    struct img_image im;

    if (!q || img_image_init(&im, w, h, channels) != 0)
        abort();
    memset(im.pixels, 235, im.stride * h);
    for (int j = 0; j < q->width; j++)
        for (int i = 0; i < q->width; i++)
            if (q->data[j * q->width + i] & 1)
                for (uint32_t y = 0; y < mod; y++)
                    memset(im.pixels + (oy + j * mod + y) * im.stride + (ox + i * mod) * channels,
                           15, mod * channels);
    QRcode_free(q);
    return im;
}

int main(void)
{
    char out[IMG_QR_MAX];
    struct img_image im = draw("140338B010002", 1, 600, 400, 100, 80, 5);

    CHECK_EQ(img_qr_scan(&im, 0, 0, 600, 400, out, sizeof(out)), 1);
    CHECK_STR(out, "140338B010002");
    /* A crop that holds the code, then one that does not. */
    CHECK_EQ(img_qr_scan(&im, 60, 40, 300, 300, out, sizeof(out)), 1);
    CHECK_EQ(img_qr_scan(&im, 300, 0, 300, 400, out, sizeof(out)), 0);
    /* Truncation to |cap|. */
    CHECK_EQ(img_qr_scan(&im, 0, 0, 600, 400, out, 5), 1);
    CHECK_STR(out, "1403");
    /* Bad arguments. */
    CHECK_EQ(img_qr_scan(&im, 600, 0, 10, 10, out, sizeof(out)), IMG_E_DIMENSIONS);
    CHECK_EQ(img_qr_scan(&im, 0, 0, 10, 10, out, 0), IMG_E_DIMENSIONS);
    img_image_finish(&im);

    im = draw("240101C0102", 3, 400, 300, 40, 40, 4);
    CHECK_EQ(img_qr_scan(&im, 0, 0, 400, 300, out, sizeof(out)), 1);
    CHECK_STR(out, "240101C0102");
    img_image_finish(&im);

    /* A blank page has no code. */
    CHECK_EQ(img_image_init(&im, 200, 200, 1), 0);
    memset(im.pixels, 200, 200 * 200);
    CHECK_EQ(img_qr_scan(&im, 0, 0, 200, 200, out, sizeof(out)), 0);
    img_image_finish(&im);
    return t_done("qr");
}
