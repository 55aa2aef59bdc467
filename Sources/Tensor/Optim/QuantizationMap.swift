import Foundation

/// A sorted table of 256 fp32 values that an 8-bit code indexes: bitsandbytes' "dynamic" data type.
///
/// Built by the rule of `bitsandbytes.functional.create_dynamic_map(signed, max_exponent_bits=7,
/// total_bits=8)` (source: bitsandbytes-foundation/bitsandbytes, functional.py): for exponent level
/// i = 0…6, the midpoints of `torch.linspace(0.1, 1, n_i + 1)` (fp32) scaled by 10^(i−6), with
/// n_i = 2^i and both signs for the signed map, n_i = 2^(i+1) for the unsigned one; plus 0 and 1.
/// The signed map (used for Adam's m) has 127 negative values, one zero and 128 positive ones; the
/// unsigned map (for v) is 0 followed by 255 positive values. Every value is reproduced bit for bit,
/// including PyTorch's linspace rounding, so codes computed here index the same values as bitsandbytes.
public struct QuantizationMap: Sendable {
    /// The 256 values, ascending.
    public let values: [Float]
    /// Index of the value 0 (the code that dequantises to zero whatever the block's absmax).
    public let zeroCode: UInt8

    /// The signed dynamic map (Adam's first moment).
    public static let signed = QuantizationMap(signed: true)
    /// The unsigned dynamic map (Adam's second moment).
    public static let unsigned = QuantizationMap(signed: false)

    /// Builds the signed or unsigned dynamic map.
    public init(signed: Bool) {
        var data: [Float] = []
        for i in 0..<7 {
            let n = signed ? (1 << i) : (1 << (i + 1))
            let b = QuantizationMap.torchLinspace(0.1, 1, count: n + 1)
            let scale = pow(10.0, Double(i - 6))
            for k in 0..<n {
                let mean = (b[k] + b[k + 1]) / 2
                data.append(Float(scale) * mean)
                if signed { data.append(Float(-scale) * mean) }
            }
        }
        data.append(0)
        data.append(1)
        precondition(data.count == 256, "dynamic map has \(data.count) entries")
        data.sort()
        values = data
        zeroCode = UInt8(data.firstIndex(of: 0)!)
    }

    /// `torch.linspace(start, end, count, dtype=float32)` on CPU, bit for bit: the first half counts
    /// up from `start`, the second half down from `end`, each as one fused multiply-add in fp32.
    static func torchLinspace(_ start: Float, _ end: Float, count: Int) -> [Float] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (end - start) / Float(count - 1)
        let half = count / 2
        return (0..<count).map { i in
            i < half ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(count - i - 1))
        }
    }

    /// The 8-bit code for a block-normalised value `x` (|x| ≤ 1), by bitsandbytes' CUDA rule
    /// (`quantize_2D` in csrc/kernels.cu): a 7-step binary search over the sorted values ends on an
    /// even code p with value[p−1] < x ≤ value[p+1]; then the midpoint (value[p] + value[p±1])·0.5
    /// decides between p and its neighbour on x's side, ties staying on p. NaN gives code 0, as there.
    @inline(__always)
    public func code(for x: Float) -> UInt8 {
        values.withUnsafeBufferPointer { QuantizationMap.quantize(x, $0.baseAddress!) }
    }

    /// `code(for:)` on a raw 256-entry table pointer (hot loop form).
    @inline(__always)
    static func quantize(_ x: Float, _ table: UnsafePointer<Float>) -> UInt8 {
        var pivot = 127, upperPivot = 255, lowerPivot = 0
        var step = 64
        while step > 0 {
            if x > table[pivot] { lowerPivot = pivot; pivot += step } else { upperPivot = pivot; pivot -= step }
            step >>= 1
        }
        // After the search lowerPivot = pivot − 1 and upperPivot = pivot + 1 whenever they exist.
        let val = table[pivot]
        if x > val {
            return x > (table[upperPivot] + val) * 0.5 ? UInt8(upperPivot) : UInt8(pivot)
        } else {
            let lower = lowerPivot == pivot ? val : table[lowerPivot]
            return x < (lower + val) * 0.5 ? UInt8(lowerPivot) : UInt8(pivot)
        }
    }

    /// Plain linear-scan statement of the same rule, for tests: find j with value[j−1] < x ≤ value[j];
    /// of the two candidates the even one wins ties at the float midpoint.
    public func codeNaive(_ x: Float) -> UInt8 {
        if x.isNaN { return 0 }
        var j = 0
        while j < 256 && values[j] < x { j += 1 }
        if j == 0 { return 0 }
        if j == 256 { return 255 }
        let mid = (values[j - 1] + values[j]) * 0.5
        if j % 2 == 0 { return x < mid ? UInt8(j - 1) : UInt8(j) }
        return x > mid ? UInt8(j) : UInt8(j - 1)
    }
}
