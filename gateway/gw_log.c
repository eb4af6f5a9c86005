#include "gw_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw_receipt.h"

static enum gw_log_level min_level = GW_LOG_INFO;

void gw_log_set_level(enum gw_log_level level)
{
    min_level = level;
}

void gw_log(enum gw_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[2048], ts[GW_TIME_LEN + 1];
    struct timespec now;
    va_list ap;
    int n, m;

    if (level < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gw_rfc3339(&now, ts);
    n = snprintf(line, sizeof(line), "ts=%s level=%s ", ts, names[level]);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* Nowhere left to report a failing stderr. */
    }
}

char *gw_log_quote(const char *s, size_t len, char *buf, size_t cap)
{
    size_t o = 0;

    if (cap < 8) {
        if (cap)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[5];
        size_t n;

        if (c == '"' || c == '\\')
            n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
        else
            esc[0] = (char)c, n = 1;
        if (o + n + 5 > cap) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, esc, n);
        o += n;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
