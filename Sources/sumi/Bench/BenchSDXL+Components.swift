import Diffusion
import Foundation
import Tensor

/// Full-size SDXL models with random weights, built on demand and freed when no longer needed.
final class SDXLBenchModels {
    /// Groups of models that are built and freed together.
    enum Part: Hashable { case textEncoders, unet, vae }

    let c: Compute
    /// Keep the UNet's and text encoders' matrices as f16 between uses (`Module.keepWeightsInHalf`).
    let halfWeights: Bool
    let log: ((String) -> Void)?
    private var clipL: CLIPTextModel?
    private var clipG: CLIPTextModel?
    private var unet: UNet?
    private var vae: AutoencoderKL?

    init(compute: Compute, halfWeights: Bool = false, log: ((String) -> Void)?) {
        self.c = compute
        self.halfWeights = halfWeights
        self.log = log
    }

    /// Drops every model not in `parts` (the last reference goes, so the storage is deallocated).
    func keepOnly(_ parts: Set<Part>) {
        if !parts.contains(.textEncoders) { clipL = nil; clipG = nil }
        if !parts.contains(.unet) { unet = nil }
        if !parts.contains(.vae) { vae = nil }
        // Freed weights can sit in glibc's heap (its mmap threshold grows after large frees), inflating the
        // next rows' RSS; hand them back to the kernel.
        Storage.returnFreedMemory()
        log?(String(format: "resident after freeing: %.2f GiB", Double(ProcessMemory.residentBytes) / 1_073_741_824))
    }

    // MARK: - Building

    func textEncoders() -> (CLIPTextModel, CLIPTextModel) {
        if let clipL, let clipG, !clipL.hasDiscardedWeights, !clipG.hasDiscardedWeights { return (clipL, clipG) }
        let l = build("CLIP-L", half: halfWeights) { CLIPTextModel(.clipL) }
        let g = build("CLIP-bigG", half: halfWeights) { CLIPTextModel(.bigG) }
        clipL = l; clipG = g
        return (l, g)
    }

    func unetModel() -> UNet {
        if let unet, !unet.hasDiscardedWeights { return unet }
        let u = build("UNet", half: halfWeights) { UNet(config: .sdxl) }
        unet = u
        return u
    }

    func vaeModel() -> AutoencoderKL {
        if let vae { return vae }
        let v = build("VAE") { AutoencoderKL(.sdxl) }
        vae = v
        return v
    }

    private func build<M: Module>(_ name: String, half: Bool = false, _ make: () -> M) -> M {
        let t0 = Timer.now()
        let m = make()
        for (i, (key, p)) in m.namedParameters.enumerated() {
            // Norm scales near 1 keep activations O(1); everything else small noise (~0.02), never zero
            // (zero weights could make timings unrepresentative through denormals / trivially sparse data).
            let isScale = p.rank == 1 && key.hasSuffix("weight")
            Self.fillRandom(p, seed: UInt64(i + 1), scale: 0.02, offset: isScale ? 1 : 0, c)
            // As an f16 checkpoint loaded with --half-weights: matrices f16 between uses, expanded per layer —
            // compacted one by one, so building never holds the whole model in fp32.
            if half, p.rank >= 2 { p.storage.compactToHalf() }
            // Frozen from here on: the bf16 path caches each weight's packed panels instead of repacking per call.
            p.storage.freeze()
        }
        log?(String(format: "built %@ (%.2f G parameters%@) in %.1f s", name, Double(m.parameterCount) / 1e9,
                    half ? ", f16 between uses" : "", Timer.now() - t0))
        return m
    }

    /// Fills `t` with offset + scale·u, u roughly uniform in [-√3, √3) (unit variance), from a
    /// per-chunk xorshift stream so both cores fill in parallel.
    static func fillRandom(_ t: Tensor, seed: UInt64, scale: Float, offset: Float, _ c: Compute) {
        let data = t.data
        let k = scale * 3.4641016 / Float(1 << 24)   // maps a 24-bit signed-centred integer to [-√3, √3)·scale
        c.parallelFor(t.count, grain: 1 << 16) { range in
            var s = (seed &* 0x9E3779B97F4A7C15) ^ (UInt64(range.lowerBound) &* 0xBF58476D1CE4E5B9) | 1
            for i in range {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17
                data[i] = offset + Float(Int64(s >> 40) - (1 << 23)) * k
            }
        }
    }

    // MARK: - Workloads

    /// 77-token windows: BOS, a few words, EOS, then each encoder's padding.
    static func tokenIDs(pad: Int32) -> [[Int32]] {
        var ids: [Int32] = [49406]
        for i in 0..<20 { ids.append(Int32(320 + 37 * i)) }
        ids.append(49407)
        while ids.count < 77 { ids.append(pad) }
        return [ids]
    }

