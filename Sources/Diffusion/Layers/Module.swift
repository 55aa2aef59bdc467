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
