import Foundation
import Tensor

/// A generation in progress: the prompts are encoded and the sampling run is set up. Step it yourself
/// (`run.next()`, e.g. to preview `denoised` and cancel whenever you like) or let `SDXLPipeline.generate` do it,
/// then turn it into images with `SDXLPipeline.finish`.
public final class GenerationJob {
    /// The request.
    public let request: GenerationRequest
    /// The denoising loop; after the last step `run.x` is the final model-space latent.
    public let run: SamplingRun
    /// Seconds spent encoding the prompts (and the init image).
    public let encodeSeconds: Double

    init(request: GenerationRequest, run: SamplingRun, encodeSeconds: Double) {
        self.request = request
        self.run = run
        self.encodeSeconds = encodeSeconds
    }
}

/// Text-to-image and image-to-image with an SDXL-family model, reproducing ComfyUI's KSampler on the CPU
/// (comfyanonymous/ComfyUI `comfy/sample.py` `prepare_noise`, `comfy/samplers.py` `KSampler`, `nodes.py`
/// `VAEEncode` / `VAEDecode`): noise = torch `randn` of the seed, ε-prediction wrapped by `EpsDenoiser` (CFG in
/// denoised space, no negative pass at CFG 1), the sampler of `Sampler`, the σ list of `Scheduler` (cut for
/// `denoise` < 1), and the latent decoded after ÷ the VAE scaling factor.
public final class SDXLPipeline {
    /// The architectures.
    public let config: SDXLModelConfig
    /// Tokenizer and both text encoders.
    public let conditioner: SDXLConditioner
    /// The denoiser.
    public let unet: UNet
    /// The autoencoder.
    public let vae: AutoencoderKL
    /// The training noise schedule the UNet expects.
    public var schedule: DiscreteSchedule = .sdxl

    /// A pipeline from loaded parts (see `load(path:tokenizer:config:_:)` to read them from a checkpoint).
    public init(config: SDXLModelConfig, tokenizer: CLIPTokenizer, clipL: CLIPTextModel, clipG: CLIPTextModel,
                unet: UNet, vae: AutoencoderKL) {
        precondition(clipL.config == config.clipL && clipG.config == config.clipG && unet.config == config.unet
                     && vae.config == config.vae, "SDXLPipeline: parts do not match the config")
        self.config = config
        conditioner = SDXLConditioner(tokenizer: tokenizer, clipL: clipL, clipG: clipG)
        self.unet = unet
        self.vae = vae
    }

    /// Runs a whole generation. `progress` is called after every step; returning false stops the run and throws
    /// `PipelineError.cancelled`.
    public func generate(_ request: GenerationRequest, _ c: Compute,
                         progress: ((GenerationProgress) -> Bool)? = nil) throws -> GenerationResult {
        let job = try prepare(request, c)
        let start = Date()
        while let step = job.run.next() {
            let report = GenerationProgress(step: step.index + 1, count: step.count, sigma: step.sigma,
                                            denoised: step.denoised, elapsed: Date().timeIntervalSince(start))
            if let progress, !progress(report) { throw PipelineError.cancelled }
        }
        return finish(job, sampleSeconds: Date().timeIntervalSince(start), c)
    }

