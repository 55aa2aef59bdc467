import ArgumentParser
import Foundation
import Tensor

/// `sumi bench ops`: SDXL-shaped kernels next to the same run's sgemm.
struct BenchOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Time SDXL-shaped ops (conv, attention, linear, norms) against sgemm in the same run."
    )

    @Flag(help: "Print one JSON array instead of a table.")
    var json = false

    @Option(help: "Timed repeats per op (best is reported).")
    var repeats = 3

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Skip the 16,384-token attention memory check (it takes a while).")
    var skipLongAttention = false

    func run() throws {
        let c = Compute(threads: threads).inference
        var rows: [BenchResult] = []
        let sgemm = OpsBenchmarks.sgemm(c, n: 2048, repeats: repeats)
        rows.append(sgemm)
        let ref = sgemm.gflops
        func add(_ r: BenchResult) {
            let row = BenchResult(name: r.name, seconds: r.seconds, gflops: r.gflops,
                                  fractionOfSgemm: r.gflops / ref, gbps: r.gbps, extraRSSBytes: r.extraRSSBytes)
            rows.append(row)
            if !json { print(row.tableLine) ; fflush(stdout) }
        }
        if !json {
            print(MachineInfo.current().description)
            print("threads: \(c.threads), best of \(repeats) after one warm-up")
            print(sgemm.tableLine)
        }
        if BF16GEMM.isSupported { add(OpsBenchmarks.bf16gemm(c, n: 2048, repeats: repeats)) }
        add(OpsBenchmarks.conv3x3(c, channels: 640, size: 64, repeats: repeats))
        if BF16GEMM.isSupported {
            add(OpsBenchmarks.conv3x3(c.with(precision: .bf16), channels: 640, size: 64, repeats: repeats, suffix: " bf16"))
        }
        add(OpsBenchmarks.conv3x3(c, channels: 320, size: 128, repeats: repeats))
        add(OpsBenchmarks.attention(c, tokens: 4096, heads: 10, headDim: 64, repeats: repeats))
        add(OpsBenchmarks.linear(c, features: 1280, tokens: 1024, repeats: repeats))
        add(OpsBenchmarks.groupNorm(c, channels: 640, size: 64, repeats: repeats))
        add(OpsBenchmarks.silu(c, channels: 640, size: 64, repeats: repeats))
        if !skipLongAttention {
            add(OpsBenchmarks.attention(c, tokens: 16384, heads: 1, headDim: 512, repeats: 1, measureMemory: true))
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
        }
    }
}

extension BenchResult {
    var tableLine: String {
        var s = "\(name.padding(toLength: 44, withPad: " ", startingAt: 0)) "
            + String(format: "%9.4f s %8.1f GFLOP/s %6.1f %%", seconds, gflops, fractionOfSgemm * 100)
        if let gbps { s += String(format: "  %6.1f GB/s", gbps) }
        if let extraRSSBytes { s += String(format: "  +%.0f MiB RSS", Double(extraRSSBytes) / 1_048_576) }
        return s
    }
}

