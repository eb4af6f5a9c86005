#include "pu_state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_cli.h"
#include "gw_file.h"

int pu_state_mkdir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int pu_state_write(const char *path, const void *data, size_t len)
{
    return gw_file_write_atomic(path, data, len, 0600);
}

int pu_state_load_device(const char *prog, const char *state, struct pu_device *ret)
{
    char path[4096];
    json_error_t err;
    json_t *doc, *gk;
    const char *id, *server, *pub, *fp;
    int r = -EINVAL;

    snprintf(path, sizeof(path), "%s/device.json", state);
    doc = json_load_file(path, 0, &err);
    if (!doc) {
        fprintf(stderr, "%s: could not read %s: %s (run `prep-upload enrol` first)\n", prog, path,
                err.text);
        return -ENOENT;
    }
    gk = json_object_get(doc, "gateway_key");
    id = json_string_value(json_object_get(doc, "device_id"));
    server = json_string_value(json_object_get(doc, "server"));
    pub = json_string_value(json_object_get(gk, "public_key"));
    fp = json_string_value(json_object_get(gk, "fingerprint"));
    memset(ret, 0, sizeof(*ret));
    if (!id || !server || !pub || !fp || strlen(id) >= sizeof(ret->device_id) ||
        strlen(server) >= sizeof(ret->server)) {
        fprintf(stderr, "%s: %s lacks device_id, server or gateway_key\n", prog, path);
    } else if (gw_cli_parse_pubkey(pub, &ret->gateway) < 0 ||
               strcmp(ret->gateway.fingerprint, fp) != 0) {
        fprintf(stderr, "%s: %s: the gateway key does not match its fingerprint\n", prog, path);
        gw_key_finish(&ret->gateway);
    } else {
        memcpy(ret->device_id, id, strlen(id) + 1);
        memcpy(ret->server, server, strlen(server) + 1);
        r = 0;
    }
    json_decref(doc);
    return r;
}

int pu_state_load_key(const char *prog, const char *state, bool create, struct gw_key *ret)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/device-ed25519.pem", state);
    return gw_cli_load_key(prog, "device key", path, create, ret);
}

int pu_state_keep_receipt(const char *state, const char *photo_id, const void *body, size_t len,
                          char *ret_path, size_t cap)
{
    char dir[4096];
    int r;

    snprintf(dir, sizeof(dir), "%s/receipts", state);
    r = pu_state_mkdir(dir);
    snprintf(ret_path, cap, "%s/%s.json", dir, photo_id);
    if (r == 0)
        r = pu_state_write(ret_path, body, len);
    return r;
}

const char *pu_state_of_receipt(const char *receipt, char *buf, size_t size)
{
    char path[PATH_MAX];
    char *slash;

    if ((size_t)snprintf(buf, size, "%s", receipt) >= size || !(slash = strrchr(buf, '/')))
        return NULL;
    *slash = '\0'; /* buf: DIR/receipts or receipts */
    slash = strrchr(buf, '/');
    if (strcmp(slash ? slash + 1 : buf, "receipts") != 0)
        return NULL;
    if (slash)
        *slash = '\0';
    else
        snprintf(buf, size, ".");
    if ((size_t)snprintf(path, sizeof(path), "%s/device.json", buf) >= sizeof(path) ||
        access(path, R_OK) != 0)
        return NULL;
    return buf;
}
