import Diffusion
import Foundation
import Tensor

/// ε-prediction denoising on SDXL latents: what SDXL fine-tuning (full or LoRA) optimises.
///
/// Per batch item: a timestep t uniform in 0..<1000, noise ε ~ N(0, 1) (plus `noiseOffset`·N(0, 1) per channel,
/// kohya's `--noise_offset`), x_t = √ᾱₜ·x₀ + √(1 − ᾱₜ)·ε on the scaled latents x₀, and the loss
/// `mse(unet(x_t, t, context, pooled, time ids), ε)` over the whole batch — as diffusers'
/// `train_text_to_image_sdxl.py` and kohya's `sdxl_train.py` do. Conditioning comes from both text encoders
/// (frozen) through `SDXLConditioner` (context = the first 77-token window, pooled = bigG's projection); a caption
/// is replaced by the empty caption with probability `captionDropout` (kohya's `caption_dropout_rate`), which is
/// what lets the model be sampled without a prompt. Time ids come from the batch (the data pipeline's crops).
///
/// Random draws per step, in this order: dropout (one uniform per item, only when the rate is > 0), timesteps
/// (`nextUInt32() % 1000` per item, torch's `randint` rule), the noise (`randn` of the latents' shape), then the
/// offset noise ([B, C, 1, 1], only when `noiseOffset` > 0).
public final class DenoisingObjective: TrainingObjective {
    /// What varies between SDXL fine-tuning setups.
    public struct Options: Equatable, Sendable {
        /// Probability of training an item on the empty caption.
        public var captionDropout: Double = 0
        /// Probability of dropping each comma-separated tag after the first `keepTokens` (kohya's
        /// `caption_tag_dropout_rate`): the model learns from partial captions, e.g. an emoji's name alone.
        public var captionTagDropout: Double = 0
        /// Leading tags never dropped by `captionTagDropout` (kohya's `keep_tokens`).
        public var keepTokens = 0
        /// min-SNR-γ loss weighting (kohya's `min_snr_gamma`; 0 = off).
        public var minSNRGamma: Float = 0
        /// Debiased-estimation loss weighting 1/√SNR (kohya's `debiased_estimation_loss`): more weight on the
        /// high-noise steps that decide an image's layout.
        public var debiasedEstimation = false
        /// Timesteps are drawn uniformly from `minTimestep..<maxTimestep` (kohya's `min_timestep` /
        /// `max_timestep`; defaults: all 1000). A stage trained on high noise only works on what decides an
        /// image's layout.
        public var minTimestep = 0
        /// Exclusive upper bound of the timesteps drawn (nil: the schedule's count).
        public var maxTimestep: Int?
        /// Scale of the per-channel offset noise (0 = off).
        public var noiseOffset: Float = 0
        /// Recompute UNet blocks in backward instead of keeping their activations (`UNet.checkpointBlocks`).
        public var gradientCheckpointing = false
        /// Sample the VAE posterior (mean + std·ε, DMD2's way) instead of its mean. The sample noise is seeded by
        /// the batch's pixels, so a resumed run encodes the same latents.
        public var samplePosterior = false
        /// Defaults: no dropout, no offset, no checkpointing, posterior mean.
        public init() {}
    }

    public let name = "denoise"
    /// The denoiser being trained (its weights, or its LoRA adapters in LoRA mode).
    public let unet: UNet
    /// Tokenizer and the two frozen text encoders.
    public let conditioner: SDXLConditioner
    /// The frozen VAE that encodes the data.
    public let vae: AutoencoderKL
    /// The forward process.
    public let schedule: DDPMTrainingSchedule
    /// The settings.
    public let options: Options
    /// When set, only these tensors train (a LoRA's factors); otherwise every UNet parameter does.
    public let adapterParameters: [(String, Tensor)]?
    private let encodeCompute: Compute

    /// An objective over loaded (or freshly initialised) models. `adapterParameters` switches to LoRA training:
    /// those tensors train and the UNet's own weights stay frozen. `encodeThreads` sizes the data thread's VAE.
    public init(unet: UNet, conditioner: SDXLConditioner, vae: AutoencoderKL, options: Options = Options(),
                adapterParameters: [(String, Tensor)]? = nil, schedule: DDPMTrainingSchedule = .sdxl,
                encodeThreads: Int = 1) {
        self.unet = unet
        self.conditioner = conditioner
        self.vae = vae
        self.options = options
        self.schedule = schedule
        self.adapterParameters = adapterParameters
        // Its own worker count, but never OpenBLAS's process-wide one (that would make the trainer's GEMMs single-threaded).
        encodeCompute = Compute(threads: encodeThreads, recordsGradients: false, setsBLASThreads: false)
        unet.checkpointBlocks = options.gradientCheckpointing
        if adapterParameters != nil { unet.setTrainable(false) }
    }

    public var trainableParameters: [(String, Tensor)] { adapterParameters ?? unet.namedParameters }

    public var batchEncoder: LatentBatchLoader.Encoder {
        let vae = self.vae, c = encodeCompute, sample = options.samplePosterior
        return { pixels in
            guard sample else { return vae.encodeToModelSpace(pixels, c) }
            let dist = vae.encode(pixels, c)
            var rng = TorchGenerator(seed: DenoisingObjective.contentSeed(pixels))
            return c.scale(dist.sample(noise: rng.randn(dist.mean.shape), c), by: vae.config.scalingFactor)
        }
    }

