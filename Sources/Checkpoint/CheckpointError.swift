/// Errors from reading or writing checkpoints; every case names the file, and every description
/// is one line.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The operating system refused (open, stat, mmap, write, fsync, rename …).
    case io(file: String, reason: String)
    /// The file's content does not fit what the caller expected (free-form; used by loaders).
    case malformed(file: String, reason: String)
    /// The file is not a valid safetensors file; `problem` says exactly why.
    case invalidFile(file: String, problem: SafeTensorsProblem)
    /// No tensor of that name.
    case missingTensor(file: String, name: String)
    /// The tensor's dtype cannot be converted to fp32 (or written from fp32).
    case unsupportedDType(file: String, name: String, dtype: String)
    /// A typed accessor was used on a tensor of another dtype (e.g. `int64s` on an F32 tensor).
    case dtypeMismatch(file: String, name: String, expected: String, actual: String)
    /// The writer was given something it cannot store (duplicate or reserved name, bad shape).
    case invalidWrite(file: String, reason: String)

    /// One line: the file, then the problem.
    public var description: String {
        switch self {
        case let .io(f, r): return "\(oneLine(f)): \(oneLine(r))"
        case let .malformed(f, r): return "\(oneLine(f)): not a valid safetensors file: \(oneLine(r))"
        case let .invalidFile(f, p): return "\(oneLine(f)): not a valid safetensors file: \(p)"
        case let .missingTensor(f, n): return "\(oneLine(f)): no tensor named \(quoted(n))"
        case let .unsupportedDType(f, n, d):
            return "\(oneLine(f)): tensor \(quoted(n)) has unsupported dtype \(quoted(d))"
        case let .dtypeMismatch(f, n, e, a):
            return "\(oneLine(f)): tensor \(quoted(n)) has dtype \(quoted(a)), expected \(quoted(e))"
        case let .invalidWrite(f, r): return "\(oneLine(f)): cannot write: \(oneLine(r))"
        }
    }
}

/// What exactly is wrong with a safetensors file (see `CheckpointError.invalidFile`).
public enum SafeTensorsProblem: Error, CustomStringConvertible, Equatable, Sendable {
    /// Fewer than the 8 bytes of the header-length prefix.
    case tooShort(size: Int)
    /// The declared header length exceeds `SafeTensorsFile.maxHeaderLength`.
    case headerTooLarge(length: UInt64)
    /// The declared header length runs past the end of the file.
    case headerPastEnd(length: UInt64, fileSize: Int)
    /// The header bytes are not valid UTF-8.
    case headerNotUTF8
    /// The header is not JSON; `offset` is the byte offset into the header.
    case headerNotJSON(reason: String, offset: Int)
    /// The header is JSON but not an object.
    case headerNotObject(found: String)
    /// A tensor entry is not a JSON object.
    case entryNotObject(name: String)
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`.
    case missingField(name: String, field: String)
    /// A tensor entry field has the wrong JSON type or form.
    case wrongFieldType(name: String, field: String, expected: String)
    /// The dtype string is not one the format defines.
    case unknownDType(name: String, dtype: String)
    /// A shape dimension is negative.
    case negativeDimension(name: String, shape: String)
    /// The element count (or byte count) does not fit in a 64-bit integer.
    case shapeOverflow(name: String, shape: String)
    /// `data_offsets` has begin > end.
    case offsetsReversed(name: String, begin: Int, end: Int)
    /// `data_offsets` is negative or past the end of the data section.
    case offsetsOutOfRange(name: String, offsets: String, dataLength: Int)
    /// end − begin differs from dtype size × element count.
    case byteLengthMismatch(name: String, expected: Int, actual: Int)
    /// Two tensors share bytes.
    case overlappingTensors(first: String, second: String)
    /// `__metadata__` is not an object of string values.
    case badMetadata(reason: String)

    /// The problem as a phrase (without the file name).
    public var description: String {
        switch self {
        case let .tooShort(s): return "file is \(s) bytes, shorter than the 8-byte header length"
        case let .headerTooLarge(n):
            return "header length \(n) exceeds the \(SafeTensorsFile.maxHeaderLength)-byte limit"
        case let .headerPastEnd(n, s): return "header length \(n) runs past the end of the file (\(s) bytes)"
        case .headerNotUTF8: return "header is not valid UTF-8"
        case let .headerNotJSON(r, o): return "header is not JSON: \(oneLine(r)) at header byte \(o)"
        case let .headerNotObject(t): return "header is a JSON \(t), not an object"
        case let .entryNotObject(n): return "entry \(quoted(n)) is not a JSON object"
        case let .missingField(n, f): return "entry \(quoted(n)) has no '\(f)'"
        case let .wrongFieldType(n, f, e): return "entry \(quoted(n)): '\(f)' must be \(e)"
        case let .unknownDType(n, d): return "entry \(quoted(n)) has unknown dtype \(quoted(d))"
        case let .negativeDimension(n, s): return "entry \(quoted(n)) has a negative dimension in shape \(s)"
        case let .shapeOverflow(n, s): return "entry \(quoted(n)): size of shape \(s) overflows"
        case let .offsetsReversed(n, b, e): return "entry \(quoted(n)): data_offsets [\(b), \(e)] end before they begin"
        case let .offsetsOutOfRange(n, o, l):
            return "entry \(quoted(n)): data_offsets \(o) lie outside the \(l)-byte data section"
        case let .byteLengthMismatch(n, e, a):
            return "entry \(quoted(n)) spans \(a) bytes but its dtype and shape need \(e)"
        case let .overlappingTensors(a, b): return "tensors \(quoted(a)) and \(quoted(b)) overlap"
        case let .badMetadata(r): return "__metadata__ \(oneLine(r))"
        }
    }
}

/// `s` with control and line-separator characters escaped, so that messages stay on one line.
func oneLine(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
        if u.value < 0x20 || u.value == 0x7F || u.value == 0x85 || u == "\u{2028}" || u == "\u{2029}" {
            out += u.escaped(asASCII: true)
        } else {
            out.unicodeScalars.append(u)
        }
    }
    return out
}

/// A name in single quotes, one line, shortened past 120 characters.
func quoted(_ s: String) -> String {
    let short = s.unicodeScalars.count > 120 ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(120))) + "…" : s
    return "'" + oneLine(short) + "'"
}
