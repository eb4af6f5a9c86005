/* Fuzz target: an evidence bundle as `prep-upload verify-bundle` reads it (it may come from
 * anyone). Without a pinned key, so that a mutated bundle signed with the seeds' fixed key
 * (make_bundle_corpus.py) reaches the checks after the signature. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "pu_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;

    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!sink)
        abort();
    pu_bundle_verify_mem(data, size, "fuzz", NULL, sink);
    return 0;
}
