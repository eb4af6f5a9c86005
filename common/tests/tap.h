/* A few assertion macros for the gateway's unit tests: print what failed, count, go on. */
#ifndef GW_TEST_TAP_H
#define GW_TEST_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            tap_failed++;                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)",   \
                    b_ ? b_ : "(null)");                                                           \
            tap_failed++;                                                                          \
        }                                                                                          \
    } while (0)

#define TAP_DONE() (tap_failed ? (fprintf(stderr, "%d check(s) failed\n", tap_failed), 1) : 0)

#endif
