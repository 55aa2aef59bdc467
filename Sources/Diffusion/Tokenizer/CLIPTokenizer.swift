import Foundation

/// Errors from loading tokenizer data.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The merges file could not be read.
    case unreadable(path: String, reason: String)
    /// A line of the merges file is not `left right`, or names a symbol not defined before it.
    case malformed(path: String, line: Int, reason: String)

    /// A one-line human message naming the file.
    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read CLIP merges file \(path): \(reason)"
        case let .malformed(path, line, reason): return "malformed CLIP merges file \(path), line \(line): \(reason)"
        }
    }
}

/// The CLIP byte-level BPE tokenizer shared by both SDXL text encoders (CLIP ViT-L/14, OpenCLIP ViT-bigG/14).
///
/// Follows OpenAI CLIP's `simple_tokenizer.py` (as copied into open_clip `open_clip/tokenizer.py`):
/// clean-up (`CLIPTextCleaner`), pre-split into words (`CLIPPreTokenizer`), each word's UTF-8 bytes mapped to
/// byte symbols with `</w>` on the last one, then merged pairwise by lowest merge rank. Symbols are token ids
/// throughout: byte `b` is id `byteOrder.firstIndex(b)`, its `</w>` form that + 256, and merge `r` makes id
/// 512 + r, which is exactly CLIP's vocabulary order, so no string vocabulary is ever built.
public struct CLIPTokenizer: Sendable {
    /// Tokens per encoder window: BOS + 75 + EOS.
    public static let contextLength = 77
    /// Prompt tokens that fit in one window.
    public static let tokensPerWindow = 75
    /// `<|startoftext|>` in the standard vocabulary.
    public static let standardBOS: Int32 = 49406
    /// `<|endoftext|>` in the standard vocabulary; also CLIP-L's pad id.
    public static let standardEOS: Int32 = 49407
    /// The pad id of OpenCLIP ViT-bigG (the `!` token).
    public static let bigGPad: Int32 = 0

    /// Number of merges loaded (48 894 for CLIP).
    public let mergeCount: Int
    /// `<|startoftext|>` id (512 + mergeCount).
    public let bos: Int32
    /// `<|endoftext|>` id (513 + mergeCount).
    public let eos: Int32
    /// Vocabulary size (514 + mergeCount; 49 408 for CLIP).
    public var vocabularySize: Int { mergeCount + 514 }

    /// (left id << 32 | right id) → merge rank.
    let ranks: [UInt64: Int32]
    /// For decoding: parts[2r], parts[2r+1] are merge r's left and right ids.
    let parts: [Int32]
    /// Byte → id of its byte symbol (0..<256).
    let byteSymbol: [Int32]
    /// Symbol id (0..<256) → byte.
    let symbolByte: [UInt8]
    let cache = WordCache()

