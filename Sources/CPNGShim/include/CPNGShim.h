// Why this exists: libpng's classic API (the only one that reads and writes text chunks) reports
// errors by longjmp-ing out of a callback, and Swift cannot call setjmp. These functions keep every
// setjmp/longjmp inside C and return a status code plus a one-line message instead.
// The header deliberately does not include <png.h>: Swift only sees plain C types.
#ifndef SUMI_CPNGSHIM_H
#define SUMI_CPNGSHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes returned by the shim.
enum {
    SUMI_PNG_OK = 0,
    SUMI_PNG_NOT_PNG = 1,        ///< the data does not start with the PNG signature
    SUMI_PNG_TRUNCATED = 2,      ///< the data ended before IEND
    SUMI_PNG_CORRUPT = 3,        ///< libpng or zlib rejected the data (CRC, bad header, bad stream, ...)
    SUMI_PNG_NO_MEMORY = 4,      ///< an allocation failed
    SUMI_PNG_INVALID_INPUT = 5,  ///< encoder arguments libpng refused (bad keyword, zero size, ...)
};

/// Which chunk a text entry comes from / goes to.
enum {
    SUMI_PNG_TEXT_LATIN1 = 0,    ///< tEXt: ISO 8859-1, uncompressed
    SUMI_PNG_TEXT_UTF8 = 1,      ///< iTXt: UTF-8, uncompressed
    SUMI_PNG_TEXT_ZLATIN1 = 2,   ///< zTXt: ISO 8859-1, compressed (read only)
    SUMI_PNG_TEXT_ZUTF8 = 3,     ///< iTXt: UTF-8, compressed (read only)
};

/// One text chunk. Keys are always ISO 8859-1 (PNG keywords), values as `kind` says.
typedef struct sumi_png_text {
    char *key;             ///< NUL-terminated keyword, 1-79 bytes
    char *value;           ///< value bytes (NUL-terminated as well, but may be read by length)
    size_t value_length;   ///< bytes in `value`, excluding the terminator
    int kind;              ///< one of SUMI_PNG_TEXT_*
} sumi_png_text;

/// A decoded image: RGB8, row-major, plus the text chunks in file order. Owned by the shim.
typedef struct sumi_png_decoded {
    uint32_t width;
    uint32_t height;
    uint8_t *rgb;          ///< width * height * 3 bytes
    sumi_png_text *texts;  ///< text_count entries
    size_t text_count;
} sumi_png_decoded;

/// Encodes an RGB8 image (stride width * 3) with text chunks written before IDAT.
/// Only SUMI_PNG_TEXT_LATIN1 (tEXt) and SUMI_PNG_TEXT_UTF8 (iTXt) kinds are accepted.
/// On success `*out_data` is a malloc'd buffer of `*out_size` bytes (free with sumi_png_free).
/// On failure `message` receives a NUL-terminated one-line reason.
int sumi_png_encode(const uint8_t *rgb, uint32_t width, uint32_t height,
                    const sumi_png_text *texts, size_t text_count,
                    uint8_t **out_data, size_t *out_size,
                    char *message, size_t message_capacity);

/// Decodes any PNG (all colour types and bit depths, interlaced or not) to RGB8.
/// Alpha (an alpha channel or tRNS) is composited onto black: out = round(c * a / max).
/// 16-bit samples are scaled with rounding (round(v / 257)); gamma chunks are ignored.
/// On success fills `out` (release with sumi_png_decoded_free). Never longjmps to the caller.
int sumi_png_decode(const uint8_t *data, size_t size, sumi_png_decoded *out,
                    char *message, size_t message_capacity);

/// Releases everything a successful sumi_png_decode allocated and zeroes `out`.
void sumi_png_decoded_free(sumi_png_decoded *out);

/// Releases a buffer returned by sumi_png_encode.
void sumi_png_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
