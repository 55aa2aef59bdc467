import Tensor

/// A model component whose parameters have canonical checkpoint names.
///
/// Canonical names are the diffusers / Hugging Face ones (`down_blocks.1.attentions.0.proj_in.weight`,
/// `text_model.encoder.layers.3.mlp.fc1.bias`); loaders map other layouts (single-file LDM, open_clip)
/// onto them in one place per model (`<Model>+Weights.swift`).
public protocol Module: AnyObject {
    /// Every parameter with its canonical name, in a stable order.
    var namedParameters: [(String, Tensor)] { get }
}

extension Module {
    /// Total number of parameter elements.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.1.count } }

    /// Keeps the matrix and convolution weights (rank ≥ 2) as f16 between uses, converting each to fp32 only
    /// while its layer runs: about half the resident memory for a frozen model (norms and biases, a tiny
    /// fraction, stay fp32). `false` returns to plain fp32 storage. Weights of a module that trains must stay
    /// fp32 (an optimizer step writes the fp32 values).
    public func keepWeightsInHalf(_ on: Bool) {
        for (_, t) in namedParameters where t.rank >= 2 {
            if on { t.storage.compactToHalf() } else { t.storage.restoreFull() }
        }
    }

    /// Frees every parameter's values for good (`Storage.discardValues`): what a one-shot run does with a model
    /// it has finished with, as stable-diffusion.cpp frees each model's parameters right after use. The module
    /// must not run afterwards; check `hasDiscardedWeights`.
    public func discardWeights() {
        for (_, t) in namedParameters { t.storage.discardValues() }
        Storage.returnFreedMemory()
    }

    /// Whether `discardWeights` ran (any parameter's values are gone).
    public var hasDiscardedWeights: Bool { namedParameters.contains { $0.1.storage.isDiscarded } }

    /// Sets `requiresGrad` on every parameter (freeze with false).
    public func setTrainable(_ trainable: Bool) {
        for (_, t) in namedParameters { t.requiresGrad = trainable }
    }
}

/// Joins a prefix and a name with a dot (empty prefix → name).
@inlinable
func key(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

/// Prefixes every name in a parameter list.
func prefixed(_ prefix: String, _ params: [(String, Tensor)]) -> [(String, Tensor)] {
    params.map { (key(prefix, $0.0), $0.1) }
}
