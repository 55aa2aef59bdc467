import Foundation

/// Opt-in per-op timing: wall time, FLOPs, bytes moved and page faults per op label.
///
/// A profiler is a value a caller hangs on `Compute.profiler` (nil by default: no cost beyond one
/// nil check per op). Ops label themselves with their kind and shape ("conv3x3 640→640 @64²"), so the
/// report shows where a model's time goes against its FLOP count. Only the outermost op is timed when
/// ops nest (e.g. an op built from other ops), so the entries add up to at most the wall time; the rest
/// is model code between ops. Page faults (`ru_minflt`) count first touches of freshly allocated memory.
public final class OpProfiler: @unchecked Sendable {
    /// Totals for one op label.
    public struct Entry: Sendable {
        /// Op kind, the label's first word ("conv3x3", "linear", "attention", …).
        public var kind: String
        /// Number of calls.
        public var calls = 0
        /// Summed wall time.
        public var seconds = 0.0
        /// Summed floating-point operations (multiply-add = 2).
        public var flops = 0.0
        /// Summed bytes read + written (for memory-bound ops; 0 when not meaningful).
        public var bytes = 0.0
        /// Summed minor page faults of the process while the op ran.
        public var pageFaults = 0

        /// An empty entry of `kind`.
        public init(kind: String) { self.kind = kind }

        /// Achieved GFLOP/s.
        public var gflops: Double { seconds > 0 ? flops / seconds / 1e9 : 0 }
    }

    private var entries: [String: Entry] = [:]
    private var depth = 0
    private let lock = NSLock()

    /// An empty profiler.
    public init() {}

    /// Entries sorted by time, largest first.
    public var sortedEntries: [(label: String, entry: Entry)] {
        lock.withLock { entries.map { ($0.key, $0.value) } }.sorted { $0.entry.seconds > $1.entry.seconds }
    }

    /// Entries summed per op kind, largest time first.
    public var byKind: [Entry] {
        var kinds: [String: Entry] = [:]
        for (_, e) in sortedEntries {
            var k = kinds[e.kind] ?? Entry(kind: e.kind)
            k.calls += e.calls; k.seconds += e.seconds; k.flops += e.flops; k.bytes += e.bytes; k.pageFaults += e.pageFaults
            kinds[e.kind] = k
        }
        return kinds.values.sorted { $0.seconds > $1.seconds }
    }

    /// Forgets every entry.
    public func reset() { lock.withLock { entries = [:] } }

    /// Runs `body`, charging its time to `label` unless another profiled op is already running.
    /// `label`, `flops` and `bytes` are evaluated only when this call is the outermost one.
    public func measure<R>(_ label: () -> String, flops: () -> Double, bytes: () -> Double,
                           _ body: () throws -> R) rethrows -> R {
        let outer: Bool = lock.withLock { depth += 1; return depth == 1 }
        defer { lock.withLock { depth -= 1 } }
        guard outer else { return try body() }
        let f0 = Self.minorFaults(), t0 = Self.now()
        let r = try body()
        let dt = Self.now() - t0, df = Self.minorFaults() - f0
        let name = label(), fl = flops(), by = bytes()
        lock.withLock {
            var e = entries[name] ?? Entry(kind: String(name.split(separator: " ").first ?? Substring(name)))
            e.calls += 1; e.seconds += dt; e.flops += fl; e.bytes += by; e.pageFaults += df
            entries[name] = e
        }
        return r
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    static func minorFaults() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_minflt
    }
}

extension Compute {
    /// Runs `body` under `profiler` (when set) as one op named `label`. The closures describing the op
    /// are only evaluated while profiling.
    @inlinable
    public func profiled<R>(_ label: @autoclosure () -> String, flops: @autoclosure () -> Double = 0,
                            bytes: @autoclosure () -> Double = 0, _ body: () throws -> R) rethrows -> R {
        guard let profiler else { return try body() }
        return try profiler.measure(label, flops: flops, bytes: bytes, body)
    }
}

/// Short shape text for profile labels: [1, 640, 64, 64] → "1×640×64×64".
func shapeLabel(_ s: [Int]) -> String { s.map(String.init).joined(separator: "×") }
