#include "sp_jpeg.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "sp_pool.h"
#include "sp_resample.h"

#define SP_MAX_SCANS 1000  /* progressive-scan DoS guard */
#define SP_READ_ROWS 16

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int strict;
    int warnings;
    int saw_eof;              /* "premature end of JPEG file" seen */
    int forced;               /* sp_status set by our own checks, or 0 */
    char first_msg[JMSG_LENGTH_MAX];
    char error_msg[JMSG_LENGTH_MAX];
} sp_error_mgr;

struct sp_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    int used;        /* cinfo has seen an image: re-create it before the next one */
    int64_t max_memory;     /* this decode's budget (for the TOO_LARGE message) */
    uint64_t coef_bytes;    /* whole-image coefficient buffers a multi-scan file needs, else 0 */
    sp_error_mgr err;
    struct jpeg_progress_mgr progress;
    sp_filter fx, fy;
    uint8_t *rows;   size_t rows_cap;   /* scanline buffer */
    uint8_t *conv;   size_t conv_cap;   /* CMYK -> RGB row */
    float *ring;     size_t ring_cap;   /* vertical accumulators (sp_stream) */
    float *vrow;     size_t vrow_cap;   /* one horizontally resampled output row */
};

static void on_error_exit(j_common_ptr cinfo)
{
    sp_error_mgr *e = (sp_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->error_msg);
    longjmp(e->jb, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
    sp_error_mgr *e = (sp_error_mgr *)cinfo->err;
    if (level >= 0) return; /* trace messages */
    if (e->pub.msg_code == JWRN_JPEG_EOF) e->saw_eof = 1;
    if (e->warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->first_msg);
    if (e->strict) {
        memcpy(e->error_msg, e->first_msg, sizeof(e->error_msg));
        longjmp(e->jb, 1);
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; /* never print */ }

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    sp_error_mgr *e = (sp_error_mgr *)cinfo->err;
    if (d->input_scan_number > SP_MAX_SCANS) {
        e->forced = SP_ERR_CORRUPT;
        snprintf(e->error_msg, sizeof(e->error_msg), "more than %d progressive scans", SP_MAX_SCANS);
        longjmp(e->jb, 1);
    }
}

sp_jpeg_decoder *sp_jpeg_decoder_new(void)
{
    sp_jpeg_decoder *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = on_error_exit;
    d->err.pub.emit_message = on_emit_message;
    d->err.pub.output_message = on_output_message;
    if (setjmp(d->err.jb)) { /* out of memory in jpeg_create_decompress */
        free(d);
        return NULL;
    }
    jpeg_create_decompress(&d->cinfo);
    d->progress.progress_monitor = on_progress;
    d->cinfo.progress = &d->progress;
    return d;
}

void sp_jpeg_decoder_free(sp_jpeg_decoder *d)
{
    if (!d) return;
    jpeg_destroy_decompress(&d->cinfo);
    sp_filter_free(&d->fx);
    sp_filter_free(&d->fy);
    free(d->rows);
    free(d->conv);
    free(d->ring);
    free(d->vrow);
    free(d);
}

static void set_message(sp_result *res, const char *msg)
{
    snprintf(res->message, SP_MESSAGE_LEN, "%s", msg);
}

static int classify(const sp_error_mgr *e)
{
    if (e->forced) return e->forced;
    if (e->pub.msg_code == JERR_NO_BACKING_STORE) return SP_ERR_TOO_LARGE; /* over max_memory_to_use */
    if (e->saw_eof) return SP_ERR_TRUNCATED;
    switch (e->pub.msg_code) {
    case JERR_NO_SOI: return SP_ERR_NOT_JPEG;
    case JERR_INPUT_EMPTY: return SP_ERR_EMPTY;
    case JERR_INPUT_EOF: return SP_ERR_TRUNCATED;
    case JERR_OUT_OF_MEMORY: return SP_ERR_NOMEM;
    case JERR_BAD_PRECISION:
    case JERR_ARITH_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_NOTIMPL:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_SOF_UNSUPPORTED:
    case JERR_EMPTY_IMAGE:
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
        return SP_ERR_UNSUPPORTED;
    default: return SP_ERR_CORRUPT;
    }
}

/* EXIF orientation from a saved APP1 marker; 1 when absent or malformed. */
static int exif_orientation(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 14) continue;
        if (memcmp(m->data, "Exif\0\0", 6) != 0) continue;
        const uint8_t *t = m->data + 6;
        size_t len = m->data_length - 6;
        int le;
        if (t[0] == 'I' && t[1] == 'I') le = 1;
        else if (t[0] == 'M' && t[1] == 'M') le = 0;
        else continue;
#define U16(p) (le ? (unsigned)((p)[0] | (p)[1] << 8) : (unsigned)((p)[0] << 8 | (p)[1]))
#define U32(p) (le ? ((uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 | (uint32_t)(p)[2] << 16 | (uint32_t)(p)[3] << 24) \
                   : ((uint32_t)(p)[0] << 24 | (uint32_t)(p)[1] << 16 | (uint32_t)(p)[2] << 8 | (uint32_t)(p)[3]))
        if (U16(t + 2) != 42) continue;
        uint32_t ifd = U32(t + 4);
        if (ifd > len - 2 || ifd < 8) continue;
        unsigned count = U16(t + ifd);
        for (unsigned i = 0; i < count; i++) {
            size_t e = (size_t)ifd + 2 + (size_t)i * 12;
            if (e + 12 > len) break;
            if (U16(t + e) == 0x0112 && U16(t + e + 2) == 3) {
                unsigned v = U16(t + e + 8);
                return (v >= 1 && v <= 8) ? (int)v : 1;
            }
        }
