/* JPEG -> model-ready frame in one pass: DCT-domain scaling, region-of-interest
 * decoding (crop columns, skip rows, stop early), fused resize + normalise +
 * layout + dtype into the caller's buffer. One decoder per thread. */
#ifndef SP_JPEG_H
#define SP_JPEG_H

#include "sp_common.h"

typedef struct sp_jpeg_decoder sp_jpeg_decoder;
typedef struct sp_jpeg_batch sp_jpeg_batch;

sp_jpeg_decoder *sp_jpeg_decoder_new(void);
void sp_jpeg_decoder_free(sp_jpeg_decoder *d);

/* Decode one image into `out` (sp_frame_bytes(spec) bytes). On failure the
 * frame is filled with the padding value and res says why. */
int sp_jpeg_decode(sp_jpeg_decoder *d, const uint8_t *data, size_t len, const sp_spec *spec,
                   uint8_t *out, sp_result *res);
/* Read the header only: size, orientation (when apply_exif), status. */
int sp_jpeg_probe(sp_jpeg_decoder *d, const uint8_t *data, size_t len, int apply_exif, sp_result *res);

sp_jpeg_batch *sp_jpeg_batch_new(int nthreads);
int sp_jpeg_batch_threads(const sp_jpeg_batch *b);
void sp_jpeg_batch_free(sp_jpeg_batch *b);
/* Decode n images into out + i * stride on all threads, one native call.
 * Returns the number of items whose status is an error (>= SP_ERR_EMPTY). */
int sp_jpeg_decode_batch(sp_jpeg_batch *b, int n, const uint8_t *const *data, const size_t *lens,
                         const sp_spec *spec, uint8_t *out, size_t stride, sp_result *results);

#endif
