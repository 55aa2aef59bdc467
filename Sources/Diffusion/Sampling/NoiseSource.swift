import Foundation
import Tensor

/// Where a sampler's per-step noise comes from (ancestral and SDE samplers, `lcm`).
///
/// A source is asked once per noise-adding step, in order; it gets the step's σ interval so that
/// interval-aware sources (such as a Brownian tree) could be plugged in.
public protocol NoiseSource {
    /// The next standard-normal tensor of `shape` for the step from `sigma` to `sigmaNext`.
    mutating func noise(shape: [Int], sigma: Float, sigmaNext: Float) -> Tensor
}

/// ComfyUI's CPU per-step noise (`default_noise_sampler(x, seed)` in comfyanonymous/ComfyUI
/// `comfy/k_diffusion/sampling.py`): a fresh torch CPU generator seeded with the run's seed, one
/// `randn(x.shape)` per call. Its first draw therefore equals the initial noise of the same seed.
public struct TorchNoiseSource: NoiseSource {
    private var generator: TorchGenerator

    /// A fresh generator seeded like `torch.Generator().manual_seed(seed)`.
    public init(seed: UInt64) { generator = TorchGenerator(seed: seed) }

    public mutating func noise(shape: [Int], sigma: Float, sigmaNext: Float) -> Tensor {
        generator.randn(shape)
    }
}
