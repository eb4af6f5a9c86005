/*
 * libFuzzer entry point shared by the imaging fuzz targets. Each fuzz_<module>.c defines it; with
 * clang it links against libFuzzer, and replay.c turns any target into a plain program that runs
 * files (the seed corpus, or a crash found elsewhere) through it, so gcc builds replay too.
 */
#ifndef IMG_FUZZ_H
#define IMG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
