// Why this exists: Swift imports OpenBLAS's cblas.h (which also declares openblas_set_num_threads)
// through this system-library target; pkg-config "openblas" pins the OpenBLAS header on Debian.
#include <cblas.h>