#undef U16
#undef U32
    }
    return 1;
}

/* Smallest M in 1..8 whose M/8-scaled source still covers the destination
 * (times the headroom): never upsamples when a larger scale would avoid it. */
static int pick_scale(double sw, double sh, int dw, int dh, double headroom)
{
    if (!(headroom >= 1.0)) headroom = 1.0;
    for (int m = 1; m < 8; m++)
        if (sw * m / 8.0 >= dw * headroom && sh * m / 8.0 >= dh * headroom) return m;
    return 8;
}

static inline uint8_t muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

/* libjpeg CMYK scanline (Adobe files store it inverted) -> RGB, as Pillow. */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, int n, int inverted, int gray)
{
    for (int i = 0; i < n; i++, in += 4) {
        unsigned c = in[0], m = in[1], y = in[2], k = in[3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        uint8_t r = muldiv255(c, k), g = muldiv255(m, k), b = muldiv255(y, k);
        if (gray) *out++ = (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
        else { *out++ = r; *out++ = g; *out++ = b; }
    }
}

/* Bytes of the whole-image coefficient arrays jdcoefct.c requests for a multi-scan file (each
 * component's blocks padded to its sampling factors, one JBLOCK each); 0 for single-scan files,
 * which decode one MCU row at a time. */
static uint64_t coefficient_bytes(j_decompress_ptr cinfo)
{
    uint64_t total = 0;
    if (!jpeg_has_multiple_scans(cinfo)) return 0;
    for (int c = 0; c < cinfo->num_components; c++) {
        const jpeg_component_info *k = &cinfo->comp_info[c];
        uint64_t w = k->width_in_blocks, h = k->height_in_blocks;
        w = (w + k->h_samp_factor - 1) / k->h_samp_factor * k->h_samp_factor;
        h = (h + k->v_samp_factor - 1) / k->v_samp_factor * k->v_samp_factor;
        total += w * h * sizeof(JBLOCK);
    }
    return total;
}

/* Fewest bytes a complete Huffman-coded multi-scan file can have: every block of every component
 * is coded in some scan (a progressive file's DC scans, a non-interleaved file's one scan per
 * component), and a Huffman code is at least one bit long, so each block costs >= 1 bit. 0 when
 * no bound applies (single scan: decoded row by row, nothing buffered; arithmetic coding: a block
 * can cost far less than a bit). */
static uint64_t min_scan_bytes(j_decompress_ptr cinfo)
{
    uint64_t blocks = 0;
    if (!jpeg_has_multiple_scans(cinfo) || cinfo->arith_code) return 0;
    for (int c = 0; c < cinfo->num_components; c++)
        blocks += (uint64_t)cinfo->comp_info[c].width_in_blocks * cinfo->comp_info[c].height_in_blocks;
    return (blocks + 7) / 8;
}

/* libjpeg-turbo before 3.0 (fixed there by commit 3a53627) sizes a cropped component's rows
 * without the IDCT scaling that performs part of its upsampling: with chroma at 2x4 or 4x2 of the
 * luma resolution and DCT scaling, the upsampler then fills only part of each row and the colour
 * converter reads uninitialised memory. True when no component is both IDCT-scaled beyond the
 * others and still upsampled, i.e. when column cropping is safe. */
static int crop_sizes_right(j_decompress_ptr cinfo)
{
    const int m = cinfo->min_DCT_scaled_size;
    for (int c = 0; c < cinfo->num_components; c++) {
        const jpeg_component_info *k = &cinfo->comp_info[c];
        const int s = k->DCT_scaled_size;
        if (s != m && (k->h_samp_factor * s != cinfo->max_h_samp_factor * m ||
                       k->v_samp_factor * s != cinfo->max_v_samp_factor * m))
            return 0;
    }
    return 1;
}

static int decode_impl(sp_jpeg_decoder *d, const uint8_t *data, size_t len, const sp_spec *spec,
                       uint8_t *out, sp_result *res, int header_only)
{
    j_decompress_ptr cinfo = &d->cinfo;
    sp_error_mgr *e = &d->err;
    sp_geometry g;
    sp_writer wr;
    int status;

    memset(res, 0, sizeof(*res));
    res->orientation = 1;
    e->strict = spec->strict;
    e->warnings = 0;
    e->saw_eof = 0;
    e->forced = 0;
    e->first_msg[0] = e->error_msg[0] = '\0';

    if (len == 0 || data == NULL) {
        status = SP_ERR_EMPTY;
        set_message(res, "empty input (0 bytes)");
        goto fail;
    }
    if (data[0] != 0xFF || (len > 1 && data[1] != 0xD8)) {
        status = SP_ERR_NOT_JPEG;
        snprintf(res->message, SP_MESSAGE_LEN, "not a JPEG file: starts with 0x%02x 0x%02x",
                 data[0], len > 1 ? data[1] : 0);
        goto fail;
    }

    if (setjmp(e->jb)) {
        status = classify(e);
        if (!e->forced && e->pub.msg_code == JERR_NO_BACKING_STORE)
            snprintf(e->error_msg, sizeof(e->error_msg),
                     "decoding needs %llu bytes of coefficient buffers (multi-scan %dx%d JPEG), "
                     "over max_memory=%lld", (unsigned long long)d->coef_bytes, res->src_w, res->src_h,
                     (long long)d->max_memory);
        set_message(res, e->error_msg);
        res->warnings = e->warnings;
        jpeg_abort_decompress(cinfo);
        goto fail;
    }

    /* A reused libjpeg object keeps the previous image's Huffman and quantisation tables (they
     * live in its permanent pool; SOI resets only restart interval, arithmetic conditioning and
     * JFIF/Adobe flags). A file without DHT/DQT would then decode with the wrong tables instead of
     * the standard ones (MJPEG) or an error. Re-creating the object gives every image a fresh
     * decoder; nulling the table pointers instead would re-allocate them from the permanent pool
     * on every image, which only jpeg_destroy releases. */
    if (d->used) {
        jpeg_destroy_decompress(cinfo);
        jpeg_create_decompress(cinfo);
        cinfo->progress = &d->progress;
    }
    d->used = 1;
    /* libjpeg's memory manager checks the budget when it realises whole-image buffers (jmemnobs.c
     * has no backing store: over budget is JERR_NO_BACKING_STORE, reported as TOO_LARGE). */
    d->max_memory = spec->max_memory > 0 ? spec->max_memory : 0;
    d->coef_bytes = 0;
    cinfo->mem->max_memory_to_use = d->max_memory > LONG_MAX ? LONG_MAX : (long)d->max_memory;
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, spec->apply_exif ? 0xFFFF : 0);
    jpeg_read_header(cinfo, TRUE);
    res->src_w = (int)cinfo->image_width;
    res->src_h = (int)cinfo->image_height;
    if (spec->apply_exif) res->orientation = exif_orientation(cinfo);
    if (header_only) {
        jpeg_abort_decompress(cinfo);
        res->status = SP_OK;
        return SP_OK;
    }

    const int W = res->src_w, H = res->src_h, o = res->orientation;
    if (spec->max_pixels > 0 && (int64_t)W * (int64_t)H > spec->max_pixels) {
        e->forced = SP_ERR_TOO_LARGE;
        snprintf(e->error_msg, sizeof(e->error_msg),
                 "image of %dx%d = %lld pixels exceeds max_pixels=%lld (decompression-bomb guard)",
                 W, H, (long long)W * H, (long long)spec->max_pixels);
        longjmp(e->jb, 1);
    }
    d->coef_bytes = coefficient_bytes(cinfo);
    const uint64_t need = min_scan_bytes(cinfo);
    if (need > len) {
        e->forced = SP_ERR_TOO_LARGE;
        snprintf(e->error_msg, sizeof(e->error_msg),
                 "multi-scan JPEG claims %dx%d: its scans need >= %llu bytes (1 bit/block), the file has %zu "
                 "(decompression-bomb guard)", W, H, (unsigned long long)need, len);
        longjmp(e->jb, 1);
    }
    const int transposed = o >= 5;
    status = sp_compute_geometry(spec, transposed ? H : W, transposed ? W : H, &g);
    if (status != SP_OK) {
        e->forced = status;
        snprintf(e->error_msg, sizeof(e->error_msg),
                 "region of interest (x=%g, y=%g, w=%g, h=%g) is not inside the %dx%d image",
                 spec->roi_x, spec->roi_y, spec->roi_w, spec->roi_h, transposed ? H : W, transposed ? W : H);
        longjmp(e->jb, 1);
    }
    /* Raw-frame destination size: the display rectangle, transposed when the orientation is. */
    const int rh = transposed ? g.dw : g.dh, rw = transposed ? g.dh : g.dw;
    double sx, sy, sw, sh;
    sp_rect_to_raw(o, W, H, &g, &sx, &sy, &sw, &sh);

    const int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    const int gray_out = spec->colorspace == SP_COLOR_GRAY;
    const int C = gray_out ? 1 : 3;
    cinfo->out_color_space = cmyk ? JCS_CMYK : gray_out ? JCS_GRAYSCALE : JCS_RGB;
    cinfo->dct_method = spec->fast_dct ? JDCT_IFAST : JDCT_ISLOW;
    cinfo->do_fancy_upsampling = spec->fast_upsample ? FALSE : TRUE;
    cinfo->scale_num = (unsigned)pick_scale(sw, sh, rw, rh, spec->scale_headroom);
    cinfo->scale_denom = 8;
    jpeg_calc_output_dimensions(cinfo);
    res->scale_num = (int)cinfo->scale_num;

    const int Ws = (int)cinfo->output_width, Hs = (int)cinfo->output_height;
    /* Scaled pixel i covers source pixels [i*8/M, (i+1)*8/M): the factor is exactly M/8
     * (output_width = ceil(W*M/8) only rounds the partial last block up). */
    const double kx = cinfo->scale_num / 8.0, ky = kx;
    if (sp_filter_build(&d->fx, sx * kx, sw * kx, rw, Ws, spec->interp) != SP_OK ||
        sp_filter_build(&d->fy, sy * ky, sh * ky, rh, Hs, spec->interp) != SP_OK) {
        e->forced = SP_ERR_NOMEM;
        snprintf(e->error_msg, sizeof(e->error_msg), "out of memory building resize filters");
        longjmp(e->jb, 1);
    }

    jpeg_start_decompress(cinfo);

    /* Crop columns to what the filter reads (plus a margin, so "fancy" chroma
     * upsampling at the crop edges does not touch pixels we use). */
    JDIMENSION xoff = 0, cw = (JDIMENSION)Ws;
    {
        int c0 = d->fx.lo - 2, c1 = d->fx.hi + 2;
        if (c0 < 0) c0 = 0;
        if (c1 > Ws) c1 = Ws;
        if ((c0 > 0 || c1 < Ws) && crop_sizes_right(cinfo)) {
            xoff = (JDIMENSION)c0;
            cw = (JDIMENSION)(c1 - c0);
            jpeg_crop_scanline(cinfo, &xoff, &cw);
        }
    }
    sp_filter_shift(&d->fx, (int)xoff);
    res->cols_decoded = (int)cinfo->output_width;

    const int comps = cinfo->output_components;
    const size_t row_bytes = (size_t)cinfo->output_width * (size_t)comps;
    const int nacc = sp_filter_max_open(&d->fy);
    const size_t in_len = (size_t)cinfo->output_width * (size_t)C;
    if (!sp_grow((void **)&d->rows, &d->rows_cap, row_bytes * SP_READ_ROWS) ||
        !sp_grow((void **)&d->conv, &d->conv_cap, (size_t)cinfo->output_width * 3) ||
        !sp_grow((void **)&d->ring, &d->ring_cap, sizeof(float) * in_len * (size_t)nacc) ||
        !sp_grow((void **)&d->vrow, &d->vrow_cap, sizeof(float) * (size_t)rw * (size_t)C)) {
        e->forced = SP_ERR_NOMEM;
        snprintf(e->error_msg, sizeof(e->error_msg), "out of memory allocating row buffers");
        longjmp(e->jb, 1);
    }

    if (g.dx > 0 || g.dy > 0 || g.dw < spec->out_w || g.dh < spec->out_h) sp_fill_frame(spec, out);
    sp_writer_init(&wr, spec, out, C, o, g.dy, g.dx, rh, rw);
    sp_stream st = {&d->fx, &d->fy, C, (int)in_len, nacc, 0, d->ring, d->vrow, &wr, rw};

    if (d->fy.lo > 0) jpeg_skip_scanlines(cinfo, (JDIMENSION)d->fy.lo);

    JSAMPROW ptrs[SP_READ_ROWS];
    int y = d->fy.lo;
    const int stop = d->fy.hi;
    for (int i = 0; i < SP_READ_ROWS; i++) ptrs[i] = d->rows + (size_t)i * row_bytes;
    while (y < stop) {
        int want = stop - y < SP_READ_ROWS ? stop - y : SP_READ_ROWS;
        int got = (int)jpeg_read_scanlines(cinfo, ptrs, (JDIMENSION)want);
        if (got <= 0) {
            e->forced = SP_ERR_TRUNCATED;
            snprintf(e->error_msg, sizeof(e->error_msg), "decoder produced no rows at row %d", y);
            longjmp(e->jb, 1);
        }
        for (int i = 0; i < got; i++, y++) {
            const uint8_t *src = ptrs[i];
            if (cmyk) {
                cmyk_to_rgb(src, d->conv, (int)cinfo->output_width, cinfo->saw_Adobe_marker, gray_out);
                src = d->conv;
            }
            sp_stream_push(&st, y, src);
        }
    }
    res->rows_decoded = stop - d->fy.lo;
    res->warnings = e->warnings;
    jpeg_abort_decompress(cinfo); /* stop early: rows past the last one needed are never decoded */
    if (e->warnings) {
        set_message(res, e->first_msg);
        res->status = SP_WARNING;
        return SP_WARNING;
    }
    res->status = SP_OK;
    return SP_OK;

fail:
    res->status = status;
    if (out && spec) sp_fill_frame(spec, out);
    return status;
}

int sp_jpeg_decode(sp_jpeg_decoder *d, const uint8_t *data, size_t len, const sp_spec *spec,
                   uint8_t *out, sp_result *res)
{
    if (!d || !spec || !out || !res) return SP_ERR_INVALID;
    return decode_impl(d, data, len, spec, out, res, 0);
}

int sp_jpeg_probe(sp_jpeg_decoder *d, const uint8_t *data, size_t len, int apply_exif, sp_result *res)
{
    sp_spec spec;
    if (!d || !res) return SP_ERR_INVALID;
    memset(&spec, 0, sizeof(spec));
    spec.apply_exif = apply_exif;
    spec.strict = 0;
    return decode_impl(d, data, len, &spec, NULL, res, 1);
}

struct sp_jpeg_batch {
    sp_pool *pool;
    int nthreads;
    sp_jpeg_decoder **decoders;
};

typedef struct {
    sp_jpeg_batch *b;
    const int *order;
    const uint8_t *const *data;
    const size_t *lens;
    const sp_spec *spec;
    uint8_t *out;
    size_t stride;
    sp_result *results;
} batch_job;

static void batch_item(void *ctx, int worker, int k)
{
    batch_job *j = ctx;
    const int i = j->order ? j->order[k] : k;
    sp_jpeg_decode(j->b->decoders[worker], j->data[i], j->lens[i], j->spec, j->out + (size_t)i * j->stride,
                   &j->results[i]);
}

sp_jpeg_batch *sp_jpeg_batch_new(int nthreads)
{
    sp_jpeg_batch *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->pool = sp_pool_new(nthreads);
    if (!b->pool) { free(b); return NULL; }
    b->nthreads = sp_pool_threads(b->pool);
    b->decoders = calloc((size_t)b->nthreads, sizeof(*b->decoders));
    if (!b->decoders) { sp_jpeg_batch_free(b); return NULL; }
    for (int t = 0; t < b->nthreads; t++) {
        b->decoders[t] = sp_jpeg_decoder_new();
        if (!b->decoders[t]) { sp_jpeg_batch_free(b); return NULL; }
    }
    return b;
}

int sp_jpeg_batch_threads(const sp_jpeg_batch *b) { return b->nthreads; }

void sp_jpeg_batch_free(sp_jpeg_batch *b)
{
    if (!b) return;
    sp_pool_free(b->pool);
    if (b->decoders)
        for (int t = 0; t < b->nthreads; t++) sp_jpeg_decoder_free(b->decoders[t]);
    free(b->decoders);
    free(b);
}

static const size_t *sort_lens;

static int by_len_desc(const void *a, const void *b)
{
    size_t la = sort_lens[*(const int *)a], lb = sort_lens[*(const int *)b];
    return la < lb ? 1 : la > lb ? -1 : (*(const int *)a - *(const int *)b);
}

/* Largest compressed items first (longest-processing-time scheduling): the batch does not
 * end with one thread decoding a big image while the others idle. */
static int *largest_first(int n, const size_t *lens)
{
    static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
    int *order = malloc(sizeof(int) * (size_t)n);
    if (!order) return NULL;
    for (int i = 0; i < n; i++) order[i] = i;
    pthread_mutex_lock(&sort_lock); /* qsort has no context argument in C11 */
    sort_lens = lens;
    qsort(order, (size_t)n, sizeof(int), by_len_desc);
    pthread_mutex_unlock(&sort_lock);
    return order;
}

int sp_jpeg_decode_batch(sp_jpeg_batch *b, int n, const uint8_t *const *data, const size_t *lens,
                         const sp_spec *spec, uint8_t *out, size_t stride, sp_result *results)
{
    int failed = 0;
    if (!b || n < 0 || (n > 0 && (!data || !lens || !spec || !out || !results)) || stride < sp_frame_bytes(spec))
        return -SP_ERR_INVALID;
    int *order = b->nthreads > 1 && n > b->nthreads ? largest_first(n, lens) : NULL;
    batch_job j = {b, order, data, lens, spec, out, stride, results};
    sp_pool_run(b->pool, batch_item, &j, n);
    free(order);
    for (int i = 0; i < n; i++) failed += results[i].status >= SP_ERR_EMPTY;
    return failed;
}
