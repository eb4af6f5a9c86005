/* Differential: one feed and a chunked feed must agree, whatever the bytes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jpeg_scan.h"

static int scan(const uint8_t *data, size_t size, size_t chunk, struct img_jpeg_info *ret)
{
    struct img_jpeg_scan s;
    int r = 0;

    img_jpeg_scan_init(&s, NULL);
    for (size_t off = 0; off < size && r == 0; off += chunk)
        r = img_jpeg_scan_feed(&s, data + off, size - off < chunk ? size - off : chunk, NULL);
    if (r == 0)
        r = img_jpeg_scan_end(&s, NULL);
    *ret = s.info;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct img_jpeg_info a, b;
    size_t chunk = size ? 1 + data[0] % 7 : 1;
    int ra = scan(data, size, size ? size : 1, &a), rb = scan(data, size, chunk, &b);

    if (ra != rb)
        abort();
    if (ra == 0 && (a.width != b.width || a.height != b.height || a.scans != b.scans ||
                    a.exif_offset != b.exif_offset || a.exif_len != b.exif_len || !a.eoi))
        abort();
    if (ra == 0 && a.has_exif && a.exif_offset + a.exif_len > size)
        abort();
    return 0;
}
