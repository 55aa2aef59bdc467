import ArgumentParser
import Diffusion
import Foundation
import Tensor

/// `sumi bench sdxl`: full-size SDXL components with random weights, timed per image size beside the
/// same run's sgemm. `tools/reference/bench_torch.py` does the same work in PyTorch (same JSON rows).
struct BenchSDXL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdxl",
        abstract: "Time full-size SDXL components (random weights) against sgemm in the same run.",
        discussion: """
        Components: \(SDXLBenchComponent.allCases.map(\.rawValue).joined(separator: ", ")).
        Each row is the best of --repeats runs after one warm-up (the median is printed too), with the
        process's peak RSS during that row (models included). Memory: the UNet alone is 10.3 GB in fp32.
        """
    )

    @Option(help: "Comma-separated image sizes in pixels (square; multiples of 64 for the UNet).")
    var sizes = "512,768,1024"

    @Option(help: "Matrix-product precision: fp32, or bf16 (AVX512-BF16 GEMM with fp32 accumulation; fp32 on CPUs without it).")
    var precision = "fp32"

    @Option(help: "Weight residency: fp32, or f16 (UNet and text-encoder matrices kept as f16 between uses, as `generate --half-weights` keeps an f16 checkpoint; the VAE stays fp32).")
    var weights = "fp32"

    @Option(help: "3×3 convolutions: winograd (Winograd F(2×2, 3×3) where it pays, the default) or im2col (im2col + GEMM only).")
    var conv = "winograd"

    @Flag(help: "After each row, run it once more under the op profiler and print where the time went.")
    var profile = false

    @Flag(help: "With --precision bf16: also run unet_step / generate_4step once in fp32 and print the relative error of the output; for vae_decode_tiled: print its PSNR against the untiled decode.")
    var accuracy = false

    @Flag(help: "Print one JSON array instead of a table.")
    var json = false

    @Option(help: "Timed repeats per row (after one warm-up).")
    var repeats = 3

    @Option(help: "Comma-separated components (default: all).")
    var components = SDXLBenchComponent.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Tile core size in latent pixels for vae_decode_tiled (64 = 512 image pixels).")
    var tileLatent = 64

    @Option(help: "Tile halo in latent pixels for vae_decode_tiled.")
    var tileOverlap = 16

    @Flag(name: .customLong("vae-tiling"), help: "generate_4step decodes in tiles (--tile-latent, --tile-overlap), as `sumi generate --vae-tiling` does.")
    var vaeTiling = false

    @Flag(name: .customLong("keep-weights"), help: "generate_4step keeps every model resident, as the studio does, instead of freeing the text encoders after encoding and the UNet after sampling as `sumi generate` does.")
    var keepWeights = false

    func validate() throws {
        guard Precision(rawValue: precision) != nil else {
            throw ValidationError("--precision \(precision): expected one of \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !parsedSizes.isEmpty, parsedSizes.allSatisfy({ $0 > 0 && $0 % 64 == 0 }) else {
            throw ValidationError("--sizes must be positive multiples of 64, got \(sizes)")
        }
        _ = try parsedComponents()
        guard conv == "winograd" || conv == "im2col" else { throw ValidationError("--conv \(conv): expected winograd or im2col") }
        guard weights == "fp32" || weights == "f16" else { throw ValidationError("--weights \(weights): expected fp32 or f16") }
    }

    var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func parsedComponents() throws -> [SDXLBenchComponent] {
        let names = components.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let set = try Set(names.map { name -> SDXLBenchComponent in
            guard let c = SDXLBenchComponent(rawValue: name) else {
                throw ValidationError("unknown component \(name); known: \(SDXLBenchComponent.allCases.map(\.rawValue))")
            }
            return c
        })
        // Fixed order so models can be freed as soon as no later component needs them.
        return SDXLBenchComponent.allCases.filter(set.contains)
    }

    func run() throws {
        let c = Compute(threads: threads).inference.with(precision: Precision(rawValue: precision) ?? .fp32)
            .with(winogradConvs: conv == "winograd")
        let wanted = try parsedComponents()
        var rows: [SDXLBenchRow] = []
        func emit(_ row: SDXLBenchRow) {
            rows.append(row)
            if !json { print(row.tableLine); fflush(stdout) }
        }
        if !json {
            print(MachineInfo.current().description)
            let active = c.precision == .bf16 && !c.usesBF16 ? " (no AVX512-BF16 on this CPU: running fp32)" : ""
            print("threads: \(c.threads), precision: \(precision)\(active), weights: \(weights), convs: \(conv), best (and median) of \(repeats) after one warm-up")
        }
        let sgemm = OpsBenchmarks.sgemm(c, n: 2048, repeats: repeats)
        let ref = sgemm.gflops
        emit(SDXLBenchRow(name: "sgemm", size: nil, seconds: sgemm.seconds, median: sgemm.seconds,
                          flops: 2 * pow(2048.0, 3), sgemmGFLOPS: ref, peakRSS: ProcessMemory.peakBytes))

        let models = SDXLBenchModels(compute: c, halfWeights: weights == "f16", log: { line in
            // Progress goes to stderr under --json so stdout stays one JSON document.
            if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line); fflush(stdout) }
        })
        for (i, component) in wanted.enumerated() {
            models.keepOnly(wanted[i...].reduce(into: Set<SDXLBenchModels.Part>()) { $0.formUnion($1.parts) })
            let sizesHere: [Int?] = component == .textEncoders ? [nil] : parsedSizes.map { $0 }
            for size in sizesHere {
                let work = models.workload(component, size: size ?? 0, tileLatent: tileLatent,
                                           tileOverlap: tileOverlap, tiledGeneration: vaeTiling,
                                           discardWeights: !keepWeights)
                let times = SDXLBenchModels.measure(repeats: repeats, c, work)
                emit(SDXLBenchRow(name: component.rawValue, size: size, seconds: times.best, median: times.median,
                                  flops: work.flops, sgemmGFLOPS: ref, peakRSS: times.peakRSS))
                if accuracy, c.usesBF16, let size, let low = models.output(component, size: size, c),
                   let ref = models.output(component, size: size, c.with(precision: .fp32)) {
                    let e = SDXLBenchModels.relativeError(low, ref)
                    let text = String(format: "   bf16 vs fp32 %@ @%d²: relative L2 error %.3e, max error / max %.3e",
                                      component.rawValue, size, e.l2, e.max)
                    if json { FileHandle.standardError.write(Data((text + "\n").utf8)) } else { print(text); fflush(stdout) }
                }
                if accuracy, component == .vaeDecodeTiled, let size {
                    let db = models.tiledDecodePSNR(size: size, tileLatent: tileLatent, tileOverlap: tileOverlap, c)
                    let text = String(format: "   vae_decode_tiled vs vae_decode @%d²: PSNR %.1f dB", size, db)
                    if json { FileHandle.standardError.write(Data((text + "\n").utf8)) } else { print(text); fflush(stdout) }
                }
                if profile {
                    let title = size.map { "\(component.rawValue) @\($0)²" } ?? component.rawValue
                    let text = BenchProfile.report(title: title, flops: work.flops, sgemm: ref, c, work.body)
                    if json { FileHandle.standardError.write(Data((text + "\n").utf8)) } else { print(text); fflush(stdout) }
                }
            }
        }
        models.keepOnly([])
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
        }
    }
}

