#include "gw_notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "gw_log.h"

static void notify(const char *state, const char *status)
{
    char msg[512];
    int r;

    snprintf(msg, sizeof(msg), "%s\nSTATUS=%s", state, status);
    r = sd_notify(0, msg);
    if (r < 0)
        gw_log(GW_LOG_WARN, "msg=\"could not notify the service manager\" state=%s err=%d", state,
               r);
}

void gw_notify_ready(const char *status)
{
    notify("READY=1", status);
}

void gw_notify_stopping(const char *status)
{
    notify("STOPPING=1", status);
}

uint64_t gw_notify_watchdog_ms(void)
{
    uint64_t usec = 0;

    /* > 0: the watchdog is on for this process (WATCHDOG_USEC, and WATCHDOG_PID if set, ours). */
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec < 2000)
        return 0;
    return usec / 2000;
}

void gw_notify_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}
