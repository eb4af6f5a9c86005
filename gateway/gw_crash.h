/*
 * gw_crash: which photo a crash of the process happened on.
 *
 * A photo that crashes the gateway while imaging decodes it must not take it down at every start:
 * after a few such crashes it is marked failed (gw_stage). A kill or a power cut must not count
 * the same way: it lands on whatever photos happen to be in processing, and a gateway restarted
 * often enough would fail good photos. So a thread names the photo it is decoding, and the handler
 * of the fatal signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT), which runs on the faulting
 * thread, appends that name to spool/crashed before the process dies the way it would have without
 * it (a sanitizer's report, a core dump). The next start reads the names back. The module does
 * not log and knows nothing of PostgreSQL; its state is global because a signal handler has
 * nothing else to go by.
 */
#ifndef GW_CRASH_H
#define GW_CRASH_H

#include <stddef.h>

#include "gw_receipt.h"

/* At most this many photos are read back from spool/crashed. */
#define GW_CRASH_MAX 64
/* The size of gw_crash_blamed()'s buffer for GW_CRASH_MAX photos. */
#define GW_CRASH_BLAMED_LEN (GW_CRASH_MAX * (GW_PHOTO_ID_LEN + 1) + 3)

/*
 * Installs the handler of the fatal signals, which writes under the data folder |data_dirfd|
 * (kept open by the caller until gw_crash_stop()). Once per process, before the threads that
 * decode start.
 */
void gw_crash_start(int data_dirfd);

/* Puts back the handlers gw_crash_start() found. Accepts a process that never started it. */
void gw_crash_stop(void);

/*
 * Names |photo_id| (GW_PHOTO_ID_LEN characters, alive until cleared) as what the calling thread
 * decodes from now on; NULL clears it. Any thread.
 */
void gw_crash_decoding(const char *photo_id);

/*
 * Writes the photos spool/crashed blames under |data_dirfd| as a PostgreSQL text array ("{}" for
 * none, else "{id,id}") into |buf| of |cap| bytes (GW_CRASH_BLAMED_LEN for all of them); lines
 * that are not photo ids end the list.
 */
void gw_crash_blamed(int data_dirfd, char *buf, size_t cap);

/* Removes spool/crashed, once what it blames has been counted. */
void gw_crash_forget(int data_dirfd);

#endif
