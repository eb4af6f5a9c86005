/*
 * gw_notify: what `serve` tells the service manager (systemd's sd_notify protocol, through
 * libsystemd): READY once it listens, STOPPING when a signal ends it, STATUS lines on the way, and
 * the watchdog. Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
 *
 * The watchdog is fed only while every event loop has ticked recently (gw_listen_stalled()), so a
 * wedged loop, not merely a live process, is what systemd restarts. Main thread.
 */
#ifndef GW_NOTIFY_H
#define GW_NOTIFY_H

#include <stdint.h>

/* READY=1, with |status| as STATUS=. */
void gw_notify_ready(const char *status);

/* STOPPING=1, with |status| as STATUS=. */
void gw_notify_stopping(const char *status);

/* How often the main thread should check the loops and feed the watchdog, in ms (half of what
 * the service manager asked for, WatchdogSec=), or 0 when it asked for none. */
uint64_t gw_notify_watchdog_ms(void);

/* WATCHDOG=1. */
void gw_notify_watchdog(void);

#endif
