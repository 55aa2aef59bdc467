/// A small deterministic random generator (SplitMix64) whose whole state is one `UInt64`, so a
/// data position can store it and resume the exact random sequence. Not for cryptography; not the
/// torch generator (data order does not need to match any reference implementation).
public struct DataRNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The full generator state.
    public var state: UInt64

    /// A generator started from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return DataRNG.mix(state)
    }

    /// A uniform integer in `0..<bound` (bound > 0), without modulo bias.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "DataRNG.below: bound \(bound) must be positive")
        return Int(next(upperBound: UInt64(bound)))
    }

    /// SplitMix64's finaliser: a bijective 64-bit hash, also used to derive independent seeds.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A seed derived from several values, order-sensitive; used so that per-epoch shard orders and
    /// per-sample crops do not depend on how many random numbers were drawn before.
    public static func derive(_ values: UInt64...) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for v in values { h = mix(h ^ mix(v &+ 0x9E37_79B9_7F4A_7C15)) }
        return h
    }
}
