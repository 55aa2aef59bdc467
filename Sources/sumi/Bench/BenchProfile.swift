import Foundation
import Tensor

/// `sumi bench sdxl --profile`: where one run of a component spends its time, op by op.
enum BenchProfile {
    /// Runs `body` once (after the caller's warm-up) under a fresh profiler and returns the report text.
    /// `flops` is the component's analytic total, `sgemm` the run's sgemm GFLOP/s.
    static func report(title: String, flops: Double, sgemm: Double, top: Int = 25,
                       _ c: Compute, _ body: (Compute) -> Void) -> String {
        let profiler = OpProfiler()
        let pc = c.with(profiler: profiler)
        let f0 = minorFaults()
        let t0 = Timer.now()
        body(pc)
        let wall = Timer.now() - t0, faults = minorFaults() - f0
        var lines: [String] = []
        let opsSeconds = profiler.byKind.reduce(0) { $0 + $1.seconds }
        lines.append(String(format: "── profile: %@ — %.3f s wall, %.1f GFLOP/s overall (%.0f %% of sgemm), %d page faults",
                            title, wall, flops / wall / 1e9, flops / wall / 1e9 / sgemm * 100, faults))
        lines.append("   by kind                                 calls   seconds  share  GFLOP/s  %sgemm    GB/s   faults")
        for e in profiler.byKind { lines.append(line(e.kind, e, wall: wall, sgemm: sgemm)) }
        var rest = OpProfiler.Entry(kind: "(between ops)")
        rest.seconds = max(0, wall - opsSeconds)
        lines.append(line(rest.kind, rest, wall: wall, sgemm: sgemm))
        lines.append("   top \(top) op shapes")
        for (label, e) in profiler.sortedEntries.prefix(top) { lines.append(line(label, e, wall: wall, sgemm: sgemm)) }
        return lines.joined(separator: "\n")
    }

    private static func line(_ label: String, _ e: OpProfiler.Entry, wall: Double, sgemm: Double) -> String {
        let gf = e.flops > 0 ? String(format: "%8.1f  %5.0f %%", e.gflops, e.gflops / sgemm * 100) : "       –       –"
        let bw = e.bytes > 0 && e.seconds > 0 ? String(format: "%7.1f", e.bytes / e.seconds / 1e9) : "      –"
        return "   " + label.padding(toLength: 40, withPad: " ", startingAt: 0)
            + String(format: " %6d %9.4f %5.1f%% ", e.calls, e.seconds, e.seconds / wall * 100) + gf + " " + bw
            + String(format: " %8d", e.pageFaults)
    }

    private static func minorFaults() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_minflt
    }
}
