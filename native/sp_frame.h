/* Decoded video frame (planes as FFmpeg holds them) -> model-ready frame in one pass:
 * ROI crop -> resize -> RGB/BGR/GRAY -> normalise -> layout/dtype, into the caller's buffer.
 * Y and chroma planes are resampled separately (chroma in its own coordinates); the colour
 * matrix is applied at output resolution only, so no full-resolution RGB image is built.
 * A display orientation (a video's display matrix, as EXIF orientations) is applied while
 * writing: geometry and ROI are in display coordinates, as in the JPEG path. */
#ifndef SP_FRAME_H
#define SP_FRAME_H

#include "sp_common.h"

enum {
    SP_PIX_YUV420P = 0, /* also yuvj420p (full range) */
    SP_PIX_NV12 = 1,
    SP_PIX_YUV422P = 2,
    SP_PIX_YUV444P = 3,
    SP_PIX_GRAY8 = 4,
    SP_PIX_RGB24 = 5, /* packed; the fallback for every other format (converted by FFmpeg first) */
    SP_PIX_YUV440P = 6
};
enum { SP_MATRIX_BT601 = 0, SP_MATRIX_BT709 = 1 };

typedef struct {
    int format;          /* SP_PIX_* */
    int width, height;
    const uint8_t *data[3];
    int linesize[3];
    int full_range;      /* 1: JPEG/full range, 0: MPEG/limited range */
    int matrix;          /* SP_MATRIX_* */
    int orientation;     /* display orientation, EXIF numbering 1..8 (1: as stored) */
} sp_planes;

typedef struct sp_frame_converter sp_frame_converter;

sp_frame_converter *sp_frame_converter_new(void);
void sp_frame_converter_free(sp_frame_converter *c);
/* Convert one frame into `out` (sp_frame_bytes(spec) bytes); res gets status and message. */
int sp_convert_frame(sp_frame_converter *c, const sp_planes *p, const sp_spec *spec, uint8_t *out,
                     sp_result *res);

#endif
