import Foundation

/// OpenBLAS settings that must be in the environment before the library loads.
enum BLASEnvironment {
    /// After each GEMM, OpenBLAS's idle worker threads spin (`sched_yield`) for 2^28 cycles — about 70 ms — before
    /// sleeping; `OPENBLAS_THREAD_TIMEOUT` (read once, when the library loads) sets the exponent. Between GEMMs
    /// our own kernels (Winograd transforms, norms, attention) run on the same cores, so the spinning worker takes
    /// a share of them: a 512² VAE decode measured 10.8 s with the default and 9.5 s with 2^4. The variable can
    /// only take effect in a fresh process image, so when it is unset `sumi` sets it and re-executes itself once
    /// (a user's own value is kept). If the exec fails, it carries on with OpenBLAS's default.
    static func reexecWithShortSpinIfNeeded() {
        guard getenv("OPENBLAS_THREAD_TIMEOUT") == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        for p in argv { free(p) }
    }
}