    /// Validates the request, encodes the prompts (and init image) and sets up the sampling run.
    public func prepare(_ request: GenerationRequest, _ c: Compute) throws -> GenerationJob {
        try request.validate(for: config)
        if conditioner.clipL.hasDiscardedWeights || conditioner.clipG.hasDiscardedWeights {
            throw PipelineError.discardedWeights("text encoders")
        }
        if unet.hasDiscardedWeights { throw PipelineError.discardedWeights("UNet") }
        let c = c.inference
        let start = Date()
        let shape = request.latentShape(config)
        let cond = conditioner.encode(request.prompt, syntax: request.syntax, c)
        let guided = !EpsDenoiser.isUnitScale(request.cfg)
        let uncond = guided ? conditioner.encode(request.negativePrompt, syntax: request.syntax, c) : nil
        let timeIds = Array(repeating: SDXLConditioner.timeIds(width: request.width, height: request.height),
                            count: request.batch)
        let denoiser = EpsDenoiser(schedule: schedule, cfgScale: request.cfg,
                                   cond: epsModel(cond, batch: request.batch, timeIds: timeIds, c),
                                   uncond: uncond.map { epsModel($0, batch: request.batch, timeIds: timeIds, c) })
        let latent = request.initImage.map { initLatent($0, request: request, c) }
        let sigmas = request.scheduler.sigmas(steps: request.steps, denoise: request.denoise, schedule: schedule)
        var generator = TorchGenerator(seed: request.seed)
        let noise = request.noise ?? generator.randn(shape)
        let run = SamplingRun(sampler: request.sampler, sigmas: sigmas, denoiser: denoiser, noise: noise, latent: latent,
                              stepNoise: TorchNoiseSource(seed: request.seed), schedule: schedule)
        return GenerationJob(request: request, run: run, encodeSeconds: Date().timeIntervalSince(start))
    }

    /// The matrix-product precision to run this model in when the user does not choose: bf16 only where it was
    /// measured to pay and to stay accurate — full-size UNets (over 1 G parameters; small models' GEMMs are too
    /// small for bf16 to win) on CPUs with AVX512-BF16 (SDXL 4-step result within 4.9e-3 of fp32, 4-step 1024²
    /// 1.4× faster; BENCHMARKS.md) — and only while the machine has room for the bf16 panels it caches beside the
    /// weights (`bf16PanelBytesPerParameter`); fp32 otherwise. Call it once the weights are loaded.
    public var automaticPrecision: Precision {
        Self.automaticPrecision(unetParameters: unet.parameterCount, cpuHasBF16: CPUFeatures.hasAVX512BF16,
                                availableBytes: MemInfo.read().availableBytes)
    }

    /// Bytes of cached bf16 panels per UNet parameter on the bf16 path, rounded up from SDXL's measured ~2.2 (the
    /// Winograd F(2×2) panels of a 3×3 conv hold 16 transformed values per 9 weights): the 4-step 1024² run peaks
    /// at 12.3 GiB in bf16 against 7.1 GiB in fp32, both with f16 weights.
    public static let bf16PanelBytesPerParameter = 2.5

    /// `automaticPrecision` for a UNet of `unetParameters` on a CPU with or without AVX512-BF16, with
    /// `availableBytes` free (nil: unknown, not limiting); 2 GiB are kept for activations on top of the panels.
    public static func automaticPrecision(unetParameters: Int, cpuHasBF16: Bool, availableBytes: Int? = nil) -> Precision {
        guard cpuHasBF16 && unetParameters > 1_000_000_000 else { return .fp32 }
        if let availableBytes, Double(availableBytes) < Double(unetParameters) * bf16PanelBytesPerParameter + Double(2 << 30) {
            return .fp32
        }
        return .bf16
    }

    /// Whether to keep the weights f16 between uses when the user does not choose: for full-size models (over 1 G
    /// UNet parameters), where it halves the 10 GiB an fp32 UNet holds and costs no time (an f16 checkpoint's values
    /// are exactly f16 anyway; UNet step 512² 8.8 s with f16 weights vs 9.2 s fp32, BENCHMARKS.md); small models
    /// stay fp32.
    public var prefersHalfWeights: Bool { unet.parameterCount > 1_000_000_000 }

    /// Keeps the UNet's and text encoders' matrices as f16 between uses (`Module.keepWeightsInHalf`); the VAE stays
    /// fp32. Merge LoRAs first: deltas merged into half-resident weights afterwards would not stick.
    public func keepWeightsInHalf() {
        for m in [unet, conditioner.clipL, conditioner.clipG] as [Module] { m.keepWeightsInHalf(true) }
    }

