/*
 * Fuzz target: the QR reader, on an image the fuzzer draws. The pipeline hands img_qr_scan() a
 * decoded (gray or RGB) image and a rectangle; here the first bytes choose the image and the
 * rectangle, the rest are its pixels:
 *
 *   byte 0       bit 0: RGB instead of gray; bits 1-2: cell size - 1 (1 to 4 pixels)
 *   bytes 1-2    width in cells, big-endian, taken modulo FUZZ_QR_CELLS, plus 1
 *   bytes 3-4    height in cells, likewise
 *   bytes 5-12   the rectangle x, y, w, h in pixels, big-endian 16 bits each (img_qr_scan clips
 *                it, and an origin outside the image is an error)
 *   the rest     one byte per cell and channel, row by row; missing cells are white
 *
 * Cells make a QR code cheap to express (a version 1 code with its quiet zone is 29 x 29 bytes)
 * and keep zbar's work per input bounded: at most 400 x 400 pixels.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "image.h"
#include "qr.h"

#define FUZZ_QR_CELLS 100
#define FUZZ_QR_HEADER 13

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct img_image im;
    char out[IMG_QR_MAX];
    uint8_t channels;
    uint32_t cell, cw, ch;
    size_t cells_len;

    if (size < FUZZ_QR_HEADER)
        return 0;
    channels = data[0] & 1 ? 3 : 1;
    cell = ((data[0] >> 1) & 3) + 1;
    cw = be16(data + 1) % FUZZ_QR_CELLS + 1;
    ch = be16(data + 3) % FUZZ_QR_CELLS + 1;
    if (img_image_init(&im, cw * cell, ch * cell, channels) != 0)
        return 0;
    cells_len = size - FUZZ_QR_HEADER;
    for (uint32_t r = 0; r < im.height; r++) {
        uint8_t *row = im.pixels + (size_t)r * im.stride;

        for (uint32_t c = 0; c < cw; c++) {
            for (uint8_t k = 0; k < channels; k++) {
                size_t i = ((size_t)(r / cell) * cw + c) * channels + k;
                uint8_t v = i < cells_len ? data[FUZZ_QR_HEADER + i] : 255;

                for (uint32_t p = 0; p < cell; p++)
                    row[((size_t)c * cell + p) * channels + k] = v;
            }
        }
    }
    /* The contract: a payload is NUL-terminated within |out| and printable ASCII. */
    if (img_qr_scan(&im, be16(data + 5), be16(data + 7), be16(data + 9), be16(data + 11), out,
                    sizeof(out)) == 1) {
        size_t n = strnlen(out, sizeof(out));

        if (n == sizeof(out))
            abort();
        for (size_t i = 0; i < n; i++)
            if (out[i] < 0x20 || out[i] >= 0x7f)
                abort();
    }
    img_image_finish(&im);
    return 0;
}
