#include "gw_crash.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define CRASHED_FILE "spool/crashed"

static _Thread_local const char *decoding;
static int crash_dirfd = -1;
static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NFATAL (sizeof(fatal) / sizeof(fatal[0]))
static struct sigaction prev[NFATAL];

static void on_crash(int sig, siginfo_t *si, void *uc)
{
    const char *id = decoding;
    char line[GW_PHOTO_ID_LEN + 1];
    int fd;

    (void)uc;
    if (id && crash_dirfd >= 0) {
        /* Only async-signal-safe calls from here on. */
        for (size_t i = 0; i < GW_PHOTO_ID_LEN; i++)
            line[i] = id[i];
        line[GW_PHOTO_ID_LEN] = '\n';
        fd = openat(crash_dirfd, CRASHED_FILE, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd >= 0) {
            if (write(fd, line, sizeof(line)) == (ssize_t)sizeof(line))
                fsync(fd);
            close(fd);
        }
    }
    /* Then what would have happened without us: a fault happens again when we return, abort()
     * raises again; a signal that was sent is sent again. */
    for (size_t i = 0; i < NFATAL; i++)
        if (fatal[i] == sig)
            sigaction(sig, &prev[i], NULL);
    if (si->si_code <= 0 && sig != SIGABRT)
        raise(sig);
}

void gw_crash_start(int data_dirfd)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    crash_dirfd = data_dirfd;
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal[i], &sa, &prev[i]);
}

void gw_crash_stop(void)
{
    if (crash_dirfd < 0)
        return;
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal[i], &prev[i], NULL);
    crash_dirfd = -1;
}

void gw_crash_decoding(const char *photo_id)
{
    decoding = photo_id;
}

void gw_crash_blamed(int data_dirfd, char *buf, size_t cap)
{
    char text[GW_CRASH_MAX * (GW_PHOTO_ID_LEN + 1)];
    size_t len = 0, n = 0, out = 1;
    int fd = openat(data_dirfd, CRASHED_FILE, O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        while (len < sizeof(text)) {
            ssize_t got = read(fd, text + len, sizeof(text) - len);

            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            len += (size_t)got;
        }
        close(fd);
    }
    buf[0] = '{';
    for (size_t i = 0; i + GW_PHOTO_ID_LEN < len && n < GW_CRASH_MAX; i += GW_PHOTO_ID_LEN + 1) {
        if (text[i + GW_PHOTO_ID_LEN] != '\n' || !gw_photo_id_valid(text + i, GW_PHOTO_ID_LEN) ||
            out + GW_PHOTO_ID_LEN + 3 > cap)
            break;
        if (n++ > 0)
            buf[out++] = ',';
        memcpy(buf + out, text + i, GW_PHOTO_ID_LEN);
        out += GW_PHOTO_ID_LEN;
    }
    buf[out++] = '}';
    buf[out] = '\0';
}

void gw_crash_forget(int data_dirfd)
{
    unlinkat(data_dirfd, CRASHED_FILE, 0);
}
