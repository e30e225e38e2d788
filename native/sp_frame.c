#include "sp_frame.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_resample.h"

struct sp_frame_converter {
    sp_filter fx, fy, cx, cy;  /* luma and chroma filters */
    float *planes;  size_t planes_cap;   /* resampled Y, U, V at output size */
    float *acc;     size_t acc_cap;      /* stream accumulators */
    float *hrow;    size_t hrow_cap;
    uint8_t *split; size_t split_cap;    /* NV12 de-interleave */
    float *rgb;     size_t rgb_cap;      /* one output row */
};

sp_frame_converter *sp_frame_converter_new(void) { return calloc(1, sizeof(sp_frame_converter)); }

void sp_frame_converter_free(sp_frame_converter *c)
{
    if (!c) return;
    sp_filter_free(&c->fx);
    sp_filter_free(&c->fy);
    sp_filter_free(&c->cx);
    sp_filter_free(&c->cy);
    free(c->planes);
    free(c->acc);
    free(c->hrow);
    free(c->split);
    free(c->rgb);
    free(c);
}

/* Resample rows [fy.lo, fy.hi) of one 8-bit plane (channels interleaved) through the stream;
 * only columns [fx.lo, fx.hi) are read. fx is shifted to start at fx.lo. */
static int run_plane(sp_frame_converter *c, sp_filter *fx, const sp_filter *fy, const uint8_t *data,
                     int linesize, int channels, const sp_writer *wr, int width)
{
    const int xlo = fx->lo;
    sp_filter_shift(fx, xlo);
    const int nacc = sp_filter_max_open(fy);
    const size_t in_len = (size_t)fx->hi * (size_t)channels;
    if (!sp_grow((void **)&c->acc, &c->acc_cap, sizeof(float) * in_len * (size_t)nacc)) return 0;
    sp_stream st = {fx, fy, channels, (int)in_len, nacc, 0, c->acc, c->hrow, wr, width};
    for (int y = fy->lo; y < fy->hi; y++)
        sp_stream_push(&st, y, data + (size_t)y * linesize + (size_t)xlo * channels);
    sp_filter_shift(fx, -xlo); /* restore: chroma filters serve two planes */
    return 1;
}

static void plane_writer(sp_writer *wr, float *base, int h, int w)
{
    sp_spec ps;
    memset(&ps, 0, sizeof(ps));
    ps.out_h = h;
    ps.out_w = w;
    ps.colorspace = SP_COLOR_GRAY;
    ps.layout = SP_LAYOUT_NCHW;
    ps.dtype = SP_DTYPE_F32;
    ps.scale[0] = 1.0f;
    sp_writer_init(wr, &ps, (uint8_t *)base, 1, 1, 0, 0, h, w);
}

#define FAIL(code, ...)                                                   \
    do {                                                                  \
        res->status = (code);                                             \
        snprintf(res->message, SP_MESSAGE_LEN, __VA_ARGS__);              \
        sp_fill_frame(spec, out);                                         \
        return (code);                                                    \
    } while (0)

