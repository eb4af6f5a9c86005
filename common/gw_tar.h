/*
 * gw_tar: the POSIX ustar archives that evidence bundles are (docs/evidence.md), written into
 * memory and read back strictly.
 *
 * Only what a bundle needs: regular files, names of at most 99 bytes without a prefix field,
 * mode 0644, owner 0/0, empty user and group names, the end marked by two zero blocks. The reader
 * accepts exactly that form and refuses anything else, so that one changed byte anywhere in an
 * archive (a header, its checksum, the zero padding of a member or of the end) is an error and not
 * silently ignored. Pure: no I/O, no globals; thread-safe.
 */
#ifndef GW_TAR_H
#define GW_TAR_H

#include <stddef.h>
#include <stdint.h>

#define GW_TAR_BLOCK 512
#define GW_TAR_NAME_MAX 99
#define GW_TAR_MEMBERS_MAX 256

/* An archive being written: caller memory, zeroed to start. */
struct gw_tar {
    uint8_t *buf;
    size_t len, cap;
};

/*
 * Appends the member |name| (at most GW_TAR_NAME_MAX bytes, no NUL) of |len| bytes at |data|,
 * with modification time |mtime| (Unix seconds), to |t|. Returns 0, -EINVAL (a bad name), or
 * -ENOMEM.
 */
int gw_tar_add(struct gw_tar *t, const char *name, const void *data, size_t len, int64_t mtime);

/* Appends the two zero blocks that end the archive. Returns 0 or -ENOMEM. */
int gw_tar_finish(struct gw_tar *t);

/* Frees the buffer of |t| (which may be zeroed). */
void gw_tar_free(struct gw_tar *t);

/* A member of an archive read by gw_tar_read(): |data| points into the archive's buffer. */
struct gw_tar_member {
    char name[GW_TAR_NAME_MAX + 1];
    const uint8_t *data;
    size_t len;
};

/*
 * Reads the archive of |len| bytes at |buf| into |ret| (room for |max| members), their count in
 * |*ret_n|. Returns 0, or -EINVAL with a static reason in |*ret_why| naming what is wrong (and
 * the member, when it is one's header, in |ret_at|: its index, or -1).
 */
int gw_tar_read(const uint8_t *buf, size_t len, struct gw_tar_member *ret, size_t max,
                size_t *ret_n, int *ret_at, const char **ret_why);

#endif
