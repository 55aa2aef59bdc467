import Foundation

/// An fp32, contiguous, row-major (NCHW) tensor that can take part in reverse-mode autograd.
///
/// Values live in a shared `Storage`. A tensor with `requiresGrad` is either a leaf (a parameter:
/// its gradient accumulates into `grad`) or the output of a recorded op (it has a `node`).
/// Gradient convention: parameter grads *accumulate* into `grad`; activation grads returned by an
/// op's `backward` are fresh tensors that overwrite nothing.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// The values, `shape.product` floats.
    public let storage: Storage
    /// Whether gradients flow to this tensor. Set on parameters to train them.
    public var requiresGrad: Bool
    /// Accumulated gradient of a leaf tensor after `backward()`.
    public var grad: Tensor?
    /// The op that produced this tensor, when it was recorded for autograd.
    public internal(set) var node: Node?
    /// Optional name for error messages and parameter listings.
    public var name: String?

    /// Wraps existing storage; `storage.count` must equal the element count of `shape`.
    public init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(storage.count == shape.reduce(1, *),
                     "storage holds \(storage.count) floats but shape \(shape) needs \(shape.reduce(1, *))")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A zero-filled tensor.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// A tensor whose elements the caller will all overwrite.
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: Storage(uninitializedCount: shape.reduce(1, *)))
    }

    /// A tensor holding `values` (copied).
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { src in
            storage.pointer.update(from: src.baseAddress!, count: values.count)
        }
        self.requiresGrad = requiresGrad
    }

    /// A tensor filled with one value.
    public convenience init(shape: [Int], repeating value: Float) {
        self.init(uninitialized: shape)
        storage.pointer.update(repeating: value, count: storage.count)
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }
    /// Base pointer of the values.
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.pointer }
    /// The values as a buffer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> { storage.buffer }

    /// A copy of the values.
    public var scalars: [Float] { Array(storage.buffer) }

    /// Size of dimension `d`; negative `d` counts from the end.
    public func dim(_ d: Int) -> Int { shape[d < 0 ? shape.count + d : d] }

    /// A tensor with the same values and a new shape (no copy, no autograd record).
    /// Use `Compute.reshape` when gradients must flow through the reshape.
    public func viewing(as newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot view \(shape) as \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// A deep copy that is detached from any graph.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        out.data.update(from: data, count: count)
        return out
    }

    /// `self` when its storage is ordinary; for half-resident storage (see `Storage.compactToHalf`), an fp32
    /// copy when `needsLasting` (a recorded graph will read the values later), otherwise `self` — callers then
    /// use it inside `storage.withResident`.
    public func residentCopy(needsLasting: Bool) -> Tensor {
        guard needsLasting, storage.isHalfResident else { return self }
        return storage.withResident { copy() }
    }

    /// The same values without a graph edge: gradients stop here.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Clears `grad`.
    public func zeroGrad() { grad = nil }

    public var description: String {
        let head = scalars.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 6 ? ", …" : "")]"
    }
}

extension Sequence where Element == Int {
    /// Product of the elements (element count of a shape); works on arrays and slices.
    @inlinable public var product: Int { reduce(1, *) }
}
