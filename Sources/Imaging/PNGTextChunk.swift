/// One PNG text chunk (tEXt, zTXt or iTXt): a keyword and a value.
public struct PNGTextChunk: Equatable, Sendable {
    /// Which chunk type carries the value.
    public enum Encoding: Equatable, Sendable {
        /// When writing: tEXt if the value is plain ASCII, otherwise iTXt. (ASCII-only for tEXt
        /// because many readers wrongly decode tEXt as UTF-8; ASCII reads the same either way.)
        case automatic
        /// tEXt (or zTXt when read): ISO 8859-1. Writing throws if a character is outside Latin-1.
        case latin1
        /// iTXt: UTF-8.
        case utf8
    }

    /// The keyword: 1-79 printable Latin-1 characters, no leading, trailing or double spaces.
    public var key: String
    /// The text.
    public var value: String
    /// The chunk type (after reading: `.latin1` for tEXt/zTXt, `.utf8` for iTXt).
    public var encoding: Encoding

    /// A chunk; `.automatic` picks tEXt or iTXt from the value when written.
    public init(key: String, value: String, encoding: Encoding = .automatic) {
        self.key = key
        self.value = value
        self.encoding = encoding
    }
}

extension PNGTextChunk {
    /// The keyword as Latin-1 bytes, validated against the PNG rules for keywords.
    func keywordBytes() throws -> [UInt8] {
        guard let bytes = Latin1.encode(key) else {
            throw ImagingError.invalidText(key: key, reason: "keyword must be Latin-1")
        }
        guard (1...79).contains(bytes.count) else {
            throw ImagingError.invalidText(key: key, reason: "keyword must be 1-79 bytes, got \(bytes.count)")
        }
        guard bytes.allSatisfy({ (32...126).contains($0) || $0 >= 161 }) else {
            throw ImagingError.invalidText(key: key, reason: "keyword has a non-printable character")
        }
        guard bytes.first != 32, bytes.last != 32, !zip(bytes, bytes.dropFirst()).contains(where: { $0 == 32 && $1 == 32 }) else {
            throw ImagingError.invalidText(key: key, reason: "keyword has leading, trailing or double spaces")
        }
        return bytes
    }

    /// The value's bytes and whether they go into an iTXt (UTF-8) chunk.
    func valueBytes() throws -> (bytes: [UInt8], utf8: Bool) {
        if value.utf8.contains(0) {
            throw ImagingError.invalidText(key: key, reason: "value contains a NUL character")
        }
        switch encoding {
        case .utf8:
            return (Array(value.utf8), true)
        case .automatic:
            let isASCII = value.utf8.allSatisfy { $0 < 128 }
            return (Array(value.utf8), !isASCII)
        case .latin1:
            guard let bytes = Latin1.encode(value) else {
                throw ImagingError.invalidText(key: key, reason: "value has characters outside Latin-1 (use .utf8)")
            }
            return (bytes, false)
        }
    }
}

/// ISO 8859-1 conversions: the first 256 Unicode scalars are exactly Latin-1.
enum Latin1 {
    /// Bytes for `s`, or nil when a character is above U+00FF.
    static func encode(_ s: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(s.unicodeScalars.count)
        for scalar in s.unicodeScalars {
            guard scalar.value < 256 else { return nil }
            out.append(UInt8(scalar.value))
        }
        return out
    }

    /// The string for Latin-1 bytes (every byte is a valid character).
    static func decode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(Unicode.Scalar(b)) }
        return String(scalars)
    }
}
