/* smolplug native layer: shared request/result types and status codes.
 *
 * Every entry point returns an sp_status; per-item details (message, warnings,
 * source size, chosen DCT scale) land in an sp_result owned by the caller, so
 * no message ever lives in process-global state. */
#ifndef SP_COMMON_H
#define SP_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SP_OK = 0,
    SP_WARNING = 1,          /* decoded, but the decoder reported recoverable damage */
    SP_ERR_EMPTY = 2,        /* zero-length input */
    SP_ERR_NOT_JPEG = 3,     /* no SOI marker / not this format */
    SP_ERR_TRUNCATED = 4,    /* data ends before the image does */
    SP_ERR_CORRUPT = 5,      /* malformed data */
    SP_ERR_UNSUPPORTED = 6,  /* valid but unsupported (12-bit, lossless, ...) */
    SP_ERR_TOO_LARGE = 7,    /* over the caller's pixel or memory limit (decompression bomb) */
    SP_ERR_ROI = 8,          /* region of interest outside the image */
    SP_ERR_NOMEM = 9,
    SP_ERR_INVALID = 10,     /* invalid arguments (a bug in the caller) */
    SP_ERR_INTERNAL = 11
} sp_status;

enum { SP_RESIZE_EXACT = 0, SP_RESIZE_SHORTER_CROP = 1, SP_RESIZE_LETTERBOX = 2 };
enum { SP_COLOR_RGB = 0, SP_COLOR_BGR = 1, SP_COLOR_GRAY = 2 };
enum { SP_INTERP_AREA = 0, SP_INTERP_BILINEAR = 1 };
enum { SP_LAYOUT_NCHW = 0, SP_LAYOUT_NHWC = 1 };
enum { SP_DTYPE_U8 = 0, SP_DTYPE_F16 = 1, SP_DTYPE_F32 = 2 };

/* What the model wants: one frame's output geometry and encoding. */
typedef struct {
    int out_h, out_w;
    int resize;              /* SP_RESIZE_* */
    int shorter_side;        /* SP_RESIZE_SHORTER_CROP: resize target of the shorter side */
    int has_roi;
    double roi_x, roi_y, roi_w, roi_h;   /* in (oriented) source pixels */
    int colorspace;          /* SP_COLOR_* */
    int interp;              /* SP_INTERP_* */
    int layout;              /* SP_LAYOUT_* */
    int dtype;               /* SP_DTYPE_* */
    float scale[3], bias[3]; /* out[c] = pixel * scale[c] + bias[c], pixel in 0..255 */
    float fill;              /* padding value, pixel domain (0..255) */
    int apply_exif;          /* honour EXIF orientation */
    int strict;              /* warnings are errors */
    int fast_dct, fast_upsample;
    int64_t max_pixels;      /* 0: no limit */
    int64_t max_memory;      /* libjpeg working-memory budget in bytes per decode; 0: no limit */
    double scale_headroom;   /* DCT-scaled source >= headroom x output (>= 1; huge = no DCT scaling) */
} sp_spec;

#define SP_MESSAGE_LEN 160

typedef struct {
    int status;              /* sp_status */
    int warnings;            /* libjpeg warnings seen */
    int src_w, src_h;        /* image size as stored */
    int scale_num;           /* DCT scale used: scale_num / 8 */
    int orientation;         /* EXIF orientation applied (1 = none) */
    int rows_decoded;        /* scanlines produced by the decoder (skip/early stop show here) */
    int cols_decoded;        /* width of those scanlines after cropping */
    char message[SP_MESSAGE_LEN];
} sp_result;

/* Output placement: a float source rectangle (display coordinates) mapped onto
 * an integer destination rectangle of the out_h x out_w frame. */
typedef struct {
    double sx, sy, sw, sh;
    int dx, dy, dw, dh;
} sp_geometry;

/* Geometry of a request for an image of (oriented) size w x h. */
int sp_compute_geometry(const sp_spec *spec, int w, int h, sp_geometry *g);
/* A display-space source rectangle (geometry of an image shown under EXIF orientation 1..8)
 * -> the same pixels' rectangle in the stored (raw) W x H image. */
void sp_rect_to_raw(int orientation, int W, int H, const sp_geometry *g, double *x, double *y, double *w,
                    double *h);

#endif
