#include "img_error.h"

const char *img_strerror(int err)
{
    switch (err) {
#define IMG_ERR_MSG_(name, value, msg)                                                             \
    case IMG_E_##name:                                                                             \
        return msg;
        IMG_ERRNO_MAP(IMG_ERR_MSG_)
#undef IMG_ERR_MSG_
    default:
        return "unknown imaging error";
    }
}

const char *img_err_name(int err)
{
    switch (err) {
#define IMG_ERR_NAME_(name, value, msg)                                                            \
    case IMG_E_##name:                                                                             \
        return #name;
        IMG_ERRNO_MAP(IMG_ERR_NAME_)
#undef IMG_ERR_NAME_
    default:
        return "UNKNOWN";
    }
}