/// The individual measurements (each builds its own random inputs).
enum OpsBenchmarks {
    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        let t = Tensor(uninitialized: shape)
        var s = seed &* 0x9E3779B97F4A7C15 | 1
        for i in 0..<t.count {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            t.data[i] = Float(Int64(bitPattern: s) >> 40) / Float(1 << 23) * 0.5
        }
        return t
    }

    static func result(_ name: String, seconds: Double, flops: Double, bytes: Double? = nil, rss: Int? = nil) -> BenchResult {
        BenchResult(name: name, seconds: seconds, gflops: flops / seconds / 1e9, fractionOfSgemm: 1,
                    gbps: bytes.map { $0 / seconds / 1e9 }, extraRSSBytes: rss)
    }

    static func sgemm(_ c: Compute, n: Int, repeats: Int) -> BenchResult {
        let a = random([n, n], seed: 1), b = random([n, n], seed: 2), out = Tensor(uninitialized: [n, n])
        let s = Timer.best(repeats: repeats) {
            BLAS.gemm(m: n, n: n, k: n, a: a.data, b: b.data, c: out.data)
        }
        return result("sgemm \(n)x\(n)x\(n)", seconds: s, flops: 2 * pow(Double(n), 3))
    }

    /// Our bf16 GEMM (AVX512-BF16) on packed operands, packing excluded (weights are packed once).
    static func bf16gemm(_ c: Compute, n: Int, repeats: Int) -> BenchResult {
        let a = random([n, n], seed: 1), b = random([n, n], seed: 2), out = Tensor(uninitialized: [n, n])
        let pa = BF16GEMM.packA(a.data, lda: n, m: n, k: n, c), pb = BF16GEMM.packB(b.data, ldb: n, trans: false, k: n, n: n, c)
        let s = Timer.best(repeats: repeats) { BF16GEMM.gemm(pa, pb, c: out.data, ldc: n, accumulate: false, c) }
        return result("bf16 gemm \(n)x\(n)x\(n) (packed)", seconds: s, flops: 2 * pow(Double(n), 3))
    }

    static func conv3x3(_ c: Compute, channels: Int, size: Int, repeats: Int, suffix: String = "") -> BenchResult {
        let x = random([1, channels, size, size], seed: 3)
        let w = random([channels, channels, 3, 3], seed: 4), b = random([channels], seed: 5)
        w.storage.freeze()
        let s = Timer.best(repeats: repeats) { _ = c.conv2d(x, weight: w, bias: b, stride: 1, padding: 1) }
        let flops = 2.0 * Double(channels * channels * 9) * Double(size * size)
        return result("conv3x3 \(channels)->\(channels) @\(size)x\(size)\(suffix)", seconds: s, flops: flops)
    }

    static func attention(_ c: Compute, tokens: Int, heads: Int, headDim: Int, repeats: Int,
                          measureMemory: Bool = false) -> BenchResult {
        let q = random([1, heads, tokens, headDim], seed: 6)
        let k = random([1, heads, tokens, headDim], seed: 7)
        let v = random([1, heads, tokens, headDim], seed: 8)
        var extra: Int? = nil
        let before = ProcessMemory.residentBytes
        let canReset = measureMemory && ProcessMemory.resetPeak()
        let s = Timer.best(repeats: repeats, warmup: !measureMemory) { _ = c.attention(q, k, v) }
        if measureMemory { extra = max(0, (canReset ? ProcessMemory.peakBytes : ProcessMemory.residentBytes) - before) }
        let flops = 4.0 * Double(heads) * Double(tokens) * Double(tokens) * Double(headDim)
        return result("attention \(tokens) tokens x\(heads) heads x\(headDim)", seconds: s, flops: flops, rss: extra)
    }

    static func linear(_ c: Compute, features: Int, tokens: Int, repeats: Int) -> BenchResult {
        let x = random([tokens, features], seed: 9), w = random([features, features], seed: 10)
        let b = random([features], seed: 11)
        let s = Timer.best(repeats: repeats) { _ = c.linear(x, weight: w, bias: b) }
        return result("linear \(features)->\(features) x\(tokens) tokens", seconds: s,
                      flops: 2.0 * Double(features * features * tokens))
    }

    static func groupNorm(_ c: Compute, channels: Int, size: Int, repeats: Int) -> BenchResult {
        let x = random([1, channels, size, size], seed: 12)
        let w = random([channels], seed: 13), b = random([channels], seed: 14)
        let s = Timer.best(repeats: repeats) { _ = c.groupNorm(x, groups: 32, weight: w, bias: b, eps: 1e-5) }
        let n = Double(x.count)
        return result("group_norm 32 groups [1,\(channels),\(size),\(size)]", seconds: s, flops: 8 * n, bytes: 8 * n)
    }

    static func silu(_ c: Compute, channels: Int, size: Int, repeats: Int) -> BenchResult {
        let x = random([1, channels, size, size], seed: 15)
        let s = Timer.best(repeats: repeats) { _ = c.silu(x) }
        let n = Double(x.count)
        return result("silu [1,\(channels),\(size),\(size)]", seconds: s, flops: 4 * n, bytes: 8 * n)
    }
}
