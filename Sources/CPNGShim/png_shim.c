// libpng's classic read/write API behind a setjmp boundary (see include/CPNGShim.h for why).
//
// setjmp rules followed here: everything that changes between setjmp and a possible longjmp lives
// in a heap-allocated `shim_ctx` (reached through a pointer that is itself never modified), so no
// automatic variable is indeterminate after the jump; the work itself happens in separate
// functions called after setjmp.
#include "CPNGShim.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// Largest image the decoder accepts (pixels); larger files are reported as corrupt rather than
/// risking a multi-gigabyte allocation from a damaged header.
#define SUMI_PNG_MAX_PIXELS ((uint64_t)1 << 27)
/// Per-axis limit (libpng's own default is 1,000,000).
#define SUMI_PNG_MAX_SIDE 65535u
/// Deflate cannot expand data by more than ~1032x; a header that needs more raw bytes than the
/// whole file could inflate to is damaged or truncated, and is refused before allocating.
#define SUMI_PNG_MAX_INFLATE_RATIO 1040.0

typedef struct shim_ctx {
    char *message;
    size_t message_capacity;
    int truncated;    // the input ended early
    int no_memory;    // an allocation failed
    int has_message;  // the first, most specific reason is kept

    // Reading.
    const uint8_t *data;
    size_t size;
    size_t offset;
    uint8_t *row16;        // one row (or the whole image when interlaced), 16-bit samples
    png_bytep *rows;       // row pointers into row16 for interlaced images
    sumi_png_decoded result;

    // Writing.
    uint8_t *out;
    size_t out_size;
    size_t out_capacity;
    png_text *png_texts;
} shim_ctx;

static void set_message(shim_ctx *c, const char *text) {
    if (c->has_message || c->message == NULL || c->message_capacity == 0) return;
    snprintf(c->message, c->message_capacity, "%s", text ? text : "unknown libpng error");
    for (char *p = c->message; *p; ++p) {
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    }
    c->has_message = 1;
}

static void fail(png_structp png, shim_ctx *c, const char *text) {
    set_message(c, text);
    png_error(png, text);
}

static void on_error(png_structp png, png_const_charp text) {
    shim_ctx *c = (shim_ctx *)png_get_error_ptr(png);
    if (c) set_message(c, text);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) {
    // Warnings (bad ancillary CRCs, odd colour profiles) do not stop decoding; stay quiet.
    (void)png;
    (void)text;
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t size) {
    void *p = malloc(size);
    if (p == NULL) {
        shim_ctx *c = (shim_ctx *)png_get_mem_ptr(png);
        if (c) c->no_memory = 1;
    }
    return p;
}

static void on_free(png_structp png, png_voidp p) {
    (void)png;
    free(p);
}

static int status_for(const shim_ctx *c, int fallback) {
    if (c->no_memory) return SUMI_PNG_NO_MEMORY;
    if (c->truncated) return SUMI_PNG_TRUNCATED;
    return fallback;
}

static void message_direct(char *message, size_t capacity, const char *text) {
    if (message && capacity) snprintf(message, capacity, "%s", text);
}

// MARK: - Decoding

static void read_data(png_structp png, png_bytep dst, size_t n) {
    shim_ctx *c = (shim_ctx *)png_get_io_ptr(png);
    if (n > c->size - c->offset) {
        c->truncated = 1;
        fail(png, c, "unexpected end of data");
    }
    memcpy(dst, c->data + c->offset, n);
    c->offset += n;
}

static void *checked_malloc(png_structp png, shim_ctx *c, size_t size) {
    void *p = malloc(size ? size : 1);
    if (p == NULL) {
        c->no_memory = 1;
        fail(png, c, "out of memory");
    }
    return p;
}

static char *copy_string(png_structp png, shim_ctx *c, const char *s, size_t length) {
    char *p = (char *)checked_malloc(png, c, length + 1);
    if (length) memcpy(p, s, length);
    p[length] = 0;
    return p;
}

/// Converts one row of 16-bit big-endian RGB or RGBA samples to RGB8, compositing alpha on black.
static void convert_row(const uint8_t *src, uint8_t *dst, uint32_t width, int channels) {
    if (channels == 3) {
        for (size_t i = 0; i < (size_t)width * 3; ++i) {
            uint32_t v = ((uint32_t)src[2 * i] << 8) | src[2 * i + 1];
            dst[i] = (uint8_t)((v + 128) / 257);  // round(v / 257)
        }
        return;
    }
    // round(c * a / (65535 * 257)): one rounding from 16-bit premultiplied to 8-bit; for 8-bit
    // sources (expanded as v * 257) this equals round(c8 * a8 / 255).
    const uint64_t d = (uint64_t)65535 * 257;
    for (size_t x = 0; x < width; ++x) {
        const uint8_t *p = src + 8 * x;
        uint64_t a = ((uint64_t)p[6] << 8) | p[7];
        for (int k = 0; k < 3; ++k) {
            uint64_t v = ((uint64_t)p[2 * k] << 8) | p[2 * k + 1];
            dst[3 * x + k] = (uint8_t)((v * a + d / 2) / d);
        }
    }
}