    /// Promises that no weight of the pipeline changes from now on (`Storage.freeze`), so the bf16 path packs each
    /// weight's panels once and keeps them, instead of repacking on every call. Merging a LoRA afterwards needs
    /// the weights unfrozen first.
    public func freezeWeights() {
        for m in [unet, conditioner.clipL, conditioner.clipG, vae] as [Module] {
            for (_, p) in m.namedParameters { p.storage.freeze() }
        }
    }

    /// Frees the text encoders' weights — a one-shot run calls this once `prepare` has encoded its prompts, as
    /// stable-diffusion.cpp's `free_params_immediately` does (SDXL: 1.5 GiB in f16, 3 GiB in fp32). The job keeps
    /// its encoded prompts; a later `prepare` on this pipeline throws `PipelineError.discardedWeights`.
    public func discardTextEncoders() {
        conditioner.clipL.discardWeights()
        conditioner.clipG.discardWeights()
    }

    /// Frees the UNet's weights — a one-shot run calls this after the last sampling step, before `finish`
    /// decodes (SDXL: 4.8 GiB in f16), so the decode's activations never sit beside them. A later `prepare` (or
    /// stepping a job further) must not happen; `prepare` throws `PipelineError.discardedWeights`.
    public func discardUNet() { unet.discardWeights() }

    /// Decodes a finished (or stopped) job's current latent into images.
    public func finish(_ job: GenerationJob, sampleSeconds: Double = 0, _ c: Compute) -> GenerationResult {
        let start = Date()
        let latent = job.run.x
        let decoded = decode(latent, tiled: job.request.vaeTiling, c)
        let images = (0..<decoded.dim(0)).map { RGBImage(decoded: decoded, batchIndex: $0) }
        return GenerationResult(request: job.request, latent: latent, decoded: decoded, images: images,
                                timings: (job.encodeSeconds, sampleSeconds, Date().timeIntervalSince(start)))
    }

    /// Model-space latents → decoded images in about [−1, 1]. latent: [B, 4, h, w] → [B, 3, f·h, f·w]
    public func decode(_ latent: Tensor, tiled: Bool = false, _ c: Compute) -> Tensor {
        let c = c.inference
        guard tiled else { return vae.decodeFromModelSpace(latent, c) }
        return vae.decodeTiledFromModelSpace(latent, c)
    }

    /// The ε model for one conditioning, repeated over the batch.
    private func epsModel(_ cond: SDXLConditioning, batch: Int, timeIds: [[Float]], _ c: Compute) -> EpsDenoiser.EpsModel {
        let context = batch == 1 ? cond.context : c.concat(Array(repeating: cond.context, count: batch), dim: 0)
        let pooled = batch == 1 ? cond.pooled : c.concat(Array(repeating: cond.pooled, count: batch), dim: 0)
        let unet = self.unet
        return { x, t in
            unet(x, timestep: Array(repeating: t, count: batch), context: context, addTextEmbeds: pooled,
                 timeIds: timeIds, c)
        }
    }

    /// img2img start latent in model space: the VAE posterior's mean × scaling factor (ComfyUI's deterministic
    /// `VAEEncode`), repeated over the batch. → [B, 4, h, w]
    private func initLatent(_ image: RGBImage, request: GenerationRequest, _ c: Compute) -> Tensor {
        let sized = image.width == request.width && image.height == request.height
            ? image : image.resized(toWidth: request.width, height: request.height)
        let latent = vae.encodeToModelSpace(Self.imageTensor(sized), c)
        return request.batch == 1 ? latent : c.concat(Array(repeating: latent, count: request.batch), dim: 0)
    }

    /// 8-bit RGB → [1, 3, H, W] in [−1, 1] (byte / 255 · 2 − 1, as ComfyUI's image loader and VAEEncode).
    public static func imageTensor(_ image: RGBImage) -> Tensor {
        let plane = image.width * image.height
        let t = Tensor(uninitialized: [1, 3, image.height, image.width])
        image.pixels.withUnsafeBufferPointer { px in
            for ch in 0..<3 {
                let dst = t.data + ch * plane
                for i in 0..<plane { dst[i] = Float(px[i * 3 + ch]) / 255 * 2 - 1 }
            }
        }
        return t
    }
}
