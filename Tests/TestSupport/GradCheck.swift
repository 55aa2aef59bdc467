import XCTest
import Tensor

/// Finite-difference gradient check.
///
/// Computes L = Σ f(inputs) ⊙ w for a fixed random w, gets analytic gradients by `backward`, and
/// compares them with central differences (step `eps`) on up to `probes` elements per input. Float32
/// central differences are accurate to roughly eps² + ulp/eps, so the tolerance is loose by design:
/// this catches wrong formulas, the fixture tests catch small numeric errors.
public func assertGradientsMatchFiniteDifferences(
    _ inputs: [Tensor], eps: Float = 1e-2, tolerance: Double = 2e-2, probes: Int = 24,
    file: StaticString = #filePath, line: UInt = #line,
    _ f: (Compute, [Tensor]) -> Tensor
) {
    let c = Compute(threads: 2)
    for t in inputs { t.requiresGrad = true; t.grad = nil }
    let probeOut = f(c.inference, inputs)
    var rng = SplitMix64(seed: 1234)
    let w = Tensor(shape: probeOut.shape, values: (0..<probeOut.count).map { _ in Float(rng.nextDouble() * 2 - 1) })
    func loss() -> Double {
        let y = f(c.inference, inputs)
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(w.data[i]) }
        return s
    }
    let y = f(c, inputs)
    y.backward(seed: w, compute: c)
    for (k, t) in inputs.enumerated() {
        guard let g = t.grad else { XCTFail("input \(k) got no gradient", file: file, line: line); continue }
        let step = max(1, t.count / probes)
        var worst = 0.0, scale = 1e-3
        for i in stride(from: 0, to: t.count, by: step) { scale = max(scale, abs(Double(g.data[i]))) }
        for i in stride(from: 0, to: t.count, by: step) {
            let orig = t.data[i]
            t.data[i] = orig + eps; let lp = loss()
            t.data[i] = orig - eps; let lm = loss()
            t.data[i] = orig
            let numeric = (lp - lm) / (2 * Double(eps))
            worst = max(worst, abs(numeric - Double(g.data[i])) / scale)
        }
        if !(worst <= tolerance) {
            XCTFail("input \(k) \(t.shape): finite-difference mismatch \(worst) > \(tolerance)", file: file, line: line)
        }
    }
    for t in inputs { t.requiresGrad = false; t.grad = nil }
}

/// A small deterministic generator for tests (not torch-compatible; see the RNG in Tensor for that).
public struct SplitMix64 {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    public mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// A tensor of uniform values in [-scale, scale) from a seeded generator.
public func randomTensor(_ shape: [Int], seed: UInt64 = 7, scale: Float = 1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: shape, values: (0..<shape.product).map { _ in Float(rng.nextDouble() * 2 - 1) * scale })
}
