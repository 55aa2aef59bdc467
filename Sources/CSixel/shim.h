// Why this exists: imports libsixel (header at /usr/include/sixel/sixel.h via pkg-config libsixel).
#include <sixel.h>
