/* Resize policies: where a request's pixels come from and where they land.
 * Mirrored in smolplug/geometry.py (the Pillow fallback); tests check both agree. */
#include <math.h>

#include "sp_common.h"

int sp_compute_geometry(const sp_spec *spec, int w, int h, sp_geometry *g)
{
    double rx = 0, ry = 0, rw = w, rh = h;
    const int OH = spec->out_h, OW = spec->out_w;

    if (w <= 0 || h <= 0 || OH <= 0 || OW <= 0) return SP_ERR_INVALID;
    if (spec->has_roi) {
        rx = spec->roi_x; ry = spec->roi_y; rw = spec->roi_w; rh = spec->roi_h;
        if (!(rw > 0 && rh > 0 && rx >= 0 && ry >= 0 && rx + rw <= w && ry + rh <= h)) return SP_ERR_ROI;
    }
    g->sx = rx; g->sy = ry; g->sw = rw; g->sh = rh;
    g->dx = 0; g->dy = 0; g->dw = OW; g->dh = OH;

    if (spec->resize == SP_RESIZE_SHORTER_CROP) {
        /* torchvision: Resize(S) keeps the aspect ratio, truncating the long side,
         * then CenterCrop pads (zeros) or crops with round-half-even offsets. */
        const int S = spec->shorter_side > 0 ? spec->shorter_side : (OH > OW ? OH : OW);
        int nw, nh;
        if (rw <= rh) { nw = S; nh = (int)(S * rh / rw); }
        else { nh = S; nw = (int)(S * rw / rh); }
        if (nw < 1) nw = 1;
        if (nh < 1) nh = 1;
        const double kx = rw / nw, ky = rh / nh; /* source pixels per resized pixel */
        if (OW > nw) { g->dx = (OW - nw) / 2; g->dw = nw; }
        else { g->sx = rx + kx * nearbyint((nw - OW) / 2.0); g->sw = kx * OW; }
        if (OH > nh) { g->dy = (OH - nh) / 2; g->dh = nh; }
        else { g->sy = ry + ky * nearbyint((nh - OH) / 2.0); g->sh = ky * OH; }
    } else if (spec->resize == SP_RESIZE_LETTERBOX) {
        const double r = fmin(OW / rw, OH / rh);
        int nw = (int)lround(rw * r), nh = (int)lround(rh * r);
        if (nw < 1) nw = 1;
        if (nw > OW) nw = OW;
        if (nh < 1) nh = 1;
        if (nh > OH) nh = OH;
        g->dx = (OW - nw) / 2; g->dw = nw;
        g->dy = (OH - nh) / 2; g->dh = nh;
    }
    return SP_OK;
}

void sp_rect_to_raw(int o, int W, int H, const sp_geometry *g, double *x, double *y, double *w, double *h)
{
    const double X = g->sx, Y = g->sy, sw = g->sw, sh = g->sh;
    switch (o) {
    case 2: *x = W - (X + sw); *y = Y; *w = sw; *h = sh; break;
    case 3: *x = W - (X + sw); *y = H - (Y + sh); *w = sw; *h = sh; break;
    case 4: *x = X; *y = H - (Y + sh); *w = sw; *h = sh; break;
    case 5: *x = Y; *y = X; *w = sh; *h = sw; break;
    case 6: *x = Y; *y = H - (X + sw); *w = sh; *h = sw; break;
    case 7: *x = W - (Y + sh); *y = H - (X + sw); *w = sh; *h = sw; break;
    case 8: *x = W - (Y + sh); *y = X; *w = sh; *h = sw; break;
    default: *x = X; *y = Y; *w = sw; *h = sh; break;
    }
}
