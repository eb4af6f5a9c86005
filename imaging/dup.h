/*
 * dup: content signatures that tell a re-encoded or re-shot photo of one acta from a photo of a
 * different acta.
 *
 * Exact copies are the gateway's business (same SHA-256 of the bytes). Global perceptual hashes
 * cannot separate the rest on actas: every acta is printed from one template, so two different
 * actas look alike to a dHash or PDQ while two shots of one acta, turned and lit differently, do
 * not. So a signature holds two parts, both computed from the gray analysis image of
 * legibility.h: a 16x16 thumbnail of the whole upright frame (a re-encode, even rescaled, keeps
 * it), and a 128x96 "ink map" of the sheet itself, sampled through the homography of the sheet's
 * four fitted corners so that a second shot from another angle lines up cell by cell, each cell's
 * ink measured against the paper around it so that light and shadows do not matter. Two maps are
 * compared block by block after a small alignment search, by their largest local difference: a
 * single altered digit is a conflict, the residue of a second shot is not. Comparing the ink maps
 * is only meaningful within one clave: a mismatch there is a conflict (same clave, different
 * handwriting) for a clerk, never a duplicate. Pure computation: no allocation (the maps and the
 * compare's scratch live on the stack, about 60 KB), no state.
 */
#ifndef IMG_DUP_H
#define IMG_DUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "legibility.h"

#define IMG_DUP_THUMB 16
#define IMG_DUP_INK_W 128
#define IMG_DUP_INK_H 96
#define IMG_DUP_INK_MAX 15 /* ink values are 0..15: four bits each in the hex form */

/* Calibrated thresholds (docs/imaging.md lists the same numbers). */
#define IMG_DUP_REENCODE_MAX 3.0 /* mean absolute thumbnail difference, levels */
#define IMG_DUP_RESHOT_MAX 0.027 /* ink-map distance: at most this is the same sheet */

/* Length of img_dup_to_hex()'s output without the NUL: the version byte and the thumbnail as two
 * hex digits a byte, the ink map as one digit a cell. */
#define IMG_DUP_HEX_LEN (2 * (1 + IMG_DUP_THUMB * IMG_DUP_THUMB) + IMG_DUP_INK_W * IMG_DUP_INK_H)

/* The ink map's method, stored as the signature's first byte (0: no sheet). Version 1 was a 64x48
 * map of bytes through a bilinear corner map (6,658 hex digits, which no longer parse); version 2
 * took each cell's paper from the 3x3 cells around it (same length, still parses). Maps of
 * different versions are never compared. */
#define IMG_DUP_VERSION 3

struct img_dup_sig {
    bool has_sheet;  /* the ink map is meaningful */
    uint8_t version; /* IMG_DUP_VERSION when has_sheet, else 0 */
    uint8_t thumb[IMG_DUP_THUMB * IMG_DUP_THUMB];
    uint8_t ink[IMG_DUP_INK_W * IMG_DUP_INK_H]; /* 0 paper .. IMG_DUP_INK_MAX black */
};

enum img_dup_kind {
    IMG_DUP_NONE,     /* not comparable (no sheet found in one of them) */
    IMG_DUP_REENCODE, /* the same picture saved again */
    IMG_DUP_RESHOT,   /* another photo of the same sheet */
    IMG_DUP_CONFLICT, /* a different sheet (or different handwriting) */
};

/*
 * Computes the signature of the gray analysis image |gray| whose legibility |leg| was assessed
 * (for the sheet's corners) into |ret|. Thread-safe.
 *
 * Returns 0, or IMG_E_DIMENSIONS when |gray| is not a 1-channel image.
 */
int img_dup_signature(const struct img_image *gray, const struct img_legibility *leg,
                      struct img_dup_sig *ret);

/*
 * Compares two signatures of photos filed under the same clave: writes the thumbnail distance
 * (mean absolute difference, 0..255) to |ret_thumb| and the ink-map distance to |ret_ink| (both
 * may be NULL), and returns the kind. The ink distance is the largest mean difference of the
 * aligned maps over any 2x3 cells (about half a handwritten digit), beyond what a quarter-cell
 * misalignment of an edge and one level of rounding explain, as a share of full ink: 0 equal .. 1;
 * 1 when
 * either has no sheet or the maps' versions differ. Symmetric up to rounding. Thread-safe; costs
 * about 0.6 ms.
 */
enum img_dup_kind img_dup_compare(const struct img_dup_sig *a, const struct img_dup_sig *b,
                                  double *ret_thumb, double *ret_ink);

/* "none", "reencode", "reshot", "conflict". Static. */
const char *img_dup_kind_name(enum img_dup_kind k);

/* Writes |s| as IMG_DUP_HEX_LEN lowercase hex digits and a NUL into |buf| (>= IMG_DUP_HEX_LEN + 1
 * bytes). Thread-safe. */
void img_dup_to_hex(const struct img_dup_sig *s, char *buf);

/*
 * Parses a string from img_dup_to_hex() into |ret|; on failure |ret| is untouched. Thread-safe.
 *
 * Returns 0, or IMG_E_MALFORMED when |hex| is not exactly that shape.
 */
int img_dup_from_hex(const char *hex, struct img_dup_sig *ret);

#endif
