// Header validation: everything a later read relies on is checked here, once, at open.

/// The validated content of a header.
struct ParsedHeader {
    var infos: [String: TensorInfo]
    var metadata: [String: String]
    var headerLength: Int
}

extension SafeTensorsFile {
    /// Validates the header of the whole file `file` (prefix, JSON and every entry against the data section).
    static func parseHeader(_ file: UnsafeRawBufferPointer, path: String) throws -> ParsedHeader {
        func fail(_ p: SafeTensorsProblem) -> CheckpointError { .invalidFile(file: path, problem: p) }

        let size = file.count
        guard size >= 8 else { throw fail(.tooShort(size: size)) }
        let declared = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared <= UInt64(maxHeaderLength) else { throw fail(.headerTooLarge(length: declared)) }
        guard declared <= UInt64(size - 8) else { throw fail(.headerPastEnd(length: declared, fileSize: size)) }
        let headerLength = Int(declared)
        let dataLength = size - 8 - headerLength
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])

        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw fail(.headerNotUTF8) }
        let json: HeaderJSON
        do {
            json = try HeaderJSONParser.parse(headerBytes)
        } catch let e as HeaderJSONError {
            throw fail(.headerNotJSON(reason: e.message, offset: e.offset))
        }
        guard case .object(let members) = json else { throw fail(.headerNotObject(found: json.typeName)) }

        var infos: [String: TensorInfo] = [:]
        infos.reserveCapacity(members.count)
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, fail: fail)
            } else {
                infos[name] = try parseEntry(name, value, dataLength: dataLength, fail: fail)
            }
        }
        try checkOverlaps(infos.values, fail: fail)
        return ParsedHeader(infos: infos, metadata: metadata, headerLength: headerLength)
    }

    private static func parseMetadata(_ value: HeaderJSON, fail: (SafeTensorsProblem) -> CheckpointError) throws
        -> [String: String] {
        switch value {
        case .null:
            return [:]
        case .object(let pairs):
            var m: [String: String] = [:]
            for (k, v) in pairs {
                guard case .string(let s) = v else {
                    throw fail(.badMetadata(reason: "value of \(quoted(k)) is a \(v.typeName), not a string"))
                }
                m[k] = s
            }
            return m
        default:
            throw fail(.badMetadata(reason: "is a \(value.typeName), not an object of strings"))
        }
    }

    private static func parseEntry(_ name: String, _ value: HeaderJSON, dataLength: Int,
                                   fail: (SafeTensorsProblem) -> CheckpointError) throws -> TensorInfo {
        guard case .object(let fields) = value else { throw fail(.entryNotObject(name: name)) }
        func field(_ f: String) throws -> HeaderJSON {
            guard let v = fields.first(where: { $0.key == f })?.value else { throw fail(.missingField(name: name, field: f)) }
            return v
        }

        guard case .string(let dtypeName) = try field("dtype") else {
            throw fail(.wrongFieldType(name: name, field: "dtype", expected: "a string"))
        }
        guard let dtype = DType(rawValue: dtypeName) else { throw fail(.unknownDType(name: name, dtype: dtypeName)) }

        // Shape: collect every dimension first so the message can show the whole shape.
        guard case .array(let items) = try field("shape") else {
            throw fail(.wrongFieldType(name: name, field: "shape", expected: "an array of integers"))
        }
        var dims: [HeaderJSONNumber] = []
        dims.reserveCapacity(items.count)
        for item in items {
            guard case .number(let d) = item, d != .nonInteger else {
                throw fail(.wrongFieldType(name: name, field: "shape", expected: "an array of integers"))
            }
            dims.append(d)
        }
        let shapeText = "[" + dims.map(describe).joined(separator: ", ") + "]"
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        var tooLarge = false
        for d in dims {
            switch d {
            case .int(let v) where v < 0:
                throw fail(.negativeDimension(name: name, shape: shapeText))
            case .outOfRange(negative: true):
                throw fail(.negativeDimension(name: name, shape: shapeText))
            case .int(let v): shape.append(v)
            default: tooLarge = true
            }
        }
        var count = 1
        for d in shape where !tooLarge {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            tooLarge = o
            count = p
        }
        let (expectedBytes, o) = count.multipliedReportingOverflow(by: dtype.size)
        if tooLarge || o { throw fail(.shapeOverflow(name: name, shape: shapeText)) }

        guard case .array(let offs) = try field("data_offsets"), offs.count == 2,
              case .number(let b) = offs[0], case .number(let e) = offs[1], b != .nonInteger, e != .nonInteger else {
            throw fail(.wrongFieldType(name: name, field: "data_offsets", expected: "an array of two integers"))
        }
        let offsetsText = "[\(describe(b)), \(describe(e))]"
        guard case .int(let begin) = b, case .int(let end) = e, begin >= 0, end >= 0 else {
            throw fail(.offsetsOutOfRange(name: name, offsets: offsetsText, dataLength: dataLength))
        }
        guard begin <= end else { throw fail(.offsetsReversed(name: name, begin: begin, end: end)) }
        guard end <= dataLength else {
            throw fail(.offsetsOutOfRange(name: name, offsets: offsetsText, dataLength: dataLength))
        }
        guard end - begin == expectedBytes else {
            throw fail(.byteLengthMismatch(name: name, expected: expectedBytes, actual: end - begin))
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    private static func describe(_ n: HeaderJSONNumber) -> String {
        switch n {
        case .int(let v): return "\(v)"
        case .outOfRange(let negative): return negative ? "(below -2^63)" : "(above 2^63)"
        case .nonInteger: return "(non-integer)"
        }
    }

    /// Sorted by start, each non-empty range must begin at or after the previous one's end.
    private static func checkOverlaps(_ infos: Dictionary<String, TensorInfo>.Values,
                                      fail: (SafeTensorsProblem) -> CheckpointError) throws {
        let spans = infos.filter { !$0.byteRange.isEmpty }
            .sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
        for k in spans.indices.dropFirst() where spans[k].byteRange.lowerBound < spans[k - 1].byteRange.upperBound {
            throw fail(.overlappingTensors(first: spans[k - 1].name, second: spans[k].name))
        }
    }
}
