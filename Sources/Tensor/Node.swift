/// One recorded op in the autograd graph.
///
/// A node keeps its inputs (to walk the graph) and a closure that maps the output gradient to one
/// gradient per input (nil where the input needs none). Nodes exist only when an op ran with
/// `Compute.recordsGradients` and at least one input required gradients, so inference with frozen
/// weights builds no tape and keeps no activations.
public final class Node {
    /// Op name, for debugging and error messages.
    public let op: String
    /// The op's tensor inputs, in the order `backward` returns their gradients.
    public let inputs: [Tensor]
    /// Maps dOutput to [dInput] (same order as `inputs`).
    let backward: (Tensor) -> [Tensor?]

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// Reverse-mode differentiation from this tensor.
    ///
    /// `seed` is dL/d(self); it defaults to ones (so a scalar loss needs none). Leaf tensors with
    /// `requiresGrad` receive their gradient in `grad` (accumulated). Intermediate gradients are
    /// released as soon as their node has run, and the graph is released afterwards unless
    /// `retainGraph` is set.
    public func backward(seed: Tensor? = nil, compute: Compute, retainGraph: Bool = false) {
        let seedGrad = seed ?? Tensor(shape: shape, repeating: 1)
        precondition(seedGrad.shape == shape, "backward seed \(seedGrad.shape) vs output \(shape)")
        guard node != nil else {
            if requiresGrad { accumulate(into: self, seedGrad, compute) }
            return
        }
        // Topological order by iterative DFS (deep UNets would overflow a recursive walk).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if !visited.insert(ObjectIdentifier(t)).inserted { continue }
            stack.append((t, true))
            for input in t.node?.inputs ?? [] where input.node != nil && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seedGrad]
        for t in order.reversed() {
            guard let node = t.node, let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
            let inputGrads = node.backward(g)
            precondition(inputGrads.count == node.inputs.count, "\(node.op) returned \(inputGrads.count) grads for \(node.inputs.count) inputs")
            for (input, ig) in zip(node.inputs, inputGrads) {
                guard let ig, input.requiresGrad else { continue }
                precondition(ig.shape == input.shape, "\(node.op): grad \(ig.shape) for input \(input.shape)")
                if input.node == nil {
                    accumulate(into: input, ig, compute)
                } else if let existing = grads[ObjectIdentifier(input)] {
                    grads[ObjectIdentifier(input)] = compute.addValues(existing, ig)
                } else {
                    grads[ObjectIdentifier(input)] = ig
                }
            }
            if !retainGraph { t.node = nil }
        }
    }
}

private func accumulate(into leaf: Tensor, _ g: Tensor, _ compute: Compute) {
    if let existing = leaf.grad {
        compute.addInPlace(existing, g)
    } else {
        // Own the gradient buffer: `g` may alias another tensor's storage (e.g. an identity op).
        leaf.grad = g.copy()
    }
}
