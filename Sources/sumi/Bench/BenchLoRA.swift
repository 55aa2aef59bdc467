import ArgumentParser
import Diffusion
import Foundation
import Tensor

/// `sumi bench lora`: what a LoRA strength change costs merged and as runtime adapters, and what unmerged adapters
/// add to a UNet forward, for a rank-r LoRA on DMD2's targets over the full-size SDXL UNet shapes (random weights,
/// built in-process; the 10 GB UNet is never resident: one weight at a time for the merge, lazily mapped stubs for
/// the adapter bookkeeping, one layer at a time for the forward overhead).
struct BenchLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "Time a LoRA strength change (merged vs runtime adapters) and the per-step cost of runtime adapters."
    )

    @Option(help: "LoRA rank.")
    var rank = 64
    @Option(help: "Image size in pixels for the forward-overhead part (latent = size / 8).")
    var size = 1024
    @Option(help: "Timed repeats per layer group (best is reported).")
    var repeats = 2
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?
    @Flag(help: "Skip the forward-overhead part (the slow one).")
    var skipForward = false

    func run() throws {
        let c = Compute(threads: threads).inference
        print(MachineInfo.current().description)
        let shapes = UNet.parameterShapes(.sdxl).filter { name, _ in
            let path = String(name.dropLast(".weight".count))
            return name.hasSuffix(".weight") && TrainableLoRA.dmd2Targets.contains { path.hasSuffix("." + $0) }
        }
        let weightCount = shapes.reduce(0) { $0 + $1.1.product }
        let loraParams = shapes.reduce(0) { $0 + rank * ($1.1[0] + $1.1.dropFirst().product) }
        print(String(format: "LoRA: rank %d on %d SDXL UNet weights (DMD2 targets), %.1f M LoRA params, %.2f G adapted weights, "
                     + "threads %d", rank, shapes.count, Double(loraParams) / 1e6, Double(weightCount) / 1e9, c.threads))

        // 1. Merged: one GEMM (β = 1) per weight, the cost of any strength change (plus nothing else).
        var merged = 0.0
        for (_, shape) in shapes {
            let (o, k) = (shape[0], shape.dropFirst().product)
            let m = LoRAModule(target: "w", up: random([o, rank], 0.01), down: random([rank, k], 0.01), alphaScale: 0.125,
                               sourceModule: "m")
            let w = Tensor(shape: [o, k], repeating: 0.5)
            merged += Timer.best(repeats: 1, warmup: false) { LoRAStack.addDelta(m, scale: -0.5, into: w) }
        }
        print(String(format: "strength change, merged:  %.3f s (%.0f GFLOP)", merged, 2 * Double(weightCount) * Double(rank) / 1e9))

        // 2. Runtime: attach 788 adapters to stub layers (weights lazily mapped, never touched), then move the slider.
        let layers = Dictionary(uniqueKeysWithValues: shapes.map { ("unet." + $0.0, StubLayer(shape: $0.1) as AdaptableLayer) })
        let modules = shapes.map { name, shape in
            LoRAModule(target: "unet." + name, up: random([shape[0], rank], 0.01), down: random([rank, shape.dropFirst().product], 0.01),
                       alphaScale: 0.125, sourceModule: name)
        }
        let stack = LoRAStack()
        let id = stack.add(LoRANetwork(name: "bench", modules: modules), strength: 0.9)
        var attached = 0
        let attach = Timer.best(repeats: 1, warmup: false) { attached = (try? stack.attach(to: layers)) ?? 0 }
        var strengths: [Float] = [0.9, 0.5, 0.0, 0.75]
        let change = Timer.best(repeats: 20) {
            strengths.append(strengths.removeFirst())
            stack.setStrength(strengths[0], for: id)
        }
        let toggle = Timer.best(repeats: 20) { stack.setEnabled(!(stack.entry(id)?.isEnabled ?? true), for: id) }
        print(String(format: "strength change, runtime: %.6f s (%d adapters; attach %.3f s; on/off %.6f s)", change, attached, attach, toggle))
        stack.detach()

        if !skipForward { try forwardOverhead(shapes, c) }
    }

    /// Time of each adapted layer at `size` with and without its adapter, grouped by identical (shape, input).
    private func forwardOverhead(_ shapes: [(String, [Int])], _ c: Compute) throws {
        let latent = size / 8
        var groups: [String: (shape: [Int], input: [Int], stride: Int, count: Int)] = [:]
        for (name, shape) in shapes {
            let (input, stride) = Self.input(name, shape, latent: latent)
            let key = "\(shape) \(input) s\(stride)"
            groups[key, default: (shape, input, stride, 0)].count += 1
        }
        var base = 0.0, extra = 0.0
        print("forward at \(size)×\(size) (latent \(latent)), batch 1: \(groups.count) distinct layer groups")
        for (key, g) in groups.sorted(by: { $0.key < $1.key }) {
            let x = random(g.input, 1)
            let adapter: LowRankAdapter
            let call: () -> Tensor
            if g.shape.count == 4 {
                let l = Conv2dLayer(g.shape[1], g.shape[0], kernel: g.shape[2], stride: g.stride, padding: g.shape[2] / 2)
                adapter = LowRankAdapter(down: random([rank] + g.shape.dropFirst(), 0.01), up: random([g.shape[0], rank, 1, 1], 0.01),
                                         scale: 0.125, name: "bench")
                l.adapters = [adapter]
                call = { l(x, c) }
            } else {
                let l = LinearLayer(g.shape[1], g.shape[0])
                adapter = LowRankAdapter(down: random([rank, g.shape[1]], 0.01), up: random([g.shape[0], rank], 0.01),
                                         scale: 0.125, name: "bench")
                l.adapters = [adapter]
                call = { l(x, c) }
            }
            adapter.scale = 0
            let t0 = Timer.best(repeats: repeats) { _ = call() }
            adapter.scale = 0.125
            let t1 = Timer.best(repeats: repeats) { _ = call() }
            base += t0 * Double(g.count)
            extra += max(0, t1 - t0) * Double(g.count)
            print(String(format: "  %@ ×%d: base %.4f s, adapter +%.4f s (+%.0f%%)", key, g.count, t0, t1 - t0, 100 * (t1 - t0) / t0))
            fflush(stdout)
        }
        print(String(format: "adapted layers per UNet forward: base %.2f s, runtime adapters +%.2f s (+%.1f%% of those layers)",
                     base, extra, 100 * extra / base))
    }

    /// The input shape of an adapted SDXL layer for a square latent, and its stride.
    static func input(_ name: String, _ shape: [Int], latent: Int) -> ([Int], Int) {
        let p = name.split(separator: ".")
        let level: Int
        switch p[0] {
        case "down_blocks": level = Int(p[1])!
        case "up_blocks": level = 2 - Int(p[1])!
        default: level = 2  // mid_block
        }
        var side = latent >> level
        if name.contains("upsamplers") { side *= 2 }
        if shape.count == 4 { return ([1, shape[1], side, side], name.contains("downsamplers") ? 2 : 1) }
        if name.contains("time_emb_proj") { return ([1, shape[1]], 1) }
        if name.contains("attn2.to_k") || name.contains("attn2.to_v") { return ([1, 77, shape[1]], 1) }
        return ([1, side * side, shape[1]], 1)
    }

    private func random(_ shape: [Int], _ scale: Float) -> Tensor {
        var g = TorchGenerator(seed: UInt64(shape.product))
        let t = g.randn(shape)
        for i in 0..<t.count { t.data[i] *= scale }
        return t
    }
}

/// An adaptable layer whose weight is allocated but never touched (the OS maps pages lazily), for measuring
/// adapter bookkeeping on full-size shapes without 10 GB of memory.
private final class StubLayer: AdaptableLayer {
    let weight: Tensor
    var adapters: [LowRankAdapter] = []
    init(shape: [Int]) { weight = Tensor(uninitialized: shape) }
}
