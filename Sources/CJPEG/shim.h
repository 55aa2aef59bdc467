// Why this exists: imports libjpeg-turbo (Debian libjpeg-dev) for decoding JPEG training images.
//
// libjpeg's default error handler calls exit(), and the only way to recover from an error is to
// longjmp out of a replacement handler. Swift cannot call setjmp, so the whole decode (every libjpeg
// call that can fail) lives in the static inline functions below, each with its own local jmp_buf.
// Swift sees plain status codes and a one-line message. Warnings are counted instead of printed.
#ifndef SUMI_CJPEG_SHIM_H
#define SUMI_CJPEG_SHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/// Status codes of the shim functions.
enum {
    SUMI_JPEG_OK = 0,
    SUMI_JPEG_CORRUPT = 1,     ///< libjpeg raised an error (bad marker, unsupported format, ...)
    SUMI_JPEG_TRUNCATED = 2,   ///< the data ended before the image did (libjpeg's "premature end" warning)
    SUMI_JPEG_TOO_LARGE = 3,   ///< width * height exceeds the caller's pixel limit
    SUMI_JPEG_NO_MEMORY = 4,   ///< the output buffer could not be allocated
};

/// Result of `sumi_jpeg_decode`. `rgb` (decoded_width * decoded_height * 3 bytes, row-major RGB8) is
/// malloc'ed by the shim and must be released with `sumi_jpeg_free`.
typedef struct sumi_jpeg_image {
    unsigned int width;           ///< full-resolution width from the header
    unsigned int height;          ///< full-resolution height from the header
    unsigned int decoded_width;   ///< width after DCT scaling (1/scale_denom)
    unsigned int decoded_height;  ///< height after DCT scaling
    unsigned char *rgb;
    int warnings;                 ///< libjpeg warnings seen (corrupt data libjpeg recovered from)
    char message[JMSG_LENGTH_MAX];///< libjpeg's message for the error (empty on success)
} sumi_jpeg_image;

/// libjpeg error manager extended with the jump target and a "data ended early" flag.
struct sumi_jpeg_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
};

static void sumi_jpeg_error_exit(j_common_ptr cinfo) {
    struct sumi_jpeg_error_mgr *err = (struct sumi_jpeg_error_mgr *)cinfo->err;
    longjmp(err->jump, 1);
}

// Level -1 is a warning; higher levels are trace messages. Nothing is printed.
static void sumi_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    struct sumi_jpeg_error_mgr *err = (struct sumi_jpeg_error_mgr *)cinfo->err;
    if (msg_level < 0) {
        err->pub.num_warnings++;
        if (err->pub.msg_code == JWRN_JPEG_EOF) err->truncated = 1;
    }
}

static void sumi_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/// Releases the pixels of a decoded image (safe on a zeroed struct).
static inline void sumi_jpeg_free(sumi_jpeg_image *image) {
    if (image->rgb) free(image->rgb);
    image->rgb = NULL;
}

/// Reads only the header: the full-resolution size. Returns a SUMI_JPEG_* status.
static inline int sumi_jpeg_read_size(const unsigned char *data, size_t size,
                                      unsigned int *width, unsigned int *height) {
    struct jpeg_decompress_struct cinfo;
    struct sumi_jpeg_error_mgr jerr;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = sumi_jpeg_error_exit;
    jerr.pub.emit_message = sumi_jpeg_emit_message;
    jerr.pub.output_message = sumi_jpeg_output_message;
    *width = 0;
    *height = 0;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return jerr.truncated ? SUMI_JPEG_TRUNCATED : SUMI_JPEG_CORRUPT;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    *width = cinfo.image_width;
    *height = cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return SUMI_JPEG_OK;
}

/// Decodes JPEG bytes to RGB8. `scale_denom` (1, 2, 4 or 8) asks libjpeg to decode at 1/scale_denom
/// of the size, which is much faster for large photos that are downscaled anyway. Grayscale and
/// YCbCr convert to RGB in libjpeg; CMYK/YCCK (Adobe, inverted) convert here. `max_pixels` (0 = no
/// limit) bounds the full-resolution size before anything is allocated.
static inline int sumi_jpeg_decode(const unsigned char *data, size_t size, unsigned int scale_denom,
                                   unsigned long long max_pixels, sumi_jpeg_image *out) {
    struct jpeg_decompress_struct cinfo;
    struct sumi_jpeg_error_mgr jerr;
    // Written after setjmp and read after longjmp, so it must be volatile.
    unsigned char *volatile rgb = NULL;
    unsigned char *volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&jerr, 0, sizeof jerr);
    memset(out, 0, sizeof *out);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = sumi_jpeg_error_exit;
    jerr.pub.emit_message = sumi_jpeg_emit_message;
    jerr.pub.output_message = sumi_jpeg_output_message;
    if (setjmp(jerr.jump)) {
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, out->message);
        jpeg_destroy_decompress(&cinfo);
        if (rgb) free(rgb);
        if (row) free(row);
        out->rgb = NULL;
        // An error after the data ran out (e.g. "no image" when the cut is inside the header)
        // is reported as truncation, the root cause.
        return jerr.truncated ? SUMI_JPEG_TRUNCATED : SUMI_JPEG_CORRUPT;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    out->width = cinfo.image_width;
    out->height = cinfo.image_height;
    if (max_pixels && (unsigned long long)cinfo.image_width * cinfo.image_height > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        return SUMI_JPEG_TOO_LARGE;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8) scale_denom = 1;
    cinfo.scale_num = 1;
    cinfo.scale_denom = scale_denom;
    jpeg_start_decompress(&cinfo);
    unsigned int w = cinfo.output_width, h = cinfo.output_height;
    size_t stride = (size_t)w * 3;
    rgb = (unsigned char *)malloc(stride * (h ? h : 1));
    if (cmyk) row = (unsigned char *)malloc((size_t)w * 4 + 1);
    if (!rgb || (cmyk && !row)) {
        jpeg_destroy_decompress(&cinfo);
        if (rgb) free(rgb);
        if (row) free(row);
        return SUMI_JPEG_NO_MEMORY;
    }
    while (cinfo.output_scanline < h) {
        unsigned char *dst = rgb + (size_t)cinfo.output_scanline * stride;
        JSAMPROW target = cmyk ? row : dst;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) break;
        if (cmyk) {
            // Adobe writes inverted CMYK (the common case); plain CMYK is inverted first.
            int inverted = cinfo.saw_Adobe_marker;
            for (unsigned int x = 0; x < w; x++) {
                unsigned int c = row[x * 4], m = row[x * 4 + 1], y = row[x * 4 + 2], k = row[x * 4 + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
                dst[x * 3] = (unsigned char)((c * k + 127) / 255);
                dst[x * 3 + 1] = (unsigned char)((m * k + 127) / 255);
                dst[x * 3 + 2] = (unsigned char)((y * k + 127) / 255);
            }
        }
    }
    int truncated = jerr.truncated || cinfo.output_scanline < h;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (row) free(row);
    out->decoded_width = w;
    out->decoded_height = h;
    out->warnings = jerr.pub.num_warnings;
    if (truncated) {
        free(rgb);
        snprintf(out->message, sizeof out->message, "Premature end of JPEG file");
        return SUMI_JPEG_TRUNCATED;
    }
    out->rgb = rgb;
    return SUMI_JPEG_OK;
}

#endif