    /// Both encoders as SDXL uses them: penultimate hidden states of each, concatenated, plus bigG's pooled output.
    func encodePrompt(_ c: Compute) -> (context: Tensor, pooled: Tensor) {
        let (l, g) = textEncoders()
        let (hl, _) = l.encode(Self.tokenIDs(pad: 49407), skipLast: 1, c)
        let (hg, pooled) = g.encode(Self.tokenIDs(pad: CLIPTokenizer.bigGPad), skipLast: 1, c)
        return (c.concat([hl, hg], dim: 2), pooled!)
    }

    /// What one row times: `setup` runs untimed before every run (warm-up included) — it rebuilds models a
    /// previous run freed — and `body` is timed in the compute context it is given.
    struct Workload {
        var setup: () -> Void = {}
        let body: (Compute) -> Void
        let flops: Double
    }

    /// The work of `component` at image side `size` (building models as needed).
    /// `tiledGeneration`: generate_4step decodes in tiles, as `sumi generate --vae-tiling`.
    /// `discardWeights`: generate_4step frees the text encoders after encoding and the UNet after sampling, as
    /// `sumi generate` does (each run then rebuilds them, untimed).
    func workload(_ component: SDXLBenchComponent, size: Int, tileLatent: Int,
                  tileOverlap: Int, tiledGeneration: Bool = false, discardWeights: Bool = true) -> Workload {
        let lat = size / 8
        let timeIds: [[Float]] = [[Float(size), Float(size), 0, 0, Float(size), Float(size)]]
        switch component {
        case .textEncoders:
            _ = textEncoders()
            return Workload(body: { c in _ = self.encodePrompt(c) }, flops: SDXLFlops.textEncoders)
        case .unetStep:
            let u = unetModel()
            let x = OpsBenchmarks.random([1, 4, lat, lat], seed: 21)
            let context = OpsBenchmarks.random([1, 77, 2048], seed: 22)
            let pooled = OpsBenchmarks.random([1, 1280], seed: 23)
            return Workload(body: { c in
                _ = u(x, timestep: [999], context: context, addTextEmbeds: pooled, timeIds: timeIds, c)
            }, flops: SDXLFlops.unet(size: size))
        case .vaeDecode, .vaeDecodeTiled:
            let v = vaeModel()
            let z = OpsBenchmarks.random([1, 4, lat, lat], seed: 24)
            if component == .vaeDecode {
                return Workload(body: { c in _ = v.decodeFromModelSpace(z, c) }, flops: SDXLFlops.vaeDecode(size: size))
            }
            // Useful work only: the tiles' halos are extra FLOPs not counted, so GFLOP/s is comparable to vae_decode.
            return Workload(body: { c in _ = v.decodeTiledFromModelSpace(z, tileLatent: tileLatent, overlap: tileOverlap, c) },
                            flops: SDXLFlops.vaeDecode(size: size))
        case .generate4Step:
            let v = vaeModel()
            return Workload(setup: { _ = self.textEncoders(); _ = self.unetModel() }, body: { c in
                let (context, pooled) = self.encodePrompt(c)
                if discardWeights { self.clipL?.discardWeights(); self.clipG?.discardWeights() }
                let u = self.unetModel()
                let denoiser = EpsDenoiser(cfgScale: 1, cond: { x, t in
                    u(x, timestep: [t], context: context, addTextEmbeds: pooled, timeIds: timeIds, c)
                })
                let run = SamplingRun(sampler: .lcm, sigmas: Scheduler.simple.sigmas(steps: 4), denoiser: denoiser,
                                      shape: [1, 4, lat, lat], seed: 0)
                let latent = run.run()
                if discardWeights { u.discardWeights() }
                if tiledGeneration {
                    _ = v.decodeTiledFromModelSpace(latent, tileLatent: tileLatent, overlap: tileOverlap, c)
                } else {
                    _ = v.decodeFromModelSpace(latent, c)
                }
            }, flops: SDXLFlops.textEncoders + 4 * SDXLFlops.unet(size: size) + SDXLFlops.vaeDecode(size: size))
        }
    }