    /// Loads a merges file in the CLIP/Hugging Face `merges.txt` format (an optional `#version` line, then one
    /// `left right` merge per line), e.g. `models/tokenizer/clip-merges.txt`.
    public init(mergesPath path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.unreadable(path: path, reason: "file missing or unreadable")
        }
        let (symbolByte, byteSymbol) = CLIPTokenizer.byteOrder()
        self.symbolByte = symbolByte
        self.byteSymbol = byteSymbol
        var ranks: [UInt64: Int32] = [:]
        var parts: [Int32] = []
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var table = SymbolTable(capacity: 1 << 17)
            // The 256 byte symbols and their `</w>` forms, keyed by their UTF-8 spelling in the file.
            for id in 0..<256 {
                let ch = CLIPTokenizer.symbolCharacter(symbolByte[id])
                let utf8 = Array(String(ch).utf8)
                table.insert(utf8, id: Int32(id))
                table.insert(utf8 + Array("</w>".utf8), id: Int32(id + 256))
            }
            ranks.reserveCapacity(50_000)
            parts.reserveCapacity(100_000)
            var pos = 0, lineNo = 0
            let n = bytes.count
            while pos < n {
                var end = pos
                while end < n && bytes[end] != 0x0A { end += 1 }
                lineNo += 1
                var stop = end
                if stop > pos && bytes[stop - 1] == 0x0D { stop -= 1 }
                defer { pos = end + 1 }
                if stop == pos { continue }
                if lineNo == 1 && bytes[pos] == UInt8(ascii: "#") { continue }
                var space = pos
                while space < stop && bytes[space] != 0x20 { space += 1 }
                guard space > pos, space + 1 < stop,
                      !UnsafeBufferPointer(rebasing: bytes[(space + 1)..<stop]).contains(0x20) else {
                    throw TokenizerError.malformed(path: path, line: lineNo, reason: "expected `left right`")
                }
                let leftBytes = UnsafeBufferPointer(rebasing: bytes[pos..<space])
                let rightBytes = UnsafeBufferPointer(rebasing: bytes[(space + 1)..<stop])
                guard let left = table.find(leftBytes, nil),
                      let right = table.find(rightBytes, nil) else {
                    throw TokenizerError.malformed(path: path, line: lineNo,
                                                   reason: "merge uses a symbol not defined by an earlier line")
                }
                let rank = Int32(parts.count / 2)
                let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
                ranks[key] = rank  // like CLIP's dict(zip(merges, ranks)); CLIP has no repeated pairs
                parts.append(left)
                parts.append(right)
                table.insertJoined(leftBytes, rightBytes, id: 512 + rank)
            }
        }
        guard !parts.isEmpty else { throw TokenizerError.malformed(path: path, line: 0, reason: "no merges") }
        self.ranks = ranks
        self.parts = parts
        mergeCount = parts.count / 2
        bos = Int32(512 + mergeCount)
        eos = bos + 1
    }

    /// Tokenizes `text` without BOS/EOS, exactly as CLIP's `SimpleTokenizer.encode` (see `CLIPTextCleaner` for
    /// the part of ftfy that is implemented).
    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        let scalars = CLIPTextCleaner.clean(text)
        for word in CLIPPreTokenizer.split(scalars) {
            switch word {
            case .startOfText: out.append(bos)
            case .endOfText: out.append(eos)
            case let .text(range): out.append(contentsOf: bpe(String(String.UnicodeScalarView(scalars[range]))))
            }
        }
        return out
    }

    /// BOS + the first 75 tokens + EOS, padded with `padID` to 77 (the single-window form used by CLIP itself;
    /// longer prompts go through `TokenizedPrompt`). CLIP-L pads with `eos`, OpenCLIP bigG with 0.
    public func window(_ tokens: [Int32], padID: Int32) -> [Int32] {
        var w = [bos]
        w.append(contentsOf: tokens.prefix(CLIPTokenizer.tokensPerWindow))
        w.append(eos)
        w.append(contentsOf: repeatElement(padID, count: CLIPTokenizer.contextLength - w.count))
        return w
    }

    /// `window(encode(text), padID:)`.
    public func encodeWindow(_ text: String, padID: Int32) -> [Int32] { window(encode(text), padID: padID) }

    /// Decodes ids back to text the way CLIP does (`</w>` becomes a space; invalid UTF-8 is replaced).
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        func emit(_ id: Int32) {
            if id < 256 { bytes.append(symbolByte[Int(id)]) } else if id < 512 {
                bytes.append(symbolByte[Int(id) - 256]); bytes.append(contentsOf: Array("</w>".utf8))
            } else if id < bos {
                let r = Int(id) - 512
                emit(parts[2 * r]); emit(parts[2 * r + 1])
            } else { bytes.append(contentsOf: Array((id == bos ? "<|startoftext|>" : "<|endoftext|>").utf8)) }
        }
        ids.forEach(emit)
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "</w>", with: " ")
    }

    /// Byte-pair merges of one pre-tokenized word (cached).
    func bpe(_ word: String) -> [Int32] {
        if let hit = cache.get(word) { return hit }
        var symbols = word.utf8.map { byteSymbol[Int($0)] }
        symbols[symbols.count - 1] += 256
        while symbols.count > 1 {
            // The adjacent pair with the lowest rank; every occurrence of it is merged left to right.
            var best = Int32.max, bestLeft: Int32 = 0, bestRight: Int32 = 0
            for i in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))
                if let r = ranks[key], r < best { best = r; bestLeft = symbols[i]; bestRight = symbols[i + 1] }
            }
            if best == Int32.max { break }
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == bestLeft && symbols[i + 1] == bestRight {
                    merged.append(512 + best); i += 2
                } else { merged.append(symbols[i]); i += 1 }
            }
            symbols = merged
        }
        cache.set(word, symbols)
        return symbols
    }

    /// CLIP's `bytes_to_unicode` order: printable Latin-1 bytes first (they stand for themselves), then the
    /// rest in ascending order (spelled U+0100 onwards). Returns (symbol id → byte, byte → symbol id).
    static func byteOrder() -> ([UInt8], [Int32]) {
        var order: [UInt8] = []
        for b in 0..<256 where CLIPTokenizer.isPrintable(UInt8(b)) { order.append(UInt8(b)) }
        for b in 0..<256 where !CLIPTokenizer.isPrintable(UInt8(b)) { order.append(UInt8(b)) }
        var inverse = [Int32](repeating: 0, count: 256)
        for (id, b) in order.enumerated() { inverse[Int(b)] = Int32(id) }
        return (order, inverse)
    }

    static func isPrintable(_ b: UInt8) -> Bool { (33...126).contains(b) || (161...172).contains(b) || b >= 174 }

    /// The character CLIP uses to spell byte `b` in its vocabulary.
    static func symbolCharacter(_ b: UInt8) -> Character {
        if isPrintable(b) { return Character(Unicode.Scalar(b)) }
        var n: UInt32 = 0
        for x in 0..<Int(b) where !isPrintable(UInt8(x)) { n += 1 }
        return Character(Unicode.Scalar(256 + n)!)
    }
}

