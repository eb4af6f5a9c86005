/*
 * sigverify: the CPU cost of checking one signed upload, with the gateway's own code.
 *
 * Signs N upload requests (distinct nonces) as a phone would, then times gw_devices_check() on
 * each: parsing Signature-Input, Signature and Content-Digest, building the RFC 9421 signature
 * base, the device lookup, the Ed25519 verification and the replay cache. Prints the CPU time per
 * check; bench/provenance.sh puts it beside `openssl speed ed25519` from the same run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gw_devices.h"
#include "gw_keys.h"
#include "gw_sig.h"

static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20000;
    char dir[] = "/tmp/sigverify-XXXXXX", path[256], b64[GW_KEY_PUB_B64 + 1];
    const char *id = "0b6f6d2e-8a8c-4d43-9b5c-6a1f2b3c4d5e", *why = NULL;
    struct gw_upload_auth *reqs;
    struct gw_devices *devs;
    struct gw_key key;
    uint8_t sha[32], got_sha[32];
    char device[64];
    double t0, t1;
    FILE *f;
    int bad = 0;

    if (n <= 0 || !mkdtemp(dir))
        return 2;
    snprintf(path, sizeof(path), "%s/keys/device.pem", dir);
    if (gw_key_load(path, true, &key) < 0)
        return 1;
    gw_b64_encode(key.pub, GW_KEY_PUB_LEN, b64);
    snprintf(path, sizeof(path), "%s/devices.json", dir);
    f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "[{\"device_id\":\"%s\",\"public_key\":\"%s\",\"actas\":\"14*\",\"revoked\":false}]",
            id, b64);
    fclose(f);
    /* No database: the registry serves the snapshot, as during an outage. */
    if (gw_devices_start("host=/nonexistent port=1 connect_timeout=1", dir, 300, &devs) < 0)
        return 1;
    reqs = calloc((size_t)n, sizeof(*reqs));
    if (!reqs)
        return 1;
    memset(sha, 0x42, sizeof(sha));
    for (int i = 0; i < n; i++) {
        struct gw_upload_auth *a = &reqs[i];
        struct gw_sig_input in;
        struct gw_sig_request r = {.method = "POST"};
        char nonce[32], base[2048], sig64[GW_KEY_SIG_B64 + 1];
        uint8_t sig[GW_KEY_SIG_LEN];
        int len;

        snprintf(a->clave, sizeof(a->clave), "140338B010002");
        snprintf(a->path, sizeof(a->path), "/v1/actas/140338B010002/photos");
        gw_sig_digest_value(sha, a->content_digest, sizeof(a->content_digest));
        snprintf(nonce, sizeof(nonce), "bm9uY2Ut%08d", i);
        gw_sig_make_input((long long)time(NULL), nonce, id, a->signature_input,
                          sizeof(a->signature_input), &in);
        r.path = a->path;
        r.content_digest = a->content_digest;
        len = gw_sig_base(&in, &r, base, sizeof(base), &why);
        if (len < 0 || gw_key_sign(&key, base, (size_t)len, sig) < 0)
            return 1;
        gw_b64_encode(sig, sizeof(sig), sig64);
        snprintf(a->signature, sizeof(a->signature), "sig1=:%s:", sig64);
    }
    t0 = cpu_s();
    for (int i = 0; i < n; i++)
        bad += gw_devices_check(devs, &reqs[i], device, got_sha, &why) != 0;
    t1 = cpu_s();
    printf("checks %d failed %d cpu_us_per_check %.1f checks_per_cpu_s %.0f\n", n, bad,
           (t1 - t0) * 1e6 / n, n / (t1 - t0));
    free(reqs);
    gw_devices_stop(devs);
    gw_key_finish(&key);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    if (system(path) != 0)
        return 1;
    return bad ? 1 : 0;
}
