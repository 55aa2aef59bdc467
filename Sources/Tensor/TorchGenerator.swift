import Foundation
import CKernels

/// A random source that reproduces PyTorch's CPU generator: `torch.manual_seed(seed)` followed by
/// `torch.randn(shape)` gives bit-identical values, which is what makes a seed give ComfyUI's image.
///
/// Follows the behaviour of PyTorch's `CPUGeneratorImpl` (MT19937 seeded with the low 32 bits of the
/// seed) and of ATen's CPU `normal_kernel` (aten/src/ATen/native/cpu/DistributionTemplates.h):
/// tensors with ≥ 16 elements are filled with 24-bit uniforms and then transformed 16 at a time by
/// a float Box–Muller (cos into the first 8, sin into the last 8; a ragged tail redraws the last 16);
/// smaller tensors take a double-precision Box–Muller per element with a cached second sample.
/// The float transform is the one of PyTorch's AVX2 kernel (which AVX-512 machines run too): Cephes
/// polynomial log/sin/cos with PyTorch's exact set of fused multiply–adds, in C
/// (`sumi_torch_normal_fill16`, Sources/CKernels/torch_rng.c), because libm's correctly rounded
/// `logf`/`cosf`/`sinf` differ from it in the last ulp for a few per cent of the samples.
public struct TorchGenerator: Sendable {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624
    private var cachedNormal: Double? = nil

    /// Seeds like `torch.manual_seed(seed)` (only the low 32 bits matter, as in PyTorch).
    public init(seed: UInt64) {
        mt[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<624 {
            mt[j] = 1_812_433_253 &* (mt[j - 1] ^ (mt[j - 1] >> 30)) &+ UInt32(j)
        }
        index = 624
    }

    /// Next raw 32-bit MT19937 output.
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]; index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// Two 32-bit draws combined as PyTorch's `random64()` does (first draw in the high half).
    public mutating func nextUInt64() -> UInt64 {
        let hi = UInt64(nextUInt32()), lo = UInt64(nextUInt32())
        return (hi << 32) | lo
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7FFF_FFFF)
            var v = mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            mt[i] = v
        }
        index = 0
    }

    /// Uniform float in [0, 1) from 24 bits (PyTorch's float `uniform_real_distribution`).
    mutating func uniformFloat() -> Float {
        Float(nextUInt32() & ((1 << 24) - 1)) * (1.0 / Float(1 << 24))
    }

    /// Uniform double in [0, 1) from 53 bits.
    mutating func uniformDouble() -> Double {
        Double(nextUInt64() & ((1 << 53) - 1)) * (1.0 / Double(UInt64(1) << 53))
    }

    /// One standard normal sample as PyTorch's `normal_distribution<double>` draws it.
    public mutating func normalDouble() -> Double {
        if let c = cachedNormal { cachedNormal = nil; return c + 0 }
        let u1 = uniformDouble(), u2 = uniformDouble()
        let r = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = r * sin(theta)
        // PyTorch returns r·cos θ·std + mean; with std 1 and mean 0 only the `+ 0` survives, and it
        // matters for one case: it turns a −0 into +0. The cached sample gets the same on its return.
        return r * cos(theta) + 0
    }

    /// Fills a new tensor like `torch.randn(shape)` (float32) on this generator.
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let t = Tensor(uninitialized: shape)
        fillNormal(t.data, count: t.count)
        return t
    }

    /// Fills `count` floats with standard normals exactly as `torch.randn` would.
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count n: Int) {
        if n < 16 {
            for i in 0..<n { p[i] = Float(normalDouble()) }
            return
        }
        // All uniforms are drawn before any is transformed, so the ragged tail's redraw below comes
        // from the generator after the whole tensor's uniforms, as in PyTorch.
        for i in 0..<n { p[i] = uniformFloat() }
        sumi_torch_normal_fill16_blocks(p, 0, n / 16)
        if n % 16 != 0 {
            // PyTorch redraws 16 fresh uniforms over the last 16 slots (overwriting normals of the
            // last full block) instead of handling a partial block.
            let tail = p + (n - 16)
            for j in 0..<16 { tail[j] = uniformFloat() }
            sumi_torch_normal_fill16(tail)
        }
    }
}
