#include "gw_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int gw_file_read_at(int dfd, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC), e = 0;
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        e = -errno;
    else if (st.st_size < 0 || (uint64_t)st.st_size > max)
        e = -EFBIG;
    else if (!(buf = malloc((size_t)st.st_size + 1)))
        e = -ENOMEM;
    while (e == 0 && len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            e = n < 0 ? -errno : -EIO;
        else
            len += (size_t)n;
    }
    close(fd);
    if (e < 0) {
        free(buf);
        return e;
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}
