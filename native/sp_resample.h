/* Separable resampling and fused output writing.
 *
 * Filters follow Pillow's precompute_coeffs (box = "area", triangle =
 * "bilinear", support widened by the downscale factor, so both antialias), so
 * results are comparable with Pillow's resize(box=...). Rows are resampled
 * horizontally as the decoder produces them and vertically from a small ring,
 * then converted (affine normalisation, dtype, layout, orientation) straight
 * into the caller's frame buffer. */
#ifndef SP_RESAMPLE_H
#define SP_RESAMPLE_H

#include "sp_common.h"

/* Grow a scratch buffer to at least `need` bytes (contents kept). 1 on success, 0 out of memory. */
int sp_grow(void **buf, size_t *cap, size_t need);

typedef struct {
    int n;           /* outputs */
    int taps;        /* max inputs per output (row stride of w) */
    int lo, hi;      /* inputs touched: [lo, hi) */
    int identity;    /* output i is exactly input start[0] + i */
    int *start;      /* first input of each output */
    int *count;      /* inputs used by each output */
    float *w;        /* n * taps weights */
    size_t cap_n, cap_w;
} sp_filter;

/* Build the filter mapping inputs [src0, src0 + srclen) of an axis of `limit`
 * samples onto `dstlen` outputs. Returns SP_OK or SP_ERR_NOMEM. */
int sp_filter_build(sp_filter *f, double src0, double srclen, int dstlen, int limit, int interp);
void sp_filter_shift(sp_filter *f, int offset);
void sp_filter_free(sp_filter *f);

/* Maximum number of outputs of a (monotonic) filter whose windows overlap one input. */
int sp_filter_max_open(const sp_filter *f);

/* Where the resampled rows go in the output frame. */
typedef struct {
    uint8_t *base;
    int dtype;
    int in_c;                    /* working channels: 1 (gray) or 3 (RGB order) */
    ptrdiff_t row0, row_step;    /* element offset of row ry = row0 + ry * row_step */
    ptrdiff_t col_step;          /* element step per rx */
    ptrdiff_t chan_off[3];       /* element offset of working channel c */
    float scale[3], bias[3];     /* per working channel */
    int out_h, out_w, out_c, layout;
} sp_writer;

/* Set up a writer for a raw-frame destination of rh x rw pixels placed at
 * display (dy, dx), under EXIF orientation `orientation` (1..8). */
void sp_writer_init(sp_writer *wr, const sp_spec *spec, uint8_t *base, int in_c,
                    int orientation, int dy, int dx, int rh, int rw);
void sp_write_row(const sp_writer *wr, int ry, const float *row, int rw);
/* Fill the whole frame with the padding value (pixel domain). */
void sp_fill_frame(const sp_spec *spec, uint8_t *base);
size_t sp_frame_bytes(const sp_spec *spec);
int sp_spec_channels(const sp_spec *spec);

/* Vertical-first streaming resampler: push decoded uint8 rows in order; each is
 * accumulated (contiguous, vectorised) into the few output rows whose window
 * contains it; an output row is resampled horizontally and written as soon as
 * its window is complete. Work is O(input pixels) + O(output pixels x taps). */
typedef struct {
    const sp_filter *fx, *fy;
    int channels;        /* working channels per pixel in the pushed rows */
    int in_len;          /* floats per accumulator row (input width * channels) */
    int nacc;            /* accumulator rows (sp_filter_max_open(fy)) */
    int next_out;        /* first output row not yet written */
    float *acc;          /* nacc * in_len */
    float *hrow;         /* fx->n * channels */
    const sp_writer *wr;
    int width;           /* raw-frame destination width (fx->n) */
} sp_stream;

void sp_stream_push(sp_stream *s, int y, const uint8_t *row);

#endif