int sp_convert_frame(sp_frame_converter *c, const sp_planes *p, const sp_spec *spec, uint8_t *out,
                     sp_result *res)
{
    sp_geometry g;
    sp_writer wr;
    memset(res, 0, sizeof(*res));
    res->orientation = 1;
    res->scale_num = 8;
    if (!c || !p || !spec || !out) return SP_ERR_INVALID;
    res->src_w = p->width;
    res->src_h = p->height;
    if (p->width <= 0 || p->height <= 0 || !p->data[0]) FAIL(SP_ERR_INVALID, "frame has no pixels");
    const int o = p->orientation >= 1 && p->orientation <= 8 ? p->orientation : 1;
    const int transposed = o >= 5;
    const int disp_w = transposed ? p->height : p->width, disp_h = transposed ? p->width : p->height;
    res->orientation = o;
    int st = sp_compute_geometry(spec, disp_w, disp_h, &g);
    if (st == SP_ERR_ROI)
        FAIL(SP_ERR_ROI, "region of interest (x=%g, y=%g, w=%g, h=%g) is not inside the %dx%d frame", spec->roi_x,
             spec->roi_y, spec->roi_w, spec->roi_h, disp_w, disp_h);
    if (st != SP_OK) FAIL(st, "invalid geometry");

    const int gray_out = spec->colorspace == SP_COLOR_GRAY;
    /* Resampling runs in stored (raw) coordinates; the writer places raw pixels in display order. */
    const int dw = transposed ? g.dh : g.dw, dh = transposed ? g.dw : g.dh;
    double sx, sy, sw, sh;
    sp_rect_to_raw(o, p->width, p->height, &g, &sx, &sy, &sw, &sh);
    const int packed = p->format == SP_PIX_RGB24 || p->format == SP_PIX_GRAY8;
    const int in_c = p->format == SP_PIX_RGB24 ? 3 : 1;

    if (sp_filter_build(&c->fx, sx, sw, dw, p->width, spec->interp) != SP_OK ||
        sp_filter_build(&c->fy, sy, sh, dh, p->height, spec->interp) != SP_OK)
        FAIL(SP_ERR_NOMEM, "out of memory building filters");
    if (g.dx > 0 || g.dy > 0 || g.dw < spec->out_w || g.dh < spec->out_h) sp_fill_frame(spec, out);
    res->rows_decoded = c->fy.hi - c->fy.lo;
    res->cols_decoded = c->fx.hi - c->fx.lo;

    if (!sp_grow((void **)&c->hrow, &c->hrow_cap, sizeof(float) * (size_t)dw * 3) ||
        !sp_grow((void **)&c->rgb, &c->rgb_cap, sizeof(float) * (size_t)dw * 3))
        FAIL(SP_ERR_NOMEM, "out of memory");

    if (packed) {
        /* RGB24 / GRAY8: straight into the final writer (as the JPEG path) */
        if (gray_out && in_c == 3) {
            /* luma of RGB rows, then a 1-channel stream */
            if (!sp_grow((void **)&c->split, &c->split_cap, (size_t)p->width * (size_t)(c->fy.hi)))
                FAIL(SP_ERR_NOMEM, "out of memory");
            for (int y = c->fy.lo; y < c->fy.hi; y++) {
                const uint8_t *s = p->data[0] + (size_t)y * p->linesize[0];
                uint8_t *d = c->split + (size_t)y * p->width;
                for (int x = 0; x < p->width; x++, s += 3)
                    d[x] = (uint8_t)((s[0] * 19595u + s[1] * 38470u + s[2] * 7471u + 0x8000u) >> 16);
            }
            sp_writer_init(&wr, spec, out, 1, o, g.dy, g.dx, dh, dw);
            if (!run_plane(c, &c->fx, &c->fy, c->split, p->width, 1, &wr, dw)) FAIL(SP_ERR_NOMEM, "out of memory");
        } else {
            sp_writer_init(&wr, spec, out, gray_out ? 1 : in_c, o, g.dy, g.dx, dh, dw);
            if (!gray_out && in_c == 1) FAIL(SP_ERR_UNSUPPORTED, "gray frame to colour output: convert upstream");
            if (!run_plane(c, &c->fx, &c->fy, p->data[0], p->linesize[0], in_c, &wr, dw)) FAIL(SP_ERR_NOMEM, "out of memory");
        }
        res->status = SP_OK;
        return SP_OK;
    }

    /* Planar / semi-planar YUV */
    int sub_x = 1, sub_y = 1;
    switch (p->format) {
    case SP_PIX_YUV420P: case SP_PIX_NV12: sub_x = 2; sub_y = 2; break;
    case SP_PIX_YUV422P: sub_x = 2; break;
    case SP_PIX_YUV440P: sub_y = 2; break;
    case SP_PIX_YUV444P: break;
    default: FAIL(SP_ERR_UNSUPPORTED, "unsupported pixel format %d", p->format);
    }
    const int cwid = (p->width + sub_x - 1) / sub_x, chei = (p->height + sub_y - 1) / sub_y;
    const size_t plane = (size_t)dw * (size_t)dh;
    if (!sp_grow((void **)&c->planes, &c->planes_cap, sizeof(float) * plane * 3)) FAIL(SP_ERR_NOMEM, "out of memory");
    float *Y = c->planes, *U = c->planes + plane, *V = c->planes + 2 * plane;

    plane_writer(&wr, Y, dh, dw);
    if (!run_plane(c, &c->fx, &c->fy, p->data[0], p->linesize[0], 1, &wr, dw)) FAIL(SP_ERR_NOMEM, "out of memory");

    if (!gray_out) {
        /* chroma sample j covers luma [j*sub, (j+1)*sub): the same rectangle in chroma units */
        if (sp_filter_build(&c->cx, sx / sub_x, sw / sub_x, dw, cwid, spec->interp) != SP_OK ||
            sp_filter_build(&c->cy, sy / sub_y, sh / sub_y, dh, chei, spec->interp) != SP_OK)
            FAIL(SP_ERR_NOMEM, "out of memory building filters");
        if (p->format == SP_PIX_NV12) {
            if (!sp_grow((void **)&c->split, &c->split_cap, (size_t)cwid * 2 * (size_t)chei))
                FAIL(SP_ERR_NOMEM, "out of memory");
            uint8_t *su = c->split, *sv = c->split + (size_t)cwid * chei;
            for (int y = c->cy.lo; y < c->cy.hi; y++) {
                const uint8_t *s = p->data[1] + (size_t)y * p->linesize[1];
                for (int x = 0; x < cwid; x++) {
                    su[(size_t)y * cwid + x] = s[2 * x];
                    sv[(size_t)y * cwid + x] = s[2 * x + 1];
                }
            }
            plane_writer(&wr, U, dh, dw);
            if (!run_plane(c, &c->cx, &c->cy, su, cwid, 1, &wr, dw)) FAIL(SP_ERR_NOMEM, "out of memory");
            plane_writer(&wr, V, dh, dw);
            if (!run_plane(c, &c->cx, &c->cy, sv, cwid, 1, &wr, dw)) FAIL(SP_ERR_NOMEM, "out of memory");
        } else {
            plane_writer(&wr, U, dh, dw);
            if (!run_plane(c, &c->cx, &c->cy, p->data[1], p->linesize[1], 1, &wr, dw)) FAIL(SP_ERR_NOMEM, "out of memory");
            plane_writer(&wr, V, dh, dw);
            if (!run_plane(c, &c->cx, &c->cy, p->data[2], p->linesize[2], 1, &wr, dw)) FAIL(SP_ERR_NOMEM, "out of memory");
        }
    }

    /* Colour matrix at output resolution (filters are linear, the matrix affine: they commute). */
    const double kr = p->matrix == SP_MATRIX_BT709 ? 0.2126 : 0.299;
    const double kb = p->matrix == SP_MATRIX_BT709 ? 0.0722 : 0.114;
    const float ys = p->full_range ? 1.0f : 255.0f / 219.0f, yo = p->full_range ? 0.0f : 16.0f;
    const float cs = p->full_range ? 1.0f : 255.0f / 224.0f;
    const float rv = (float)(2 * (1 - kr)) * cs, bu = (float)(2 * (1 - kb)) * cs;
    const float gu = (float)(-2 * kb * (1 - kb) / (1 - kr - kb)) * cs;
    const float gv = (float)(-2 * kr * (1 - kr) / (1 - kr - kb)) * cs;
    sp_writer_init(&wr, spec, out, gray_out ? 1 : 3, o, g.dy, g.dx, dh, dw);
    for (int oy = 0; oy < dh; oy++) {
        const float *yr = Y + (size_t)oy * dw;
        float *o = c->rgb;
        if (gray_out) {
            for (int x = 0; x < dw; x++) {
                float v = (yr[x] - yo) * ys;
                o[x] = v < 0.f ? 0.f : v > 255.f ? 255.f : v;
            }
        } else {
            const float *ur = U + (size_t)oy * dw, *vr = V + (size_t)oy * dw;
            for (int x = 0; x < dw; x++) {
                const float yy = (yr[x] - yo) * ys, u = ur[x] - 128.f, v = vr[x] - 128.f;
                float r = yy + rv * v, gg = yy + gu * u + gv * v, b = yy + bu * u;
                o[3 * x] = r < 0.f ? 0.f : r > 255.f ? 255.f : r;
                o[3 * x + 1] = gg < 0.f ? 0.f : gg > 255.f ? 255.f : gg;
                o[3 * x + 2] = b < 0.f ? 0.f : b > 255.f ? 255.f : b;
            }
        }
        sp_write_row(&wr, oy, c->rgb, dw);
    }
    res->status = SP_OK;
    return SP_OK;
}
