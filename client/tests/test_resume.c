/* pu_resume: the resumable-upload header fields as the gateway sends them, and what is refused. */
#include <errno.h>
#include <string.h>

#include "pu_resume.h"
#include "tap.h"

static void header(struct pu_resume_fields *f, int status, const char *name, const char *value)
{
    pu_resume_on_header(NULL, status, name, strlen(name), value, strlen(value), f);
}

int main(void)
{
    struct pu_resume_fields f;
    struct pu_url u;
    struct pu_h2_request req;
    struct pu_resume_patch_hdrs h;
    int64_t size = 7, age = 7;
    const char *why;
    char path[PU_RESUME_PATH_MAX], big[400];

    CHECK(pu_resume_parse_limit("max-size=20971520, max-age=3600", 31, &size, &age) == 0);
    CHECK(size == 20971520 && age == 3600);
    CHECK(pu_resume_parse_limit("max-age=60", 10, &size, &age) == 0);
    CHECK(size == -1 && age == 60);
    {
        const char *v = "min-size=1, x=\"a,b\", max-append-size=5;p, flag, max-size=9";

        CHECK(pu_resume_parse_limit(v, strlen(v), &size, &age) == 0);
        CHECK(size == 9 && age == -1);
    }
    size = age = 7;
    CHECK(pu_resume_parse_limit("max-size=big", 12, &size, &age) == -EINVAL);
    CHECK(pu_resume_parse_limit("Max-Size=1", 10, &size, &age) == -EINVAL);
    CHECK(pu_resume_parse_limit("max-size =1", 11, &size, &age) == -EINVAL);
    CHECK(pu_resume_parse_limit(", max-age=1", 11, &size, &age) == -EINVAL);
    CHECK(pu_resume_parse_limit("max-age=-1", 10, &size, &age) == -EINVAL);
    CHECK(size == 7 && age == 7); /* untouched on failure */

    /* Location only from a 104; the offset fields only from a final response. */
    pu_resume_fields_init(&f);
    header(&f, 104, "location", "/v1/uploads/0123456789abcdef0123456789abcdef");
    header(&f, 104, "upload-limit", "max-size=20971520, max-age=3600");
    header(&f, 104, "upload-offset", "5");
    CHECK_STR(f.location, "/v1/uploads/0123456789abcdef0123456789abcdef");
    CHECK(f.max_size == 20971520 && f.max_age == 3600);
    CHECK(f.offset == -1);
    header(&f, 201, "location", "/v1/actas/x/photos/y");
    header(&f, 204, "upload-offset", "4200000");
    header(&f, 204, "upload-length", "9000000");
    header(&f, 204, "upload-complete", "?0");
    CHECK_STR(f.location, "/v1/uploads/0123456789abcdef0123456789abcdef");
    CHECK(f.offset == 4200000 && f.length == 9000000 && f.complete == 0);
    header(&f, 204, "upload-offset", " 12;p=1 ");
    header(&f, 204, "upload-complete", "?1");
    CHECK(f.offset == 12 && f.complete == 1);
    header(&f, 204, "upload-offset", "many");
    header(&f, 204, "upload-complete", "yes");
    CHECK(f.offset == -1 && f.complete == -1);
    header(&f, 204, "upload-offset", "-1");
    header(&f, 204, "upload-length", "1000000000000000"); /* 16 digits */
    header(&f, 204, "upload-complete", "?2");
    CHECK(f.offset == -1 && f.length == -1 && f.complete == -1);
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    header(&f, 104, "location", big);
    CHECK_STR(f.location, "");

    /* Where the resource is: a path, or a URL of the same origin. */
    CHECK(pu_url_parse("http://127.0.0.1:8080", &u, &why) == 0);
    CHECK(pu_resume_location_path("/v1/uploads/ab", &u, path, sizeof(path)) == NULL);
    CHECK_STR(path, "/v1/uploads/ab");
    CHECK(pu_resume_location_path("http://127.0.0.1:8080/v1/uploads/ab?x=1#f", &u, path,
                                  sizeof(path)) == NULL);
    CHECK_STR(path, "/v1/uploads/ab?x=1");
    CHECK(pu_resume_location_path("https://127.0.0.1:8080/v1/uploads/ab", &u, path, sizeof(path)) !=
          NULL);
    CHECK(pu_resume_location_path("http://127.0.0.1:8081/v1/uploads/ab", &u, path, sizeof(path)) !=
          NULL);
    CHECK(pu_resume_location_path("http://127.0.0.1:8080.evil/x", &u, path, sizeof(path)) != NULL);
    CHECK(pu_resume_location_path("//evil/x", &u, path, sizeof(path)) != NULL);
    CHECK(pu_resume_location_path("v1/uploads/ab", &u, path, sizeof(path)) != NULL);
    CHECK(pu_resume_location_path("/v1/up loads", &u, path, sizeof(path)) != NULL);
    CHECK(pu_resume_location_path("/v1/uploads/ab", &u, path, 8) != NULL);

    /* The requests. */
    pu_resume_head_request("/v1/uploads/ab", &req);
    CHECK_STR(req.method, "HEAD");
    CHECK(req.body_fd == -1 && req.body_len == 0 && req.nheaders == 0);
    pu_resume_delete_request("/v1/uploads/ab", &req);
    CHECK_STR(req.method, "DELETE");
    CHECK(req.body_fd == -1 && req.body_len == 0);
    pu_resume_patch_request("/v1/uploads/ab", 3, 4200000, 9000000, &h, &req);
    CHECK_STR(req.method, "PATCH");
    CHECK(req.body_fd == 3 && req.body_offset == 4200000 && req.body_len == 4800000);
    CHECK(req.nheaders == 4);
    CHECK_STR(req.headers[0].value, "application/partial-upload");
    CHECK_STR(req.headers[1].name, "upload-offset");
    CHECK_STR(req.headers[1].value, "4200000");
    CHECK_STR(req.headers[2].value, "?1");
    CHECK_STR(req.headers[3].name, "content-length");
    CHECK_STR(req.headers[3].value, "4800000");
    return TAP_DONE();
}