    public func losses(_ batch: TrainingBatch, step: Int, rng: inout TorchGenerator, _ c: Compute) throws -> [(String, Tensor)] {
        let latents = batch.latents
        let b = latents.dim(0)
        var captions = batch.captions
        if options.captionDropout > 0 {
            for i in 0..<b where Self.uniform(&rng) < options.captionDropout { captions[i] = "" }
        }
        if options.captionTagDropout > 0 {
            captions = captions.map { Self.dropTags($0, rate: options.captionTagDropout, keep: options.keepTokens, &rng) }
        }
        let timesteps = Self.drawTimesteps(b, in: options.minTimestep..<(options.maxTimestep ?? schedule.count), &rng)
        var noise = rng.randn(latents.shape)
        if options.noiseOffset > 0 {
            let offset = rng.randn([b, latents.dim(1), 1, 1])
            noise = c.inference.add(noise, c.inference.scale(offset, by: options.noiseOffset))
        }
        let (context, pooled) = encode(captions, c)
        let weighted = options.minSNRGamma > 0 || options.debiasedEstimation
        let weights = weighted ? timesteps.map {
            schedule.lossWeight($0, minSNRGamma: options.minSNRGamma, debiased: options.debiasedEstimation)
        } : nil
        return [("mse", Self.epsilonLoss(unet: unet, schedule: schedule, latents: latents, noise: noise,
                                         timesteps: timesteps, context: context, pooled: pooled,
                                         timeIds: batch.timeIdRows, sampleWeights: weights, c))]
    }

    /// `count` timesteps uniform in `range`: `lower + nextUInt32() % span` each (torch's `randint` rule; the
    /// full range gives the same draws as before the range existed).
    static func drawTimesteps(_ count: Int, in range: Range<Int>, _ rng: inout TorchGenerator) -> [Int] {
        precondition(!range.isEmpty, "drawTimesteps: empty range \(range)")
        return (0..<count).map { _ in range.lowerBound + Int(rng.nextUInt32() % UInt32(range.count)) }
    }

    /// The caption with each comma-separated tag after the first `keep` dropped with probability `rate` (one
    /// uniform draw per droppable tag, in order); an empty caption stays empty.
    static func dropTags(_ caption: String, rate: Double, keep: Int, _ rng: inout TorchGenerator) -> String {
        let tags = caption.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !caption.isEmpty, tags.count > keep else { return caption }
        var kept = Array(tags.prefix(keep))
        for tag in tags.dropFirst(keep) where uniform(&rng) >= rate { kept.append(tag) }
        return kept.joined(separator: ", ")
    }

    /// The ε-prediction loss for given noise and timesteps (what `losses` computes after its random draws).
    /// latents, noise: [B, 4, h, w]; context: [B, T, D]; pooled: [B, P]; timeIds: B rows of 6.
    public func loss(latents: Tensor, noise: Tensor, timesteps: [Int], context: Tensor, pooled: Tensor,
                     timeIds: [[Float]], _ c: Compute) -> Tensor {
        Self.epsilonLoss(unet: unet, schedule: schedule, latents: latents, noise: noise, timesteps: timesteps,
                         context: context, pooled: pooled, timeIds: timeIds, c)
    }

    /// `mse(unet(addNoise(latents, noise, t), t, …), noise)` → `[]`, recorded for autograd. Shapes as `loss`.
    /// `sampleWeights` (one per item, e.g. min-SNR / debiased weights) switches to the per-sample weighted MSE.
    public static func epsilonLoss(unet: UNet, schedule: DDPMTrainingSchedule, latents: Tensor, noise: Tensor,
                                   timesteps: [Int], context: Tensor, pooled: Tensor, timeIds: [[Float]],
                                   sampleWeights: [Float]? = nil, _ c: Compute) -> Tensor {
        let noisy = schedule.addNoise(latents, noise: noise, timesteps: timesteps)
        let pred = unet(noisy, timestep: timesteps.map(Float.init), context: context, addTextEmbeds: pooled,
                        timeIds: timeIds, c)
        return sampleWeights.map { c.mse(pred, noise, sampleWeights: $0) } ?? c.mse(pred, noise)
    }

    /// Both encoders over every caption: context [B, 77, D] (first window), pooled [B, P]. Frozen: no graph.
    public func encode(_ captions: [String], _ c: Compute) -> (context: Tensor, pooled: Tensor) {
        let c = c.inference
        let conds = captions.map { conditioner.encode($0, c) }
        let window = CLIPTokenizer.contextLength
        let contexts = conds.map { $0.context.dim(1) == window ? $0.context : c.slice($0.context, dim: 1, start: 0, length: window) }
        return (c.concat(contexts, dim: 0), c.concat(conds.map(\.pooled), dim: 0))
    }

    /// Uniform in [0, 1) from 24 bits, as torch's float `rand`.
    static func uniform(_ rng: inout TorchGenerator) -> Double {
        Double(rng.nextUInt32() & 0xFF_FFFF) / Double(1 << 24)
    }

    /// A seed from a tensor's bytes (FNV-1a over the float bits), for noise that must repeat with the data.
    static func contentSeed(_ t: Tensor) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<t.count { h = (h ^ UInt64(t.data[i].bitPattern)) &* 0x100_0000_01b3 }
        return h
    }
}
