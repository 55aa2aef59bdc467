/// A named list of parameter tensors that an optimizer updates with shared settings.
///
/// Groups hold references, never copies: a frozen teacher UNet and a LoRA-adapted student can list
/// the same base `Tensor` objects (the teacher's groups marked not trainable, the student's LoRA
/// tensors in a trainable group), while a second, fully trained UNet has groups over its own
/// tensors. Several optimizers can each own their own groups; one tensor must appear in at most one
/// optimizer, because each optimizer keeps its own moment estimates for it.
public final class ParameterGroup {
    /// Name used in optimizer state keys (`<name>.<index>.<state>`), so it must be unique per optimizer.
    public let name: String
    /// The parameters, in a fixed order (state keys use the index into this list).
    public let params: [Tensor]
    /// Multiplies the learning rate passed to `Optimizer.step(lr:)`.
    public var lrScale: Float
    /// Decoupled weight decay for this group; nil uses the optimizer's default.
    public var weightDecay: Float?
    /// Whether the optimizer updates this group. Setting it toggles `requiresGrad` on every tensor,
    /// so a frozen group also builds no autograd nodes and accumulates no gradients.
    public var trainable: Bool {
        didSet { for p in params { p.requiresGrad = trainable } }
    }

    /// Creates a group and sets `requiresGrad` on its tensors to `trainable`.
    public init(name: String, params: [Tensor], lrScale: Float = 1, weightDecay: Float? = nil, trainable: Bool = true) {
        self.name = name
        self.params = params
        self.lrScale = lrScale
        self.weightDecay = weightDecay
        self.trainable = trainable
        for p in params { p.requiresGrad = trainable }
    }

    /// Total number of scalar parameters.
    public var parameterCount: Int { params.reduce(0) { $0 + $1.count } }
}
