/* Decodes every file named on the command line with smolplug's native decoder, through four
 * request shapes, on one reused decoder. Built and run under valgrind by memcheck.sh: memcheck
 * sees reads of uninitialised memory, which AddressSanitizer does not. Every output frame is
 * checked for definedness, so uninitialised pixels are reported where they are produced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp_jpeg.h"
#include "sp_resample.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_CHECK_MEM_IS_DEFINED
#define VALGRIND_CHECK_MEM_IS_DEFINED(p, n) 0
#endif

static sp_spec base_spec(int h, int w, int dtype)
{
    sp_spec s;
    memset(&s, 0, sizeof(s));
    s.out_h = h;
    s.out_w = w;
    s.dtype = dtype;
    s.interp = SP_INTERP_BILINEAR;
    for (int c = 0; c < 3; c++) s.scale[c] = 1.0f;
    s.max_pixels = 1 << 22;
    s.max_memory = 32 << 20;
    s.scale_headroom = 1.0;
    return s;
}

int main(int argc, char **argv)
{
    sp_spec specs[4];
    specs[0] = base_spec(16, 16, SP_DTYPE_F32);
    specs[1] = base_spec(9, 7, SP_DTYPE_U8); /* ROI, interleaved */
    specs[1].has_roi = 1;
    specs[1].roi_x = 3, specs[1].roi_y = 4, specs[1].roi_w = 30, specs[1].roi_h = 20;
    specs[1].layout = SP_LAYOUT_NHWC;
    specs[2] = base_spec(10, 10, SP_DTYPE_F32); /* letterbox, gray, EXIF */
    specs[2].resize = SP_RESIZE_LETTERBOX;
    specs[2].colorspace = SP_COLOR_GRAY;
    specs[2].apply_exif = 1;
    specs[3] = base_spec(12, 20, SP_DTYPE_F16); /* shorter-side crop, full scale */
    specs[3].resize = SP_RESIZE_SHORTER_CROP;
    specs[3].shorter_side = 20;
    specs[3].scale_headroom = 1e9;
    specs[3].fast_upsample = 1;

    sp_jpeg_decoder *d = sp_jpeg_decoder_new();
    static uint8_t out[16 * 16 * 3 * 4];
    long decodes = 0, ok = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 2; }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
        if (fread(data, 1, (size_t)n, f) != (size_t)n) { perror(argv[i]); return 2; }
        fclose(f);
        for (int k = 0; k < 4; k++) {
            sp_result r;
            for (int strict = 0; strict < 2; strict++) {
                specs[k].strict = strict;
                sp_jpeg_decode(d, data, (size_t)n, &specs[k], out, &r);
                if (VALGRIND_CHECK_MEM_IS_DEFINED(out, sp_frame_bytes(&specs[k])))
                    fprintf(stderr, "uninitialised output: %s, request %d, strict %d\n", argv[i], k, strict);
                decodes++;
                ok += r.status <= SP_WARNING;
            }
        }
        free(data);
    }
    sp_jpeg_decoder_free(d);
    printf("%ld files, %ld decodes, %ld delivered\n", (long)argc - 1, decodes, ok);
    return 0;
}
