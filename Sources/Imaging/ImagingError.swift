/// Errors from reading and writing image files. Each prints as one line that names the file.
public enum ImagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be read (permissions, a directory, an I/O error).
    case unreadable(path: String, reason: String)
    /// The data does not start with the PNG signature (or the file is empty).
    case notPNG(path: String)
    /// The data ends before the PNG does.
    case truncated(path: String, reason: String)
    /// libpng or zlib rejected the data: bad CRC, bad header, bad compressed stream, absurd size.
    case corrupt(path: String, reason: String)
    /// An allocation failed while decoding or encoding.
    case outOfMemory(path: String)
    /// The file (or its temporary sibling) could not be written or renamed into place.
    case unwritable(path: String, reason: String)
    /// A text chunk cannot be stored as requested (bad keyword, NUL byte, not Latin-1 for tEXt).
    case invalidText(key: String, reason: String)
    /// The image cannot be encoded (for example it has no pixels).
    case invalidImage(reason: String)

    /// One line, for logs and the command line.
    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such file"
        case .unreadable(let path, let reason): return "\(path): cannot read (\(reason))"
        case .notPNG(let path): return "\(path): not a PNG file"
        case .truncated(let path, let reason): return "\(path): truncated PNG (\(reason))"
        case .corrupt(let path, let reason): return "\(path): corrupt PNG (\(reason))"
        case .outOfMemory(let path): return "\(path): out of memory"
        case .unwritable(let path, let reason): return "\(path): cannot write (\(reason))"
        case .invalidText(let key, let reason): return "PNG text chunk \"\(key)\": \(reason)"
        case .invalidImage(let reason): return "cannot encode PNG: \(reason)"
        }
    }
}
