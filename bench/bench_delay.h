/*
 * bench_delay: the phones' network latency, in process (--rtt MS). A relay on 127.0.0.1 that
 * prep-bench's phones connect to instead of the gateway: every byte, either way, is held for
 * half the round trip before it goes on, so each request and answer, each TLS handshake flight
 * and each HTTP/2 WINDOW_UPDATE takes as long as on a mobile network, and a stream window of
 * W bytes moves at most W per round trip. The bytes are not changed (TLS goes through). A
 * connection cut on one side (an RST) is cut on the other. Loss is not emulated: over TCP it
 * shows as delay, and that needs the kernel (tc netem). One thread, poll(2); no output.
 */
#ifndef BENCH_DELAY_H
#define BENCH_DELAY_H

struct bench_delay;

/*
 * Starts the relay to |host|:|port| (numeric or a name) delaying each direction by |rtt_ms| / 2.
 * Writes the port it listens on, on 127.0.0.1, to |ret_port| (at least 8 bytes). Returns 0, or
 * -errno.
 */
int bench_delay_start(const char *host, const char *port, double rtt_ms, char *ret_port,
                      struct bench_delay **ret);

/* Stops the relay, closes every connection through it and frees |d| (NULL: nothing). */
void bench_delay_stop(struct bench_delay *d);

#endif
