#include "sp_resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Hot loops: compiled for AVX2 and a baseline, picked at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SP_CLONES
#endif


static double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

static double triangle_filter(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

int sp_grow(void **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 1;
    void *p = realloc(*buf, need);
    if (!p) return 0;
    *buf = p;
    *cap = need;
    return 1;
}

int sp_filter_build(sp_filter *f, double src0, double srclen, int dstlen, int limit, int interp)
{
    double (*filter)(double) = interp == SP_INTERP_BILINEAR ? triangle_filter : box_filter;
    double support_base = interp == SP_INTERP_BILINEAR ? 1.0 : 0.5;
    double scale = srclen / dstlen;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support_base * filterscale;
    int taps = (int)ceil(support) * 2 + 1;
    size_t need_w = (size_t)dstlen * (size_t)taps;

    if (dstlen <= 0 || limit <= 0) return SP_ERR_INVALID;
    if ((size_t)dstlen > f->cap_n) {
        int *s = realloc(f->start, sizeof(int) * (size_t)dstlen);
        if (!s) return SP_ERR_NOMEM;
        f->start = s;
        s = realloc(f->count, sizeof(int) * (size_t)dstlen);
        if (!s) return SP_ERR_NOMEM;
        f->count = s;
        f->cap_n = (size_t)dstlen;
    }
    if (need_w > f->cap_w) {
        float *w = realloc(f->w, sizeof(float) * need_w);
        if (!w) return SP_ERR_NOMEM;
        f->w = w;
        f->cap_w = need_w;
    }
    f->n = dstlen;
    f->taps = taps;
    f->lo = limit;
    f->hi = 0;
    for (int i = 0; i < dstlen; i++) {
        double center = src0 + (i + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        int xmax = (int)(center + support + 0.5);
        double ww = 0.0;
        float *wi = f->w + (size_t)i * taps;
        if (xmin < 0) xmin = 0;
        if (xmin > limit - 1) xmin = limit - 1;
        if (xmax > limit) xmax = limit;
        xmax -= xmin;
        if (xmax < 1) xmax = 1;
        if (xmax > taps) xmax = taps;
        for (int x = 0; x < xmax; x++) {
            double w = filter((x + xmin - center + 0.5) * ss);
            wi[x] = (float)w;
            ww += w;
        }
        if (ww == 0.0) { /* degenerate window: nearest sample */
            wi[0] = 1.0f;
            ww = 1.0;
            xmax = 1;
        }
        /* Trim zero-weight taps at both ends (a triangle at integral positions has two):
         * fewer rows/columns touched, and identity ratios become a single tap. */
        int first = 0, last = xmax - 1;
        while (first < last && wi[first] == 0.0f) first++;
        while (last > first && wi[last] == 0.0f) last--;
        xmax = last - first + 1;
        for (int x = 0; x < taps; x++) wi[x] = x < xmax ? (float)(wi[x + first] / ww) : 0.0f;
        xmin += first;
        f->start[i] = xmin;
        f->count[i] = xmax;
        if (xmin < f->lo) f->lo = xmin;
        if (xmin + xmax > f->hi) f->hi = xmin + xmax;
    }
    f->identity = 1;
    for (int i = 0; i < dstlen && f->identity; i++)
        f->identity = f->count[i] == 1 && f->w[(size_t)i * taps] == 1.0f && f->start[i] == f->start[0] + i;
    return SP_OK;
}

void sp_filter_shift(sp_filter *f, int offset)
{
    for (int i = 0; i < f->n; i++) f->start[i] -= offset;
    f->lo -= offset;
    f->hi -= offset;
}

void sp_filter_free(sp_filter *f)
{
    free(f->start);
    free(f->count);
    free(f->w);
    memset(f, 0, sizeof(*f));
}

int sp_filter_max_open(const sp_filter *f)
{
    int best = 1, j = 0;
    for (int i = 0; i < f->n; i++) {
        const int end = f->start[i] + f->count[i];
        if (j < i) j = i;
        while (j + 1 < f->n && f->start[j + 1] < end) j++;
        if (j - i + 1 > best) best = j - i + 1;
    }
    return best;
}

SP_CLONES static void acc_set(float *restrict acc, const uint8_t *restrict in, float w, int n)
{
    for (int i = 0; i < n; i++) acc[i] = w * (float)in[i];
}

SP_CLONES static void acc_add(float *restrict acc, const uint8_t *restrict in, float w, int n)
{
    for (int i = 0; i < n; i++) acc[i] += w * (float)in[i];
}

static void hpass_f(const float *in, int channels, const sp_filter *f, float *out)
{
    const int taps = f->taps;
    if (channels == 3) {
        for (int i = 0; i < f->n; i++) {
            const float *p = in + (size_t)f->start[i] * 3;
            const float *w = f->w + (size_t)i * taps;
            float r = 0.f, g = 0.f, b = 0.f;
            for (int k = 0; k < f->count[i]; k++, p += 3) {
                r += w[k] * p[0];
                g += w[k] * p[1];
                b += w[k] * p[2];
            }
            out[3 * i] = r;
            out[3 * i + 1] = g;
            out[3 * i + 2] = b;
        }
    } else {
        for (int i = 0; i < f->n; i++) {
            const float *p = in + f->start[i];
            const float *w = f->w + (size_t)i * taps;
            float v = 0.f;
            for (int k = 0; k < f->count[i]; k++) v += w[k] * p[k];
            out[i] = v;
        }
    }
}

void sp_stream_push(sp_stream *s, int y, const uint8_t *row)
{
    const sp_filter *fy = s->fy;
    /* Output rows whose window holds y form a contiguous range starting at next_out. */
    for (int oy = s->next_out; oy < fy->n && fy->start[oy] <= y; oy++) {
        const int k = y - fy->start[oy];
        if (k >= fy->count[oy]) continue;
        float *acc = s->acc + (size_t)(oy % s->nacc) * s->in_len;
        const float w = fy->w[(size_t)oy * fy->taps + k];
        if (k == 0) acc_set(acc, row, w, s->in_len);
        else acc_add(acc, row, w, s->in_len);
    }
    while (s->next_out < fy->n && fy->start[s->next_out] + fy->count[s->next_out] <= y + 1) {
        const int oy = s->next_out++;
        const float *acc = s->acc + (size_t)(oy % s->nacc) * s->in_len;
        if (s->fx->identity) { /* 1:1 columns (e.g. a crop at the decoded scale): no gather */
            sp_write_row(s->wr, oy, acc + (size_t)s->fx->start[0] * s->channels, s->width);
        } else {
            hpass_f(acc, s->channels, s->fx, s->hrow);
            sp_write_row(s->wr, oy, s->hrow, s->width);
        }
    }
}

int sp_spec_channels(const sp_spec *spec) { return spec->colorspace == SP_COLOR_GRAY ? 1 : 3; }

static size_t dtype_size(int dtype) { return dtype == SP_DTYPE_U8 ? 1 : dtype == SP_DTYPE_F16 ? 2 : 4; }

size_t sp_frame_bytes(const sp_spec *spec)
{
    return (size_t)spec->out_h * (size_t)spec->out_w * (size_t)sp_spec_channels(spec) * dtype_size(spec->dtype);
}

/* IEEE 754 binary32 -> binary16, round to nearest even. */
static inline uint16_t f32_to_f16(float value)
{
    uint32_t x;
    memcpy(&x, &value, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow -> inf */
    if (absx < 0x38800000u) {                                   /* subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign;
        uint32_t mant = (absx & 0x007fffffu) | 0x00800000u;
        int shift = 126 - (int)(absx >> 23);
        uint32_t half = mant >> (shift + 1);
        uint32_t rem = mant & ((1u << (shift + 1)) - 1u);
        uint32_t mid = 1u << shift;
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((absx - 0x38000000u) >> 13);
    uint32_t rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

static inline uint8_t to_u8(float v)
{
    if (!(v > 0.f)) return 0; /* also maps NaN to 0 */
    if (v >= 255.f) return 255;
    return (uint8_t)(v + 0.5f);
}

void sp_writer_init(sp_writer *wr, const sp_spec *spec, uint8_t *base, int in_c,
                    int orientation, int dy, int dx, int rh, int rw)
{
    const int oc = sp_spec_channels(spec);
    const ptrdiff_t OH = spec->out_h, OW = spec->out_w;
    ptrdiff_t rowstride, colstride, chanstride;
    /* Display position of raw pixel (ry, rx): Y = a0 + ay_r*ry + ay_x*rx, X = b0 + bx_r*ry + bx_x*rx */
    ptrdiff_t a0 = dy, ay_r = 1, ay_x = 0, b0 = dx, bx_r = 0, bx_x = 1;

    if (spec->layout == SP_LAYOUT_NCHW) {
        rowstride = OW; colstride = 1; chanstride = OH * OW;
    } else {
        rowstride = OW * oc; colstride = oc; chanstride = 1;
    }
    switch (orientation) {
    case 2: b0 = dx + rw - 1; bx_x = -1; break;
    case 3: a0 = dy + rh - 1; ay_r = -1; b0 = dx + rw - 1; bx_x = -1; break;
    case 4: a0 = dy + rh - 1; ay_r = -1; break;
    case 5: a0 = dy; ay_r = 0; ay_x = 1; b0 = dx; bx_r = 1; bx_x = 0; break;
    case 6: a0 = dy; ay_r = 0; ay_x = 1; b0 = dx + rh - 1; bx_r = -1; bx_x = 0; break;
    case 7: a0 = dy + rw - 1; ay_r = 0; ay_x = -1; b0 = dx + rh - 1; bx_r = -1; bx_x = 0; break;
    case 8: a0 = dy + rw - 1; ay_r = 0; ay_x = -1; b0 = dx; bx_r = 1; bx_x = 0; break;
    default: break;
    }
    wr->base = base;
    wr->dtype = spec->dtype;
    wr->in_c = in_c;
    wr->row0 = a0 * rowstride + b0 * colstride;
    wr->row_step = ay_r * rowstride + bx_r * colstride;
    wr->col_step = ay_x * rowstride + bx_x * colstride;
    wr->out_h = spec->out_h;
    wr->out_w = spec->out_w;
    wr->out_c = oc;
    wr->layout = spec->layout;
    for (int c = 0; c < in_c; c++) {
        /* working channels are R,G,B (or Y); BGR output reverses them */
        int o = (spec->colorspace == SP_COLOR_BGR) ? 2 - c : c;
        wr->chan_off[c] = o * chanstride;
        wr->scale[c] = spec->scale[o];
        wr->bias[c] = spec->bias[o];
    }
}

#define WRITE_LOOP(TYPE, CONVERT)                                                   \
    do {                                                                            \
        TYPE *dst = (TYPE *)wr->base;                                               \
        for (int c = 0; c < C; c++) {                                               \
            TYPE *p = dst + base + wr->chan_off[c];                                 \
            const float s = wr->scale[c], b = wr->bias[c];                          \
            const float *src = row + c;                                             \
            for (int x = 0; x < rw; x++, p += step, src += C) *p = CONVERT(*src * s + b); \
        }                                                                           \
    } while (0)

#define AS_F32(v) (v)

SP_CLONES void sp_write_row(const sp_writer *wr, int ry, const float *row, int rw)
{
    const int C = wr->in_c;
    const ptrdiff_t base = wr->row0 + (ptrdiff_t)ry * wr->row_step;
    const ptrdiff_t step = wr->col_step;
    switch (wr->dtype) {
    case SP_DTYPE_U8: WRITE_LOOP(uint8_t, to_u8); break;
    case SP_DTYPE_F16: WRITE_LOOP(uint16_t, f32_to_f16); break;
    default: WRITE_LOOP(float, AS_F32); break;
    }
}

void sp_fill_frame(const sp_spec *spec, uint8_t *base)
{
    const int oc = sp_spec_channels(spec);
    const size_t plane = (size_t)spec->out_h * (size_t)spec->out_w;
    for (int c = 0; c < oc; c++) {
        float v = spec->fill * spec->scale[c] + spec->bias[c];
        for (size_t i = 0; i < plane; i++) {
            size_t idx = spec->layout == SP_LAYOUT_NCHW ? c * plane + i : i * oc + c;
            switch (spec->dtype) {
            case SP_DTYPE_U8: base[idx] = to_u8(v); break;
            case SP_DTYPE_F16: ((uint16_t *)base)[idx] = f32_to_f16(v); break;
            default: ((float *)base)[idx] = v; break;
            }
        }
    }
}
