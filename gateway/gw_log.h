/*
 * gw_log: the gateway's log, one line per event on stderr.
 *
 * Lines are logfmt ("ts=... level=... msg=..." then key=value pairs) so operators can grep and
 * parse them. Each line is written with a single write(2), so lines from different threads never
 * interleave. Library code (imaging/) never logs; the gateway logs where it decides.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stddef.h>

enum gw_log_level { GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERROR };

/* Lines below |level| are dropped. Set once at start, before threads. */
void gw_log_set_level(enum gw_log_level level);

/*
 * Logs "ts=<RFC 3339> level=<level> " followed by the printf-style |fmt|. Thread-safe. Values
 * that may hold untrusted text must go through gw_log_quote() first.
 */
void gw_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes |s| (|len| bytes, untrusted) into |buf| (|cap| bytes) as a double-quoted logfmt value:
 * quotes and backslashes escaped, control and non-ASCII bytes as \xNN, truncated with "..." to
 * fit. Returns |buf|.
 */
char *gw_log_quote(const char *s, size_t len, char *buf, size_t cap);

#endif
