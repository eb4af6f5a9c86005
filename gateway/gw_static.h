/*
 * gw_static: the web applications (the clerks', and the officials' phone app under /app/), served
 * from a folder (`serve --web DIR`).
 *
 * Maps a request path to a file under the folder (a path ending in "/" names its index.html),
 * refusing anything that could leave it: "." and ".." segments, backslashes, percent-escapes,
 * control bytes, hidden files and symbolic links. Files are read on the disk pool, at most
 * GW_STATIC_MAX bytes, and answered with a content type from their extension, a strong ETag (the
 * SHA-256 of the bytes, so If-None-Match gives 304), `Cache-Control: no-cache` and, for HTML, a
 * Content-Security-Policy that allows only the gateway's own scripts, styles and images.
 *
 * It serves files, nothing else: no directory listings, no ranges, no compression.
 */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include <stddef.h>

struct gw_stream;

#define GW_STATIC_MAX (4u << 20)

/*
 * Maps the URL path |path| (|len| bytes, query already removed, starting with "/") to a relative
 * file name in |ret| (|cap| bytes). Returns 0, or -EINVAL with a static reason in |*ret_why| when
 * the path is refused, or -ENAMETOOLONG. Pure.
 */
int gw_static_resolve(const char *path, size_t len, char *ret, size_t cap, const char **ret_why);

/* Returns the Content-Type for file name |name| by its extension ("application/octet-stream" for
 * unknown ones). The string is static. */
const char *gw_static_content_type(const char *name);

/*
 * Answers GET |path| on |s| from the folder |root| (read on the disk pool). 404 for a refused or
 * missing path. Loop thread only.
 */
void gw_static_serve(struct gw_stream *s, const char *root, const char *path, size_t len);

#endif
