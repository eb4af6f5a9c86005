#include "gw_error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    const char *name;
    int status;
    const char *title;
};

static const struct entry table[GW_E__MAX] = {[GW_OK] = {"ok", 200, "OK"},
#define XX(code, name, status, title) [GW_E_##code] = {name, status, title},
                                              GW_ERRNO_MAP(XX)
#undef XX
};

static const struct entry *lookup(int err)
{
    if (err <= GW_OK || err >= GW_E__MAX)
        return &table[GW_E_INTERNAL];
    return &table[err];
}

const char *gw_err_name(int err)
{
    return lookup(err)->name;
}

int gw_err_status(int err)
{
    return lookup(err)->status;
}

const char *gw_err_title(int err)
{
    return lookup(err)->title;
}

unsigned gw_err_retry_after(int err)
{
    switch (err) {
    case GW_E_STORAGE:
        /* Space comes back when an operator frees some: not within a second or two. */
        return 30;
    case GW_E_UNAVAILABLE:
        return 5;
    default:
        return 0;
    }
}

int gw_err_from_name(const char *name)
{
    for (int i = GW_OK + 1; i < GW_E__MAX; i++)
        if (strcmp(table[i].name, name) == 0)
            return i;
    return 0;
}

char *gw_problem_json_members(int err, const char *detail, const char *instance,
                              const char *request_id, const char *members, size_t *ret_len)
{
    const struct entry *e = lookup(err);
    char type[96];
    json_t *o, *m;
    char *s;

    snprintf(type, sizeof(type), "/problems/%s", e->name);
    o = json_pack("{s:s, s:s, s:i}", "type", type, "title", e->title, "status", e->status);
    if (!o)
        return NULL;
    /* Untrusted bytes (a path, a header) may reach detail: jansson refuses invalid UTF-8. */
    if (detail && json_object_set_new(o, "detail", json_string(detail)) < 0)
        json_object_set_new(o, "detail", json_string("(detail not valid UTF-8)"));
    if (instance && json_object_set_new(o, "instance", json_string(instance)) < 0)
        json_object_set_new(o, "instance", json_string("(path not valid UTF-8)"));
    if (request_id)
        json_object_set_new(o, "request_id", json_string(request_id));
    m = members ? json_loads(members, 0, NULL) : NULL;
    if (json_is_object(m))
        json_object_update_missing(o, m);
    json_decref(m);
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s && ret_len)
        *ret_len = strlen(s);
    return s;
}

char *gw_problem_json(int err, const char *detail, const char *instance, size_t *ret_len)
{
    return gw_problem_json_members(err, detail, instance, NULL, NULL, ret_len);
}
