#include "gw_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int gw_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    const char *p = buf;
    int fd, r = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    /* The rename itself is durable once the folder is. */
    return gw_file_sync_parent(path);
}

int gw_file_sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, r;

    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}
