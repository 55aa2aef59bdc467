import Checkpoint
import Tensor

/// Errors raised while matching checkpoint tensors to a module's parameters.
public enum LoadError: Error, CustomStringConvertible, Equatable {
    case missingKey(file: String, key: String)
    case unexpectedKeys(file: String, keys: [String])
    case shapeMismatch(file: String, key: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .missingKey(f, k): return "\(f): missing tensor '\(k)'"
        case let .unexpectedKeys(f, ks):
            return "\(f): \(ks.count) unexpected tensor(s): \(ks.prefix(5).joined(separator: ", "))\(ks.count > 5 ? ", …" : "")"
        case let .shapeMismatch(f, k, e, g): return "\(f): tensor '\(k)' has shape \(g), expected \(e)"
        }
    }
}

/// Strict loading: every parameter must be found with the right shape, and (unless listed in
/// `ignoring`) every source tensor under `prefix` must be used.
public enum ParameterLoader {
    /// Loads `module`'s parameters from `file`. `sourceName` maps a canonical parameter name to the
    /// key in the file (identity for diffusers layouts); `transform` may reshape or transpose a
    /// tensor read from the file before the shape check (e.g. open_clip's text projection).
    public static func load(_ module: Module, from file: SafeTensorsFile, prefix: String = "",
                            sourceName: (String) -> String = { $0 },
                            ignoring: (String) -> Bool = { _ in false }) throws {
        var used = Set<String>()
        for (name, param) in module.namedParameters {
            let src = prefix + sourceName(name)
            guard let info = file.info(src) else { throw LoadError.missingKey(file: file.path, key: src) }
            guard info.shape.product == param.count, info.shape == param.shape || squeezedEqual(info.shape, param.shape) else {
                throw LoadError.shapeMismatch(file: file.path, key: src, expected: param.shape, found: info.shape)
            }
            let t = try file.tensor(src)
            param.data.update(from: t.data, count: param.count)
            used.insert(src)
        }
        let extra = file.names.filter { $0.hasPrefix(prefix) && !used.contains($0) && !ignoring($0) }
        if !extra.isEmpty { throw LoadError.unexpectedKeys(file: file.path, keys: extra) }
    }

    /// Shapes equal after dropping size-1 dims (a [512, 512, 1, 1] conv stored for a [512, 512] linear).
    static func squeezedEqual(_ a: [Int], _ b: [Int]) -> Bool {
        a.filter { $0 != 1 } == b.filter { $0 != 1 }
    }
}
