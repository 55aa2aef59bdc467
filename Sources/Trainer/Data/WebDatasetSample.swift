/// One WebDataset sample: a run of consecutive tar members sharing a key.
public struct WebDatasetSample: Sendable, Equatable {
    /// Member path up to the first "." of the file name, directory included ("dir/abc" for
    /// "dir/abc.seg.png").
    public var key: String
    /// Extension (everything after the first "." of the file name, lower-cased) → bytes.
    public var fields: [String: [UInt8]]
    /// Where the sample starts: shard index and the header offset of its first member.
    public var ref: SampleRef
}

/// A sample's address: enough to re-read it from its shard, plus the epoch it was read in (which
/// seeds its random crop, so re-reading reproduces the same crop).
public struct SampleRef: Codable, Hashable, Sendable {
    /// Index into the dataset's expanded shard list.
    public var shard: Int
    /// Header offset of the sample's first member.
    public var offset: UInt64
    /// Epoch in which the sample was read.
    public var epoch: Int

    /// A reference.
    public init(shard: Int, offset: UInt64, epoch: Int) {
        self.shard = shard
        self.offset = offset
        self.epoch = epoch
    }
}

/// Splits member paths into (key, field) the way WebDataset does (webdataset/tariterators.py
/// `base_plus_ext`): the key is the path up to the first "." of the last path component, the field
/// is the rest, lower-cased. Names without a dot, or starting with one (".DS_Store"), have no field.
public enum SampleKey {
    /// (key, field) or nil.
    public static func split(_ path: String) -> (key: String, field: String)? {
        let slash = path.lastIndex(of: "/")
        let nameStart = slash.map { path.index(after: $0) } ?? path.startIndex
        guard let dot = path[nameStart...].firstIndex(of: "."), dot != nameStart else { return nil }
        let field = String(path[path.index(after: dot)...]).lowercased()
        guard !field.isEmpty else { return nil }
        return (String(path[..<dot]), field)
    }
}

/// Groups a tar reader's members into samples (consecutive members with the same key). A member
/// without a field is skipped; a repeated field within one sample keeps the first copy. Both are
/// counted in `skippedMembers`.
public final class SampleGrouper {
    /// The underlying reader.
    public let reader: TarReader
    /// Shard index recorded in each sample's ref.
    public let shard: Int
    /// Epoch recorded in each sample's ref.
    public let epoch: Int
    /// Members dropped while grouping (no extension, duplicate field).
    public private(set) var skippedMembers = 0
    private var pending: (member: TarMember, key: String, field: String)?

    /// Groups `reader`'s members, labelling samples with `shard` and `epoch`.
    public init(reader: TarReader, shard: Int, epoch: Int) {
        self.reader = reader
        self.shard = shard
        self.epoch = epoch
    }

    /// Header offset of the next sample: where a fresh reader must start to continue from here.
    public var resumeOffset: UInt64 { pending?.member.headerOffset ?? reader.offset }

    /// The next sample, or nil at the end of the shard.
    public func next() -> WebDatasetSample? {
        guard let first = pending ?? nextKeyed() else { return nil }
        pending = nil
        var sample = WebDatasetSample(key: first.key, fields: [first.field: first.member.data],
                                      ref: SampleRef(shard: shard, offset: first.member.headerOffset, epoch: epoch))
        while let m = nextKeyed() {
            guard m.key == first.key else {
                pending = m
                break
            }
            if sample.fields[m.field] == nil { sample.fields[m.field] = m.member.data } else { skippedMembers += 1 }
        }
        return sample
    }

    private func nextKeyed() -> (member: TarMember, key: String, field: String)? {
        while let m = reader.next() {
            if let (key, field) = SampleKey.split(m.path) { return (m, key, field) }
            skippedMembers += 1
        }
        return nil
    }
}