/// The measured pieces of an SDXL generation (names are the JSON row names).
enum SDXLBenchComponent: String, CaseIterable {
    case textEncoders = "text_encoders"
    case unetStep = "unet_step"
    case generate4Step = "generate_4step"
    case vaeDecode = "vae_decode"
    case vaeDecodeTiled = "vae_decode_tiled"

    /// Models the component needs.
    var parts: Set<SDXLBenchModels.Part> {
        switch self {
        case .textEncoders: return [.textEncoders]
        case .unetStep: return [.unet]
        case .generate4Step: return [.textEncoders, .unet, .vae]
        case .vaeDecode, .vaeDecodeTiled: return [.vae]
        }
    }
}

/// One row of `sumi bench sdxl --json` (the same keys as `bench_torch.py`, plus "impl": "sumi").
struct SDXLBenchRow: Encodable {
    let name: String
    /// Image side in pixels; nil for size-independent rows (sgemm, text encoders).
    let size: Int?
    let seconds: Double
    let median: Double
    let flops: Double
    let sgemmGFLOPS: Double
    let peakRSS: Int

    var gflops: Double { flops / seconds / 1e9 }

    enum CodingKeys: String, CodingKey {
        case impl, name, size, seconds, gflops
        case median = "median_seconds"
        case fraction = "fraction_of_sgemm"
        case peakRSS = "peak_rss_bytes"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("sumi", forKey: .impl)
        try c.encode(name, forKey: .name)
        try c.encode(size, forKey: .size)   // explicit null for size-independent rows
        try c.encode(seconds, forKey: .seconds)
        try c.encode(median, forKey: .median)
        try c.encode(gflops, forKey: .gflops)
        try c.encode(gflops / sgemmGFLOPS, forKey: .fraction)
        try c.encode(peakRSS, forKey: .peakRSS)
    }

    var tableLine: String {
        let label = size.map { "\(name) @\($0)²" } ?? name
        return "\(label.padding(toLength: 28, withPad: " ", startingAt: 0)) "
            + String(format: "%9.3f s (median %9.3f) %7.1f GFLOP/s %6.1f %%  peak RSS %7.2f GiB",
                     seconds, median, gflops, gflops / sgemmGFLOPS * 100, Double(peakRSS) / 1_073_741_824)
    }
}
