#include <ctype.h>
#include <string.h>

#include "img_error.h"
#include "testutil.h"

int main(void)
{
    static const char *const names[] = {
        "NOT_JPEG",       "MALFORMED", "TRUNCATED", "DIMENSIONS", "UNSUPPORTED",
        "TOO_MANY_SCANS", "DECODE",    "ENCODE",    "NOMEM",      "EXIF"};
    int n = 0;

    /* The table is in the documented order with values -1, -2, ... */
#define COUNT_(name, value, msg)                                                                   \
    CHECK_EQ(value, -(n + 1));                                                                     \
    CHECK_STR(#name, names[n]);                                                                    \
    n++;
    IMG_ERRNO_MAP(COUNT_)
#undef COUNT_
    CHECK_EQ(n, IMG_E_COUNT);
    CHECK_EQ(IMG_E_NOT_JPEG, -1);
    CHECK_EQ(IMG_E_EXIF, -10);

    for (int e = -1; e >= -IMG_E_COUNT; e--) {
        const char *msg = img_strerror(e);
        size_t len = strlen(msg);

        CHECK_STR(img_err_name(e), names[-e - 1]);
        CHECK(len > 0 && msg[len - 1] != '.');
        /* Lowercase start, acronyms ("JPEG") aside. */
        CHECK(islower((unsigned char)msg[0]) || isupper((unsigned char)msg[1]));
        for (int f = e - 1; f >= -IMG_E_COUNT; f--)
            CHECK(strcmp(msg, img_strerror(f)) != 0);
    }
    CHECK_STR(img_strerror(IMG_E_TRUNCATED), "JPEG data is truncated");
    CHECK_STR(img_err_name(0), "UNKNOWN");
    CHECK_STR(img_err_name(-11), "UNKNOWN");
    CHECK_STR(img_err_name(5), "UNKNOWN");
    CHECK_STR(img_strerror(0), "unknown imaging error");
    CHECK_STR(img_strerror(-1000), "unknown imaging error");
    return t_done("imaging-error");
}
