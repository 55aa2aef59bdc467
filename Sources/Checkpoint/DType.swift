/// Element types a safetensors file may declare (the names are the format's own).
///
/// Every declared type can be opened, listed and read as raw bytes; only `f32`, `f16`, `bf16` and
/// `i64` convert to fp32 tensors, and only `f32`, `f16` and `bf16` are written from fp32 tensors.
public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64"
    case f64 = "F64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2", f8e8m0 = "F8_E8M0"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2, .f8e8m0: return 1
        }
    }

    /// Whether `SafeTensorsFile.tensor(_:)` converts this type to fp32.
    public var convertsToFloat: Bool {
        switch self {
        case .f32, .f16, .bf16, .i64: return true
        default: return false
        }
    }

    /// Whether `SafeTensorsWriter.write(_:dtype:metadata:to:)` can encode fp32 tensors as this type.
    public var isWritableFromFloat: Bool {
        switch self {
        case .f32, .f16, .bf16: return true
        default: return false
        }
    }
}

/// Where one tensor lives in a safetensors file.
public struct TensorInfo: Sendable, Equatable {
    /// The tensor's key.
    public let name: String
    /// Declared element type.
    public let dtype: DType
    /// Dimensions, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let byteRange: Range<Int>

    /// Number of elements (validated not to overflow when the file was opened).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Number of bytes of data.
    public var byteCount: Int { byteRange.count }
}
