/// Gradient checkpointing: trade compute for memory by recomputing a block during backward.
extension Compute {
    /// Runs `body(inputs)` without keeping its activations and records a single graph node for it.
    ///
    /// Forward runs `body` with recording off, so nothing inside is kept. When recording is on, the
    /// result gets one node whose inputs are exactly `inputs`; its backward recomputes `body` on
    /// detached copies of the inputs (sharing storage, marked `requiresGrad` like the originals) with
    /// recording on, runs an inner `backward(seed: dOut)` — which accumulates the grads of parameters
    /// used inside into their `grad`, as an ordinary backward would — and returns the inputs' grads.
    ///
    /// The node is recorded even when no input requires gradients, because the parameters inside are
    /// invisible here; use `inference` for blocks that need no gradients at all. `body` must be
    /// deterministic (no dropout-style randomness) and the inputs must not be modified before backward.
    /// Peak memory during backward is one block's activations.
    public func checkpoint(_ inputs: [Tensor], _ body: @escaping (Compute, [Tensor]) -> Tensor) -> Tensor {
        let out = body(inference, inputs)
        guard recordsGradients else { return out }
        let recompute = self
        // A fresh tensor over the same storage, so the node never lands on a tensor body returned as-is
        // (e.g. an input passed straight through).
        let result = Tensor(shape: out.shape, storage: out.storage)
        result.node = Node(op: "checkpoint", inputs: inputs) { dOut in
            let detached = inputs.map { t -> Tensor in
                let d = t.detached()
                d.requiresGrad = t.requiresGrad
                return d
            }
            let y = body(recompute, detached)
            y.backward(seed: dOut, compute: recompute)
            return zip(inputs, detached).map { orig, d in orig.requiresGrad ? d.grad : nil }
        }
        result.requiresGrad = true
        return result
    }
}
