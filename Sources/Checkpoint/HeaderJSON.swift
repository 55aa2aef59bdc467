// A small JSON parser for safetensors headers.
//
// Why not JSONSerialization: headers come from untrusted files, and we need exact integers (with
// overflow detected, booleans and fractions told apart from integers), a hard nesting limit so a
// hostile header cannot exhaust the stack, and duplicate-key detection. Parsing works directly on
// the mapped bytes; the caller has already checked that they are valid UTF-8.

/// A JSON number as written: safetensors only needs integers, so anything else is kept as a verdict.
enum HeaderJSONNumber: Equatable {
    /// An integer that fits in `Int`.
    case int(Int)
    /// An integer too large (or too negative) for `Int`.
    case outOfRange(negative: Bool)
    /// A number with a fraction or exponent.
    case nonInteger
}

/// A parsed JSON value. Objects keep their key order.
indirect enum HeaderJSON {
    case object([(key: String, value: HeaderJSON)])
    case array([HeaderJSON])
    case string(String)
    case number(HeaderJSONNumber)
    case bool(Bool)
    case null

    /// The JSON type name, for error messages.
    var typeName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .number: return "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }
}

/// Why the header text is not JSON, with the byte offset into the header.
struct HeaderJSONError: Error {
    let message: String
    let offset: Int
}

/// Recursive-descent parser over a byte buffer with a nesting limit.
struct HeaderJSONParser {
    /// Deeper nesting than this is rejected; a valid header needs depth 3.
    static let maxDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var i = 0

    /// Parses one JSON value that fills `bytes` (surrounding whitespace allowed).
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> HeaderJSON {
        var p = HeaderJSONParser(bytes: bytes)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.i == bytes.count else { throw p.error("unexpected text after the JSON value") }
        return v
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func error(_ message: String) -> HeaderJSONError { HeaderJSONError(message: message, offset: i) }

    private var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func expect(_ literal: StaticString) throws {
        let n = literal.utf8CodeUnitCount
        guard bytes.count - i >= n else { throw error("unexpected end of header") }
        let lit = UnsafeRawBufferPointer(start: literal.utf8Start, count: n)
        for k in 0..<n where bytes[i + k] != lit[k] { throw error("invalid literal") }
        i += n
    }

    private mutating func value(depth: Int) throws -> HeaderJSON {
        guard let c = peek else { throw error("unexpected end of header") }
        switch c {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character")
        }
    }

    private mutating func object(depth: Int) throws -> HeaderJSON {
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        i += 1  // {
        var members: [(key: String, value: HeaderJSON)] = []
        var seen = Set<String>()
        skipWhitespace()
        if peek == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyStart = i
            let key = try string()
            guard seen.insert(key).inserted else {
                throw HeaderJSONError(message: "duplicate key \(quoted(key))", offset: keyStart)
            }
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipWhitespace()
            members.append((key, try value(depth: depth)))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "}"): i += 1; return .object(members)
            default: throw error("expected ',' or '}'")
            }
        }
    }

    private mutating func array(depth: Int) throws -> HeaderJSON {
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        i += 1  // [
        var items: [HeaderJSON] = []
        skipWhitespace()
        if peek == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"): i += 1; return .array(items)
            default: throw error("expected ',' or ']'")
            }
        }
    }

    /// Integer grammar per RFC 8259; fractions and exponents are accepted as JSON but reported as such.
    private mutating func number() throws -> HeaderJSONNumber {
        let negative = peek == UInt8(ascii: "-")
        if negative { i += 1 }
        guard let first = peek, isDigit(first) else { throw error("expected a digit") }
        var magnitude: UInt64 = 0
        var overflow = false
        if first == UInt8(ascii: "0") {
            i += 1
        } else {
            while let d = peek, isDigit(d) {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(d - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = s
                i += 1
            }
        }
        var integral = true
        if peek == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard let d = peek, isDigit(d) else { throw error("expected a digit after '.'") }
            while let d = peek, isDigit(d) { i += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            integral = false
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            guard let d = peek, isDigit(d) else { throw error("expected a digit in the exponent") }
            while let d = peek, isDigit(d) { i += 1 }
        }
        guard integral else { return .nonInteger }
        if overflow { return .outOfRange(negative: negative) }
        if negative {
            // -Int.min's magnitude is Int.max + 1.
            if magnitude <= UInt64(Int.max) { return .int(-Int(magnitude)) }
            if magnitude == UInt64(Int.max) + 1 { return .int(Int.min) }
            return .outOfRange(negative: true)
        }
        return magnitude <= UInt64(Int.max) ? .int(Int(magnitude)) : .outOfRange(negative: false)
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private mutating func string() throws -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        var runStart = i
        while true {
            guard let c = peek else { throw error("unterminated string") }
            if c == UInt8(ascii: "\"") {
                // Runs split only at ASCII bytes, so each run of an already valid UTF-8 buffer is valid.
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { i += 1; continue }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
            i += 1
            guard let e = peek else { throw error("unterminated escape") }
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard bytes.count - i >= 2, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("unpaired surrogate escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw error("invalid escape")
            }
            runStart = i
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - i >= 4 else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }
}
