/*
 * gw_file: reading a whole file into memory, bounded, for the gateway's store and the tools.
 *
 * No buffering tricks: fstat, one allocation of the file's size, read() until done (EINTR
 * retried). It does not map files and never reads more than the caller's bound.
 */
#ifndef GW_FILE_H
#define GW_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads the file |name| relative to the directory fd |dfd| (AT_FDCWD for a plain path) into a
 * new buffer |*ret_buf| (caller frees; one spare byte past the end, so a caller may NUL-terminate)
 * and its length into |*ret_len|. Returns 0, or -EFBIG when it holds more than |max| bytes,
 * -ENOMEM, -EIO when it shrank while being read, or -errno; the outputs are untouched on
 * failure. Blocking.
 */
int gw_file_read_at(int dfd, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len);

#endif
