/*
 * exif: a bounded reader of the few EXIF fields the gateway records about a photo.
 *
 * Input is the payload of the APP1 segment that jpeg_scan.h located (starting "Exif\0\0", then a
 * TIFF header, "II" or "MM"). It reads IFD0 (orientation, make, model, software, date), the Exif
 * sub-IFD (original date and its UTC offset) and the GPS IFD (position, altitude, UTC time). It
 * does not follow IFD1 (the thumbnail), the MakerNote or any other pointer, does not allocate,
 * and never writes outside |ret|. Every offset and count is bounds-checked with overflow-safe
 * arithmetic, IFD entry counts are capped, and each IFD is visited at most once, so a hostile
 * payload can neither read out of bounds nor loop.
 */
#ifndef IMG_EXIF_H
#define IMG_EXIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most entries accepted in one IFD; real cameras write well under 100. */
#define IMG_EXIF_MAX_IFD_ENTRIES 512

struct img_exif {
    uint16_t orientation; /* 1..8; 1 when absent or out of range */
    char make[64], model[64], software[64];
    char datetime[20];            /* IFD0 DateTime (0x0132), "YYYY:MM:DD HH:MM:SS" or "" */
    char datetime_original[20];   /* "YYYY:MM:DD HH:MM:SS" or "" */
    char offset_time_original[8]; /* "+HH:MM" or "" */
    bool has_gps;                 /* both latitude and longitude were valid */
    double gps_lat, gps_lon;      /* signed decimal degrees: north and east positive */
    bool has_gps_alt;
    double gps_alt;        /* metres, negative below sea level */
    char gps_datetime[24]; /* "YYYY:MM:DD HH:MM:SS" UTC or "" */
};

/*
 * Sets |e| to "no EXIF": orientation 1, empty strings, no GPS. Thread-safe.
 */
void img_exif_init(struct img_exif *e);

/*
 * Parses the APP1 payload |app1| of |len| bytes (img_jpeg_info.exif_offset/exif_len) into |ret|,
 * which is first reset with img_exif_init(). Strings are copied only as printable ASCII (other
 * bytes become '?'), trailing spaces trimmed, NUL-terminated and truncated to fit; dates and
 * offsets that do not have the documented shape are left "". Fields that are absent, or have an
 * unexpected type or an out-of-range value, are left at their defaults without failing. Does not
 * keep |app1|. Thread-safe (touches only |ret|).
 *
 * |ret_why| (may be NULL) receives, on error only, a static string. On error |ret| keeps what was
 * validly read before the problem (orientation 1 if it was not reached).
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_EXIF  no "Exif\0\0" signature, bad TIFF header, an IFD or value outside the payload,
 *               too many IFD entries, or an IFD pointer to an IFD already visited
 */
int img_exif_parse(const void *app1, size_t len, struct img_exif *ret, const char **ret_why);

#endif