static int text_kind(int compression) {
    switch (compression) {
    case PNG_TEXT_COMPRESSION_NONE: return SUMI_PNG_TEXT_LATIN1;
    case PNG_TEXT_COMPRESSION_zTXt: return SUMI_PNG_TEXT_ZLATIN1;
    case PNG_ITXT_COMPRESSION_NONE: return SUMI_PNG_TEXT_UTF8;
    default: return SUMI_PNG_TEXT_ZUTF8;
    }
}

static void decode_body(png_structp png, png_infop info, shim_ctx *c) {
    png_set_read_fn(png, c, read_data);
    png_set_user_limits(png, SUMI_PNG_MAX_SIDE, SUMI_PNG_MAX_SIDE);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    if ((uint64_t)width * height > SUMI_PNG_MAX_PIXELS) {
        char text[128];
        snprintf(text, sizeof text, "image too large (%ux%u)", (unsigned)width, (unsigned)height);
        fail(png, c, text);
    }
    double raw = (double)height * ((double)width * png_get_channels(png, info) * bit_depth / 8.0 + 1.0);
    if (raw > (double)c->size * SUMI_PNG_MAX_INFLATE_RATIO + 65536.0) {
        char text[128];
        snprintf(text, sizeof text, "header declares %ux%u, more than the file's data can hold",
                 (unsigned)width, (unsigned)height);
        fail(png, c, text);
    }

    // Everything becomes 16-bit RGB or RGBA: one conversion path for every colour type/depth.
    png_set_expand_16(png);  // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha, then 8 -> 16 bits
    png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 16 ||
        rowbytes != (size_t)width * channels * 2) {
        fail(png, c, "unsupported pixel layout after conversion");
    }

    c->result.width = width;
    c->result.height = height;
    c->result.rgb = (uint8_t *)checked_malloc(png, c, (size_t)width * height * 3);
    if (passes > 1) {
        c->row16 = (uint8_t *)checked_malloc(png, c, rowbytes * height);
        c->rows = (png_bytep *)checked_malloc(png, c, sizeof(png_bytep) * height);
        for (png_uint_32 y = 0; y < height; ++y) c->rows[y] = c->row16 + rowbytes * y;
        png_read_image(png, c->rows);
        for (png_uint_32 y = 0; y < height; ++y) {
            convert_row(c->rows[y], c->result.rgb + (size_t)y * width * 3, width, channels);
        }
    } else {
        c->row16 = (uint8_t *)checked_malloc(png, c, rowbytes);
        for (png_uint_32 y = 0; y < height; ++y) {
            png_read_row(png, c->row16, NULL);
            convert_row(c->row16, c->result.rgb + (size_t)y * width * 3, width, channels);
        }
    }
    png_read_end(png, info);  // text chunks after IDAT land in the same info struct

    png_textp texts = NULL;
    int count = png_get_text(png, info, &texts, NULL);
    if (count > 0 && texts != NULL) {
        c->result.texts = (sumi_png_text *)checked_malloc(png, c, sizeof(sumi_png_text) * (size_t)count);
        memset(c->result.texts, 0, sizeof(sumi_png_text) * (size_t)count);
        for (int i = 0; i < count; ++i) {
            const char *key = texts[i].key ? texts[i].key : "";
            const char *value = texts[i].text ? texts[i].text : "";
            sumi_png_text *t = &c->result.texts[i];
            t->kind = text_kind(texts[i].compression);
            t->key = copy_string(png, c, key, strlen(key));
            t->value_length = strlen(value);
            t->value = copy_string(png, c, value, t->value_length);
            c->result.text_count = (size_t)i + 1;
        }
    }
}

void sumi_png_decoded_free(sumi_png_decoded *out) {
    if (out == NULL) return;
    free(out->rgb);
    for (size_t i = 0; i < out->text_count; ++i) {
        free(out->texts[i].key);
        free(out->texts[i].value);
    }
    free(out->texts);
    memset(out, 0, sizeof *out);
}

