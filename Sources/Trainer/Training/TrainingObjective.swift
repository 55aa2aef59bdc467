import Tensor

/// What a training run optimises: its trainable tensors, how pixels become the batch it trains on, and its losses.
///
/// The loop (`TrainingLoop`) owns everything around it — data, optimizer, schedule, clipping, checkpoints — so an
/// objective is only the model-specific part: ε-prediction denoising (`DenoisingObjective`), an autoencoder's
/// reconstruction, or (next) DMD2's generator/critic terms. The loop sums the returned losses into one scalar for
/// `backward`, and reports each by name in the metrics stream.
public protocol TrainingObjective: AnyObject {
    /// Short identifier ("denoise", "autoencoder", …): names the objective's tensors in checkpoints
    /// (`<name>.<parameter>`) and its optimizer group.
    var name: String { get }
    /// The tensors the optimizer updates and checkpoints save, under stable names (the same names and order on
    /// every call). Their `requiresGrad` is set by the loop.
    var trainableParameters: [(String, Tensor)] { get }
    /// Turns a pixel batch ([B, 3, H, W] in [−1, 1]) into what `losses` receives in `batch.latents`. It runs on the
    /// data loader's background thread, so it must not touch trainable state.
    var batchEncoder: LatentBatchLoader.Encoder { get }
    /// The loss terms of one (micro-)batch, each a scalar tensor `[]` recorded for autograd. Every random draw
    /// (noise, timesteps, caption dropout) comes from `rng`, which the loop seeds per step, so a run is
    /// deterministic and resumable. `step` is the 0-based optimizer step.
    func losses(_ batch: TrainingBatch, step: Int, rng: inout TorchGenerator, _ c: Compute) throws -> [(String, Tensor)]
}
