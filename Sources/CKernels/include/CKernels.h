// Umbrella header of the CKernels module: one header per kernel family.
// (An explicit umbrella header, not an umbrella directory, so that clang's module cache notices
// when a family header changes.)
#include "convert.h"
#include "conv.h"
#include "winograd.h"
#include "attention.h"
#include "norm.h"
#include "activations.h"
#include "elementwise.h"
#include "torch_rng.h"
#include "gemm_bf16.h"
#if __has_include("optim.h")
#include "optim.h"
#endif
