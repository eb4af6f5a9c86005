/*
 * legibility: is this photo of an acta good enough for a clerk to read, or should the official
 * take it again while still at the casilla?
 *
 * Everything is measured on a gray "analysis image" of a small fixed size (IMG_LEG_SIDE on the
 * long side, area-averaged from the upright decoded image), because focus and noise measures do
 * not transfer between resolutions: the thresholds below were calibrated at exactly that size
 * (docs/imaging.md, "Legibility"; a test checks the documented numbers equal these). The module
 * finds the sheet (Otsu threshold, the bright class), its four edges, and measures: focus
 * (variance of the second difference inside the sheet along the worst of four directions -- the
 * Laplacian split by direction, so a shake counts -- on luma normalised to the paper's brightness),
 * exposure (mean luma of the sheet, share of clipped pixels), glare (the largest connected blob of
 * clipped pixels over the sheet) and coverage (share of the frame the sheet fills). It reads
 * pixels only: no EXIF, no decoding, no allocation beyond the analysis image and a scratch mask.
 */
#ifndef IMG_LEGIBILITY_H
#define IMG_LEGIBILITY_H

#include <stdbool.h>
#include <stdint.h>

#include "image.h"

/* Long side of the analysis image, pixels. */
#define IMG_LEG_SIDE 1000u

/* Calibrated thresholds (docs/imaging.md must list the same numbers). */
#define IMG_LEG_FOCUS_MIN 120.0   /* worst directional 2nd-difference variance below: blurry */
#define IMG_LEG_LUMA_MIN 105.0    /* mean sheet luma below this: too dark */
#define IMG_LEG_LUMA_MAX 250.0    /* mean sheet luma above this: washed out */
#define IMG_LEG_GLARE_MAX 0.004   /* largest clipped blob over the sheet, share of the sheet */
#define IMG_LEG_COVERAGE_MIN 0.40 /* sheet area, share of the frame */
#define IMG_LEG_CLIP_LEVEL 250    /* luma at or above which a pixel counts as clipped */

/* Reasons for a retake, as bits of img_legibility.reasons. */
#define IMG_LEG_BLURRY 0x01u
#define IMG_LEG_DARK 0x02u
#define IMG_LEG_BRIGHT 0x04u
#define IMG_LEG_GLARE 0x08u
#define IMG_LEG_SMALL 0x10u
#define IMG_LEG_NO_SHEET 0x20u

struct img_legibility {
    bool ok;          /* verdict: true "ok", false "retake" */
    unsigned reasons; /* IMG_LEG_* bits, 0 when ok */
    double focus;     /* worst directional second-difference variance inside the sheet */
    double luma;      /* mean luma of the sheet, 0..255 */
    double clipped;   /* share of frame pixels at or above IMG_LEG_CLIP_LEVEL */
    double glare;     /* largest clipped blob inside the sheet, share of the sheet */
    double coverage;  /* sheet pixels, share of the frame */
    /* The sheet's corners in analysis-image pixels: top-left, top-right, bottom-right,
     * bottom-left (x, y pairs), from lines fitted to its four edges. */
    double corners[8];
    bool has_sheet; /* corners are meaningful */
};

/*
 * Area-averages |src| (1 or 3 channels) to a gray image whose long side is |long_side| (never
 * upscaled) into |ret|, luma = (77 R + 150 G + 29 B) / 256. Release |ret| with
 * img_image_finish(); on failure |ret| is untouched. Thread-safe.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_DIMENSIONS  |src| is not a valid image or |long_side| is 0
 *   IMG_E_NOMEM       an allocation failed
 */
int img_gray_shrink(const struct img_image *src, uint32_t long_side, struct img_image *ret);

/*
 * Measures the gray analysis image |gray| (from img_gray_shrink() with IMG_LEG_SIDE) and fills
 * |ret| with the scores, the sheet's corners and the verdict. Thread-safe.
 *
 * Returns 0, or one of these negative codes:
 *   IMG_E_DIMENSIONS  |gray| is not a 1-channel image of at least 16x16
 *   IMG_E_NOMEM       the scratch mask could not be allocated
 */
int img_legibility_assess(const struct img_image *gray, struct img_legibility *ret);

/* The name of one IMG_LEG_* reason bit ("blurry", "dark", "bright", "glare", "small_sheet",
 * "no_sheet"), or NULL for anything else. Static string. Thread-safe. */
const char *img_legibility_reason_name(unsigned bit);

#endif