int sumi_png_decode(const uint8_t *data, size_t size, sumi_png_decoded *out,
                    char *message, size_t message_capacity) {
    static const uint8_t signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    memset(out, 0, sizeof *out);
    message_direct(message, message_capacity, "");
    if (size == 0) {
        message_direct(message, message_capacity, "empty file");
        return SUMI_PNG_NOT_PNG;
    }
    if (memcmp(data, signature, size < 8 ? size : 8) != 0) {
        message_direct(message, message_capacity, "no PNG signature");
        return SUMI_PNG_NOT_PNG;
    }
    if (size < 8) {
        message_direct(message, message_capacity, "unexpected end of data");
        return SUMI_PNG_TRUNCATED;
    }

    shim_ctx *const c = (shim_ctx *)calloc(1, sizeof(shim_ctx));
    if (c == NULL) return SUMI_PNG_NO_MEMORY;
    c->message = message;
    c->message_capacity = message_capacity;
    c->data = data;
    c->size = size;

    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, c, on_error, on_warning,
                                               c, on_malloc, on_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        free(c);
        message_direct(message, message_capacity, "out of memory");
        return SUMI_PNG_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        int status = status_for(c, SUMI_PNG_CORRUPT);
        free(c->row16);
        free(c->rows);
        sumi_png_decoded_free(&c->result);
        png_destroy_read_struct(&png, &info, NULL);
        free(c);
        return status;
    }
    decode_body(png, info, c);

    *out = c->result;
    free(c->row16);
    free(c->rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(c);
    return SUMI_PNG_OK;
}

// MARK: - Encoding

static void write_data(png_structp png, png_bytep src, size_t n) {
    shim_ctx *c = (shim_ctx *)png_get_io_ptr(png);
    if (n > c->out_capacity - c->out_size) {
        size_t capacity = c->out_capacity ? c->out_capacity : 4096;
        while (capacity - c->out_size < n) capacity *= 2;
        uint8_t *grown = (uint8_t *)realloc(c->out, capacity);
        if (grown == NULL) {
            c->no_memory = 1;
            fail(png, c, "out of memory");
        }
        c->out = grown;
        c->out_capacity = capacity;
    }
    memcpy(c->out + c->out_size, src, n);
    c->out_size += n;
}

static void flush_data(png_structp png) { (void)png; }

static void encode_body(png_structp png, png_infop info, shim_ctx *c, const uint8_t *rgb,
                        uint32_t width, uint32_t height, const sumi_png_text *texts, size_t text_count) {
    png_set_write_fn(png, c, write_data, flush_data);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (text_count > 0) {
        c->png_texts = (png_text *)checked_malloc(png, c, sizeof(png_text) * text_count);
        memset(c->png_texts, 0, sizeof(png_text) * text_count);
        for (size_t i = 0; i < text_count; ++i) {
            png_text *t = &c->png_texts[i];
            t->key = texts[i].key;
            t->text = texts[i].value;
            t->text_length = texts[i].value_length;
            t->compression = texts[i].kind == SUMI_PNG_TEXT_UTF8 ? PNG_ITXT_COMPRESSION_NONE
                                                                 : PNG_TEXT_COMPRESSION_NONE;
        }
        png_set_text(png, info, c->png_texts, (int)text_count);  // copies the strings
    }
    png_write_info(png, info);  // text goes before IDAT so metadata readers can stop early
    for (uint32_t y = 0; y < height; ++y) png_write_row(png, rgb + (size_t)y * width * 3);
    png_write_end(png, NULL);
}

void sumi_png_free(void *pointer) { free(pointer); }

int sumi_png_encode(const uint8_t *rgb, uint32_t width, uint32_t height,
                    const sumi_png_text *texts, size_t text_count,
                    uint8_t **out_data, size_t *out_size,
                    char *message, size_t message_capacity) {
    *out_data = NULL;
    *out_size = 0;
    message_direct(message, message_capacity, "");
    if (width == 0 || height == 0 || width > 0x7fffffffu || height > 0x7fffffffu || rgb == NULL) {
        message_direct(message, message_capacity, "image size must be between 1 and 2^31-1");
        return SUMI_PNG_INVALID_INPUT;
    }
    if (text_count > 0x7fffffff) {
        message_direct(message, message_capacity, "too many text chunks");
        return SUMI_PNG_INVALID_INPUT;
    }
    for (size_t i = 0; i < text_count; ++i) {
        if (texts[i].key == NULL || texts[i].value == NULL ||
            (texts[i].kind != SUMI_PNG_TEXT_LATIN1 && texts[i].kind != SUMI_PNG_TEXT_UTF8)) {
            message_direct(message, message_capacity, "invalid text entry");
            return SUMI_PNG_INVALID_INPUT;
        }
    }

    shim_ctx *const c = (shim_ctx *)calloc(1, sizeof(shim_ctx));
    if (c == NULL) return SUMI_PNG_NO_MEMORY;
    c->message = message;
    c->message_capacity = message_capacity;

    png_structp png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, c, on_error, on_warning,
                                                c, on_malloc, on_free);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        free(c);
        message_direct(message, message_capacity, "out of memory");
        return SUMI_PNG_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        int status = status_for(c, SUMI_PNG_INVALID_INPUT);
        free(c->out);
        free(c->png_texts);
        png_destroy_write_struct(&png, &info);
        free(c);
        return status;
    }
    encode_body(png, info, c, rgb, width, height, texts, text_count);

    *out_data = c->out;
    *out_size = c->out_size;
    free(c->png_texts);
    png_destroy_write_struct(&png, &info);
    free(c);
    return SUMI_PNG_OK;
}
