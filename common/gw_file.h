/*
 * gw_file: reading a whole file into memory, bounded, for the gateway's store and the tools; and
 * replacing a file atomically and durably.
 *
 * No buffering tricks: fstat, one allocation of the file's size, read() until done (EINTR
 * retried). It does not map files and never reads more than the caller's bound.
 */
#ifndef GW_FILE_H
#define GW_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Reads the file |name| relative to the directory fd |dfd| (AT_FDCWD for a plain path) into a
 * new buffer |*ret_buf| (caller frees; one spare byte past the end, so a caller may NUL-terminate)
 * and its length into |*ret_len|. Returns 0, or -EFBIG when it holds more than |max| bytes,
 * -ENOMEM, -EIO when it shrank while being read, or -errno; the outputs are untouched on
 * failure. Blocking.
 */
int gw_file_read_at(int dfd, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len);

/*
 * Writes |len| bytes of |buf| to |path| so that a reader sees the old file or the whole new one,
 * never a part, even across a crash: a temporary file beside it (mode |mode|), fsync, rename over
 * |path|, fsync of the folder. Returns 0 or -errno (the temporary file is then removed). Blocking.
 */
int gw_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Fsyncs the folder that holds |path| (a rename or link in it is then durable). Returns 0 or
 * -errno. Blocking. */
int gw_file_sync_parent(const char *path);

#endif
