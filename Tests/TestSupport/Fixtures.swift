import Foundation
import Checkpoint
import Tensor

/// Locates committed fixtures by source path, so tests need no resource bundles and no Python.
public enum Fixtures {
    /// The repository's `Tests/` folder.
    public static let testsRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Path of a fixture below `Tests/<target>/Fixtures/`.
    public static func path(_ relative: String, target: String = "TensorTests") -> String {
        testsRoot.appendingPathComponent(target).appendingPathComponent("Fixtures")
            .appendingPathComponent(relative).path
    }

    /// Opens `Tests/TensorTests/Fixtures/ops/<family>.safetensors` (see tools/reference/FIXTURES.md).
    public static func ops(_ family: String) throws -> OpFixture {
        OpFixture(file: try SafeTensorsFile(path: path("ops/\(family).safetensors")))
    }
}

/// One op family's fixture file: several cases, each with inputs, output, upstream grad and grads.
public struct OpFixture {
    /// The underlying file.
    public let file: SafeTensorsFile

    /// Case names, sorted.
    public var cases: [String] {
        Set(file.names.compactMap { name -> String? in
            guard let r = name.range(of: ".out") else { return nil }
            return String(name[..<r.lowerBound])
        }).sorted()
    }

    /// The case's options from the file metadata (a JSON object).
    public func options(_ c: String) -> [String: Any] {
        guard let json = file.metadata[c], let data = json.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return obj
    }
    /// Integer option.
    public func int(_ c: String, _ key: String) -> Int? { (options(c)[key] as? NSNumber)?.intValue }
    /// Float option.
    public func float(_ c: String, _ key: String) -> Float? { (options(c)[key] as? NSNumber)?.floatValue }
    /// Bool option.
    public func bool(_ c: String, _ key: String) -> Bool { (options(c)[key] as? NSNumber)?.boolValue ?? false }
    /// Integer-list option.
    public func ints(_ c: String, _ key: String) -> [Int]? { (options(c)[key] as? [NSNumber])?.map { $0.intValue } }

    /// Whether a tensor exists.
    public func has(_ key: String) -> Bool { file.info(key) != nil }
    /// `<case>.in.<arg>`, optionally marked as requiring gradients.
    public func input(_ c: String, _ arg: String, requiresGrad: Bool = false) throws -> Tensor {
        let t = try file.tensor("\(c).in.\(arg)")
        t.requiresGrad = requiresGrad
        return t
    }
    /// `<case>.in.<arg>` when present.
    public func optionalInput(_ c: String, _ arg: String, requiresGrad: Bool = false) throws -> Tensor? {
        has("\(c).in.\(arg)") ? try input(c, arg, requiresGrad: requiresGrad) : nil
    }
    /// `<case>.out` (or `.out.<i>`).
    public func output(_ c: String, _ i: Int? = nil) throws -> Tensor {
        try file.tensor(i.map { "\(c).out.\($0)" } ?? "\(c).out")
    }
    /// `<case>.dout` (or `.dout.<i>`).
    public func dout(_ c: String, _ i: Int? = nil) throws -> Tensor {
        try file.tensor(i.map { "\(c).dout.\($0)" } ?? "\(c).dout")
    }
    /// `<case>.grad.<arg>`.
    public func grad(_ c: String, _ arg: String) throws -> Tensor { try file.tensor("\(c).grad.\(arg)") }
}
