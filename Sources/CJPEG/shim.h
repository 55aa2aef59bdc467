// Why this exists: imports libjpeg-turbo (Debian libjpeg-dev) for decoding JPEG training images.
#include <stdio.h>
#include <jpeglib.h>