    /// PSNR (dB, images clamped to [-1, 1] and read on a [0, 1] scale) of the tiled VAE decode against the untiled one
    /// at `size`: how visible the tile seams are.
    func tiledDecodePSNR(size: Int, tileLatent: Int, tileOverlap: Int, _ c: Compute) -> Double {
        let v = vaeModel()
        let z = OpsBenchmarks.random([1, 4, size / 8, size / 8], seed: 24)
        let full = v.decodeFromModelSpace(z, c)
        let tiled = v.decodeTiledFromModelSpace(z, tileLatent: tileLatent, overlap: tileOverlap, c)
        var squares = 0.0
        for i in 0..<full.count {
            let d = Double(max(-1, min(1, full.data[i])) - max(-1, min(1, tiled.data[i]))) / 2
            squares += d * d
        }
        let mse = squares / Double(max(full.count, 1))
        return mse == 0 ? .infinity : 10 * log10(1 / mse)
    }

    /// What `component` produces at `size` (UNet: the noise prediction; 4-step generation: the final latent,
    /// before the VAE), for comparing precisions; nil for components without such an output.
    func output(_ component: SDXLBenchComponent, size: Int, _ c: Compute) -> Tensor? {
        let lat = size / 8
        let timeIds: [[Float]] = [[Float(size), Float(size), 0, 0, Float(size), Float(size)]]
        switch component {
        case .unetStep:
            let u = unetModel()
            let x = OpsBenchmarks.random([1, 4, lat, lat], seed: 21)
            let context = OpsBenchmarks.random([1, 77, 2048], seed: 22)
            let pooled = OpsBenchmarks.random([1, 1280], seed: 23)
            return u(x, timestep: [999], context: context, addTextEmbeds: pooled, timeIds: timeIds, c)
        case .generate4Step:
            let u = unetModel()
            let (context, pooled) = encodePrompt(c)
            let denoiser = EpsDenoiser(cfgScale: 1, cond: { x, t in
                u(x, timestep: [t], context: context, addTextEmbeds: pooled, timeIds: timeIds, c)
            })
            return SamplingRun(sampler: .lcm, sigmas: Scheduler.simple.sigmas(steps: 4), denoiser: denoiser,
                               shape: [1, 4, lat, lat], seed: 0).run()
        default:
            return nil
        }
    }

    /// ‖a − b‖ / ‖b‖ and max |a − b| / max |b|.
    static func relativeError(_ a: Tensor, _ b: Tensor) -> (l2: Double, max: Double) {
        var d2 = 0.0, b2 = 0.0, dmax = 0.0, bmax = 0.0
        for i in 0..<min(a.count, b.count) {
            let d = Double(a.data[i]) - Double(b.data[i]), v = Double(b.data[i])
            d2 += d * d; b2 += v * v; dmax = max(dmax, abs(d)); bmax = max(bmax, abs(v))
        }
        return ((d2 / max(b2, 1e-300)).squareRoot(), dmax / max(bmax, 1e-300))
    }

    /// One warm-up, then best and median of `repeats` runs, and the peak RSS over all runs (setups excluded).
    static func measure(repeats: Int, _ c: Compute, _ work: Workload) -> (best: Double, median: Double, peakRSS: Int) {
        var peak = 0
        func run() -> Double {
            work.setup()
            _ = ProcessMemory.resetPeak()
            let t0 = Timer.now()
            work.body(c)
            let t = Timer.now() - t0
            peak = max(peak, ProcessMemory.peakBytes)
            return t
        }
        _ = run()
        var times = (0..<max(1, repeats)).map { _ in run() }
        times.sort()
        let n = times.count
        let median = n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2
        return (times[0], median, peak)
    }
}

/// Analytic FLOP counts (multiply-add = 2 FLOP) from docs/baselines.md, measured with PyTorch's
/// `FlopCounterMode` at 512² and 1024². Other sizes use F(A) = α·A + β·A² in the latent area A, fitted
/// exactly through both anchors: convolutions, linears and cross-attention scale with A, self-attention
/// with A². Exact at 512²/1024²; an approximation elsewhere (e.g. 768², and extrapolated below 512²).
enum SDXLFlops {
    /// Both text encoders over one 77-token window.
    static let textEncoders = 0.111e12

    /// One UNet forward, batch 1.
    static func unet(size: Int) -> Double { fit(size: size, at512: 1.589e12, at1024: 6.761e12) }

    /// One full VAE decode (post-quant conv + decoder).
    static func vaeDecode(size: Int) -> Double { fit(size: size, at512: 2.515e12, at1024: 10.470e12) }

    static func fit(size: Int, at512 f1: Double, at1024 f2: Double) -> Double {
        let a1 = 64.0 * 64, a2 = 128.0 * 128
        // Solve α·a1 + β·a1² = f1, α·a2 + β·a2² = f2.
        let beta = (f2 - f1 * a2 / a1) / (a2 * a2 - a1 * a2)
        let alpha = (f1 - beta * a1 * a1) / a1
        let a = Double(size / 8) * Double(size / 8)
        return alpha * a + beta * a * a
    }
}
