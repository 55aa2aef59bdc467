import Foundation
import Dispatch
import COpenBLAS
import CKernels

/// The compute context every op runs in: thread count and whether autograd records.
///
/// There is no global state in the engine; a `Compute` value is passed to every op. Copy it and
/// flip `recordsGradients` to run inference with trainable weights and no tape.
public struct Compute: Sendable {
    /// Worker threads for our own kernels (and the BLAS thread count, set at init).
    public let threads: Int
    /// When false no op records a graph node, whatever its inputs require.
    public var recordsGradients: Bool
    /// Arithmetic of the big matrix products (linear, conv). `.bf16` rounds both operands to bfloat16 and
    /// accumulates in fp32 where the CPU has AVX512-BF16; elsewhere it silently stays fp32.
    public var precision: Precision = .fp32
    /// When set, ops charge their time, FLOPs and page faults to it (see `OpProfiler`).
    public var profiler: OpProfiler?
    /// Whether inference runs 3×3 stride-1 convs through Winograd F(2×2 or 4×4, 3×3) where it pays (see
    /// `Conv2d.winogradTile`). Off: every conv is im2col + GEMM (benchmarks compare the two).
    public var winogradConvs = true

    /// A context with `threads` workers (default: every core). With `setsBLASThreads` it also sets OpenBLAS's
    /// thread count — which is process-wide: a secondary context (a data thread's, a helper's) passes false, or
    /// it would quietly make every other context's GEMMs single-threaded.
    public init(threads: Int? = nil, recordsGradients: Bool = true, setsBLASThreads: Bool = true) {
        let n = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        self.threads = n
        self.recordsGradients = recordsGradients
        if setsBLASThreads { openblas_set_num_threads(Int32(n)) }
    }

    /// The same context with gradient recording off.
    public var inference: Compute { var c = self; c.recordsGradients = false; return c }

    /// The same context with another GEMM precision.
    public func with(precision: Precision) -> Compute { var c = self; c.precision = precision; return c }

    /// The same context with Winograd convs on or off.
    public func with(winogradConvs: Bool) -> Compute { var c = self; c.winogradConvs = winogradConvs; return c }

    /// The same context charging op times to `profiler` (nil: no profiling).
    public func with(profiler: OpProfiler?) -> Compute { var c = self; c.profiler = profiler; return c }

    /// Whether GEMMs run in bf16 on this machine (asked for and supported by the CPU).
    public var usesBF16: Bool { precision == .bf16 && BF16GEMM.isSupported }

    /// Runs `body` over `0..<count` split into at most `threads` contiguous ranges.
    /// Small counts (below `grain` per thread) run on the calling thread.
    @inlinable
    public func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        let per = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            let lo = i * per, hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Wraps an op's output in a graph node when recording is on and an input needs gradients.
    /// `backward` receives dOutput and returns one gradient per input (nil where not needed).
    public func record(_ op: String, _ output: Tensor, inputs: [Tensor],
                       backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard recordsGradients, inputs.contains(where: { $0.requiresGrad }) else { return output }
        output.node = Node(op: op, inputs: inputs, backward: backward)
        output.requiresGrad = true
        return output
    }

    /// Whether an op's result will be recorded (lets ops skip saving what backward needs).
    public func records(_ inputs: Tensor...) -> Bool {
        recordsGradients && inputs.contains(where: { $0.requiresGrad })
    }

    /// a + b elementwise into a new tensor (same shapes; no graph).
    public func addValues(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "addValues \(a.shape) vs \(b.shape)")
        let out = Tensor(uninitialized: a.shape)
        let pa = a.data, pb = b.data, po = out.data
        parallelFor(a.count, grain: 1 << 15) { r in
            for i in r { po[i] = pa[i] + pb[i] }
        }
        return out
    }

    /// a += b elementwise (same shapes; no graph).
    public func addInPlace(_ a: Tensor, _ b: Tensor) {
        precondition(a.shape == b.shape, "addInPlace \(a.shape) vs \(b.shape)")
        let pa = a.data, pb = b.data
        parallelFor(a.count, grain: 1 << 15) { r in
            for i in r { pa[i] += pb[i] }
        }
    }
}

/// Arithmetic precision of matrix products.
public enum Precision: String, Sendable, CaseIterable {
    /// IEEE single precision throughout.
    case fp32
    /// Operands rounded to bfloat16 (8-bit mantissa), products accumulated in fp32.
    case bf16
}

/// What the CPU offers, detected at run time.
public enum CPUFeatures {
    /// AVX-512 foundation instructions.
    public static var hasAVX512: Bool { sumi_cpu_has("avx512f") != 0 }
    /// AVX512-BF16 dot products (VDPBF16PS).
    public static var hasAVX512BF16: Bool { sumi_cpu_has("avx512bf16") != 0 }
    /// AVX2 with FMA.
    public static var hasAVX2: Bool { sumi_cpu_has("avx2") != 0 && sumi_cpu_has("fma") != 0 }
}
