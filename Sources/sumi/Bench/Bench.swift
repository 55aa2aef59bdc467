import ArgumentParser
import Foundation

/// `sumi bench …`: speed measurements printed beside a reference measured in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure engine speed against the same run's sgemm.",
        subcommands: [BenchOps.self, BenchSDXL.self, BenchLoRA.self]
    )
}

/// One benchmark result row; `--json` prints an array of these.
struct BenchResult: Encodable {
    let name: String
    let seconds: Double
    let gflops: Double
    let fractionOfSgemm: Double
    /// Memory traffic rate for bandwidth-bound ops (bytes read + written per second / 1e9).
    let gbps: Double?
    /// Peak-RSS growth while the op ran, where that is the point of the measurement.
    let extraRSSBytes: Int?

    enum CodingKeys: String, CodingKey {
        case name, seconds, gflops
        case fractionOfSgemm = "fraction_of_sgemm"
        case gbps
        case extraRSSBytes = "extra_rss_bytes"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(gflops, forKey: .gflops)
        try c.encode(fractionOfSgemm, forKey: .fractionOfSgemm)
        try c.encodeIfPresent(gbps, forKey: .gbps)
        try c.encodeIfPresent(extraRSSBytes, forKey: .extraRSSBytes)
    }
}

/// Timing helpers: one warm-up, then the best of `repeats` runs (best is the least noisy
/// estimate of what the code can do on a shared machine; medians go to BENCHMARKS.md by hand).
enum Timer {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    static func best(repeats: Int, warmup: Bool = true, _ body: () -> Void) -> Double {
        if warmup { body() }
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = now(); body(); best = min(best, now() - t0)
        }
        return best
    }
}

/// Process memory from /proc/self/status.
enum ProcessMemory {
    /// Current resident set size in bytes.
    static var residentBytes: Int { field("VmRSS:") }
    /// Peak resident set size in bytes (VmHWM).
    static var peakBytes: Int { field("VmHWM:") }

    /// Resets VmHWM to the current RSS (Linux ≥ 4.0: write "5" to clear_refs), so a later
    /// `peakBytes` measures one phase only. Returns false where the kernel refuses.
    @discardableResult
    static func resetPeak() -> Bool {
        guard let f = fopen("/proc/self/clear_refs", "w") else { return false }
        defer { fclose(f) }
        return fputs("5", f) >= 0
    }

    private static func field(_ key: String) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix(key) {
            // /proc pads with a tab and spaces; past 8 digits there is no space left, so split on both.
            let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
