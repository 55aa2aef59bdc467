// Why this exists: Swift imports libpng's png.h through this system-library target (pkg-config
// "libpng" gives -I/usr/include/libpng16). Imaging uses it only for the simple, non-setjmp calls;
// everything that can longjmp lives in the CPNGShim C target.
#include <png.h>