/// Per-word BPE results, shared by copies of one tokenizer (words repeat a lot across prompts).
final class WordCache: @unchecked Sendable {
    private var words: [String: [Int32]] = [:]
    private let lock = NSLock()
    /// Bounds memory for long-running sessions; CLIP's own cache is unbounded.
    private let limit = 50_000

    func get(_ word: String) -> [Int32]? { lock.lock(); defer { lock.unlock() }; return words[word] }
    func set(_ word: String, _ ids: [Int32]) {
        lock.lock(); defer { lock.unlock() }
        if words.count >= limit { words.removeAll(keepingCapacity: true) }
        words[word] = ids
    }
}

/// Open-addressing map from a symbol's UTF-8 spelling (as written in the merges file) to its id; spellings
/// live in one byte arena so loading allocates nothing per line.
struct SymbolTable {
    private var slots: [Int32]          // index into entries, or -1
    private var offsets: [Int32] = []   // entry → start in arena
    private var lengths: [Int32] = []
    private var ids: [Int32] = []
    private var arena: [UInt8] = []
    private let mask: Int

    init(capacity: Int) {
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        arena.reserveCapacity(600_000)
        offsets.reserveCapacity(capacity / 2); lengths.reserveCapacity(capacity / 2); ids.reserveCapacity(capacity / 2)
    }

    private static func hash(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>?) -> Int {
        var h: UInt64 = 0xcbf29ce484222325
        for x in a { h = (h ^ UInt64(x)) &* 0x100000001b3 }
        if let b { for x in b { h = (h ^ UInt64(x)) &* 0x100000001b3 } }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// Looks up the spelling `a` followed by `b`.
    func find(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>?) -> Int32? {
        let total = a.count + (b?.count ?? 0)
        var s = SymbolTable.hash(a, b) & mask
        while slots[s] >= 0 {
            let e = Int(slots[s])
            if Int(lengths[e]) == total && matches(e, a, b) { return ids[e] }
            s = (s + 1) & mask
        }
        return nil
    }

    private func matches(_ e: Int, _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>?) -> Bool {
        let o = Int(offsets[e])
        for i in 0..<a.count where arena[o + i] != a[i] { return false }
        if let b { for i in 0..<b.count where arena[o + a.count + i] != b[i] { return false } }
        return true
    }

    mutating func insert(_ bytes: [UInt8], id: Int32) {
        bytes.withUnsafeBufferPointer { insertJoined($0, nil, id: id) }
    }

    /// Adds `a + b` unless already present (CLIP's merges never repeat a string).
    mutating func insertJoined(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>?, id: Int32) {
        if find(a, b) != nil { return }
        precondition(ids.count * 2 < slots.count, "SymbolTable full: \(ids.count) entries")
        var s = SymbolTable.hash(a, b) & mask
        while slots[s] >= 0 { s = (s + 1) & mask }
        slots[s] = Int32(ids.count)
        offsets.append(Int32(arena.count))
        lengths.append(Int32(a.count + (b?.count ?? 0)))
        ids.append(id)
        arena.append(contentsOf: a)
        if let b { arena.append(contentsOf: b) }
    }
}
